"""The wizard screen: the side list of stages and a ContentSwitcher holding every pane (all stay mounted,
so Back and Next keep what was typed)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from mailtui.screens.widgets.dialogs import DashboardScreen, ResumeScreen, SaveAnswersScreen
from mailtui.screens.widgets.fields import FORM_STAGES, STAGES, StepList
from mailtui.screens.wizard.apply import STEP_STAGE, ApplyPane
from mailtui.screens.wizard.form import FormPane
from mailtui.screens.wizard.forms import FORMS
from mailtui.screens.wizard.review import ReviewPane
from mailtui.screens.wizard.verify import VerifyPane
from mailtui.screens.wizard.welcome import NotRootScreen, WelcomePane
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Header

from mailtui.api.operations import Operations
from mailtui.api.types import CheckedAnswers, InstallState, Preflight
from mailtui.model.answers import Alias, Answers, Domain, User

ORDER = [sid for sid, _ in STAGES]
NAV_STAGES = {"welcome", *FORM_STAGES}


DEFAULT_ANSWERS_PATH = "/root/mailtui-answers.toml"  # where "Save answers…" offers to write them

class WizardScreen(Screen[None]):
    BINDINGS = [
        # Back before Next, like the buttons: the footer keeps this order wherever the focus is.
        Binding("pageup", "back", "Back", priority=True),
        Binding("pagedown", "next", "Next", priority=True),
    ]

    class PreflightReady(Message):
        def __init__(self, pf: Preflight | None, error: str = "") -> None:
            super().__init__()
            self.pf = pf
            self.error = error

    def __init__(self, ops: Operations) -> None:
        super().__init__()
        self.ops = ops
        self.pf: Preflight | None = None
        self.preflight_done = False
        self.loaded_adopt: bool | None = None
        self.prepared: CheckedAnswers | None = None
        self.packages_paused = False
        self.back_to_review = False  # after a problem found at the review: a form's Next goes back there
        self.forms = [cls(ops) for cls in FORMS]
        self.switcher = ContentSwitcher(initial="welcome", id="switcher")  # holds every pane
        whys: dict[str, str] = {}
        with contextlib.suppress(Exception):  # the whys are helpful, not essential
            whys = {step.name: step.why for step in ops.steps()}
        for form in self.forms:
            if form.step_name in whys:
                form.set_why(whys[form.step_name])

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield StepList(id="steps")
            with Vertical(id="main"):
                with self.switcher:
                    yield WelcomePane()
                    yield from self.forms
                    yield ReviewPane(self.ops)
                    yield ApplyPane(self.ops)
                    yield VerifyPane(self.ops)
                with Horizontal(id="nav", classes="buttons"):
                    yield Button("Back", id="nav-back", compact=True)
                    yield Button("Next", id="nav-next", variant="primary", compact=True)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """PgUp/PgDn only mean something on the forms (the footer hides them elsewhere)."""
        if action in ("next", "back"):
            # Called for every key binding on every footer refresh: no DOM query here (a query walks all
            # ~2,800 nodes; it was a tenth of a wizard test's time).
            return self.switcher.is_mounted and (self.switcher.current or "welcome") in NAV_STAGES
        return True

    # ------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        self.go("welcome")
        if not self.ops.is_root():
            self.app.push_screen(NotRootScreen())
            return
        state = self.ops.read_state()
        if state.status == "running" and state.alive:
            answers = self._pending_answers()
            if answers is not None:
                self.load_forms(answers)
            self._mark_from_state(state)
            self.packages_paused = state.packages_only  # then Confirm runs the rest
            self.form("users").continuing = self.packages_paused  # type: ignore[attr-defined]
            self.go("apply")
            self.query_one(ApplyPane).attach(state)
            return
        if state.status in ("failed", "interrupted") or (state.status == "running" and not state.alive):
            self.app.push_screen(ResumeScreen(state), self._resume_choice)
            return
        self.run_preflight()

    def _pending_answers(self) -> Answers | None:
        try:
            return self.ops.pending_answers()
        except Exception as exc:
            self.notify(f"The recorded answers could not be read: {exc}", severity="error")
            return None

    def _mark_from_state(self, state: InstallState) -> None:
        sl = self.query_one(StepList)
        for stage in ("welcome", *FORM_STAGES, "review"):
            sl.set_state(stage, "done")
        for step, status in (state.steps or {}).items():
            stage = STEP_STAGE.get(step)
            if stage and status in ("done", "failed", "running"):
                sl.set_state(stage, status)

    def _resume_choice(self, choice: str | None) -> None:
        state = self.ops.read_state()
        if choice == "quit":
            self.app.exit(1, return_code=1)
            return
        answers = self._pending_answers()
        if choice == "resume" and answers is not None:
            self.load_forms(answers)
            try:
                self.prepared = self.ops.prepare(answers)
            except Exception as exc:  # e.g. a file given by --answers that no longer exists
                self.notify(f"The recorded answers cannot be resumed: {exc}", severity="error")
                self.run_preflight()
                return
            self._mark_from_state(state)
            self.go("apply")
            self.query_one(ApplyPane).start(self.prepared, self.ops.resume_from(state))
            return
        if answers is not None:
            self.load_forms(answers)
            self.keep_loaded = True  # Welcome's Next keeps these (unless Adopt is changed there)
        self.run_preflight()

    @work(thread=True, exclusive=True, group="preflight")
    def run_preflight(self) -> None:
        try:
            pf = self.ops.preflight()
        except Exception as exc:
            self.post_message(self.PreflightReady(None, str(exc) or type(exc).__name__))
            return
        self.post_message(self.PreflightReady(pf))

    def on_wizard_screen_preflight_ready(self, message: WizardScreen.PreflightReady) -> None:
        self.preflight_done = True
        welcome = self.query_one(WelcomePane)
        if message.pf is None:
            welcome.show_error(message.error)
            return
        self.pf = message.pf
        if not message.pf.is_root:
            self.app.push_screen(NotRootScreen())
            return
        welcome.show(message.pf)

    # ------------------------------------------------------------ answers <-> forms

    def base_answers(self, adopt: bool) -> Answers:
        if self.pf is None:
            return self.ops.default_answers()
        suggested = self.ops.suggested_answers(self.pf)
        if adopt:
            return suggested
        domain = suggested.domains[0].name if suggested.domains else "example.org"
        return Answers(hostname=suggested.hostname, domains=[Domain(domain)], users=[User(f"admin@{domain}")],
                       aliases=[Alias(f"postmaster@{domain}", f"admin@{domain}")],
                       firewall=suggested.firewall)

    def load_forms(self, answers: Answers) -> None:
        self.base = answers
        for form in self.forms:
            form.load(answers, self.pf)

    def build_answers(self) -> Answers:
        a = getattr(self, "base", None) or self.ops.default_answers()
        for form in self.forms:
            a = form.store(a)
        return a

    def form(self, stage: str) -> FormPane:
        return next(f for f in self.forms if f.stage == stage)

    def show_problems(self, problems: dict[str, str]) -> str | None:
        """Show each problem on its field; return the stage of the first one (None if none mapped)."""
        first: str | None = None
        unplaced = []
        for key, message in problems.items():
            for form in self.forms:
                f = form.problem_row(key)
                if f is not None:
                    f.show_error(message)
                    if first is None or FORM_STAGES.index(form.stage) < FORM_STAGES.index(first):
                        first = form.stage
                    break
            else:
                unplaced.append(f"{key} {message}")
        if unplaced:
            self.notify("\n".join(unplaced), title="Also wrong", severity="error", timeout=10)
        return first

    # ------------------------------------------------------------ navigation

    @property
    def current(self) -> str:
        return self.switcher.current or "welcome"

    def go(self, stage: str) -> None:
        if stage == "users":
            self.form("users").follow_domain(self.form("postfix").domain)  # type: ignore[attr-defined]
        if stage == "tls":
            self.form("tls").show_hostname(self.form("postfix").hostname)  # type: ignore[attr-defined]
        if stage == "webmail":
            self.form("webmail").follow(self.build_answers())  # type: ignore[attr-defined]
        if stage == "firewall":
            self.form("firewall").update_rules(self.build_answers())  # type: ignore[attr-defined]
        self.switcher.current = stage
        self.query_one(StepList).set_current(stage)
        self.refresh_bindings()
        nav = self.query_one("#nav")
        nav.display = stage in NAV_STAGES
        self.query_one("#nav-back", Button).disabled = stage == "welcome"
        self.query_one("#nav-next", Button).label = "Review" if stage == "firewall" or (
            self.back_to_review and stage in FORM_STAGES) else "Next"
        self.call_after_refresh(self._focus_first, stage)

    def _focus_first(self, stage: str) -> None:
        """Focus the first marked field of a form (after a problem sent the wizard there), else its
        first field."""
        if stage in FORM_STAGES:
            bad = self.form(stage).first_error()
            if bad is not None:
                bad.input.focus()
                return
        if self.switcher.current != stage:
            return  # called after a refresh: the wizard has moved on since (a re-attach goes straight on)
        pane = self.query_one(f"#{stage}")
        focused = self.app.focused
        if focused is not None and pane in focused.ancestors:
            return  # the pane focused something itself meanwhile (the install ended: Continue or Retry)
        for widget in pane.query("Input, Checkbox, RadioSet, OptionList, #verify-scroll, Button"):
            if widget.focusable and widget.display:  # a hidden button (display: none) is still "focusable"
                widget.focus()
                return
        if stage in NAV_STAGES:
            self.query_one("#nav-next", Button).focus()

    @on(Button.Pressed, "#nav-next")
    def action_next(self) -> None:
        stage = self.current
        sl = self.query_one(StepList)
        if stage == "welcome":
            if not self.preflight_done:
                self.notify("Still checking this machine…")
                return
            if self.pf is not None and self.pf.problems:
                self.notify("This machine cannot be installed on; see the reasons listed.", severity="error")
                return
            adopt = self.query_one(WelcomePane).adopt
            if getattr(self, "keep_loaded", False):
                self.keep_loaded = False
                self.loaded_adopt = adopt
            elif self.loaded_adopt is None or self.loaded_adopt != adopt:
                self.load_forms(self.base_answers(adopt))
                self.loaded_adopt = adopt
            sl.set_state("welcome", "done")
            self.go("packages")
            return
        if stage in FORM_STAGES:
            form = self.form(stage)
            if not form.check():
                sl.set_state(stage, "todo")
                self.notify("Fix the marked fields first.", severity="error")
                bad = form.first_error()
                if bad is not None:
                    bad.input.focus()
                return
            sl.set_state(stage, "done")
            if stage != "firewall" and not self.back_to_review:
                self.go(FORM_STAGES[FORM_STAGES.index(stage) + 1])
                return
            self.to_review()

    def to_review(self) -> None:
        """Check the answers as a whole: to the first marked field when something is wrong (Next there
        then comes straight back here), else to the review."""
        answers = self.build_answers()
        problems = dict(self.ops.problems(answers))
        for form in self.forms:
            problems.update({k: v for k, v in form.extra_problems().items() if k not in problems})
        if problems:
            first = self.show_problems(problems)
            self.notify("Some answers do not fit together; the fields are marked.", severity="error")
            if first is not None:
                self.bounce_to(first)
            return
        self.back_to_review = False
        self.go("review")
        self.query_one(ReviewPane).load(answers)

    def bounce_to(self, stage: str) -> None:
        """A problem found at the review: to its form; that form's Next returns to the review."""
        self.back_to_review = True
        self.query_one(StepList).set_state(stage, "todo")
        self.go(stage)

    @on(Button.Pressed, "#nav-back")
    @on(Button.Pressed, "#review-back")
    def action_back(self) -> None:
        stage = self.current
        if stage in NAV_STAGES and stage != "welcome":
            self.go(ORDER[ORDER.index(stage) - 1])
        elif stage == "review":
            self.go("firewall")

    def action_review(self) -> None:
        """Command palette: check everything and show the review."""
        for stage in FORM_STAGES:
            if not self.form(stage).check():
                self.bounce_to(stage)
                self.notify("Fix the marked fields first.", severity="error")
                return
        for stage in FORM_STAGES:
            self.query_one(StepList).set_state(stage, "done")
        self.to_review()

    # ------------------------------------------------------------ review -> apply -> verify

    def on_review_pane_refused(self, message: ReviewPane.Refused) -> None:
        first = self.show_problems(message.problems)
        self.notify("The install cannot use these answers; the fields are marked.", severity="error")
        if first is not None:
            self.bounce_to(first)

    def on_review_pane_save_requested(self) -> None:
        self.action_save_answers()

    def action_save_answers(self, error: str = "", path: str = DEFAULT_ANSWERS_PATH) -> None:
        answers = self.build_answers()

        def done(chosen: str | None) -> None:
            if chosen is None:
                return
            try:
                self.ops.save_answers(self.ops.canonical(answers), Path(chosen))
            except Exception as exc:
                self.action_save_answers(f"Could not save: {exc}", chosen)
                return
            self.notify(f"Answers saved to {chosen} (root-only)")

        self.app.push_screen(SaveAnswersScreen(path, error), done)

    def on_review_pane_confirmed(self, message: ReviewPane.Confirmed) -> None:
        result = message.result
        self.prepared = result.answers
        self.query_one(StepList).set_state("review", "done")
        apply = self.query_one(ApplyPane)
        self.go("apply")
        if result.pending_packages and not self.packages_paused:
            self.packages_paused = True
            apply.start(result.answers, ["packages"], after="review")
        elif self.packages_paused:
            apply.start(result.answers, [s.name for s in result.plan if s.name != "packages"])
        else:
            apply.start(result.answers, None)

    def on_apply_pane_continue(self, message: ApplyPane.Continue) -> None:
        if message.after == "review":
            self.go("review")
            self.query_one(ReviewPane).load(
                self.build_answers(),
                banner="The packages are installed. These are the real diffs against their stock files.")
            return
        self.query_one(StepList).set_state("apply", "done")
        self.go("verify")
        answers = (self.prepared.answers if self.prepared else None) or self._pending_answers() or self.build_answers()
        password = self.build_answers().users[0].password if getattr(self, "base", None) else ""
        self.query_one(VerifyPane).run(answers, password)

    def on_verify_pane_dashboard_requested(self) -> None:
        self.query_one(StepList).set_state("verify", "done")
        self.app.push_screen(DashboardScreen(self.ops))
