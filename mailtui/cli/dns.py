"""`mailtui dns`: the DNS records to publish for the server and every domain it serves, and the mail
client settings — as the dashboard's DNS tab shows them, in zone-file syntax with values whole.

  mailtui dns                  print them
  mailtui dns --output FILE    write them to FILE (replaced whole; readable by all)
  mailtui dns --json           records and settings as JSON
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mailtui.api.operations import Operations
from mailtui.cli.common import EXIT_OK


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dns", help="the DNS records to publish for every domain, and the mail client settings")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--output", metavar="FILE", help="write them to FILE instead of printing them")
    out.add_argument("--json", action="store_true", help="records and client settings as JSON")
    p.set_defaults(func=cmd_dns)


def cmd_dns(args: argparse.Namespace, ops: Operations) -> int:
    report = ops.dns_report()
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    elif args.output:
        path = Path(args.output).absolute()
        ops.write_dns_report(report, path)
        print(f"wrote the DNS records of {len(report.domains)} domain(s) to {path}")
    else:
        print(report.text(), end="")
    return EXIT_OK
