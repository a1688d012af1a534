"""`mailtui domain|user|alias …`: the virtual domains, mailboxes and aliases, and `user import FILE.csv`."""

from __future__ import annotations

import argparse
import json
import sys

from mailtui.api.operations import Operations
from mailtui.api.types import MAX_PAGE
from mailtui.cli.common import EXIT_FAIL, EXIT_INVALID, EXIT_OK, confirm, print_rows, read_new_password
from mailtui.errors import ValidationError


def page_size(text: str) -> int:
    """--limit: refused (exit 2, naming --limit) before anything is asked of the database."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PAGE:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to {MAX_PAGE}, not {text!r}")
    return value


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    def common_list(q: argparse.ArgumentParser) -> None:
        q.add_argument("--filter", default="", help="only names containing this text")
        q.add_argument("--limit", type=page_size, default=MAX_PAGE, help=f"at most this many rows (1-{MAX_PAGE})")

    p = sub.add_parser("domain", help="virtual domains")
    ds = p.add_subparsers(dest="action", required=True)
    common_list(ds.add_parser("list"))
    q = ds.add_parser("add")
    q.add_argument("name")
    q.add_argument("--role-aliases-to", metavar="ADDRESS",
                   help="also make postmaster@ and abuse@ of the domain (RFC 2142) aliases of ADDRESS")
    q = ds.add_parser("remove")
    q.add_argument("name")
    q.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(func=cmd_domain)

    p = sub.add_parser("user", help="mailboxes")
    us = p.add_subparsers(dest="action", required=True)
    q = us.add_parser("list")
    common_list(q)
    q.add_argument("--domain")
    q = us.add_parser("add")
    q.add_argument("email")
    q.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    q.add_argument("--generate", action="store_true", help="generate a password and show it once")
    q = us.add_parser("passwd")
    q.add_argument("email")
    q.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    q = us.add_parser("remove")
    q.add_argument("email")
    q.add_argument("--yes", "-y", action="store_true")
    q.add_argument("--delete-maildir", action="store_true", help="also delete the stored mail")
    q = us.add_parser("import", help="add many mailboxes from a CSV file of email,password lines",
                      description="Add many mailboxes from a CSV file: one `email,password` per line (UTF-8; an "
                      "optional header row email,password; blank lines and lines starting with # are ignored). "
                      "Rejected rows are listed with their line and reason and never stop the others. Exit "
                      "code 0: every row imported; 2: a row was rejected or the file is unusable.")
    q.add_argument("file", metavar="FILE.csv")
    q.add_argument("--dry-run", action="store_true", help="check every row and report; change nothing")
    q.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("alias", help="aliases and forwards (source '@domain' is a catch-all)")
    als = p.add_subparsers(dest="action", required=True)
    common_list(als.add_parser("list"))
    q = als.add_parser("add")
    q.add_argument("source")
    q.add_argument("destination")
    q = als.add_parser("remove")
    q.add_argument("source")
    q.add_argument("destination", nargs="?")
    q.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(func=cmd_alias)


def cmd_domain(args: argparse.Namespace, ops: Operations) -> int:
    ops.installed_answers()  # not installed: say so before asking anything
    if args.action == "list":
        rows = ops.list_domains(args.filter or "", limit=args.limit, offset=0)
        print_rows(rows, [("DOMAIN", lambda r: r.name), ("USERS", lambda r: r.users),
                          ("ALIASES", lambda r: r.aliases)])
    elif args.action == "add":
        name = ops.add_domain(args.name, args.role_aliases_to)
        if args.role_aliases_to:
            print(f"added domain {name}; postmaster@{name} and abuse@{name} go to {args.role_aliases_to}")
        else:
            print(f"added domain {name} (no postmaster@ or abuse@ alias: --role-aliases-to ADDRESS adds them)")
        print("publish its DNS records: mailtui dns")
    elif args.action == "remove":
        summary = ops.removal_preview(args.name)
        if not confirm(f"Remove domain {args.name} with {summary}?", args.yes):
            print("nothing changed")
            return EXIT_FAIL
        result = ops.remove_domain(args.name)
        print(f"removed domain {args.name}: {result}")
    return EXIT_OK


def cmd_user(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "import":
        return _import_users(args, ops)
    ops.installed_answers()  # not installed: say so before asking for a password or a confirmation
    if args.action == "list":
        rows = ops.list_users(args.filter or "", limit=args.limit, offset=0, domain=args.domain)
        print_rows(rows, [("EMAIL", lambda r: r.email)])
    elif args.action == "add":
        _refuse(ops.mailbox_problem(args.email, new=True))  # before the password is asked for
        password = ops.generate_password() if args.generate else read_new_password(args)
        email = ops.add_user(args.email, password)
        print(f"added mailbox {email}")
        if args.generate:
            print(f"generated password (shown once): {password}")
    elif args.action == "passwd":
        _refuse(ops.mailbox_problem(args.email, new=False))
        password = read_new_password(args)
        ops.set_password(args.email, password)
        print(f"changed the password of {args.email}")
    elif args.action == "remove":
        _refuse(ops.mailbox_problem(args.email, new=False))  # a mailbox that does not exist: 2, before asking
        if not confirm(f"Remove mailbox {args.email}?", args.yes):
            print("nothing changed")
            return EXIT_FAIL
        ops.remove_user(args.email)
        print(f"removed mailbox {args.email}")
        if args.delete_maildir:
            removed = ops.delete_maildir(args.email)
            print(f"deleted its maildir {removed}" if removed else "it had no maildir")
        else:
            print(f"its mail stays in {ops.maildir_path(args.email)} (use --delete-maildir to remove it)")
    return EXIT_OK


def _refuse(problems: dict[str, str]) -> None:
    if problems:
        raise ValidationError(problems)


def _import_users(args: argparse.Namespace, ops: Operations) -> int:
    """`mailtui user import FILE.csv`: 0 when every row was imported, 2 when any was rejected."""
    shown = False

    def progress(done: int, total: int) -> None:
        nonlocal shown
        shown = True
        print(f"\rhashing passwords: {done:,} of {total:,}", end="", file=sys.stderr, flush=True)

    tty = sys.stderr.isatty() and not args.json
    try:
        report = ops.import_users(args.file, dry_run=args.dry_run, progress=progress if tty else None)
    finally:
        if shown:
            print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), indent=1))
    else:
        print(report.text())
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_alias(args: argparse.Namespace, ops: Operations) -> int:
    ops.installed_answers()
    if args.action == "list":
        rows = ops.list_aliases(args.filter or "", limit=args.limit, offset=0)
        print_rows(rows, [("SOURCE", lambda r: r.source), ("DESTINATION", lambda r: r.destination)])
    elif args.action == "add":
        row = ops.add_alias(args.source, args.destination)
        print(f"added alias {row.source} -> {row.destination}")
    elif args.action == "remove":
        if not confirm(f"Remove alias {args.source}{' -> ' + args.destination if args.destination else ''}?",
                       args.yes):
            print("nothing changed")
            return EXIT_FAIL
        ops.remove_alias(args.source, args.destination)
        print(f"removed alias {args.source}")
    return EXIT_OK
