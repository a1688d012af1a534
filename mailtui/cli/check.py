"""`mailtui check [--json] [--user EMAIL] [--roundtrip EMAIL] [--password-stdin]`: the installed server
checked; a non-zero exit names what fails."""

from __future__ import annotations

import argparse
import json

from mailtui.api.operations import Operations
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
    if args.json:
        print(json.dumps({
            "ok": not failed,
            "checks": [{"step": r.area, "name": r.check.name, "ok": r.check.ok, "detail": r.check.detail}
                       for r in results],
        }, indent=1))
    else:
        for r in results:
            c = r.check
            mark = "ok  " if c.ok else "FAIL"
            print(f"{mark} [{r.area}] {c.name}" + (f" — {c.detail}" if c.detail and not c.ok else ""))
        print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAIL if failed else EXIT_OK
