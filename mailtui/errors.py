"""Errors that carry a message an operator can act on."""

from __future__ import annotations


class MailtuiError(Exception):
    """Base class: str(error) is shown to the operator as it is (no traceback)."""


class CommandFailed(MailtuiError):
    def __init__(self, argv: list[str], returncode: int, output: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-15:])
        super().__init__(f"`{' '.join(argv)}` failed with exit code {returncode}" + (f":\n{tail}" if tail else ""))


class StepFailed(MailtuiError):
    """A step could not reach its declared state; the message says why and what to do."""


class ValidationError(MailtuiError):
    """Input was refused. `problems` maps a field (e.g. "users[0].email") to what is wrong with it."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        lines = [f"  {field}: {why}" for field, why in self.problems.items()]
        super().__init__("invalid input:\n" + "\n".join(lines))


class NotFound(MailtuiError):
    """What the operator named (a domain, mailbox, alias, queued message, ban…) does not exist: input that
    names nothing, so the command line treats it as invalid input. `field` names the input it came from."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Busy(MailtuiError):
    """Another mailtui holds what this needs (an install or rollback holds the install lock, another one is
    restarting Dovecot): nothing was changed; try again once it has finished."""
