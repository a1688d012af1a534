"""Review: everything the install will change, per step, before anything is applied.

One list holds every change under its step's heading (↑↓ move, Enter reads a change's diff full screen,
where n/p go on to the next/previous diff); Tab reaches the buttons."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mailtui.screens.wizard.brute_force import protection_text
from mailtui.screens.wizard.diff_view import DiffEntry, DiffScreen
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from mailtui.api.operations import Operations
from mailtui.api.types import AcmeDnsCheck, CheckedAnswers, StepPlan
from mailtui.errors import ValidationError
from mailtui.model import validate
from mailtui.model.answers import DNSBL_DEFAULT, Answers, Spam


def hanging(mark: str, text: str) -> Table:
    """A list line whose wrapped rest stays indented under its text."""
    grid = Table.grid(padding=(0, 1, 0, 0))
    grid.add_column(width=3, justify="right", no_wrap=True)
    grid.add_column()
    grid.add_row(Text(mark), Text(text))
    return grid


def spam_text(spam: Spam) -> str:
    """'on (rspamd: greylist at 4, Junk at 6, refuse at 15; 200 recipients an hour a user)'."""
    if not spam.enabled:
        return "off"
    grey = f"greylist at {spam.greylist:g}, " if spam.greylisting else "no greylisting, "
    limit = (f"{spam.hourly_limit} recipients an hour a user" if spam.hourly_limit else "no hourly limit")
    lists = "" if spam.dnsbl == DNSBL_DEFAULT else \
        "; block lists: " + (", ".join(validate.dnsbl_name(entry) for entry in spam.dnsbl) or "none")
    return f"on (rspamd: {grey}Junk at {spam.add_header:g}, refuse at {spam.reject:g}; {limit}{lists})"


@dataclass
class PlanResult:
    answers: CheckedAnswers  # validated, secrets filled
    plan: list[StepPlan]
    pending_packages: list[str]


class ReviewPane(Vertical):
    BINDINGS = [Binding("r", "recompute", "Recompute")]
    DEFAULT_CSS = """
    /* Never taller than this: at 80x24 a long summary (a bare machine's "not installed yet" list) would push
       the buttons off the screen. It scrolls instead. */
    #review-summary {
        max-height: 12;
        overflow-y: auto;
    }
    #review-acme {
        height: auto;
        margin-bottom: 1;
    }
    #review-acme.acme-checking, #review-acme.acme-ok {
        color: $text-muted;
    }
    #review-acme.acme-warning {
        color: $warning;
        text-style: bold;
    }
    """

    class Ready(Message):
        def __init__(self, result: PlanResult | None, error: str = "", kept_since: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error
            self.kept_since = kept_since  # the plan made then, reused: nothing changed since

    class AcmeDnsReady(Message):
        """The ACME pre-check's answer (`result` None: it could not be made, `error` says why)."""

        def __init__(self, answers: Answers, result: AcmeDnsCheck | None, error: str = "") -> None:
            super().__init__()
            self.answers = answers
            self.result = result
            self.error = error

    class Confirmed(Message):
        def __init__(self, result: PlanResult) -> None:
            super().__init__()
            self.result = result

    class SaveRequested(Message):
        pass

    class Refused(Message):
        """The engine refused answers the forms let through (e.g. a mailbox to keep that does not exist):
        the wizard shows each problem on its field."""

        def __init__(self, problems: dict[str, str]) -> None:
            super().__init__()
            self.problems = problems

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="review", classes="pane")
        self.ops = ops
        self.result: PlanResult | None = None
        self.banner = ""
        self.entries: list[DiffEntry] = []
        self.entry_of_option: dict[int, int] = {}  # option index -> its diff in entries
        self.answers: Answers | None = None
        # The last plan: (answers, plan_inputs(), result, when). Kept while neither changes.
        self.kept: tuple[Answers, str, PlanResult, str] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Review: what will change", classes="pane-title")
        yield Static("", id="review-summary", classes="why")
        yield Static("", id="review-acme")
        yield OptionList(id="review-steps")
        with Horizontal(classes="buttons"):
            yield Button("Back", id="review-back", compact=True)
            yield Button("Save answers…", id="review-save", compact=True)
            yield Button("Confirm & install", id="review-confirm", variant="primary", compact=True,
                         disabled=True)

    def load(self, answers: Answers, banner: str = "", *, fresh: bool = False) -> None:
        """Show the plan for these answers: the one made last time when the answers and the files it read
        are unchanged (unless `fresh`), else a new one."""
        self.answers = answers
        self.result = None
        self.banner = banner
        self.query_one("#review-confirm", Button).disabled = True
        self.query_one("#review-summary", Static).update(
            (banner + "\n" if banner else "") + "Working out what would change (nothing is changed)…")
        self.query_one("#review-steps", OptionList).clear_options()
        self.entries, self.entry_of_option = [], {}
        self.make_plan(answers, fresh)
        self.show_acme_dns(answers)

    def action_recompute(self) -> None:
        if self.answers is not None:
            self.load(self.answers, self.banner, fresh=True)

    @work(thread=True, exclusive=True, group="plan")
    def make_plan(self, answers: Answers, fresh: bool = False) -> None:
        try:
            inputs = self.ops.plan_inputs()
            kept = self.kept
            if not fresh and kept is not None and kept[0] == answers and kept[1] == inputs:
                self.post_message(self.Ready(kept[2], kept_since=kept[3]))
                return
            self.kept = None
            prepared = self.ops.prepare(answers)
            plan = self.ops.plan(prepared)
            pending = self.ops.pending_packages(prepared)
        except ValidationError as exc:
            self.post_message(self.Ready(None, str(exc)))
            self.post_message(self.Refused(exc.problems))
            return
        except Exception as exc:  # shown on screen, in words
            self.post_message(self.Ready(None, str(exc) or type(exc).__name__))
            return
        result = PlanResult(prepared, plan, pending)
        self.kept = (answers, inputs, result, time.strftime("%H:%M:%S"))
        self.post_message(self.Ready(result))

    # ------------------------------------------------------------ ACME: does DNS point here?

    def show_acme_dns(self, answers: Answers) -> None:
        """With ACME, ask DNS (in a thread) whether the hostname points at this machine: the CA's HTTP-01
        challenge connects there. A failure is a warning, not a stop: DNS may be about to change."""
        line = self.query_one("#review-acme", Static)
        line.display = answers.tls.mode == "acme"
        if answers.tls.mode != "acme":
            return
        line.set_classes("acme-checking")
        line.update(f"ACME: asking DNS whether {answers.hostname} points at this machine…")
        self.check_acme_dns(answers)

    @work(thread=True, exclusive=True, group="acme-dns")
    def check_acme_dns(self, answers: Answers) -> None:
        try:
            result = self.ops.acme_dns_check(answers)
        except Exception as exc:  # shown on screen, in words: not knowing is not a pass
            self.post_message(self.AcmeDnsReady(answers, None, str(exc) or type(exc).__name__))
            return
        self.post_message(self.AcmeDnsReady(answers, result))

    def on_review_pane_acme_dns_ready(self, message: ReviewPane.AcmeDnsReady) -> None:
        if message.answers != self.answers:
            return  # asked for answers changed since
        line = self.query_one("#review-acme", Static)
        result = message.result
        if result is not None and result.ok:
            line.set_classes("acme-ok")
            line.update(Text("✓ ACME: " + "; ".join(result.lines) + "."))
            return
        if result is None:
            said = f"⚠ Not known whether the CA can reach this machine: DNS could not be asked: {message.error}"
        elif not result.answered:
            # Its first line says DNS did not answer; the others say who did not, for what.
            said = f"⚠ Not known whether the CA can reach this machine: {'; '.join(result.lines[1:] or result.lines)}"
        else:
            said = f"⚠ The CA will not be able to reach this machine: {'; '.join(result.lines)}"
        line.set_classes("acme-warning")
        line.update(Text(f"{said}. Installing anyway serves a self-signed certificate until an order "
                         "succeeds (r asks DNS again)."))

    def on_review_pane_ready(self, message: ReviewPane.Ready) -> None:
        summary = self.query_one("#review-summary", Static)
        steps = self.query_one("#review-steps", OptionList)
        if message.result is None:
            summary.update(Text(f"The plan could not be made: {message.error}", style="bold red"))
            return
        self.result = result = message.result
        total = sum(len(step.changes) for step in result.plan)
        lines = [self.banner] if self.banner else []
        lines.append(f"{total} change{'s' if total != 1 else ''} in {len(result.plan)} steps. "
                     "↑↓ move, Enter reads a diff (▸), Tab to the buttons.")
        if message.kept_since:
            lines.append(f"Worked out at {message.kept_since}; nothing changed since (r works it out again).")
        lines.append(f"Brute-force protection: {protection_text(result.answers.answers.security)}")
        chosen = result.answers.answers
        lines.append("DKIM signing: " + ("on (rspamd; two keys a domain)" if chosen.dkim.enabled else "off")
                     + " · SRS for forwards: " + ("on (postsrsd)" if chosen.srs.enabled else "off"))
        lines.append(f"Spam filter: {spam_text(chosen.spam)}")
        lines.append("Webmail: " + (f"https://{chosen.webmail_host}/ (Roundcube)" if chosen.webmail.enabled else "off")
                     + " · Security updates: " + ("daily (unattended-upgrades)" if chosen.updates.enabled else "off"))
        if result.pending_packages:
            lines.append(f"Not installed yet: {', '.join(dict.fromkeys(result.pending_packages))} — their stock files "
                         "cannot be diffed now: the install pauses after the packages to show the real diffs.")
        summary.update("\n".join(lines))
        options: list[Option] = []
        for step in result.plan:
            changes = step.changes
            count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "nothing to change"
            options.append(Option(Text(f"{step.title} — {count}", style="bold"), disabled=True))
            for change in changes:
                if change.diff:
                    self.entry_of_option[len(options)] = len(self.entries)
                    self.entries.append(DiffEntry(f"{step.title}: {change.summary}", change.diff))
                mark = "▸" if change.diff else "·"
                options.append(Option(hanging(mark, f"{change.kind}: {change.summary}")))
        steps.add_options(options)
        first = next((i for i, option in enumerate(options) if not option.disabled), None)
        steps.highlighted = first
        self.query_one("#review-confirm", Button).disabled = False

    @on(OptionList.OptionSelected, "#review-steps")
    def open_diff(self, event: OptionList.OptionSelected) -> None:
        entry = self.entry_of_option.get(event.option_index)
        if entry is None:
            self.notify("This change has no diff: its line says all of it.")
            return
        self.app.push_screen(DiffScreen(self.entries, entry), self._diff_closed)

    def _diff_closed(self, entry: int | None) -> None:
        """Back from the diffs: the list highlights the change whose diff was shown last."""
        steps = self.query_one("#review-steps", OptionList)
        for option, index in self.entry_of_option.items():
            if index == entry:
                steps.highlighted = option
        steps.focus()

    @on(Button.Pressed, "#review-confirm")
    def confirm(self) -> None:
        if self.result is not None:
            self.post_message(self.Confirmed(self.result))

    @on(Button.Pressed, "#review-save")
    def save(self) -> None:
        self.post_message(self.SaveRequested())
