"""The dashboard's Services tab: Postfix, Dovecot and MariaDB — running or not, PID, uptime, the ports
they listen on; start / stop / restart / reload with the command's output; the problems `postfix check`
and `doveconf -n` report; Dovecot's debug-logging switch.

Every engine call runs in a thread worker and answers with a message; nothing an engine call raises
reaches a traceback: it is shown (red, "✗ …") in the output pane. The table refreshes every few
seconds while the tab is shown, and after every action.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mailtui.screens.dashboard.common import ActionTablePanel, Confirm, describe, tab_title
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent

from mailtui.api.operations import Operations
from mailtui.api.types import CertificateStatus
from mailtui.format import human_age

LABELS = {"postfix": "Postfix", "dovecot": "Dovecot", "mariadb": "MariaDB"}
PAST = {"start": "started", "stop": "stopped", "restart": "restarted", "reload": "reloaded"}
ING = {"start": "starting", "stop": "stopping", "restart": "restarting", "reload": "reloading"}
STOP_WHY = {
    "postfix": "No mail comes in or goes out until Postfix is started again (senders retry later).",
    "dovecot": "Mail clients cannot log in, and Postfix cannot deliver to the mailboxes or check "
               "submission passwords, until Dovecot is started again.",
    "mariadb": "Postfix and Dovecot cannot look up domains, mailboxes and aliases (mail waits, logins "
               "fail) until MariaDB is started again.",
}
DEBUG_ON = "⚠ Dovecot debug logging is ON — turn it off when done (d)"
TAB_ID = "tab-services"
TAB_LABEL = "Services"


class ServicesPanel(ActionTablePanel):
    """The three services of the stack in a table; actions on the selected row."""

    ID_PREFIX = "services"
    REFRESH_SECONDS: ClassVar[float] = 5.0

    DEFAULT_CSS = """
    ServicesPanel {
        height: 1fr;
    }
    ServicesPanel #services-table {
        height: auto;
        max-height: 6;
    }
    ServicesPanel #services-bar {
        height: 1;
    }
    ServicesPanel #services-bar Button {
        margin-right: 1;
        min-width: 8;
    }
    ServicesPanel #services-status {
        width: 1fr;
        color: $text-muted;
        text-align: right;
    }
    ServicesPanel #services-debug {
        display: none;
        color: $warning;
        text-style: bold;
    }
    ServicesPanel .ops-title {
        text-style: bold;
        color: $accent;
        margin-top: 1;
    }
    ServicesPanel #services-problems-box {
        height: auto;
        max-height: 4;
    }
    ServicesPanel #services-problems {
        height: auto;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start"),
        Binding("t", "stop", "Stop"),
        Binding("r", "restart", "Restart"),
        Binding("l", "reload", "Reload"),
        Binding("c", "check_config", "Check config", show=False),  # the Problems title says it
        Binding("d", "debug", "Debug"),
        Binding("g", "refresh_status", "Refresh", show=False),
        Binding("ctrl+r", "refresh_status", "Refresh", show=False),
    ]
    ACTIONS = frozenset({"start", "stop", "restart", "reload", "debug", "control"})

    class StatusesLoaded(Message):
        def __init__(self, rows: list[Any] | None, error: str = "") -> None:
            super().__init__()
            self.rows, self.error = rows, error

    class ProblemsLoaded(Message):
        def __init__(self, problems: list[str] | None, error: str = "") -> None:
            super().__init__()
            self.problems, self.error = problems, error

    class CertificateLoaded(Message):
        def __init__(self, status: CertificateStatus | None, error: str = "") -> None:
            super().__init__()
            self.status, self.error = status, error

    class DebugLoaded(Message):
        def __init__(self, enabled: bool | None) -> None:
            super().__init__()
            self.enabled = enabled

    class ActionDone(Message):
        def __init__(self, done: str, output: str, error: str, debug: bool | None = None) -> None:
            super().__init__()
            self.done, self.output, self.error, self.debug = done, output, error, debug

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops)
        self.debug: bool | None = None
        self.names: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.new_table(zebra_stripes=False)
        yield self.new_action_bar([("Start", "start"), ("Stop", "stop"), ("Restart", "restart"), ("Reload", "reload"),
                                   ("Debug on", "debug-toggle")], status=Static("reading…", id="services-status"))
        yield Static(DEBUG_ON, id="services-debug")
        yield Static(Text("reading the certificate…", style="dim"), id="services-certificate")
        yield Static("Problems (c checks again)", classes="ops-title")
        with VerticalScroll(id="services-problems-box", can_focus=False):
            yield Static(Text("checking postfix check and doveconf -n…", style="dim"), id="services-problems")
        yield Static("Output", classes="ops-title")
        yield self.new_output_log("The output of start / stop / restart / reload and of the debug switch shows here.")

    def on_mount(self) -> None:
        table = self.table
        table.add_column("Service", key="service")
        table.add_column("State", key="state")
        table.add_column(Text("PID", justify="right"), key="pid")
        table.add_column(Text("Uptime", justify="right"), key="uptime")
        table.add_column("Listening ports", key="ports")
        self.start_refreshing()
        self.refresh_status()
        self.load_problems()
        self.load_certificate()
        self.load_debug()

    # ------------------------------------------------------------ shown / hidden (RefreshWhileShown)

    def refresh_now(self) -> None:
        self.refresh_status()

    # ------------------------------------------------------------ loading

    def action_refresh_status(self) -> None:
        self.refresh_status()

    @work(thread=True, exclusive=True, group="services-status")
    def refresh_status(self) -> None:
        self.post_list(self.ops.service_statuses, self.StatusesLoaded)

    @on(StatusesLoaded)
    def _statuses_loaded(self, message: StatusesLoaded) -> None:
        status = self.query_one("#services-status", Static)
        if message.rows is None:
            if not self.busy:
                status.update(Text(f"✗ could not read the services: {message.error}", style="red"))
            return
        table = self.table
        before = self.selected_name()
        table.clear()
        self.names = []
        for s in message.rows:
            state = Text("running", style="bold green") if s.running else Text("stopped", style="bold red")
            ports = ", ".join(str(p) for p in s.ports) if s.ports else "-"
            table.add_row(s.label, state, Text(str(s.pid) if s.pid else "-", justify="right"),
                          Text(human_age(s.uptime_seconds) if s.running else "-", justify="right"), ports,
                          key=s.name)
            self.names.append(s.name)
        if before in self.names:
            table.move_cursor(row=self.names.index(before))
        if not self.busy:
            status.update(self._summary(message.rows))

    def _summary(self, rows: list[Any]) -> Text:
        stopped = [s.label for s in rows if not s.running]
        if not stopped:
            return Text(f"all {len(rows)} running", style="green")
        return Text(f"stopped: {', '.join(stopped)}", style="bold red")

    @work(thread=True, exclusive=True, group="services-problems")
    def load_problems(self) -> None:
        self.post_list(self.ops.config_problems, self.ProblemsLoaded)

    @on(ProblemsLoaded)
    def _problems_loaded(self, message: ProblemsLoaded) -> None:
        shown = self.query_one("#services-problems", Static)
        if message.problems is None:
            shown.update(Text(f"✗ could not check the configuration: {message.error}", style="bold red"))
            return
        if not message.problems:
            shown.update(Text("✓ no problems from postfix check and doveconf -n", style="green"))
            return
        text = Text()
        for i, line in enumerate(message.problems):
            bad = any(w in line.lower() for w in ("error", "fatal", "failed", "not installed"))
            text.append(("\n" if i else "") + ("✗ " if bad else "⚠ ") + line, style="red" if bad else "yellow")
        shown.update(text)

    def action_check_config(self) -> None:
        self.query_one("#services-problems", Static).update(
            Text("checking postfix check and doveconf -n…", style="dim"))
        self.load_problems()
        self.load_certificate()

    @work(thread=True, exclusive=True, group="services-certificate")
    def load_certificate(self) -> None:
        try:
            self.post_message(self.CertificateLoaded(self.ops.certificate_status()))
        except Exception as exc:  # shown, never raised into the UI
            self.post_message(self.CertificateLoaded(None, str(exc)))

    @on(CertificateLoaded)
    def _certificate_loaded(self, message: CertificateLoaded) -> None:
        shown = self.query_one("#services-certificate", Static)
        if message.status is None:
            shown.update(Text(f"✗ could not read the certificate: {message.error}", style="bold red"))
            return
        problem = message.status.problem
        bad = problem and ("expired" in problem or "under" in problem)
        mark, style = ("✓ ", "green") if not problem else ("✗ ", "bold red") if bad else ("⚠ ", "yellow")
        shown.update(Text(mark + message.status.line(), style=style))

    @work(thread=True, exclusive=True, group="services-debug")
    def load_debug(self) -> None:
        try:
            enabled: bool | None = bool(self.ops.dovecot_debug_enabled())
        except Exception:
            enabled = None
        self.post_message(self.DebugLoaded(enabled))

    @on(DebugLoaded)
    def _debug_loaded(self, message: DebugLoaded) -> None:
        self._show_debug(message.enabled)

    def _show_debug(self, enabled: bool | None) -> None:
        self.debug = enabled
        self.query_one("#services-debug", Static).display = bool(enabled)
        self.query_one("#services-debug-toggle", Button).label = "Debug off" if enabled else "Debug on"
        try:  # the reminder shows on every tab: in the tab's own label
            tab = self.screen.query_one(TabbedContent).get_tab(TAB_ID)
        except (NoMatches, ValueError, AttributeError):
            return
        tab.label = tab_title("services", f"{TAB_LABEL} (debug ON)" if enabled else TAB_LABEL)

    # ------------------------------------------------------------ actions

    def selected_name(self) -> str | None:
        return self.selected_key()

    def show_busy(self, what: str) -> None:
        if what:  # once it is done, the status read that follows says how the services are
            self.query_one("#services-status", Static).update(Text(what + "…", style="yellow"))

    @on(Button.Pressed, "#services-start")
    def action_start(self) -> None:
        self._on_selected("start")

    @on(Button.Pressed, "#services-stop")
    def action_stop(self) -> None:
        self._on_selected("stop")

    @on(Button.Pressed, "#services-restart")
    def action_restart(self) -> None:
        self._on_selected("restart")

    @on(Button.Pressed, "#services-reload")
    def action_reload(self) -> None:
        self._on_selected("reload")

    def _on_selected(self, verb: str) -> None:
        name = self.selected_name()
        if name is None:
            self.notify("No service selected (the list is still loading)", severity="warning")
            return
        self.action_control(name, verb)

    def action_control(self, name: str, verb: str) -> None:
        """start / stop / restart / reload one service (stop and restart ask first). For the palette too."""
        if self.refuse_when_busy():
            return
        label = LABELS.get(name, name)
        if verb in ("stop", "restart"):
            why = STOP_WHY.get(name, "") if verb == "stop" else \
                "Its connections open now are dropped; it is back within a few seconds."

            def answered(choice: str | None) -> None:
                if choice == verb:
                    self._start_control(name, verb)

            self.app.push_screen(Confirm(f"{verb.capitalize()} {label}?", why,
                                         [(verb, verb.capitalize(), "error" if verb == "stop" else "warning")]),
                                 answered)
            return
        self._start_control(name, verb)

    def _start_control(self, name: str, verb: str) -> None:
        label = LABELS.get(name, name)
        if self.start_action(f"{ING.get(verb, verb)} {label}", f"{verb} {label}"):
            self.run_control(name, verb)

    @work(thread=True, group="services-action")
    def run_control(self, name: str, verb: str) -> None:
        label = LABELS.get(name, name)
        try:
            output = self.ops.control_service(name, verb)
        except Exception as exc:
            self.post_message(self.ActionDone("", "", f"{label}: {verb} failed: {describe(exc)}"))
            return
        self.post_message(self.ActionDone(f"{label} {PAST.get(verb, verb + ' done')}", str(output or ""), ""))

    @on(Button.Pressed, "#services-debug-toggle")
    def action_debug(self) -> None:
        """Switch Dovecot's debug logging (on when off, off when on). For the palette too."""
        on_ = not self.debug
        if self.start_action(f"turning Dovecot debug logging {'on' if on_ else 'off'}",
                             f"Dovecot debug logging {'on' if on_ else 'off'}"):
            self.run_debug(on_)

    @work(thread=True, group="services-action")
    def run_debug(self, on_: bool) -> None:
        output, error = "", ""
        try:
            output = str(self.ops.set_dovecot_debug(on_) or "")
        except Exception as exc:
            error = f"could not turn Dovecot debug logging {'on' if on_ else 'off'}: {describe(exc)}"
        try:
            enabled: bool | None = bool(self.ops.dovecot_debug_enabled())
        except Exception:
            enabled = None if error else on_
        done = "" if error else ("Dovecot debug logging is ON (auth_debug, mail_debug; passwords are never "
                                 "logged)" if on_ else "Dovecot debug logging is off")
        self.post_message(self.ActionDone(done, output, error, debug=enabled))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        if message.debug is not None:
            self._show_debug(message.debug)
        self.finish_action(message.done, message.error, message.output)
        self.refresh_status()  # the status line's summary comes with it
