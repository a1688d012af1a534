"""The dashboard's help: generated from the panels' key bindings, so it names every tab's keys."""

from __future__ import annotations

from mailtui.screens.dashboard import DashboardScreen

from .conftest import make_app, screen_text, wait_for
from .fakes import DashboardEngine


async def test_help_on_the_dashboard_lists_every_tabs_keys() -> None:
    from mailtui.screens.dialogs import HelpScreen

    app = make_app(DashboardEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "Dashboard help" in text
        for tab in ("Accounts", "Services", "Queue", "Mail log"):
            assert f"\n{tab}\n" in f"\n{text}\n"
        assert "Password" in text and "Filter" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
