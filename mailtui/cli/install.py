"""`mailtui install`: from an answers file (after a plan shown and confirmed), --attach, --resume, and the
hidden --worker the detached install process runs as."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mailtui.api.operations import Operations, StepPlan
from mailtui.cli.common import EXIT_FAIL, EXIT_INVALID, EXIT_OK, confirm, print_event
from mailtui.errors import MailtuiError, ValidationError
from mailtui.model import answers_file
from mailtui.model.answers import Answers


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("install", help="install and configure the mail server from an answers file")
    p.add_argument("--answers", metavar="FILE", help="the install plan (TOML)")
    p.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before applying")
    p.add_argument("--attach", action="store_true", help="follow an install that is running or has ended")
    p.add_argument("--resume", action="store_true", help="finish an interrupted or failed install")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--only", metavar="STEPS", help=argparse.SUPPRESS)  # the worker: these steps (a,b,…)
    p.set_defaults(func=cmd_install)


def cmd_install(args: argparse.Namespace, ops: Operations) -> int:
    if args.worker:
        only = [s for s in args.only.split(",") if s] if args.only is not None else None
        return ops.worker_main(sys.stdin.read(), only)
    if args.attach:
        return follow_install(ops)
    if args.resume:
        pending = ops.pending_answers()
        if pending is None:
            raise MailtuiError("there is no interrupted install to resume")
        answers = pending
    else:
        if not args.answers:
            raise ValidationError({"--answers": "give the answers file (TOML), e.g. --answers mail.toml"})
        answers = answers_file.load(Path(args.answers))
    checked = ops.prepare(answers)
    problems = ops.install_problems(checked)
    if problems:
        for p in problems:
            print(f"mailtui: cannot install: {p}", file=sys.stderr)
        return EXIT_INVALID
    if answers.tls.mode == "acme":
        print_acme_dns(ops, answers)
    if args.dry_run or not args.yes:
        print_plan(ops.plan(checked))
        if args.dry_run:
            print("\n(dry run: nothing was changed)")
            return EXIT_OK
        if not confirm("Apply these changes?", False):
            print("nothing changed")
            return EXIT_FAIL
    ops.start_worker(checked)
    return follow_install(ops)


def print_acme_dns(ops: Operations, answers: Answers) -> None:
    """Before an ACME order: whether DNS points the hostname at this machine. Said, never a stop (DNS may be
    about to change; a failed order leaves the self-signed certificate serving and says why)."""
    try:
        found = ops.acme_dns_check(answers)
    except MailtuiError as exc:
        print(f"ACME: where {answers.hostname} points was not checked: {exc}", file=sys.stderr)
        return
    if found.ok:
        print(f"ACME: {answers.hostname} points at this machine (asked {found.server})")
        for line in found.lines:
            print(f"  {line}")
        return
    what = "the CA will not be able to reach this machine" if found.answered else \
        "not known whether the CA can reach this machine"
    print(f"ACME: warning: {what} (asked {found.server}):", file=sys.stderr)
    for line in found.lines:
        print(f"  {line}", file=sys.stderr)
    print("  the install goes on; until an order succeeds the self-signed certificate serves", file=sys.stderr)


def print_plan(plan: Sequence[StepPlan]) -> None:
    for step in plan:
        print(f"\n== {step.title} ({step.name}) ==")
        if not step.changes:
            print("   nothing to change")
        for change in step.changes:
            print(f" * {change.summary}")
            if change.diff:
                for line in change.diff.rstrip("\n").splitlines():
                    print(f"     {line}")


def follow_install(ops: Operations) -> int:
    state = ops.read_state()
    if state.status == "idle":
        raise MailtuiError("no install has been started on this machine")
    try:
        for event in ops.follow_events(lambda: not ops.read_state().alive):
            print_event(event)
    except KeyboardInterrupt:
        print("\nThe install goes on in the background; follow it again with `mailtui install --attach`.")
        return EXIT_FAIL
    state = ops.read_state()
    if state.status == "done" and state.warnings:
        print("install finished, with less than was asked for:", file=sys.stderr)
        for warning in state.warnings:
            print(f"  - {warning}", file=sys.stderr)
        print("the server works; `mailtui check` fails naming this until an install puts it right",
              file=sys.stderr)
        return EXIT_FAIL
    if state.status == "done":
        print("install finished: run `mailtui check` at any time to re-check")
        return EXIT_OK
    if state.status == "running":  # the worker died without saying so (killed)
        print("the install was interrupted; run `mailtui install --resume` to finish it", file=sys.stderr)
        return EXIT_FAIL
    print(f"install failed in step {state.failed_step}: {state.error}", file=sys.stderr)
    print("fix the cause, then run `mailtui install --resume` (finished steps are not repeated)",
          file=sys.stderr)
    return EXIT_FAIL
