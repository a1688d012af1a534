"""The dashboard's help: generated from the panels' key bindings, so it names every tab's keys."""

from __future__ import annotations

import pytest
from mailtui.screens.dashboard.dashboard import Confirm, DashboardScreen
from textual.widgets import TabbedContent

from tests.tui.conftest import make_app, screen_text, wait_for
from tests.tui.fakes import DashboardEngine
from tests.tui.fakes_log import LogEngine
from tests.tui.fakes_ops import OpsEngine


async def test_help_on_the_dashboard_lists_every_tabs_keys() -> None:
    from mailtui.screens.widgets.dialogs import HelpScreen

    app = make_app(DashboardEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "Dashboard help" in text
        for tab in ("Accounts", "Services", "Queue", "Mail log", "Bans"):
            assert f"\n{tab}\n" in f"\n{text}\n"
        assert "Password" in text and "Filter" in text
        assert "Unban" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


# LogEngine has no fail2ban: the Bans tab says why and focuses its Refresh button instead of the (hidden) table.
MAIN = {"services": "services-table", "queue": "queue-table", "mail-log": "log-lines", "accounts": "accounts-table",
        "bans": "bans-refresh"}


@pytest.mark.parametrize(("tab", "main"), [("services", "#services-table"), ("queue", "#queue-table"),
                                           ("mail-log", "#log-lines"), ("accounts", "#accounts-table"),
                                           ("bans", "#bans-refresh")])
async def test_switching_tabs_from_code_stays_and_focuses_the_tabs_list(tab: str, main: str) -> None:
    """From every tab to every other: the switch must not bounce back (Textual hands a hidden widget's
    focus to a sibling in the hidden pane, and TabbedContent would follow it back)."""
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        for start in ("accounts", "services", "queue", "mail-log", "bans"):
            app.screen.show_tab(start)
            await wait_for(pilot, lambda s=start: app.focused is not None and app.focused.id == MAIN[s])
            app.screen.show_tab(tab)
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == main.lstrip("#"))
            await pilot.pause(0.2)
            assert app.screen.query_one(TabbedContent).active == f"tab-{tab}", f"bounced back from {tab} to {start}"


async def test_palette_restart_dovecot_switches_to_services_and_asks_first() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"restart dovecot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        assert "Dovecot" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.screen.query_one(TabbedContent).active == "tab-services"
        assert not engine.calls_of("control_service")


async def test_palette_flush_queue_runs_on_the_queue_tab() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"flush the mail queue")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.calls_of("queue_action"))
        assert app.screen.query_one(TabbedContent).active == "tab-queue"


async def test_a_switch_right_after_a_widget_took_focus_in_the_old_tab_does_not_bounce_back() -> None:
    """The e2e dashboard run of 2026-12-07 stayed on Queue after switching to Services: a widget of the queue
    pane had just been focused, and its pane's "focused" message reached TabbedContent after the switch,
    which then activated Queue again. A message about a focus that has since moved on must change nothing."""
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        app.screen.show_tab("services")
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "services-table")
        app.screen.set_focus(app.screen.query_one("#services-start"))  # its pane hears of it later
        app.screen.show_tab("queue")  # before that
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "queue-table")
        await pilot.pause(0.3)
        assert app.screen.query_one(TabbedContent).active == "tab-queue"
        assert app.focused is not None and app.focused.id == "queue-table"
