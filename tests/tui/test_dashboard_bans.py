"""The dashboard's Bans tab, driven by keyboard on an in-memory engine (OpsEngine's fail2ban fake)."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from mailtui.screens.app import MailtuiApp
from mailtui.screens.dashboard.bans import BansPanel, bans_summary, jail_line, left_text, when_text
from mailtui.screens.dashboard.dashboard import Confirm, DashboardScreen
from textual.widgets import Button, DataTable, TabbedContent

from mailtui.system.fail2ban import Ban, JailStatus
from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes import T0
from tests.tui.fakes_ops import OpsEngine, default_bans

NEW, OLD_V6, DOVECOT = "198.51.100.23", "2001:db8::bad", "203.0.113.77"
NOT_INSTALLED = "fail2ban is not installed (mailtui installs it when [security] fail2ban = true)"


def flat(app) -> str:  # noqa: ANN001
    """The screen's text with every run of spaces and line ends as one space (wrapped lines join)."""
    return " ".join(screen_plain(app).split())


def row_of(app, address: str, jail: str = "") -> str:  # noqa: ANN001
    """The table row of a ban, spaces squeezed ("" when it is not on screen)."""
    for line in screen_plain(app).splitlines():
        line = " ".join(line.split())
        if line.startswith(f"{address} {jail}"):
            return line
    return ""


def panel(app) -> BansPanel:  # noqa: ANN001
    return app.screen.query_one(BansPanel)


def said(app, text: str) -> bool:  # noqa: ANN001
    return any(text in str(n.message) for n in app._notifications)


async def open_bans(pilot, ready: str = "banned") -> None:  # noqa: ANN001
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    app.screen.show_tab("bans")
    await wait_for(pilot, lambda: ready in screen_text(app) and panel(app).loaded)


async def select(pilot, jail: str, address: str) -> None:  # noqa: ANN001
    table = pilot.app.screen.query_one("#bans-table", DataTable)
    table.move_cursor(row=list(panel(pilot.app).bans).index(f"{jail}\t{address}"))
    await pilot.pause()
    ban = panel(pilot.app).selected_ban()
    assert ban is not None and (ban.jail, ban.address) == (jail, address)


async def ask_unban(pilot, key: str = "u") -> None:  # noqa: ANN001
    """Ask to lift the selected ban (a key, or a click when `key` is a "#button") and wait for the question."""
    if key.startswith("#"):
        await pilot.click(key)
    else:
        await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))


async def confirm_unban(pilot, key: str = "u") -> None:  # noqa: ANN001
    """Ask to lift the selected ban and answer Unban."""
    await ask_unban(pilot, key)
    await pilot.click("#confirm-unban")


def hm(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%b %d %H:%M")


def test_texts() -> None:
    assert left_text(T0 + 3300, T0) == "55m00s"
    assert left_text(T0 + 2 * 86400 + 3600, T0) == "2d01h"
    assert left_text(T0 - 5, T0) == "ending"
    assert left_text(None, T0) == "-"
    assert when_text(None) == "-"
    assert when_text(datetime(2026, 11, 25, 14, 2).timestamp()) == "Nov 25 14:02"
    assert jail_line(JailStatus("dovecot", 3, 41, 1, 9)) == (
        "dovecot        failed 3 now / 41 total   banned 1 now / 9 total")
    assert bans_summary([]) == "No address is banned"
    assert bans_summary(default_bans()[:1]) == "1 address banned"
    twice = [*default_bans(), Ban("dovecot", NEW, T0, T0 + 60)]
    assert bans_summary(twice) == "3 addresses banned (4 bans)"


async def test_fail2ban_is_not_asked_until_the_tab_is_shown() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen) and "Accounts" in screen_plain(app))
        assert engine.calls_of("bans_available") == [] and engine.calls_of("bans") == []
        await open_bans(pilot)
        assert engine.calls_of("bans")


async def test_lists_the_bans_newest_first_with_each_jails_counts() -> None:
    app = make_app(OpsEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        text = screen_text(app)
        assert "3 addresses banned" in text
        assert "postfix-sasl   failed 3 now / 41 total   banned 2 now / 9 total" in text
        assert "dovecot        failed 1 now / 12 total   banned 1 now / 4 total" in text
        assert "Never banned nor counted here: 127.0.0.1/8, ::1" in text  # why the Mail log can count more failures
        plain = screen_plain(app)
        for title in ("Address", "Jail", "Since", "Until", "Left"):
            assert title in plain
        assert row_of(app, NEW) == f"{NEW} postfix-sasl {hm(T0 - 300)} {hm(T0 + 3300)} 55m00s"
        assert row_of(app, DOVECOT) == f"{DOVECOT} dovecot {hm(T0 - 1800)} {hm(T0 + 1800)} 30m00s"
        assert row_of(app, OLD_V6) == f"{OLD_V6} postfix-sasl {hm(T0 - 3000)} {hm(T0 + 600)} 10m00s"
        lines = [" ".join(line.split()) for line in plain.splitlines()]
        rows = [i for i, line in enumerate(lines) if line.startswith((NEW, DOVECOT, OLD_V6))
                and line.split()[1] in ("postfix-sasl", "dovecot")]  # the table's rows, not the line below it
        assert [lines[i].split()[0] for i in rows] == [NEW, DOVECOT, OLD_V6]  # newest first, as the engine said
        assert f"{NEW} (postfix-sasl): banned {hm(T0 - 300)}, until {hm(T0 + 3300)} — 55m00s left" in flat(app)
        await pilot.press("down")
        await wait_for(pilot, lambda: f"{DOVECOT} (dovecot): banned {hm(T0 - 1800)}" in flat(app))
        assert app.focused is app.screen.query_one("#bans-table")
        footer = plain.splitlines()[-1]
        assert "u Unban" in footer and "r Refresh" in footer


async def test_a_long_address_is_clipped_in_the_table_and_whole_below_it() -> None:
    long = "2001:db8:ffff:ffff:ffff:ffff:ffff:1234"
    engine = OpsEngine(banned=[Ban("dovecot", long, T0 - 60, T0 + 3540)])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot, "1 address banned")
        assert row_of(app, "2001:db8:ffff:ffff:fff…") == (
            f"2001:db8:ffff:ffff:fff… dovecot {hm(T0 - 60)} {hm(T0 + 3540)} 59m00s")  # Left still on screen
        assert f"{long} (dovecot): banned {hm(T0 - 60)}" in flat(app)
        await ask_unban(pilot)
        assert f"Unban {long}?" in screen_text(app)
        await pilot.click("#confirm-unban")
        await wait_for(pilot, lambda: "No address is banned" in screen_text(app))
        assert engine.calls_of("unban") == [("unban", long, "dovecot")]
        assert app.screen.query_one("#bans-detail").render().plain == ""  # type: ignore[attr-defined]


async def test_unban_asks_first_and_cancel_changes_nothing() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        await select(pilot, "dovecot", DOVECOT)
        await ask_unban(pilot)
        assert f"Unban {DOVECOT}?" in screen_text(app)
        assert f"{DOVECOT} is banned by the dovecot jail until {hm(T0 + 1800)}." in screen_text(app)
        assert app.focused is not None and app.focused.id == "confirm-cancel"  # the safe answer is the default
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await ask_unban(pilot, "delete")  # the other key for it
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert engine.calls_of("unban") == []
        assert row_of(app, DOVECOT)


async def test_unban_lifts_the_ban_and_the_list_follows() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        await select(pilot, "dovecot", DOVECOT)
        await confirm_unban(pilot)
        await wait_for(pilot, lambda: f"✓ {DOVECOT} is no longer banned (dovecot)" in flat(app)
                       and "2 addresses banned" in screen_text(app))
        assert engine.calls_of("unban") == [("unban", DOVECOT, "dovecot")]
        assert row_of(app, DOVECOT) == ""
        assert "dovecot        failed 1 now / 12 total   banned 0 now / 4 total" in screen_text(app)
        assert panel(app).selected_ban() == default_bans()[2]  # the row that took its place


async def test_an_address_in_two_jails_can_be_lifted_from_one_or_all() -> None:
    twice = [Ban("dovecot", NEW, T0 - 60, T0 + 3540), *default_bans()]
    engine = OpsEngine(banned=twice)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot, "3 addresses banned (4 bans)")
        await ask_unban(pilot)
        assert "It is also banned by: postfix-sasl." in screen_text(app)
        assert "Unban from dovecot" in screen_text(app) and "From every jail" in screen_text(app)
        await pilot.click("#confirm-unban-all")
        await wait_for(pilot, lambda: f"✓ {NEW} is no longer banned (dovecot, postfix-sasl)" in flat(app)
                       and "2 addresses banned" in screen_text(app))
        assert engine.calls_of("unban") == [("unban", NEW, None)]
        assert row_of(app, NEW) == ""


async def test_unban_errors_are_shown_and_nothing_changes() -> None:
    engine = OpsEngine()
    engine.fail[("unban", NEW)] = "`fail2ban-client set postfix-sasl unbanip 198.51.100.23` failed (exit 255)"
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        await confirm_unban(pilot, key="#bans-unban")
        await wait_for(pilot, lambda: f"✗ unban {NEW} failed: `fail2ban-client set postfix-sasl unbanip {NEW}` "
                       "failed (exit 255)" in flat(app))
        assert row_of(app, NEW)
        assert "3 addresses banned" in screen_text(app)
        await wait_for(pilot, lambda: not app.screen.query_one("#bans-unban", Button).disabled)

        # lifted meanwhile by someone else: the engine says so
        engine.banned = [b for b in engine.banned if b.address != OLD_V6]
        await select(pilot, "postfix-sasl", OLD_V6)
        await confirm_unban(pilot)
        await wait_for(pilot, lambda: f"✗ unban {OLD_V6} failed: {OLD_V6} is not banned in the jail postfix-sasl"
                       in flat(app))
        await wait_for(pilot, lambda: "2 addresses banned" in screen_text(app))


async def test_an_address_the_engine_refuses_is_named_with_its_field() -> None:
    engine = OpsEngine(banned=[Ban("dovecot", "not-an-ip", None, None)])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot, "1 address banned")
        assert row_of(app, "not-an-ip") == "not-an-ip dovecot - - -"  # times fail2ban did not give
        await ask_unban(pilot)
        assert "until" not in screen_text(app)
        await pilot.click("#confirm-unban")
        await wait_for(pilot, lambda: "✗ unban not-an-ip failed: address:" in flat(app))
        assert "is not an IP address" in flat(app)
        assert "Traceback" not in flat(app)


async def test_reading_the_bans_fails_then_recovers() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        engine.fail[("bans",)] = "`fail2ban-client status` failed (exit 255): Failed to access socket path"
        await pilot.press("r")
        await wait_for(pilot, lambda: "✗ could not read the bans: `fail2ban-client status` failed (exit 255): "
                       "Failed to access socket path" in flat(app))
        del engine.fail[("bans",)]
        engine.banned = engine.banned[1:]
        await pilot.press("r")
        await wait_for(pilot, lambda: "2 addresses banned" in screen_text(app))
        assert row_of(app, NEW) == "" and row_of(app, DOVECOT)


async def test_unavailable_fail2ban_says_why_instead_of_an_empty_table() -> None:
    engine = OpsEngine(bans_why=NOT_INSTALLED)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot, "fail2ban is not available")
        assert NOT_INSTALLED in flat(app)
        assert "(r asks again)" in flat(app)
        assert not app.screen.query_one("#bans-table").display
        assert "Address" not in screen_plain(app) and "Unban" not in screen_plain(app)
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#bans-refresh"))  # keys still work
        assert engine.calls_of("bans") == []
        footer = screen_plain(app).splitlines()[-1]
        assert "r Refresh" in footer and "Unban" not in footer
        await pilot.press("u")  # nothing to lift: no question, no engine call
        await pilot.pause()
        assert not isinstance(app.screen, Confirm) and engine.calls_of("unban") == []

        engine.bans_why = None  # fail2ban was started meanwhile
        await pilot.press("r")
        await wait_for(pilot, lambda: "3 addresses banned" in screen_text(app))
        assert app.screen.query_one("#bans-table").display
        assert row_of(app, NEW)
        assert NOT_INSTALLED not in flat(app)
        await wait_for(pilot, lambda: app.focused is app.screen.query_one("#bans-table"))


async def test_no_ban_and_no_jail_are_said() -> None:
    engine = OpsEngine(banned=[], jails=[])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot, "No address is banned")
        assert "fail2ban runs, but no jail is active" in screen_text(app)
        await pilot.press("u")
        await wait_for(pilot, lambda: said(app, "No ban selected: no address is banned"))
        assert engine.calls_of("unban") == []


async def test_the_unban_button_is_disabled_while_an_unban_runs() -> None:
    engine = OpsEngine()
    engine.gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        await confirm_unban(pilot)
        await wait_for(pilot, lambda: f"unbanning {NEW}…" in screen_text(app))
        assert app.screen.query_one("#bans-unban", Button).disabled
        panel(app).action_unban()  # as the palette would: refused while busy
        await pilot.pause()
        assert not isinstance(app.screen, Confirm)
        assert said(app, f"Wait: unbanning {NEW} first")
        engine.gate.set()
        await wait_for(pilot, lambda: f"✓ {NEW} is no longer banned (postfix-sasl)" in flat(app))
        await wait_for(pilot, lambda: not app.screen.query_one("#bans-unban", Button).disabled)
        assert engine.calls_of("unban") == [("unban", NEW, "postfix-sasl")]


async def test_the_bans_reload_by_themselves_while_shown_and_not_while_hidden(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BansPanel, "REFRESH_SECONDS", 0.2)
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        engine.banned = [Ban("dovecot", "192.0.2.200", T0 - 10, T0 + 3590), *engine.banned]
        await wait_for(pilot, lambda: "4 addresses banned" in screen_text(app))  # nobody pressed a key
        assert row_of(app, "192.0.2.200") == f"192.0.2.200 dovecot {hm(T0 - 10)} {hm(T0 + 3590)} 59m50s"
        app.screen.show_tab("queue")
        await wait_for(pilot, lambda: app.screen.query_one(TabbedContent).active == "tab-queue"
                       and not panel(app)._shown)
        asked = len(engine.calls_of("bans"))
        panel(app)._tick()  # what the timer would do: nothing while the tab is hidden
        await pilot.pause()
        assert len(engine.calls_of("bans")) == asked


async def test_an_answer_landing_while_the_tab_is_being_left_does_not_switch_back() -> None:
    # The race CI met: show_tab drops the focus and hides the pane at once, the Hide event comes later;
    # a read answered in between found no focus and "the panel shown", focused its table, and
    # TabbedContent switched back to Bans.
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        app.screen.show_tab("queue")
        assert panel(app)._shown  # the Hide event has not arrived yet
        panel(app)._show_available(True)  # what a read's answer does
        await pilot.pause()
        await wait_for(pilot, lambda: not panel(app)._shown)
        assert app.screen.query_one(TabbedContent).active == "tab-queue"
        assert app.screen.focused is None or panel(app) not in app.screen.focused.ancestors


async def test_palette_unban_selected_opens_the_bans_tab_and_asks_first() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_bans(pilot)
        await select(pilot, "dovecot", DOVECOT)
        app.screen.show_tab("accounts")
        await wait_for(pilot, lambda: app.screen.query_one(TabbedContent).active == "tab-accounts")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"bans: unban selected")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        assert f"Unban {DOVECOT}?" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.screen.query_one(TabbedContent).active == "tab-bans"
        assert engine.calls_of("unban") == []


# Snapshots: the clock and the bans in local time, so Since/Until read the same in every time zone.
SNAP_NOW = datetime(2027, 1, 15, 8, 0).timestamp()


def snapshot_app(**kwargs: object) -> MailtuiApp:
    banned = [Ban(b.jail, b.address, (b.banned_at or 0) - T0 + SNAP_NOW, (b.ends_at or 0) - T0 + SNAP_NOW)
              for b in default_bans()]
    return MailtuiApp(ops=OpsEngine(banned=banned, **kwargs), clock=lambda: SNAP_NOW)


def test_bans_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_bans(pilot)

    assert snap_compare(snapshot_app(), terminal_size=(80, 24), run_before=run_before)


def test_bans_unavailable_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_bans(pilot, "fail2ban is not available")

    assert snap_compare(snapshot_app(bans_why=NOT_INSTALLED), terminal_size=(80, 24), run_before=run_before)
