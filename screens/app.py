"""The Textual application: the install wizard, and the dashboard once mailtui has installed the machine.

The app does everything through the operations API (mailtui/api): `run_app(LiveOperations())` from the
command line; tests pass `MailtuiApp(ops=a scripted implementation)` that refuses whatever they did not script.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from importlib.resources import files

from mailtui.screens.dashboard.dashboard import DashboardScreen, dashboard_help
from mailtui.screens.widgets.dialogs import ConfirmQuit, HelpScreen
from mailtui.screens.wizard.apply import ApplyPane
from mailtui.screens.wizard.step_help import step_help
from mailtui.screens.wizard.wizard import WizardScreen
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from mailtui import __version__
from mailtui.api.operations import Operations

CSS_FILE = str(files("mailtui.assets") / "mailtui.tcss")


class MailtuiApp(App[int]):
    TITLE = "mailtui"
    SUB_TITLE = f"mail server installer {__version__}"
    CSS_PATH = CSS_FILE
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
    ]

    def __init__(self, ops: Operations, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.ops = ops
        self.clock = clock

    def get_default_screen(self) -> Screen:
        if self._installed():
            return DashboardScreen(self.ops)
        return WizardScreen(self.ops)

    def _installed(self) -> bool:
        """mailtui installed this machine and no install is running or waiting to be resumed."""
        try:
            if not self.ops.is_root() or self.ops.saved_answers() is None:
                return False
            state = self.ops.read_state()
        except Exception:
            return False  # the wizard explains what is wrong
        return state.status not in ("running", "failed", "interrupted")

    @property
    def dashboard(self) -> DashboardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, DashboardScreen):
                return screen
        return None

    def action_dashboard(self) -> None:
        dashboard = self.dashboard
        if dashboard is None:
            self.push_screen(DashboardScreen(self.ops))
            return
        while self.screen is not dashboard:
            self.pop_screen()

    def action_wizard(self) -> None:
        wizard = self.wizard
        if wizard is None:
            self.push_screen(WizardScreen(self.ops))
            return
        while self.screen is not wizard:
            self.pop_screen()

    def _accounts_action(self, action: str, view: str | None = None) -> Callable[[], None]:
        def run() -> None:
            self.action_dashboard()
            dashboard = self.dashboard
            if dashboard is not None:
                self.call_after_refresh(dashboard.run_accounts_action, action, view)

        return run

    def _panel_action(self, tab: str, action: str, *args: object) -> Callable[[], None]:
        def run() -> None:
            self.action_dashboard()
            dashboard = self.dashboard
            if dashboard is not None:
                self.call_after_refresh(dashboard.run_panel_action, tab, action, *args)

        return run

    @property
    def wizard(self) -> WizardScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, WizardScreen):
                return screen
        return None

    @property
    def install_running(self) -> bool:
        wizard = self.wizard
        return bool(wizard and wizard.query_one(ApplyPane).running)

    async def action_quit(self) -> None:
        if not self.install_running:
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(ConfirmQuit(
            "An install step is running. Quitting only closes this window: the install goes on by "
            "itself. Start mailtui again to follow it."), answered)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        if isinstance(self.screen, DashboardScreen):
            self.push_screen(HelpScreen(dashboard_help(), "Dashboard help"))
        elif isinstance(self.screen, WizardScreen):
            self.push_screen(HelpScreen(*step_help(self.screen.current)))  # the current step's own help
        else:
            self.push_screen(HelpScreen())

    def _wizard_action(self, name: str) -> Callable[[], None]:
        def run() -> None:
            wizard = self.wizard
            if wizard is not None and self.screen is wizard:
                getattr(wizard, f"action_{name}")()
            else:
                self.notify("Not available here", severity="warning")

        return run

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Only what can work here: the wizard's steps on the wizard; the dashboard's actions once mailtui
        has installed this machine."""
        if isinstance(screen, WizardScreen):
            yield SystemCommand("Next step", "Check this form and go to the next one", self._wizard_action("next"))
            yield SystemCommand("Previous step", "Go back one form (keeps what you typed)",
                                self._wizard_action("back"))
            yield SystemCommand("Review the plan", "Check every form and show what would change",
                                self._wizard_action("review"))
            yield SystemCommand("Save answers…", "Write the answers to a file for `mailtui install --answers`",
                                self._wizard_action("save_answers"))
        if self._installed():
            yield from self._dashboard_commands()
        if not isinstance(screen, WizardScreen):
            yield SystemCommand("Install wizard", "Walk the install forms (to install or change the setup)",
                                self.action_wizard)
        yield SystemCommand("Help", "Keys and what to expect", self.action_help)
        yield from super().get_system_commands(screen)

    def _dashboard_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Dashboard", "Accounts, services, queue, mail log, bans, DNS and spam of the server",
                            self.action_dashboard)
        yield SystemCommand("Add mailbox", "Dashboard: add a mailbox with a password",
                            self._accounts_action("add", "mailboxes"))
        yield SystemCommand("Add domain", "Dashboard: serve mail for another domain",
                            self._accounts_action("add", "domains"))
        yield SystemCommand("Add alias", "Dashboard: forward an address (or @domain catch-all)",
                            self._accounts_action("add", "aliases"))
        yield SystemCommand("Services", "Dashboard: Postfix, Dovecot, MariaDB — state, ports, start/stop",
                            self._panel_action("services", "refresh_status"))
        for name, label in (("postfix", "Postfix"), ("dovecot", "Dovecot"), ("mariadb", "MariaDB")):
            yield SystemCommand(f"Restart {label}", f"Dashboard: restart {label} (asks first)",
                                self._panel_action("services", "control", name, "restart"))
            yield SystemCommand(f"Start {label}", f"Dashboard: start {label}",
                                self._panel_action("services", "control", name, "start"))
        yield SystemCommand("Check the configuration", "Dashboard: what postfix check and doveconf -n say",
                            self._panel_action("services", "check_config"))
        yield SystemCommand("Dovecot debug logging on/off", "Dashboard: verbose auth/mail logging (never passwords)",
                            self._panel_action("services", "debug"))
        yield SystemCommand("Mail queue", "Dashboard: queued and deferred messages",
                            self._panel_action("queue", "reload"))
        yield SystemCommand("Flush the mail queue", "Dashboard: try every queued message now",
                            self._panel_action("queue", "flush_all"))
        yield SystemCommand("Mail log", "Dashboard: follow the mail log live", self._panel_action("mail-log", "newest"))
        yield SystemCommand("Filter the mail log", "Dashboard: show only lines containing some text",
                            self._panel_action("mail-log", "filter"))
        yield SystemCommand("Pause or resume the mail log", "Dashboard: hold the view while you read",
                            self._panel_action("mail-log", "toggle_pause"))
        yield SystemCommand("Mail log: show or hide probe lines", "Dashboard: the lines of mailtui's own checks",
                            self._panel_action("mail-log", "toggle_probes"))
        yield SystemCommand("Bans: refresh", "Dashboard: addresses fail2ban banned after failed logins",
                            self._panel_action("bans", "reload"))
        yield SystemCommand("Bans: unban selected", "Dashboard: lift the selected address's ban (asks first)",
                            self._panel_action("bans", "unban"))
        yield SystemCommand("DNS records", "Dashboard: the records to publish for every domain, client settings",
                            self._panel_action("dns", "refresh"))
        yield SystemCommand("DNS records: write to a file", "Dashboard: save them whole, for copying",
                            self._panel_action("dns", "write"))
        yield SystemCommand("Spam filter", "Dashboard: scanned, refused, greylisted, into Junk per hour",
                            self._panel_action("spam", "reload"))
        yield SystemCommand("Spam: learn a message as spam", "Dashboard: teach rspamd a message saved as a file",
                            self._panel_action("spam", "learn", "spam"))
        yield SystemCommand("Spam: learn a message as ham", "Dashboard: teach rspamd a message is not spam",
                            self._panel_action("spam", "learn", "ham"))


def run_app(ops: Operations) -> int:
    result = MailtuiApp(ops).run()
    return result if isinstance(result, int) else 0
