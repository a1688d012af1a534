"""The dashboard's Queue tab, driven by keyboard on an in-memory engine (OpsEngine)."""

from __future__ import annotations

import threading

import pytest
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.dashboard.queue import QueuePanel, counts_text, recipients_sentence, recipients_text
from textual.widgets import Button, DataTable

from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes_ops import OpsEngine, default_queue, message

FIRST, HELD, GREY = "3F2A1B4C5D", "4B7C9D0E1F", "5C8D0E1F2A"


def flat(app) -> str:  # noqa: ANN001
    """The screen's text with every run of spaces and line ends as one space (wrapped lines join)."""
    return " ".join(screen_plain(app).split())


def row_of(app, queue_id: str) -> str:  # noqa: ANN001
    for line in screen_plain(app).splitlines():
        line = " ".join(line.split())
        if line.startswith(queue_id + " ") and " from " not in line:
            return line
    return ""


def panel(app) -> QueuePanel:  # noqa: ANN001
    return app.screen.query_one(QueuePanel)


async def open_queue(pilot, ready: str = "message") -> None:  # noqa: ANN001
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    app.screen.show_tab("queue")
    await wait_for(pilot, lambda: ready in screen_text(app) and panel(app).loaded)


async def select(pilot, queue_id: str) -> None:  # noqa: ANN001
    table = pilot.app.screen.query_one("#queue-table", DataTable)
    table.move_cursor(row=list(panel(pilot.app).messages).index(queue_id))
    await pilot.pause()
    assert panel(pilot.app).selected_id() == queue_id


def test_counts_and_recipients_text() -> None:
    assert counts_text([]) == "The queue is empty"
    assert counts_text(default_queue()) == "3 messages: 2 deferred, 1 hold"
    assert counts_text(default_queue()[:1]) == "1 message: 1 deferred"
    assert recipients_text(["a@example.org"]) == "a@example.org"
    assert recipients_text(["a@example.org", "b@example.org", "c@example.org"]) == "a@example.org +2"
    assert recipients_text(["a-very-long-address@example.org", "b@example.org"]) == "a-very-long-ad… +1"
    assert recipients_text([]) == "-"
    assert recipients_sentence([]) == "-"
    assert recipients_sentence(["a@x.test", "b@x.test"]) == "a@x.test, b@x.test"
    assert recipients_sentence([f"{c}@x.test" for c in "abcde"]) == "a@x.test, b@x.test, c@x.test and 2 more"


async def test_lists_the_queue_with_counts_and_the_selected_reason() -> None:
    app = make_app(OpsEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        assert "3 messages: 2 deferred, 1 hold" in screen_text(app)
        plain = screen_plain(app)
        for title in ("Queue ID", "Queue", "Age", "Size", "Sender", "Recipients"):
            assert title in plain
        assert row_of(app, FIRST) == f"{FIRST} deferred 2d03h 4.7 KiB alice@example.o… bob@example.net +2 c"
        assert row_of(app, HELD).startswith(f"{HELD} hold 5h20m 1.2 MiB <> postmaster@exampl…")
        assert row_of(app, GREY).startswith(f"{GREY} deferred 1m35s 640 B newsletter@list… admin@example.org")
        # the selected message's whole story, below the table
        said = flat(app)
        assert (f"{FIRST} from alice@example.org to bob@example.net, carol@example.net, dave@example.net"
                in said)
        assert "Why: connect to mx.example.net[192.0.2.25]:25: Connection refused" in said
        assert app.focused is app.screen.query_one("#queue-table")
        await pilot.press("down")
        await wait_for(pilot, lambda: "On hold: Postfix leaves it alone until it is released (u)" in flat(app))
        assert f"{HELD} from <> to postmaster@example.org" in flat(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: "451 4.7.1 Greylisted, please try again later (in reply to RCPT TO command)"
                       in flat(app))
        footer = screen_plain(app).splitlines()[-1]
        for key in ("f Flush", "F Flush all", "h Hold", "u Release", "x Delete"):
            assert key in footer


async def test_empty_queue_says_so() -> None:
    engine = OpsEngine(queue=[])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot, "The queue is empty")
        await pilot.press("f")
        await wait_for(pilot, lambda: any("No message selected: the queue is empty" in str(n.message)
                                          for n in app._notifications))
        assert engine.calls_of("queue_action") == []


async def test_flush_one_message() -> None:
    engine = OpsEngine(deliverable=[FIRST])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("f")
        await wait_for(pilot, lambda: f"✓ asked Postfix to deliver {FIRST} now" in flat(app)
                       and "2 messages: 1 deferred, 1 hold" in screen_text(app))
        assert engine.calls_of("queue_action") == [("queue_action", "flush", FIRST)]
        assert row_of(app, FIRST) == ""
        assert panel(app).selected_id() == HELD  # the row that took its place


async def test_flush_all() -> None:
    engine = OpsEngine(deliverable=[FIRST, HELD, GREY])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("F")
        await wait_for(pilot, lambda: "✓ asked Postfix to deliver every queued message now" in flat(app)
                       and "1 message: 1 hold" in screen_text(app))
        assert engine.calls_of("queue_action") == [("queue_action", "flush", None)]
        assert row_of(app, HELD) and not row_of(app, FIRST) and not row_of(app, GREY)


async def test_hold_and_release() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: f"✓ {FIRST} is on hold" in flat(app)
                       and "3 messages: 1 deferred, 2 hold" in screen_text(app))
        assert f"postsuper: {FIRST}: placed on hold" in flat(app)
        assert row_of(app, FIRST).startswith(f"{FIRST} hold ")
        await pilot.press("h")  # already on hold: said, not asked
        await wait_for(pilot, lambda: any(f"{FIRST} is already on hold" in str(n.message)
                                          for n in app._notifications))
        await pilot.press("u")
        await wait_for(pilot, lambda: f"✓ released {FIRST}" in flat(app)
                       and "3 messages: 2 deferred, 1 hold" in screen_text(app))
        assert row_of(app, FIRST).startswith(f"{FIRST} deferred ")
        assert engine.calls_of("queue_action") == [("queue_action", "hold", FIRST), ("queue_action", "release", FIRST)]


async def test_delete_asks_first_and_cancel_keeps_the_message() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await select(pilot, GREY)
        await pilot.press("x")
        await wait_for(pilot, lambda: f"Delete message {GREY}?" in screen_text(app))
        assert "From newsletter@lists.example.com to admin@example.org" in screen_text(app)
        assert app.focused is not None and app.focused.id == "confirm-cancel"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Delete message" not in screen_text(app))
        assert engine.calls_of("queue_action") == []
        assert row_of(app, GREY)

        await pilot.press("delete")
        await wait_for(pilot, lambda: f"Delete message {GREY}?" in screen_text(app))
        await pilot.click("#confirm-delete")
        await wait_for(pilot, lambda: f"✓ deleted {GREY}" in flat(app)
                       and "2 messages: 1 deferred, 1 hold" in screen_text(app))
        assert f"postsuper: {GREY}: removed" in flat(app)
        assert engine.calls_of("queue_action") == [("queue_action", "delete", GREY)]
        assert row_of(app, GREY) == ""
        assert panel(app).selected_id() == HELD  # the last row went: the cursor stays on the last one


async def test_engine_errors_are_shown() -> None:
    engine = OpsEngine()
    engine.fail[("queue", "hold", FIRST)] = f"could not put on hold {FIRST}: postsuper: fatal: queue is locked"
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.click("#queue-hold")
        await wait_for(pilot, lambda: f"✗ hold {FIRST} failed: could not put on hold {FIRST}: postsuper: fatal: "
                       "queue is locked" in flat(app))
        assert row_of(app, FIRST).startswith(f"{FIRST} deferred ")
        assert not app.screen.query_one("#queue-hold", Button).disabled

        engine.fail[("queue_list",)] = "could not read the mail queue: postqueue: fatal: Queue report unavailable"
        # Hold had the focus and was disabled while it ran: the focus went back to the table, so the keys
        # typed next (g, ctrl+r) reach the panel — not nowhere, leaving only the 3 s reload to show it.
        assert app.focused is app.screen.query_one("#queue-table")
        await pilot.press("g")
        await wait_for(pilot, lambda: "✗ could not read the mail queue: could not read the mail queue: postqueue: "
                       "fatal: Queue report unavailable" in flat(app))
        del engine.fail[("queue_list",)]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: "3 messages: 2 deferred, 1 hold" in screen_text(app))


async def test_a_message_gone_meanwhile_shows_the_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QueuePanel, "REFRESH_SECONDS", 3600)  # no reload between the change and the key
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        engine.queue = [m for m in engine.queue if m.queue_id != FIRST]  # delivered behind our back
        await pilot.press("f")
        await wait_for(pilot, lambda: f"✗ flush {FIRST} failed: could not flush {FIRST}: no such message in the "
                       "queue" in flat(app))
        await wait_for(pilot, lambda: "2 messages: 1 deferred, 1 hold" in screen_text(app))


async def test_the_cursor_stays_on_the_same_message_across_reloads() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await select(pilot, GREY)
        older = message("1A2B3C4D5E", age=9 * 86400, sender="old@example.org")
        engine.queue.insert(0, older)
        await pilot.press("g")
        await wait_for(pilot, lambda: "4 messages: 3 deferred, 1 hold" in screen_text(app))
        table = app.screen.query_one("#queue-table", DataTable)
        assert panel(app).selected_id() == GREY and table.cursor_row == 3
        assert f"{GREY} from newsletter@lists.example.com" in flat(app)
        engine.queue = [m for m in engine.queue if m.queue_id not in ("1A2B3C4D5E", FIRST)]
        await pilot.press("g")
        await wait_for(pilot, lambda: "2 messages: 1 deferred, 1 hold" in screen_text(app))
        assert panel(app).selected_id() == GREY and table.cursor_row == 1


async def test_buttons_are_disabled_while_an_action_runs() -> None:
    engine = OpsEngine()
    engine.gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("h")
        await wait_for(pilot, lambda: f"putting {FIRST} on hold…" in screen_text(app))
        buttons = list(app.screen.query("#queue-bar Button").results(Button))
        assert buttons and all(b.disabled for b in buttons)
        await pilot.press("F", "x")  # refused while busy
        await pilot.pause(0.1)
        assert "Delete message" not in screen_text(app)
        engine.gate.set()
        await wait_for(pilot, lambda: f"✓ {FIRST} is on hold" in flat(app))
        await wait_for(pilot, lambda: not any(b.disabled for b in buttons))
        assert engine.calls_of("queue_action") == [("queue_action", "hold", FIRST)]


async def test_the_queue_reloads_by_itself_while_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(QueuePanel, "REFRESH_SECONDS", 0.2)
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        engine.queue = engine.queue[1:]
        await wait_for(pilot, lambda: "2 messages: 1 deferred, 1 hold" in screen_text(app))
        app.screen.show_tab("accounts")
        await pilot.pause(0.3)
        asked = len(engine.calls_of("queue_list"))
        await pilot.pause(0.6)
        assert len(engine.calls_of("queue_list")) == asked  # not while another tab is shown


def test_queue_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_queue(pilot)

    assert snap_compare(make_app(OpsEngine()), terminal_size=(80, 24), run_before=run_before)
