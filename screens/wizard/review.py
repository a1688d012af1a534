"""Review: everything the install will change, per step, before anything is applied."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailtui.screens.wizard.brute_force import protection_text
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Collapsible, Static

from mailtui.api.operations import Operations
from mailtui.api.types import CheckedAnswers, StepPlan
from mailtui.model.answers import Answers


def diff_text(diff: str) -> Text:
    """A unified diff, coloured line by line (never parsed as markup)."""
    t = Text(no_wrap=True)
    for line in diff.splitlines():
        style = ("green" if line.startswith("+") and not line.startswith("+++")
                 else "red" if line.startswith("-") and not line.startswith("---")
                 else "cyan" if line.startswith("@@") else "")
        t.append(line + "\n", style=style)
    return t


@dataclass
class PlanResult:
    answers: CheckedAnswers  # validated, secrets filled
    plan: list[StepPlan]
    pending_packages: list[str]


class ReviewPane(Vertical):
    class Ready(Message):
        def __init__(self, result: PlanResult | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    class Confirmed(Message):
        def __init__(self, result: PlanResult) -> None:
            super().__init__()
            self.result = result

    class SaveRequested(Message):
        pass

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="review", classes="pane")
        self.ops = ops
        self.result: PlanResult | None = None
        self.banner = ""

    def compose(self) -> ComposeResult:
        yield Static("Review: what will change", classes="pane-title")
        yield Static("", id="review-summary", classes="why")
        yield VerticalScroll(id="review-steps")
        with Horizontal(classes="buttons"):
            yield Button("Back", id="review-back", compact=True)
            yield Button("Save answers…", id="review-save", compact=True)
            yield Button("Confirm & install", id="review-confirm", variant="primary", compact=True,
                         disabled=True)

    def load(self, answers: Answers, banner: str = "") -> None:
        self.result = None
        self.banner = banner
        self.query_one("#review-confirm", Button).disabled = True
        self.query_one("#review-summary", Static).update(
            (banner + "\n" if banner else "") + "Working out what would change (nothing is changed)…")
        self.query_one("#review-steps", VerticalScroll).remove_children()
        self.make_plan(answers)

    @work(thread=True, exclusive=True, group="plan")
    def make_plan(self, answers: Answers) -> None:
        try:
            prepared = self.ops.prepare(answers)
            plan = self.ops.plan(prepared)
            pending = self.ops.pending_packages(prepared)
        except Exception as exc:  # shown on screen, in words
            self.post_message(self.Ready(None, str(exc) or type(exc).__name__))
            return
        self.post_message(self.Ready(PlanResult(prepared, plan, pending)))

    def on_review_pane_ready(self, message: ReviewPane.Ready) -> None:
        summary = self.query_one("#review-summary", Static)
        steps = self.query_one("#review-steps", VerticalScroll)
        if message.result is None:
            summary.update(Text(f"The plan could not be made: {message.error}", style="bold red"))
            return
        self.result = result = message.result
        total = sum(len(step.changes) for step in result.plan)
        lines = [self.banner] if self.banner else []
        lines.append(f"{total} change{'s' if total != 1 else ''} in {len(result.plan)} steps. "
                     "Open a step (Enter) to see each change and its diff.")
        lines.append(f"Brute-force protection: {protection_text(result.answers.answers.security)}")
        if result.pending_packages:
            lines.append(f"Not installed yet: {', '.join(result.pending_packages)} — their stock files "
                         "cannot be diffed now: the install pauses after the packages to show the real diffs.")
        summary.update("\n".join(lines))
        widgets = []
        for step in result.plan:
            changes = step.changes
            children: list[Any] = []
            for change in changes:
                children.append(Static(Text(f"• {change.kind}: {change.summary}"), classes="change"))
                if change.diff:
                    children.append(Collapsible(Static(diff_text(change.diff), classes="diff"),
                                                title=f"diff {change.target}", classes="diff-box"))
            if not children:
                children.append(Static("nothing to change", classes="change"))
            count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "nothing to change"
            widgets.append(Collapsible(*children, title=f"{step.title} — {count}", classes="step-box"))
        steps.mount_all(widgets)
        self.query_one("#review-confirm", Button).disabled = False

    @on(Button.Pressed, "#review-confirm")
    def confirm(self) -> None:
        if self.result is not None:
            self.post_message(self.Confirmed(self.result))

    @on(Button.Pressed, "#review-save")
    def save(self) -> None:
        self.post_message(self.SaveRequested())
