"""`mailtui check [--json] [--user EMAIL] [--roundtrip EMAIL] [--password-stdin]`: the installed server
checked; a non-zero exit names what fails.

It prints what it checked and the result — pass, or FAIL with the reason — and then, apart and labelled
"Drift", the changes an install would make to put the failures right. A planned action is never printed as
a result."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from mailtui.api.operations import Operations
from mailtui.api.types import CheckResult
from mailtui.cli.common import EXIT_FAIL, EXIT_OK, read_password
from mailtui.errors import ValidationError
from mailtui.model import validate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="check the installed mail server; non-zero exit names what fails")
    p.add_argument("--json", action="store_true")
    p.add_argument("--user", metavar="EMAIL", help="also log in over IMAPS as this mailbox")
    p.add_argument("--roundtrip", metavar="EMAIL", help="also send a message to this mailbox over SMTP and read "
                   "it back over IMAPS (then delete it)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read that mailbox's password from stdin (one line; --user and --roundtrip for two "
                        "different mailboxes: two lines, in that order)")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace, ops: Operations) -> int:
    answers = ops.installed_answers()
    # The passwords first: a prompt should not wait behind checks that take a while.
    login_password = read_password(args, args.user) if args.user else ""
    roundtrip = validate.canonical_address(args.roundtrip) if args.roundtrip else ""
    if args.roundtrip:
        problem = validate.address_problem(roundtrip)
        if problem:
            raise ValidationError({"--roundtrip": problem})
    if roundtrip and args.user and validate.canonical_address(args.user) == roundtrip:
        roundtrip_password = login_password
    else:
        roundtrip_password = read_password(args, roundtrip) if roundtrip else ""
    results = ops.checks(answers, login=(args.user, login_password) if args.user else None,
                         roundtrip=(roundtrip, roundtrip_password) if roundtrip else None)
    failed = [r for r in results if not r.check.ok]
    drift = [r for r in results if r.check.drift]
    if args.json:
        print(json.dumps({
            "ok": not failed,
            "checks": [{"step": r.area, "name": r.check.name, "ok": r.check.ok, "detail": r.check.detail,
                        "drift": r.check.drift} for r in results],
            "drift": [{"step": r.area, "check": r.check.name, "change": r.check.drift} for r in drift],
        }, indent=1))
    else:
        print_results(results)
    return EXIT_FAIL if failed else EXIT_OK


def print_results(results: Sequence[CheckResult]) -> None:
    """What was checked and its result (pass, or FAIL with the reason); then, apart and labelled, what an
    install would change to put the failures right (drift) — `check` itself never changes anything."""
    print("Checked:")
    for r in results:
        c = r.check
        reason = f" — {c.detail}" if c.detail and not c.ok else ""
        print(f"  {'pass' if c.ok else 'FAIL'} [{r.area}] {c.name}{reason}")
    drift = [r for r in results if r.check.drift]
    if drift:
        print("\nDrift — what an install would change to put that right (`check` changes nothing):")
        for r in drift:
            print(f"  [{r.area}] {r.check.drift}")
    failed = sum(1 for r in results if not r.check.ok)
    print(f"\n{len(results) - failed} passed, {failed} failed"
          + (f"; {len(drift)} change{'' if len(drift) == 1 else 's'} an install would make" if drift else ""))
