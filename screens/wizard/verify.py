"""Verify: the self-test as a checklist, the DNS records to publish, the client settings."""

from __future__ import annotations

from typing import Any

from mailtui.screens.widgets.dns import records_text, settings_text
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static

from mailtui.api.operations import Operations
from mailtui.api.types import Check
from mailtui.model.answers import Answers


def checklist(title: str, checks: list[Check]) -> Text:
    t = Text()
    t.append(f"{title}\n", style="bold")
    for c in checks:
        t.append(" ✓ " if c.ok else " ✗ ", style="green" if c.ok else "bold red")
        t.append(c.name)
        if not c.ok and c.detail:
            t.append(f" — {c.detail}", style="red")
        t.append("\n")
    return t


class VerifyPane(Vertical):
    class Results(Message):
        def __init__(self, sections: list[Text], failed: int) -> None:
            super().__init__()
            self.sections = sections
            self.failed = failed

    class DashboardRequested(Message):
        pass

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="verify", classes="pane")
        self.ops = ops

    def compose(self) -> ComposeResult:
        yield Static("Verify", classes="pane-title")
        yield Static("", id="verify-summary", classes="why")
        yield VerticalScroll(Static("", id="verify-body"), id="verify-scroll")
        with Horizontal(classes="buttons"):
            yield Button("Run the checks again", id="verify-again", compact=True)
            yield Button("Dashboard", id="verify-dashboard", variant="primary", compact=True)

    def run(self, answers: Answers, password: str) -> None:
        self.answers, self.password = answers, password
        self.query_one("#verify-summary", Static).update(
            "Sending a real message to the first user and reading it back over IMAPS…")
        self.query_one("#verify-body", Static).update("")
        self.checks(answers, password)

    @work(thread=True, exclusive=True, group="verify")
    def checks(self, answers: Answers, password: str) -> None:
        sections: list[Text] = []
        failed = 0

        def guarded(title: str, fn: Any) -> list[Any]:
            try:
                return list(fn())
            except Exception as exc:
                sections.append(Text(f"{title}: could not run ({exc})\n", style="red"))
                return []

        user = answers.users[0].email if answers.users else ""
        if user and password:
            rt = guarded("Round trip", lambda: self.ops.roundtrip(user, password))
            if rt:
                sections.append(checklist(f"Mail to {user}, read back over IMAPS", rt))
            failed += sum(not c.ok for c in rt)
        else:
            sections.append(Text("Round trip skipped: the first user's password is not known to this session "
                                 "(run `mailtui check` with it).\n", style="yellow"))
        checks = guarded("Checks", lambda: self.ops.checks(answers))
        if checks:
            by_step: dict[str, list[Check]] = {}
            for result in checks:
                by_step.setdefault(result.title, []).append(result.check)
            for title, cs in by_step.items():
                sections.append(checklist(title, cs))
        failed += sum(not result.check.ok for result in checks)
        reports = guarded("DNS records", lambda: [self.ops.dns_report(answers)])
        if reports:
            sections.append(records_text(reports[0]))
            sections.append(Text("Later: the dashboard's DNS tab (or `mailtui dns`) shows these again, for "
                                 "every domain.\n", style="dim"))
            sections.append(settings_text(reports[0]))
        self.post_message(self.Results(sections, failed))

    def on_verify_pane_results(self, message: VerifyPane.Results) -> None:
        body = Text()
        for section in message.sections:
            body.append_text(section)
            body.append("\n")
        self.query_one("#verify-body", Static).update(body)
        summary = ("Every check passed: the server sends, receives and serves mail." if not message.failed
                   else f"{message.failed} check{'s' if message.failed != 1 else ''} failed: the reason is beside "
                        "each ✗.")
        self.query_one("#verify-summary", Static).update(
            Text(summary, style="bold green" if not message.failed else "bold red"))

    @on(Button.Pressed, "#verify-again")
    def again(self) -> None:
        self.run(self.answers, self.password)

    @on(Button.Pressed, "#verify-dashboard")
    def dashboard(self) -> None:
        self.post_message(self.DashboardRequested())
