"""The dashboard's Spam tab, driven by keyboard on an in-memory engine (DashboardEngine's spam filter: a day of
a small server's counts, fakes.sample_spam_stats)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.dashboard.spam import SpamPanel, held_line, totals_line
from mailtui.screens.widgets.ask_path import AskPathScreen
from textual.widgets import DataTable, Sparkline

from mailtui.ops.spam import Limited
from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes import T0, DashboardEngine, sample_spam_stats

OFF = "the spam filter is off on this server ([spam] enabled = false in the answers)"


def flat(app) -> str:  # noqa: ANN001
    return " ".join(screen_plain(app).split())


def panel(app) -> SpamPanel:  # noqa: ANN001
    return app.screen.query_one(SpamPanel)


def said(app) -> str:  # noqa: ANN001
    """What the output log holds, without any white space (a long path wraps there, anywhere)."""
    return "".join("".join(panel(app).log_pane.plain_lines()).split())


def nospace(text: str) -> str:
    return "".join(text.split())


async def open_spam(pilot, ready: str = "scanned") -> None:  # noqa: ANN001
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    await pilot.press("f8")
    await wait_for(pilot, lambda: ready in screen_text(app))


async def learn(pilot, key: str, path: str) -> None:  # noqa: ANN001
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AskPathScreen))
    await pilot.press(*path, "enter")  # the field's text is selected: typing replaces it
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen) and not panel(pilot.app).busy)


def test_texts() -> None:
    s = sample_spam_stats()
    assert totals_line(s) == "24 h: 507 scanned · 21 refused · 35 greylisted · 29 into Junk · 10 limited"
    assert str(held_line([])) == "Hourly limit: nobody held back in the last 24 h"
    many = [Limited(f"u{i}@example.org", 9 - i, T0) for i in range(5)]
    assert str(held_line(many)).startswith("Held by the hourly limit: u0@example.org 9× (last ")
    assert str(held_line(many)).endswith(", and 2 more")


async def test_counts_per_hour_holds_and_last_refused() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_spam(pilot)
        text = flat(app)
        assert "24 h: 507 scanned · 21 refused · 35 greylisted · 29 into Junk · 10 limited" in text
        for key, counts in engine.spam.hourly.items():
            assert app.screen.query_one(f"#spark-spam-{key}", Sparkline).data == counts
        assert "Learned: 14 · the classifier holds 9 spam, 5 ham · 1 refused from logins" in text
        assert "Held by the hourly limit: carol@example.org 10×" in text
        table = app.screen.query_one("#spam-table", DataTable)
        assert table.row_count == 3
        assert app.screen.focused is table
        assert "limit 0 carol@example.org a@customer.test" in text  # newest first
        assert "“Invoice” from login carol@example.org: (no rules named)" in text
        await pilot.press("down")
        await wait_for(pilot, lambda: "GTUBE(0)" in screen_text(app))
        assert "“You have won” from 198.51.100.7: GTUBE(0) R_SPF_FAIL(1)" in flat(app)
        for line in screen_plain(app).splitlines():
            assert len(line.rstrip()) <= 80


async def test_learn_spam_and_ham_from_a_file(tmp_path: Path) -> None:
    message = tmp_path / "junk.eml"
    message.write_text("From: promo@bulk.test\nSubject: You have won\n\nClick here\n")
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_spam(pilot)
        await learn(pilot, "s", str(message))
        assert engine.learned == [("spam", str(message))]
        assert nospace(f"✓ rspamd learned {message} as spam") in said(app)
        await wait_for(pilot, lambda: "Learned: 15 ·" in screen_text(app))  # asked again after learning
        await learn(pilot, "h", str(message))
        assert engine.learned[-1] == ("ham", str(message))


async def test_learn_names_the_file_and_learns_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.eml"
    empty.write_text("")
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_spam(pilot)
        await learn(pilot, "s", str(tmp_path / "missing.eml"))
        await learn(pilot, "s", str(empty))
        assert nospace(f"✗ FILE: cannot read {tmp_path / 'missing.eml'}") in said(app)
        assert nospace(f"✗ FILE: {empty} is empty") in said(app)
        # not absolute: the dialog says so and stays
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, AskPathScreen))
        await pilot.press(*"x.eml", "enter")
        await wait_for(pilot, lambda: "Give an absolute path" in screen_text(app))
        assert isinstance(app.screen, AskPathScreen)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert engine.learned == []


async def test_filter_off_or_rspamd_down_says_why_and_asks_again() -> None:
    engine = DashboardEngine()
    engine.spam_error = OFF
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_spam(pilot, "cannot be asked")
        text = flat(app)
        assert OFF in text and "r asks again" in text
        assert not app.screen.query_one("#spam-table").display
        assert "scanned ▁" not in text
        engine.spam_error = ""
        engine.spam = replace(engine.spam, limited=[])
        await pilot.press("r")
        await wait_for(pilot, lambda: "507 scanned" in screen_text(app))
        assert "Hourly limit: nobody held back in the last 24 h" in flat(app)
        assert app.screen.query_one("#spam-table").display


def test_spam_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_spam(pilot)

    assert snap_compare(make_app(DashboardEngine()), terminal_size=(80, 24), run_before=run_before)
