"""Small widgets shared by the wizard: the side list of steps, a labelled form field with its inline
error, and a Validator that asks a `mailtui.validate` function."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mailtui.screens.widgets.toggles import Checkbox
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from mailtui.model import validate

# (pane id, label) in the order the wizard walks them.
STAGES: list[tuple[str, str]] = [
    ("welcome", "Welcome"),
    ("packages", "Packages"),
    ("database", "Database"),
    ("postfix", "Postfix"),
    ("users", "Users & aliases"),
    ("dovecot", "Dovecot"),
    ("tls", "SSL/TLS"),
    ("webmail", "Webmail"),
    ("firewall", "Firewall"),
    ("review", "Review"),
    ("apply", "Install"),
    ("verify", "Verify"),
]
FORM_STAGES = ["packages", "database", "postfix", "users", "dovecot", "tls", "webmail", "firewall"]

STATE_MARKS = {
    "todo": ("·", "dim"),
    "current": ("▶", "bold"),
    "done": ("✓", "green"),
    "running": ("◌", "yellow"),
    "failed": ("✗", "bold red"),
}


class StepList(Static):
    """The side list: every stage with its state (todo, current, done, failed)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.states: dict[str, str] = {sid: "todo" for sid, _ in STAGES}
        self.current = "welcome"

    def on_mount(self) -> None:
        self.refresh_list()

    def set_state(self, stage: str, state: str) -> None:
        self.states[stage] = state
        self.refresh_list()

    def set_current(self, stage: str) -> None:
        self.current = stage
        self.refresh_list()

    def state_of(self, stage: str) -> str:
        """What the list shows for a stage (current wins over todo/done, not over failed/running)."""
        state = self.states[stage]
        if stage == self.current and state not in ("failed", "running"):
            return "current"
        return state

    def refresh_list(self) -> None:
        text = Text()
        for sid, label in STAGES:
            mark, style = STATE_MARKS[self.state_of(sid)]
            line_style = "reverse" if sid == self.current else ""
            text.append(f" {mark} ", style=style)
            text.append(f"{label}\n", style=line_style)
        text.append("\n ✓ done  ▶ here\n · todo  ✗ failed", style="dim")
        self.update(text)


class ProblemValidator(Validator):
    """Input validator that calls a `mailtui.validate.*_problem` function (None means fine)."""

    def __init__(self, problem: Callable[[str], str | None]) -> None:
        super().__init__()
        self.problem = problem

    def validate(self, value: str) -> ValidationResult:
        message = self.problem(value)
        return self.failure(message) if message else self.success()


def int_problem(check: Callable[[int], str | None]) -> Callable[[str], str | None]:
    """Adapt an int check to text input."""

    def problem(value: str) -> str | None:
        number = validate.whole_number(value)
        if number is None:
            return "must be a whole number"
        return check(number)

    return problem


def with_label(label: str, message: str) -> str:
    """'Hostname is empty' reads better than 'is empty'."""
    first = message.split(" ", 1)[0]
    if first in ("is", "must", "may", "needs", "has", "give", "cert"):
        return f"{label} {message}"
    return f"{label}: {message}"


class FieldRow(Vertical):
    """A label, an input on the same line, and the input's inline error below it.

    `key` is the Answers field it edits (as `answers.problems()` names it), so a problem found on the
    whole answers can be shown on the field it belongs to."""

    def __init__(self, label: str, key: str, value: str = "", *, problem: Callable[[str], str | None] | None = None,
                 password: bool = False, placeholder: str = "", optional: bool = False,
                 extra_keys: Iterable[str] = ()) -> None:
        super().__init__(classes="field")
        self.label = label
        self.key = key
        self.keys = {key, *extra_keys}
        validators = [ProblemValidator(problem)] if problem else []
        self.input = Input(value, placeholder=placeholder, password=password, validators=validators,
                           valid_empty=optional, compact=True, id=f"in-{safe_id(key)}")
        self.error = Static("", classes="field-error")

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(self.label, classes="field-label")
            yield self.input
        yield self.error

    @property
    def value(self) -> str:
        return self.input.value

    @value.setter
    def value(self, value: str) -> None:
        self.input.value = value

    def show_error(self, message: str | None) -> None:
        self.error.update(with_label(self.label, message) if message else "")
        self.error.display = bool(message)
        self.set_class(bool(message), "has-error")

    class Edited(Message):
        """The value changed (typed, or set by the form); the form may keep dependent fields in step."""

        def __init__(self, row: FieldRow, value: str) -> None:
            super().__init__()
            self.row = row
            self.value = value

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        result = event.validation_result
        if result is None or result.is_valid:
            self.show_error(None)
        else:
            self.show_error(result.failure_descriptions[0])
        self.post_message(self.Edited(self, event.value))

    def check(self) -> bool:
        """Validate now (as on Next); show the error; return whether the value is fine."""
        if self.input.disabled:
            self.show_error(None)
            return True
        result = self.input.validate(self.input.value)
        if result is None or result.is_valid:
            self.show_error(None)
            return True
        self.show_error(result.failure_descriptions[0])
        return False


class CheckRow(Vertical):
    """A checkbox and, below it, the inline error of the setting it toggles (`key`, as `answers.problems()`
    names it, e.g. "webmail.enabled"): a problem found on the whole answers is shown there, as a FieldRow
    shows its field's. `input` is the checkbox (the wizard focuses a marked row's `input`)."""

    def __init__(self, label: str, key: str, value: bool = True, *, id: str) -> None:  # noqa: A002 - Textual's name
        super().__init__(classes="field check-row")
        self.label = label
        self.key = key
        self.keys = {key}
        self.input = Checkbox(label, value, id=id, compact=True)
        self.error = Static("", classes="field-error")

    def compose(self) -> ComposeResult:
        yield self.input
        yield self.error

    @property
    def value(self) -> bool:
        return self.input.value

    @value.setter
    def value(self, value: bool) -> None:
        self.input.value = value

    def show_error(self, message: str | None) -> None:
        self.error.update(message or "")
        self.error.display = bool(message)
        self.set_class(bool(message), "has-error")

    def on_checkbox_changed(self) -> None:
        """Toggled: the problem was about the other setting; the answers are checked again at the review.
        The message goes on to the form (it may keep its facts in step)."""
        self.show_error(None)

    def check(self) -> bool:
        """A checkbox is always a valid value: what is wrong is found on the whole answers (at the review),
        so Next clears the mark and the review marks it again if it still holds."""
        self.show_error(None)
        return True


def safe_id(key: str) -> str:
    return key.replace(".", "-").replace("[", "-").replace("]", "")


PASSWORDS_DIFFER = validate.PASSWORDS_DIFFER


class PasswordPair:
    """A password typed twice. The second field says it differs as soon as what is typed there cannot
    become the first (it is no longer a beginning of it), and on leaving it or on Next when it differs."""

    def __init__(self, password: FieldRow, again: FieldRow) -> None:
        self.password = password
        self.again = again

    def problem(self, *, final: bool) -> str | None:
        password, again = self.password.value, self.again.value
        if again == password or (not again and not final):
            return None
        if final or not password.startswith(again):
            return PASSWORDS_DIFFER
        return None

    def follow(self, row: FieldRow, *, final: bool = False) -> None:
        """Call with the row that was edited (final=False) or left (final=True)."""
        if row is not self.password and row is not self.again:
            return
        if row is self.password and not self.again.value:
            return  # nothing typed twice yet
        problem = self.problem(final=final)
        if problem is not None:
            self.again.show_error(problem)
        elif self.again.has_class("has-error"):
            self.again.check()  # back to its own check (none: clears the mismatch)
