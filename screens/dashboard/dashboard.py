"""The dashboard: what an operator uses day to day on an installed machine.

Tabs: Accounts (accounts.py), Services, Queue, the Mail log, Bans (fail2ban), DNS and Spam (rspamd). Each tab is a
panel of its own module; this screen only holds them together.
"""

from __future__ import annotations

from mailtui.screens.dashboard.accounts import AccountsPanel
from mailtui.screens.dashboard.bans import BansPanel
from mailtui.screens.dashboard.common import TAB_KEYS, Confirm, error_text, tab_title
from mailtui.screens.dashboard.dns import DnsPanel
from mailtui.screens.dashboard.log import MailLogPanel
from mailtui.screens.dashboard.queue import QueuePanel
from mailtui.screens.dashboard.services import ServicesPanel
from mailtui.screens.dashboard.spam import SpamPanel
from textual.app import ComposeResult
from textual.binding import Binding
from textual.binding import Binding as _Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, TabbedContent, TabPane, Tabs

from mailtui.api.operations import Operations
from mailtui.format import human_size

__all__ = ["AccountsPanel", "Confirm", "DashboardScreen", "dashboard_help", "error_text", "human_size"]


class DashboardTabs(TabbedContent):
    """TabbedContent that follows the focus into a pane only while the focus is still there.

    A pane's "focused" message is handled after the fact: when the tab is switched in between (a key, the
    palette, show_tab), the message about a focus that has since moved on would switch straight back to
    the old pane (seen in the real dashboard's e2e run of 2026-12-07)."""

    def on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors:
            event.stop()
            event.prevent_default()  # TabbedContent's own handler would make that pane the active one

PANELS: tuple[tuple[str, type], ...] = (
    ("Accounts", AccountsPanel), ("Services", ServicesPanel), ("Queue", QueuePanel), ("Mail log", MailLogPanel),
    ("Bans", BansPanel), ("DNS", DnsPanel), ("Spam", SpamPanel))

HELP_HEAD = """\
The dashboard: Accounts, Services, Queue, Mail log, Bans, DNS and Spam tabs.
  F2 … F8           Accounts, Services, Queue, Mail log, Bans, DNS, Spam
  Tab / Shift+Tab   move between the tab bar, lists and fields
  Left / Right      switch tab (on the tab bar)
  PgDn / PgUp       next / previous page of a list (Accounts)
  Ctrl+P            command palette (every action by name)
  F1 or ?           this help     Ctrl+Q  quit     Esc  close a dialog
"""


def _key_name(key: str) -> str:
    names = {"slash": "/", "delete": "Del", "question_mark": "?", "space": "Space", "enter": "Enter",
             "escape": "Esc", "end": "End", "home": "Home"}
    return "/".join(names.get(k, k.replace("ctrl+", "Ctrl+").replace("shift+", "Shift+"))
                    for k in key.split(","))


def dashboard_help() -> str:
    """The dashboard's help: its general keys, then each tab's own keys taken from the panels' BINDINGS
    (so the help cannot drift from what the keys do)."""

    parts = [HELP_HEAD]
    for title, panel in PANELS:
        lines: list[str] = []
        seen: set[str] = set()
        for b in getattr(panel, "BINDINGS", []):
            binding = b if isinstance(b, _Binding) else _Binding(*b)
            if not binding.description or binding.action in seen:
                continue
            keys = [_key_name(x.key if isinstance(x, _Binding) else _Binding(*x).key)
                    for x in panel.BINDINGS
                    if (x.action if isinstance(x, _Binding) else _Binding(*x).action) == binding.action]
            seen.add(binding.action)
            lines.append(f"  {' '.join(dict.fromkeys(keys)):<16}  {binding.description}")
        parts.append(f"{title}\n" + ("\n".join(lines) if lines else "  (no keys of its own)"))
    return "\n".join(parts)



# ---------------------------------------------------------------- the screen

class DashboardScreen(Screen[None]):
    SUB_TITLE = "dashboard"
    BINDINGS = [
        Binding("pagedown", "page(1)", "Next page", priority=True, show=False),
        Binding("pageup", "page(-1)", "Prev page", priority=True, show=False),
        # A key per tab, from anywhere on the dashboard (each tab's title shows its key).
        *[Binding(f"f{n}", f"tab('{tab}')", title, show=False) for n, (tab, title) in enumerate(TAB_KEYS, 2)],
    ]

    def __init__(self, ops: Operations) -> None:
        super().__init__()
        self.ops = ops

    def compose(self) -> ComposeResult:
        yield Header()
        with DashboardTabs(id="dashboard-tabs"):
            with TabPane(tab_title("accounts", "Accounts"), id="tab-accounts"):
                yield AccountsPanel(self.ops)
            with TabPane(tab_title("services", "Services"), id="tab-services"):
                yield ServicesPanel(self.ops)
            with TabPane(tab_title("queue", "Queue"), id="tab-queue"):
                yield QueuePanel(self.ops)
            with TabPane(tab_title("mail-log", "Mail log"), id="tab-mail-log"):
                yield MailLogPanel(self.ops)
            with TabPane(tab_title("bans", "Bans"), id="tab-bans"):
                yield BansPanel(self.ops)
            with TabPane(tab_title("dns", "DNS"), id="tab-dns"):
                yield DnsPanel(self.ops)
            with TabPane(tab_title("spam", "Spam"), id="tab-spam"):
                yield SpamPanel(self.ops)
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

    def action_tab(self, tab: str) -> None:
        self.show_tab(tab)

    def show_tab(self, tab: str) -> None:
        """Switch to a tab ("accounts", "services", "queue", "mail-log", "bans", "dns", "spam") and focus its list.

        Focus is dropped first: Textual moves the focus of a widget that gets hidden to a sibling in the
        same (now hidden) pane, and TabbedContent then switches straight back to that pane."""
        tabs = self.query_one(TabbedContent)
        if tabs.active == f"tab-{tab}":
            return
        self.set_focus(None)
        tabs.active = f"tab-{tab}"

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # the footer follows the tab (PgUp/PgDn are the Accounts tab's)
        main = {"tab-accounts": "#accounts-table", "tab-services": "#services-table", "tab-queue": "#queue-table",
                "tab-mail-log": "#log-lines", "tab-bans": "#bans-table, #bans-refresh",
                "tab-dns": "#dns-scroll", "tab-spam": "#spam-table, #spam-refresh",
                }.get(event.pane.id or "")  # the first one shown
        if main is None:
            return
        tabs, pane = event.tabbed_content, event.pane

        def focus_main() -> None:
            # Deferred, so only while that pane is still the active one: focusing a widget of a hidden
            # pane would switch back to it.
            # Focus on the tab bar stays there (arrow keys go on switching tabs).
            focused = self.focused
            if tabs.active == pane.id and (focused is None or (pane not in focused.ancestors
                                                               and not isinstance(focused, Tabs))):
                target = next((w for w in self.query(main) if w.display), None)
                if target is not None:
                    self.set_focus(target)  # now: Widget.focus() would land later, maybe after another switch

        self.call_after_refresh(focus_main)

    def run_accounts_action(self, action: str, view: str | None = None) -> None:
        """For the command palette: show the Accounts tab (and a view), then act."""
        self.show_tab("accounts")
        panel = self.accounts
        if view is not None:
            panel.action_view(view)
        getattr(panel, f"action_{action}")()

    def run_panel_action(self, tab: str, action: str, *args: object) -> None:
        """For the command palette: show a tab, then call its panel's action_<action>(*args)."""
        self.show_tab(tab)
        panel = {"services": ServicesPanel, "queue": QueuePanel, "mail-log": MailLogPanel, "bans": BansPanel,
                 "dns": DnsPanel, "spam": SpamPanel}[tab]
        self.call_after_refresh(getattr(self.query_one(panel), f"action_{action}"), *args)
