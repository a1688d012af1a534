"""Apply: the install runs in the engine's detached worker; this pane follows its events.

A thread worker starts (or attaches to) the install and posts each event as a message; the pane shows
a status and progress bar per step, the live output, elapsed time, and on failure the reason, the tail
of the output and Retry / Skip / Quit."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence

from mailtui.screens.widgets.fields import StepList
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Label, Log, ProgressBar, Static
from textual.worker import get_current_worker

from mailtui.api.operations import Operations
from mailtui.api.types import CheckedAnswers, InstallState
from mailtui.events import Event
from mailtui.format import elapsed
from mailtui.model.answers import Answers


class FollowingLog(Log):
    """The live log: its last line stays in view, also when its size changes (the failure box and the
    buttons take room when the install ends), unless the operator is in it, reading. Log alone follows
    only while already at its end, and a shrink leaves it short of the end for good."""

    def follow(self) -> None:
        if not self.has_focus:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self) -> None:
        self.follow()


# engine step -> side-list stage
STEP_STAGE = {"packages": "packages", "database": "database", "tls": "tls", "acme": "tls", "postfix": "postfix",
              "dovecot": "dovecot", "webmail": "webmail", "updates": "webmail", "firewall": "firewall"}


def listed(step: str, answers: Answers) -> bool:
    """Whether the install list shows `step` for these answers: the ACME step runs only in that mode (the
    others are listed always). 80x24 fits the rows, the reason of a failure and the buttons, not one more."""
    return step != "acme" or answers.tls.mode == "acme"


class StepRow(Horizontal):
    def __init__(self, name: str, title: str) -> None:
        super().__init__(classes="step-row", id=f"row-{name}")
        self.step_name = name
        self.title = title
        self.status = Static("waiting", classes="step-status")
        self.bar = ProgressBar(total=100, show_eta=False, classes="step-bar")

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="step-title")
        yield self.status
        yield self.bar

    def set(self, status: str, style: str = "") -> None:
        self.status.update(Text(status, style=style))


class ApplyPane(Vertical):
    class EngineEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class Ended(Message):
        """The install worker is gone (state says how it ended), or could not be started (error)."""

        def __init__(self, state: InstallState | None, error: str = "") -> None:
            super().__init__()
            self.state = state
            self.error = error

    class Continue(Message):
        """Go on: to Verify, or back to Review after the packages-only run."""

        def __init__(self, after: str) -> None:
            super().__init__()
            self.after = after

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="apply", classes="pane")
        self.ops = ops
        self.titles = [(step.name, step.title) for step in ops.steps()]
        self.answers: CheckedAnswers | None = None
        self.steps: list[str] | None = None
        self.after = "verify"
        self.running = False
        self.started = 0.0
        self.finished = 0.0
        self.tail: deque[str] = deque(maxlen=8)
        self.current = ""
        self.state: InstallState | None = None
        self.packages_took = 0.0  # the packages-only run before the second review (its time counts too)

    def compose(self) -> ComposeResult:
        yield Static("Installing", classes="pane-title", id="apply-title")
        yield Static("", id="apply-status", classes="why")
        with VerticalScroll(id="apply-steps"):
            for name, title in self.titles:
                yield StepRow(name, title)
        yield FollowingLog(max_lines=5000, id="apply-log", auto_scroll=True)
        yield Static("", id="apply-failure")
        with Horizontal(classes="buttons"):
            yield Button("Retry", id="apply-retry", variant="primary", compact=True)
            yield Button("Skip this step", id="apply-skip", compact=True)
            yield Button("Quit", id="apply-quit", compact=True)
            yield Button("Continue", id="apply-continue", variant="primary", compact=True)

    def on_mount(self) -> None:
        self._buttons()
        self.query_one("#apply-failure").display = False
        self.set_interval(1.0, self.tick)

    def _buttons(self, *shown: str) -> None:
        for b in self.query(Button):
            b.display = (b.id or "").removeprefix("apply-") in shown

    def clock(self) -> float:
        return getattr(self.app, "clock", time.time)()

    def tick(self) -> None:
        if self.running and self.started:
            self._status(f"Running{' ' + self.current if self.current else ''} — elapsed "
                         f"{elapsed(self.clock() - self.started)}. It keeps running if this terminal "
                         "goes away; start mailtui again to re-attach.")

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#apply-status", Static).update(Text(text, style=style))

    def _sidebar(self, step: str, state: str) -> None:
        stage = STEP_STAGE.get(step, "apply" if step == "apply" else None)
        if stage is None:
            return

        for sl in self.screen.query(StepList):
            sl.set_state(stage, state)
            if stage == "database":
                sl.set_state("users", state)

    def _row(self, step: str) -> StepRow | None:
        rows = self.query(f"#row-{step}")
        return rows.first(StepRow) if rows else None

    # ------------------------------------------------------------ starting / attaching

    def list_steps(self, shown: Callable[[str], bool]) -> None:
        for row in self.query(StepRow):
            row.display = shown(row.step_name)

    def listed_steps(self) -> list[str]:
        return [row.step_name for row in self.query(StepRow) if row.display]

    def reset(self, steps: Sequence[str] | None) -> None:
        self.tail.clear()
        self.query_one("#apply-failure").display = False
        self.query_one("#apply-log").display = True
        self._buttons()
        for row in self.query(StepRow):
            if steps is None or row.step_name in steps:
                row.set("waiting", "dim")
                row.bar.update(progress=0)
            elif row.status.content in ("waiting", "after the review"):
                # Not run now: after the review of the real diffs (the packages-only run), or done before
                # (a resumed or retried install runs what is left).
                if self.after == "review":
                    row.set("after the review", "dim")
                else:
                    row.set("done before", "green")

    def start(self, answers: CheckedAnswers, steps: Sequence[str] | None = None, *, after: str = "verify") -> None:
        """Start the install worker for `steps` (None: all) and follow it."""
        self.answers, self.steps, self.after = answers, list(steps) if steps is not None else None, after
        self.list_steps(lambda step: listed(step, answers.answers))
        self.reset(self.steps)
        self.running = True
        self.started = self.clock()
        self._sidebar("apply", "running")
        self._status("Starting the install worker…")
        self.follow(answers, self.steps, start=True)

    def attach(self, state: InstallState) -> None:
        """Follow an install that is already running (started by an earlier mailtui). The packages-only run
        before the second review goes on to that review, as it would have in the mailtui that started it."""
        self.answers, self.steps = None, ["packages"] if state.packages_only else None
        self.after = "review" if state.packages_only else "verify"
        # The worker records every step the answers enable: ACME is listed when it is one of them.
        self.list_steps(lambda step: step != "acme" or step in (state.steps or {}))
        self.reset(self.steps)
        self.running = True
        self._sidebar("apply", "running")
        self.started = state.started or self.clock()
        self._status("Re-attached to the running install.")
        self.follow(None, None, start=False)

    @work(thread=True, exclusive=True, group="install")
    def follow(self, answers: CheckedAnswers | None, steps: list[str] | None, start: bool) -> None:
        worker = get_current_worker()
        if start:
            assert answers is not None
            try:
                self.ops.start_worker(answers, steps)
            except Exception as exc:
                self.post_message(self.Ended(None, f"the install could not start: {exc}"))
                return

        def stop() -> bool:
            if worker.is_cancelled:
                return True
            state = self.ops.read_state()
            return not (state.status == "running" and state.alive)

        for event in self.ops.follow_events(stop):
            if worker.is_cancelled:
                return
            self.post_message(self.EngineEvent(event))
        self.post_message(self.Ended(self.ops.read_state()))

    # ------------------------------------------------------------ events

    def _log(self, line: str) -> None:
        """Add a line to the live log and keep its end in view, unless the operator is in it, reading."""
        log = self.query_one("#apply-log", FollowingLog)
        log.write_line(line)
        log.follow()

    def on_apply_pane_engine_event(self, message: ApplyPane.EngineEvent) -> None:
        e = message.event
        row = self._row(e.step)
        if e.kind == "started":
            self.current = e.message or e.step
            self.tail.clear()
            self._log(f"==> {e.message or e.step}")
            if row:
                row.set("running", "yellow")
                # On a short terminal the list scrolls (its height is capped, the log keeps its lines):
                # the running step stays in sight.
                self.query_one("#apply-steps").scroll_to_widget(row, animate=False)
            self._sidebar(e.step, "running")
        elif e.kind == "output":
            self._log(f"    {e.message}")
            self.tail.append(e.message)
        elif e.kind == "progress":
            if row:
                row.bar.update(total=100, progress=e.percent or 0)
                if e.message:
                    row.set(e.message[:20], "yellow")
        elif e.kind == "done":
            self._log(f"ok  {e.message}")
            if row:
                row.bar.update(total=100, progress=100)
                row.set("done", "green")
            self._sidebar(e.step, "done")
        elif e.kind == "skipped":
            self._log(f"--  skipped {e.step}: {e.message}")
            if row:
                row.set("skipped", "dim")
            self._sidebar(e.step, "done")
        elif e.kind == "failed":
            self._log(f"FAILED {e.step}: {e.message}")
            if row:
                row.set("FAILED", "bold red")
            self._sidebar(e.step, "failed")
        elif e.kind == "info":
            self._log(f"--  {e.message}")
        if e.ts and self.started and e.kind in ("done", "failed"):
            self.finished = e.ts

    def on_apply_pane_ended(self, message: ApplyPane.Ended) -> None:
        self.running = False
        self.current = ""
        self.state = state = message.state
        failure = self.query_one("#apply-failure", Static)
        if message.error:
            self._sidebar("apply", "failed")
            failure.update(Text(message.error, style="bold red"))
            failure.display = True
            self._status("The install did not start.", "bold red")
            self._buttons("retry", "quit")
            return
        ok = state is not None and state.status == "done"
        self._sidebar("apply", "done" if ok and self.after == "verify" else "todo" if ok else "failed")
        # The list was following the running step: at the end it shows every step from the first, or the one
        # that failed. (Queued after the following's own scrolls, which run after the next refresh too.)
        steps = self.query_one("#apply-steps")
        failed_row = None if ok else self._row((state.failed_step if state else "") or "")
        if failed_row is not None:
            steps.scroll_to_widget(failed_row, animate=False)
        else:
            steps.scroll_home(animate=False)
        if ok:
            seconds = state.finished - state.started if state.finished and state.started else 0.0
            if self.after == "review":
                self.packages_took = seconds
                self._status(f"Packages installed in {elapsed(seconds)}. Continue to review the real diffs "
                             "against the stock files before the rest runs.", "green")  # 2 lines at 80x24
            elif self.packages_took:
                self._status(f"Install finished in {elapsed(self.packages_took + seconds)} (packages "
                             f"{elapsed(self.packages_took)}, the rest {elapsed(seconds)}). Continue to verify it.",
                             "bold green")
            else:
                took = f" in {elapsed(seconds)}" if seconds else ""
                self._status(f"Install finished{took}. Continue to verify it.", "bold green")
            self._buttons("continue")
            self.query_one("#apply-continue", Button).focus()
            return
        step = (state.failed_step if state else "") or "?"
        reason = (state.error if state else "") or "the install worker stopped"
        if state is not None and state.status == "running":
            reason = "the install worker was killed before it finished"
        tail = "\n".join(f"  {line}" for line in list(self.tail)[-5:])
        failure.update(Text(f"Failed in {step}: {reason}" + (f"\nLast output:\n{tail}" if tail else ""),
                            style="red"))
        failure.display = True
        # The failure box holds the log's last lines: the log gives it its room (80x24 fits nine steps, the
        # reason and the buttons only without it).
        self.query_one("#apply-log").display = False
        self._status("The install stopped. Fix the cause, then Retry (finished steps find nothing to do).",
                     "bold red")
        shown = ["retry", "quit"]
        if step in self.ops.skippable():
            shown.insert(1, "skip")
        self._buttons(*shown)
        self.query_one("#apply-retry", Button).focus()

    # ------------------------------------------------------------ buttons

    def _remaining(self, skip_failed: bool) -> list[str] | None:
        state = self.state
        run = self.steps or self.listed_steps()
        failed = state.failed_step if state is not None else ""
        if failed in run:
            rest = run[run.index(failed):]
            return rest[1:] if skip_failed else rest
        if self.steps is None and state is not None:
            return self.ops.resume_from(state)
        return self.steps

    @on(Button.Pressed, "#apply-retry")
    def retry(self) -> None:
        if self.answers is None:  # re-attached: the install's own answers, checked again
            try:
                pending = self.ops.pending_answers()
                self.answers = self.ops.prepare(pending) if pending is not None else None
            except Exception as exc:
                self._status(f"The recorded answers could not be used: {exc}", "bold red")
                return
        if self.answers is not None:
            self.start(self.answers, self._remaining(skip_failed=False), after=self.after)

    @on(Button.Pressed, "#apply-skip")
    def skip(self) -> None:
        if self.answers is not None:
            self.start(self.answers, self._remaining(skip_failed=True), after=self.after)

    @on(Button.Pressed, "#apply-quit")
    def quit(self) -> None:
        self.app.exit(1, return_code=1)

    @on(Button.Pressed, "#apply-continue")
    def go_on(self) -> None:
        self.post_message(self.Continue(self.after))
