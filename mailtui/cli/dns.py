"""`mailtui dns`: the DNS records to publish for the server and every domain it serves, and the mail
client settings — as the dashboard's DNS tab shows them, in zone-file syntax with values whole; and
`mailtui dns check`: DNS asked for each of those records, compared record by record.

  mailtui dns [DOMAIN]                       print them (DOMAIN: the server's records and that domain's)
  mailtui dns [DOMAIN] --output FILE         write them to FILE (replaced whole; readable by all)
  mailtui dns [DOMAIN] --json                records and settings as JSON
  mailtui dns [DOMAIN] --zone                the records alone, a BIND zone fragment to paste
  mailtui dns check [DOMAIN] [--server IP] [--json]
                                             ask DNS (IP, else /etc/resolv.conf's first nameserver); exit 1
                                             when any record is missing or differs, or DNS does not answer
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mailtui.api.operations import Operations
from mailtui.cli.common import EXIT_FAIL, EXIT_OK
from mailtui.errors import ValidationError
from mailtui.model import validate


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dns", help="the DNS records to publish for every domain, the mail client settings; "
                       "`dns check` compares them with DNS",
                       usage="mailtui dns [DOMAIN] [--output FILE | --json | --zone]\n"
                             "       mailtui dns check [DOMAIN] [--server IP] [--json]")
    p.add_argument("words", nargs="*", metavar="[check] [DOMAIN]",
                   help="`check` to ask DNS; DOMAIN: only that domain (with the server's own records)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--output", metavar="FILE", help="write them to FILE instead of printing them")
    out.add_argument("--json", action="store_true", help="as JSON")
    out.add_argument("--zone", action="store_true", help="the records alone, as a BIND zone fragment to paste")
    p.add_argument("--server", metavar="IP", help="dns check: the DNS server to ask (default: this machine's "
                   "resolver, the first nameserver in /etc/resolv.conf)")
    p.set_defaults(func=cmd_dns)


def cmd_dns(args: argparse.Namespace, ops: Operations) -> int:
    words = list(args.words)
    checking = bool(words) and words[0] == "check"
    if checking:
        words.pop(0)
    if len(words) > 1:
        raise ValidationError({"domain": f"one domain at most, not {len(words)}: {' '.join(words)}"})
    domain = words[0] if words else None
    if checking and args.zone:
        raise ValidationError({"--zone": "dns check prints its result; --zone prints the records (`mailtui dns "
                                         "--zone`)"})
    if checking and args.output:
        raise ValidationError({"--output": "dns check prints its result; --output saves the records (`mailtui dns "
                                           "--output FILE`)"})
    if not checking and args.server:
        raise ValidationError({"--server": "only `mailtui dns check` asks a DNS server"})
    if args.server is not None and (problem := validate.ip_address_problem(args.server)):
        raise ValidationError({"--server": problem})  # before anything is read from the machine
    report = ops.dns_report().only(domain)
    if checking:
        result = ops.dns_check(report, args.server)
        if args.json:
            print(json.dumps(result.to_json(), indent=1))
        else:
            print(result.text(), end="")
        return EXIT_OK if result.ok else EXIT_FAIL
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    elif args.zone:
        print(report.zone(), end="")
    elif args.output:
        path = Path(args.output).absolute()
        ops.write_dns_report(report, path)
        print(f"wrote the DNS records of {len(report.domains)} domain(s) to {path}")
    else:
        print(report.text(), end="")
    return EXIT_OK
