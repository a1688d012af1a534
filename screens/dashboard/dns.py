"""The dashboard's DNS tab: the records to publish for the server and every domain it serves (a domain
added in the Accounts tab shows up here), and the mail client settings — from the one source the Verify
screen and `mailtui dns` use. Long values (a DKIM key) wrap here; "Write to a file" and `mailtui dns` give
them whole, for copying. "Check DNS" asks this machine's resolver for each record, as `mailtui dns check`
does, and shows record by record whether it is published as printed, above the records. "Rotate DKIM key"
(k) makes a domain's standby key the signing one (`mailtui dkim rotate`), after asking which domain."""

from __future__ import annotations

from pathlib import Path

from mailtui.screens.dashboard.common import Confirm, error_text
from mailtui.screens.widgets.ask_path import AskPathScreen
from mailtui.screens.widgets.dns import records_text, settings_text
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from mailtui.api.operations import Operations
from mailtui.api.types import DkimKeyStatus, DnsCheck, DnsReport
from mailtui.errors import ValidationError

DEFAULT_DNS_FILE = "/root/mailtui-dns.txt"
INTRO = ("Publish these in each domain's zone at your DNS provider; reverse DNS (PTR) is set at your hosting "
         "provider. Whole values, for copying: w writes them to a file; `mailtui dns` prints them; c checks "
         "what DNS holds.")


class DnsPanel(Vertical):
    BINDINGS = [
        Binding("w", "write", "Write to a file"),
        Binding("c", "check", "Check DNS"),
        Binding("k", "rotate", "Rotate DKIM key"),
        Binding("r", "refresh", "Refresh"),
    ]
    MAX_ROTATE_BUTTONS = 4  # more domains than that: `mailtui dkim rotate DOMAIN`

    class Checked(Message):
        def __init__(self, result: DnsCheck | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    class Keys(Message):
        def __init__(self, keys: list[DkimKeyStatus] | None, error: str = "") -> None:
            super().__init__()
            self.keys = keys
            self.error = error

    class Rotated(Message):
        def __init__(self, said: str, error: str = "") -> None:
            super().__init__()
            self.said = said
            self.error = error

    class Loaded(Message):
        def __init__(self, report: DnsReport | None, error: str = "") -> None:
            super().__init__()
            self.report = report
            self.error = error

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="dns-panel")
        self.ops = ops
        self.report: DnsReport | None = None

    def compose(self) -> ComposeResult:
        yield Static(INTRO, classes="why", id="dns-intro")
        with VerticalScroll(id="dns-scroll"):
            yield Static("", id="dns-check")
            yield Static("Reading the domains…", id="dns-body")
        with Horizontal(classes="buttons"):
            yield Button("Refresh", id="dns-refresh", compact=True)
            yield Button("Check DNS", id="dns-check-button", compact=True)
            yield Button("Rotate DKIM…", id="dns-rotate", compact=True)
            yield Button("Write to a file…", id="dns-write", variant="primary", compact=True)

    def on_show(self) -> None:
        self.action_refresh()

    @on(Button.Pressed, "#dns-refresh")
    def action_refresh(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="dns")
    def load(self) -> None:
        try:
            report = self.ops.dns_report()
        except Exception as exc:  # shown, in words
            self.post_message(self.Loaded(None, error_text(exc)))
            return
        self.post_message(self.Loaded(report))

    def on_dns_panel_loaded(self, message: DnsPanel.Loaded) -> None:
        body = self.query_one("#dns-body", Static)
        if message.report is None:
            body.update(Text(f"✗ {message.error}", style="red"))
            return
        self.report = report = message.report
        text = Text(f"{len(report.domains)} domain{'s' if len(report.domains) != 1 else ''}: "
                    f"{', '.join(report.domains)}\n\n", style="dim")
        text.append_text(records_text(report))
        text.append("\n")
        text.append_text(settings_text(report))
        body.update(text)

    @on(Button.Pressed, "#dns-check-button")
    def action_check(self) -> None:
        report = self.report
        if report is None:
            self.notify("The records are not read yet.", severity="warning")
            return
        self.query_one("#dns-check", Static).update(Text("Asking DNS for each record…", style="dim"))
        self.check(report)

    @work(thread=True, exclusive=True, group="dns-check")
    def check(self, report: DnsReport) -> None:
        try:
            result = self.ops.dns_check(report)
        except Exception as exc:  # shown, in words (no resolver to ask, …)
            self.post_message(self.Checked(None, error_text(exc)))
            return
        self.post_message(self.Checked(result))

    def on_dns_panel_checked(self, message: DnsPanel.Checked) -> None:
        shown = self.query_one("#dns-check", Static)
        result = message.result
        if result is None:
            shown.update(Text(f"✗ DNS check: {message.error}\n", style="red"))
            return
        failed = sum(not c.ok for c in result.checks)
        text = Text(f"DNS check (asked {result.server}): ", style="bold")
        text.append("every record is published as printed" if result.ok else
                    f"{failed} of {len(result.checks)} record(s) not as printed", style="green" if result.ok else "red")
        text.append("\n")
        for c in result.checks:
            text.append("✓ " if c.ok else "✗ ", style="green" if c.ok else "red")
            text.append(f"{c.label}: ", style="bold")
            text.append(f"{c.detail}\n", style="" if c.ok else "red")
        shown.update(text)
        self.query_one("#dns-scroll", VerticalScroll).scroll_home(animate=False)

    @on(Button.Pressed, "#dns-rotate")
    def action_rotate(self) -> None:
        self.read_keys()

    @work(thread=True, exclusive=True, group="dkim")
    def read_keys(self) -> None:
        try:
            self.post_message(self.Keys(self.ops.dkim_status()))
        except Exception as exc:  # shown, in words
            self.post_message(self.Keys(None, error_text(exc)))

    def on_dns_panel_keys(self, message: DnsPanel.Keys) -> None:
        if message.keys is None:
            self.notify(f"DKIM keys: {message.error}", severity="error")
            return
        pairs = [(k.domain, k.selector, next((s.selector for s in message.keys
                                             if s.domain == k.domain and s.role == "standby"), ""))
                 for k in message.keys if k.role == "signing"]
        pairs = [(d, now, nxt) for d, now, nxt in pairs if nxt]
        if not pairs:
            self.notify("No DKIM key to rotate: DKIM is off, or no domain has a standby key yet.", severity="warning")
            return
        shown = pairs[:self.MAX_ROTATE_BUTTONS]
        lines = [f"{d}: {now} signs now; {nxt} (standby) would sign" for d, now, nxt in shown]
        if len(pairs) > len(shown):
            lines.append(f"… and {len(pairs) - len(shown)} more: `mailtui dkim rotate DOMAIN` for those")
        lines.append("Check first that the standby's record is published (c). The old key is retired: keep its "
                     "record a few days.")
        buttons = [(f"d{i}", d, "warning") for i, (d, _now, _nxt) in enumerate(shown)]

        def chosen(answer: str | None) -> None:
            if answer is not None:
                self.rotate(shown[int(answer[1:])][0])

        self.app.push_screen(Confirm("Rotate which domain's DKIM key?", "\n".join(lines), buttons), chosen)

    @work(thread=True, exclusive=True, group="dkim")
    def rotate(self, domain: str) -> None:
        try:
            self.post_message(self.Rotated(self.ops.dkim_rotate(domain)))
        except Exception as exc:  # shown, in words
            self.post_message(self.Rotated("", error_text(exc)))

    def on_dns_panel_rotated(self, message: DnsPanel.Rotated) -> None:
        if message.error:
            self.notify(f"DKIM rotation failed: {message.error}", severity="error")
            return
        self.notify("\n".join(message.said.splitlines()[-2:]))
        self.load()

    @on(Button.Pressed, "#dns-write")
    def action_write(self, error: str = "", path: str = DEFAULT_DNS_FILE) -> None:
        report = self.report
        if report is None:
            self.notify("The records are not read yet.", severity="warning")
            return

        def chosen(answer: str | None) -> None:
            if answer is not None:
                self.write(report, answer)

        self.app.push_screen(AskPathScreen(
            "Write the DNS records to a file",
            "The records in zone-file syntax, values whole (as `mailtui dns` prints them); readable by all "
            "(nothing secret in it).", path, error), chosen)

    @work(thread=True, exclusive=True, group="dns-write")
    def write(self, report: DnsReport, path: str) -> None:
        try:
            written = self.ops.write_dns_report(report, Path(path))
        except ValidationError as exc:
            self.app.call_from_thread(self.action_write, "; ".join(exc.problems.values()), path)
            return
        except Exception as exc:
            self.app.call_from_thread(self.action_write, error_text(exc), path)
            return
        self.app.call_from_thread(self.notify, f"DNS records written to {written}")
