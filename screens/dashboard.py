"""The dashboard: what an operator uses day to day on an installed machine.

Tabs: Accounts (dashboard_accounts.py), Services, Queue and the Mail log. Each tab is a panel of its own
module; this screen only holds them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from .dashboard_accounts import AccountsPanel
from .dashboard_common import Confirm, error_text, human_size

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["AccountsPanel", "Confirm", "DashboardScreen", "error_text", "human_size"]

COMING = {
    "Services": "Coming next: Postfix, Dovecot and MariaDB — running or not, uptime, listening ports;\n"
                "start / stop / restart / reload with the command's output; `postfix check` and\n"
                "`doveconf -n` problems; the Dovecot debug-logging switch.\n\n"
                "Meanwhile: mailtui service status",
    "Queue": "Coming next: the mail queue (postqueue -j) with sender, recipients, size, age and the\n"
             "reason for deferral; flush, hold / release and delete.\n\n"
             "Meanwhile: mailtui queue list",
    "Mail log": "Coming next: the live mail log — follows the log through rotation, colours each line\n"
                "by outcome, filters as you type and follows one message's journey.\n\n"
                "Meanwhile: mailtui logs -f",
}


# ---------------------------------------------------------------- the screen

class DashboardScreen(Screen[None]):
    SUB_TITLE = "dashboard"
    BINDINGS = [
        Binding("pagedown", "page(1)", "Next page", priority=True),
        Binding("pageup", "page(-1)", "Prev page", priority=True),
    ]

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="dashboard-tabs"):
            with TabPane("Accounts", id="tab-accounts"):
                yield AccountsPanel(self.engine)
            for title, text in COMING.items():
                with TabPane(title, id=f"tab-{title.lower().replace(' ', '-')}"):
                    yield Static(text, classes="coming")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#accounts-table").focus()

    @property
    def accounts(self) -> AccountsPanel:
        return self.query_one(AccountsPanel)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "page":
            return self.query_one(TabbedContent).active == "tab-accounts"
        return True

    def action_page(self, direction: int) -> None:
        self.accounts.page(direction)

    def run_accounts_action(self, action: str, view: str | None = None) -> None:
        """For the command palette: show the Accounts tab (and a view), then act."""
        self.query_one(TabbedContent).active = "tab-accounts"
        panel = self.accounts
        if view is not None:
            panel.action_view(view)
        getattr(panel, f"action_{action}")()
