"""What every command shares: exit codes, asking before a destructive action, reading passwords (never
from argv), and printing events, tables and a tool's output."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence

from mailtui.errors import MailtuiError, ValidationError
from mailtui.events import Event
from mailtui.model import validate

# The exit codes of every command (README "The command line"; tests/unit/test_cli_exit_codes.py runs each
# command against this table):
#   0 success (`check`: every check passed);
#   1 a failure: a failed step, check or action, a declined confirmation (or none possible: no terminal and
#     no --yes), or the machine not ready for the command (not installed, no install to resume);
#   2 invalid input or usage: a bad value, or a domain/mailbox/alias/queued message/ban that does not exist,
#     named by its field (ValidationError, NotFound, argparse); nothing was changed;
#   3 busy: another install or mailtui holds the lock (Busy); nothing was changed, try again later.
EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_BUSY = 0, 1, 2, 3


def print_event(event: Event) -> None:
    if event.kind == "started":
        print(f"==> {event.step}: {event.message}", flush=True)
    elif event.kind == "output":
        print(f"    {event.message}", flush=True)
    elif event.kind == "progress":
        print(f"    [{event.percent or 0:5.1f}%] {event.message}", flush=True)
    elif event.kind == "done":
        print(f"ok  {event.step}: {event.message}", flush=True)
    elif event.kind == "failed":
        print(f"FAILED {event.step}: {event.message}", flush=True)
    elif event.kind == "info":
        print(f"--  {event.message}", flush=True)


def confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise MailtuiError(f"{question} — no terminal to ask on; pass --yes to confirm")
    reply = input(f"{question} [y/N] ").strip().lower()
    return reply in ("y", "yes")


def read_new_password(args: argparse.Namespace) -> str:
    """A new password: a line of stdin with --password-stdin, else asked twice at a prompt."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        password = line.rstrip("\n")
        if not password:
            raise ValidationError({"password": "nothing was read from standard input"})
        return password
    if not sys.stdin.isatty():
        raise ValidationError({"password": "no terminal to ask on: use --password-stdin"})
    first = getpass.getpass("New password: ")
    second = getpass.getpass("Repeat it: ")
    if first != second:
        raise ValidationError({"password typed again": validate.PASSWORDS_DIFFER})
    return first


def read_password(args: argparse.Namespace, email: str) -> str:
    """An existing mailbox's password (asked once): a line of stdin with --password-stdin, else a prompt."""
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise ValidationError({"password": f"nothing was read from standard input (the password of {email})"})
        return password
    if not sys.stdin.isatty():
        raise ValidationError({"password": "no terminal to ask on: use --password-stdin"})
    return getpass.getpass(f"Password for {email}: ")


def print_output(text: str) -> None:
    text = text.strip()
    if text:
        print(text)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def print_rows(rows: Sequence[object], columns: Sequence[tuple[str, Callable[[object], object]]]) -> None:
    print_table([h for h, _ in columns], [[str(get(r)) for _, get in columns] for r in rows])
