"""`mailtui bans [--json]` and `mailtui bans unban ADDRESS [--jail NAME]` (see bans.py).

`bans` lists fail2ban's jails with their counters and every banned address with since/until. `unban`
checks the address (and jail) before anything runs: bad input, or an address banned nowhere (no such
ban), exits 2 naming the field; nothing is changed either way.
"""

from __future__ import annotations

import argparse
import json
import time

from mailtui.api.operations import Operations
from mailtui.cli.common import EXIT_OK
from mailtui.errors import MailtuiError, ValidationError
from mailtui.format import human_age
from mailtui.model import validate


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    p = subparsers.add_parser("bans", help="brute-force bans (fail2ban): list the banned addresses, lift a ban")
    p.add_argument("--json", action="store_true", help="jails and bans as JSON")
    actions = p.add_subparsers(dest="bans_action")
    q = actions.add_parser("unban", help="lift the ban of an address (in every jail, or in one)")
    q.add_argument("address", help="the banned IPv4 or IPv6 address")
    q.add_argument("--jail", metavar="NAME", help="only in this jail (e.g. dovecot, postfix-sasl)")
    p.set_defaults(func=cmd_bans)
    return p


def _when(stamp: float | None) -> str:
    return "?" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _left(ends_at: float | None, now: float) -> str:
    return "" if ends_at is None else f" ({human_age(max(0.0, ends_at - now))} left)"


def cmd_bans(args: argparse.Namespace, ops: Operations) -> int:
    if args.bans_action == "unban":
        return cmd_unban(args, ops)
    why = ops.bans_available()
    if why is not None:
        raise MailtuiError(f"cannot list the bans: {why}")
    jails = ops.ban_jails()
    banned = ops.bans()
    if args.json:
        print(json.dumps({"jails": [j.to_json() for j in jails], "bans": [b.to_json() for b in banned]}, indent=1))
        return EXIT_OK
    print(f"{'jail':<16} {'failed now':>10} {'failed':>8} {'banned now':>10} {'banned':>8}")
    for j in jails:
        print(f"{j.name:<16} {j.currently_failed:>10} {j.total_failed:>8} {j.currently_banned:>10} {j.total_banned:>8}")
    if not banned:
        print("\nno address is banned")
        return EXIT_OK
    now = time.time()
    print(f"\n{'address':<40} {'jail':<16} {'since':<19}  until")
    for b in banned:
        until = "never ends" if b.ends_at is None and b.banned_at is not None else _when(b.ends_at)
        print(f"{b.address:<40} {b.jail:<16} {_when(b.banned_at):<19}  {until}{_left(b.ends_at, now)}")
    return EXIT_OK


def cmd_unban(args: argparse.Namespace, ops: Operations) -> int:
    # Checked here too, so bad input is refused (exit 2) even where fail2ban is not running.
    problem = validate.ip_address_problem(args.address)
    if problem:
        raise ValidationError({"address": problem})
    lifted = ops.unban(args.address, args.jail)
    address = validate.canonical_ip_address(args.address)
    print(f"lifted the ban of {address} in {', '.join(lifted)}")
    return EXIT_OK
