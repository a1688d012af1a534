"""`mailtui dkim`: the DKIM keys of every domain, and their rotation.

  mailtui dkim status [--json]          every selector: domain, role (signing, standby, retired), size, age
  mailtui dkim rotate DOMAIN [--yes]    the standby key signs from now on (its record is already published),
                                        the signing key is retired, a new standby key is made
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from mailtui.api.operations import Operations
from mailtui.api.types import DkimKeyStatus
from mailtui.cli.common import EXIT_FAIL, EXIT_OK, confirm


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dkim", help="the DKIM keys of every domain (status) and their rotation")
    dsub = p.add_subparsers(dest="dkim_command", required=True, metavar="{status,rotate}")
    q = dsub.add_parser("status", help="every selector: domain, role, key size, age")
    q.add_argument("--json", action="store_true", help="as JSON")
    q.set_defaults(func=cmd_status)
    q = dsub.add_parser("rotate", help="the standby key signs from now on; a new standby key is made")
    q.add_argument("domain")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask")
    q.set_defaults(func=cmd_rotate)


def status_text(keys: Sequence[DkimKeyStatus]) -> str:
    if not keys:
        return "no DKIM keys: DKIM is off ([dkim] enabled = false) or mailtui has not made them yet\n"
    width = max(len(k.domain) for k in keys)
    lines = []
    for k in keys:
        unreadable = "" if k.public_key is not None else f"  KEY FILE UNREADABLE: {k.key_file}"
        lines.append(f"{k.domain:<{width}}  {k.selector:<9} {k.role:<8} RSA-{k.bits}  made {k.created} "
                     f"({k.age_days} days){unreadable}")
    return "\n".join(lines) + "\n"


def cmd_status(args: argparse.Namespace, ops: Operations) -> int:
    keys = ops.dkim_status()
    if args.json:
        print(json.dumps([k.to_json() for k in keys], indent=1))
    else:
        print(status_text(keys), end="")
    return EXIT_OK if all(k.public_key is not None for k in keys) else EXIT_FAIL


def cmd_rotate(args: argparse.Namespace, ops: Operations) -> int:
    question = (f"Rotate the DKIM keys of {args.domain}? Its standby key signs from now on; check first that its "
                "record is published (mailtui dns check)")
    if not confirm(question, args.yes):
        print("nothing changed")
        return EXIT_FAIL
    print(ops.dkim_rotate(args.domain))
    return EXIT_OK
