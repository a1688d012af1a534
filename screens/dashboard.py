"""The dashboard: what an operator uses day to day on an installed machine.

Tabs: Accounts (dashboard_accounts.py), Services, Queue and the Mail log. Each tab is a panel of its own
module; this screen only holds them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane

from .dashboard_accounts import AccountsPanel
from .dashboard_common import Confirm, error_text, human_size
from .dashboard_log import MailLogPanel
from .dashboard_queue import QueuePanel
from .dashboard_services import ServicesPanel

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["AccountsPanel", "Confirm", "DashboardScreen", "error_text", "human_size"]



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
            with TabPane("Services", id="tab-services"):
                yield ServicesPanel(self.engine)
            with TabPane("Queue", id="tab-queue"):
                yield QueuePanel(self.engine)
            with TabPane("Mail log", id="tab-mail-log"):
                yield MailLogPanel(self.engine)
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
