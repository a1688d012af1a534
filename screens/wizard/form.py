"""What every wizard form shares: the pane (a title, the step's plain-language why, then fields) and the
inline checks the fields use."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mailtui.screens.widgets.fields import CheckRow, FieldRow, int_problem
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Static

from mailtui.api.operations import Operations
from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Answers, Security, Spam
from mailtui.model.problems import security_problems, spam_problems


def secret_check(value: str) -> str | None:
    return validate.secret_problem(value)


def optional_secret_check(value: str) -> str | None:
    return validate.secret_problem(value, minimum=1) if value else None


def optional_check(check: Any) -> Any:
    def problem(value: str) -> str | None:
        return check(value) if value else None

    return problem


def security_check(name: str) -> Any:
    """The engine's own check of one [security] number (its range lives in mailtui.answers)."""

    def check(number: int) -> str | None:
        return security_problems(replace(Security(), **{name: number})).get(f"security.{name}")

    return int_problem(check)


SECURITY_FIELDS = ("max_retry", "find_time", "ban_time")
SPAM_SCORES = ("greylist", "add_header", "reject")  # rspamd's scores, in the order a message climbs them


def score_value(value: str) -> float | None:
    """A score as typed ("4", "6.5"), or None."""
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def spam_check(name: str) -> Any:
    """The engine's own check of one [spam] number on its own (the order of the scores is checked on the
    whole answers, and shown on the field it names)."""

    def check(value: str) -> str | None:
        if name == "hourly_limit":
            number: float | int | None = validate.whole_number(value)
            if number is None:
                return "must be a whole number (0: no limit)"
        else:
            number = score_value(value)
            if number is None:
                return "must be a number (a score, e.g. 6 or 6.5)"
        return spam_problems(replace(Spam(), **{name: number})).get(f"spam.{name}")

    return check


def path_check(value: str) -> str | None:
    if not value:
        return "is empty"
    if not value.startswith("/"):
        return "must be an absolute path"
    return None


class FormPane(VerticalScroll):
    """A wizard pane: a title, the step's plain-language why, then fields."""

    stage = ""
    heading = ""
    step_name = ""  # the engine step whose `why` explains this form
    why_text = ""

    def __init__(self, ops: Operations) -> None:
        super().__init__(id=self.stage, classes="pane form")
        self.ops = ops
        self.why = Static(self.why_text, classes="why")

    def compose_head(self) -> ComposeResult:
        yield Static(self.heading, classes="pane-title")
        yield self.why

    def set_why(self, text: str) -> None:
        if not self.why_text:
            self.why.update(text)

    # subclasses ---------------------------------------------------------
    def load(self, a: Answers, pf: Preflight | None = None) -> None:  # noqa: B027
        pass

    def store(self, a: Answers) -> Answers:
        return a

    def extra_problems(self) -> dict[str, str]:
        """Checks across fields (e.g. the password typed twice), keyed like answers.problems()."""
        return {}

    # shared -------------------------------------------------------------
    def fields(self) -> list[FieldRow]:
        return list(self.query(FieldRow))

    def field_for(self, key: str) -> FieldRow | None:
        for f in self.fields():
            if key in f.keys:
                return f
        return None

    def rows(self) -> list[FieldRow | CheckRow]:
        """Every row that can show a problem: the fields and the checkboxes of settings, in screen order."""
        return [w for w in self.query("FieldRow, CheckRow") if isinstance(w, (FieldRow, CheckRow))]

    def problem_row(self, key: str) -> FieldRow | CheckRow | None:
        """Where a problem with `key` is shown: its field, else the checkbox that sets it."""
        f = self.field_for(key)
        if f is not None:
            return f
        return next((c for c in self.query(CheckRow) if key in c.keys), None)

    def check(self) -> bool:
        ok = all([f.check() for f in self.rows()])
        for key, message in self.extra_problems().items():
            f = self.problem_row(key)
            if f is not None:
                f.show_error(message)
            ok = False
        return ok

    def first_error(self) -> FieldRow | CheckRow | None:
        return next((f for f in self.rows() if f.has_class("has-error")), None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()
