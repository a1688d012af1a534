"""`mailtui …` — the command line. Every action the TUI offers is here too, headless.

Exit codes: 0 success, 1 a failure (failed step or check), 2 invalid input or usage, 3 busy.
Passwords never come from argv: a prompt (asked twice) or --password-stdin.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mailtui import __version__
from mailtui.errors import MailtuiError, ValidationError
from mailtui.events import Event
from mailtui.model import answers as answers_mod

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_BUSY = 0, 1, 2, 3


def _print_event(event: Event) -> None:
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


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise MailtuiError(f"{question} — no terminal to ask on; pass --yes to confirm")
    reply = input(f"{question} [y/N] ").strip().lower()
    return reply in ("y", "yes")


def _read_new_password(args: argparse.Namespace) -> str:
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
        raise ValidationError({"password": "the two passwords differ"})
    return first


def _read_password(args: argparse.Namespace, email: str) -> str:
    """An existing mailbox's password (asked once): a line of stdin with --password-stdin, else a prompt."""
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise ValidationError({"password": f"nothing was read from standard input (the password of {email})"})
        return password
    if not sys.stdin.isatty():
        raise ValidationError({"password": "no terminal to ask on: use --password-stdin"})
    return getpass.getpass(f"Password for {email}: ")


# ---------------------------------------------------------------- install


def cmd_install(args: argparse.Namespace) -> int:
    from mailtui.install import run as install

    if args.worker:
        only = [s for s in args.only.split(",") if s] if args.only is not None else None
        return install.worker_main(sys.stdin.read(), only)
    if args.attach:
        return _follow_install(install)
    if args.resume:
        if not install.PENDING_ANSWERS.exists():
            raise MailtuiError("there is no interrupted install to resume")
        answers = answers_mod.load(install.PENDING_ANSWERS)
    else:
        if not args.answers:
            raise ValidationError({"--answers": "give the answers file (TOML), e.g. --answers mail.toml"})
        answers = answers_mod.load(Path(args.answers))
    answers = install.prepare(answers)
    ctx = install.make_context(answers, dry_run=args.dry_run)
    problems = install.preflight(ctx)
    if problems:
        for p in problems:
            print(f"mailtui: cannot install: {p}", file=sys.stderr)
        return EXIT_INVALID
    if args.dry_run or not args.yes:
        _print_plan(install.plan(ctx))
        if args.dry_run:
            print("\n(dry run: nothing was changed)")
            return EXIT_OK
        if not _confirm("Apply these changes?", False):
            print("nothing changed")
            return EXIT_FAIL
    install.start_worker(answers)
    return _follow_install(install)


def _print_plan(plan: Sequence) -> None:
    for step, changes in plan:
        print(f"\n== {step.title} ({step.name}) ==")
        if not changes:
            print("   nothing to change")
        for change in changes:
            print(f" * {change.summary}")
            if change.diff:
                for line in change.diff.rstrip("\n").splitlines():
                    print(f"     {line}")


def _follow_install(install: object) -> int:
    from mailtui.install import run as inst

    state = inst.read_state()
    if state.status == "idle":
        raise MailtuiError("no install has been started on this machine")
    try:
        for event in inst.follow_events(inst.EVENTS_FILE, stop=lambda: not inst.read_state().alive):
            _print_event(event)
    except KeyboardInterrupt:
        print("\nThe install goes on in the background; follow it again with `mailtui install --attach`.")
        return EXIT_FAIL
    state = inst.read_state()
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


# ---------------------------------------------------------------- check


def _saved_answers() -> answers_mod.Answers:
    from mailtui import paths
    from mailtui.install import run as install

    saved = install.load_saved_answers()
    if saved is None:
        raise MailtuiError(f"mailtui has not installed this machine yet ({paths.ANSWERS_FILE} is missing)")
    return saved


def cmd_check(args: argparse.Namespace) -> int:
    from mailtui.install import run as install
    from mailtui.model import validate
    from mailtui.stack import probes as checks

    answers = _saved_answers()
    # The passwords first: a prompt should not wait behind checks that take a while.
    login_password = _read_password(args, args.user) if args.user else ""
    roundtrip = validate.canonical_address(args.roundtrip) if args.roundtrip else ""
    if args.roundtrip:
        problem = validate.address_problem(roundtrip)
        if problem:
            raise ValidationError({"--roundtrip": problem})
    if roundtrip and args.user and validate.canonical_address(args.user) == roundtrip:
        roundtrip_password = login_password
    else:
        roundtrip_password = _read_password(args, roundtrip) if roundtrip else ""
    ctx = install.make_context(answers)
    results = []
    for step in install.steps_for(ctx):
        if step.name == "verify":
            continue
        results += [(step.name, c) for c in step.verify(ctx)]
    results += [("network", c) for c in checks.port_checks(answers) + checks.tls_checks(answers)]
    results.append(("files", _answers_file_check()))
    if args.user:
        results.append(("login", checks.imap_login_check(args.user, login_password)))
    if roundtrip:
        from mailtui.ops import selftest

        results += [("roundtrip", c) for c in selftest.roundtrip(roundtrip, roundtrip_password)]
    failed = [(s, c) for s, c in results if not c.ok]
    if args.json:
        print(json.dumps({
            "ok": not failed,
            "checks": [{"step": s, "name": c.name, "ok": c.ok, "detail": c.detail} for s, c in results],
        }, indent=1))
    else:
        for step, c in results:
            mark = "ok  " if c.ok else "FAIL"
            print(f"{mark} [{step}] {c.name}" + (f" — {c.detail}" if c.detail and not c.ok else ""))
        print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAIL if failed else EXIT_OK


def _answers_file_check():
    from mailtui import paths
    from mailtui.steps.base import Check

    try:
        mode = paths.ANSWERS_FILE.stat().st_mode & 0o777
    except FileNotFoundError:
        return Check(f"{paths.ANSWERS_FILE} root-only", False, "missing")
    return Check(f"{paths.ANSWERS_FILE} root-only", mode == 0o600, f"mode {mode:04o}")


# ---------------------------------------------------------------- accounts


def _accounts():
    from mailtui.ops.accounts import Accounts

    return Accounts.connect(_saved_answers())


def _print_rows(rows: Sequence, columns: Sequence[tuple[str, Callable[[object], object]]]) -> None:
    table = [[str(get(r)) for _, get in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in table]) for i, (h, _) in enumerate(columns)]
    print("  ".join(h.ljust(w) for (h, _), w in zip(columns, widths, strict=True)).rstrip())
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def cmd_domain(args: argparse.Namespace) -> int:
    acc = _accounts()
    if args.action == "list":
        rows = acc.list_domains(args.filter or "", limit=args.limit, offset=0)
        _print_rows(rows, [("DOMAIN", lambda r: r.name), ("USERS", lambda r: r.users),
                           ("ALIASES", lambda r: r.aliases)])
    elif args.action == "add":
        name = acc.add_domain(args.name)
        print(f"added domain {name}")
    elif args.action == "remove":
        summary = acc.removal_preview(args.name) if hasattr(acc, "removal_preview") else None
        what = f" with {summary}" if summary else " with all its mailboxes and aliases"
        if not _confirm(f"Remove domain {args.name}{what}?", args.yes):
            print("nothing changed")
            return EXIT_FAIL
        result = acc.remove_domain(args.name)
        print(f"removed domain {args.name}: {result}")
    return EXIT_OK


def cmd_user(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _import_users(args)
    acc = _accounts()
    if args.action == "list":
        rows = acc.list_users(args.filter or "", domain=args.domain, limit=args.limit, offset=0)
        _print_rows(rows, [("EMAIL", lambda r: r.email)])
    elif args.action == "add":
        if args.generate:
            from mailtui.model.passwords import generate_password

            password = generate_password()
        else:
            password = _read_new_password(args)
        email = acc.add_user(args.email, password)
        print(f"added mailbox {email}")
        if args.generate:
            print(f"generated password (shown once): {password}")
    elif args.action == "passwd":
        password = _read_new_password(args)
        acc.set_password(args.email, password)
        print(f"changed the password of {args.email}")
    elif args.action == "remove":
        if not _confirm(f"Remove mailbox {args.email}?", args.yes):
            print("nothing changed")
            return EXIT_FAIL
        acc.remove_user(args.email)
        print(f"removed mailbox {args.email}")
        if args.delete_maildir:
            from mailtui.ops.maildirs import delete_maildir

            removed = delete_maildir(args.email)
            print(f"deleted its maildir {removed}" if removed else "it had no maildir")
        else:
            from mailtui.ops.maildirs import maildir_path

            print(f"its mail stays in {maildir_path(args.email)} (use --delete-maildir to remove it)")
    return EXIT_OK


def _import_users(args: argparse.Namespace) -> int:
    """`mailtui user import FILE.csv`: 0 when every row was imported, 2 when any was rejected."""
    from mailtui.ops import accounts_import

    rows = accounts_import.read_file(args.file)  # a file that cannot be imported is refused before anything else
    acc = _accounts()
    shown = False

    def progress(done: int, total: int) -> None:
        nonlocal shown
        shown = True
        print(f"\rhashing passwords: {done:,} of {total:,}", end="", file=sys.stderr, flush=True)

    tty = sys.stderr.isatty() and not args.json
    try:
        report = accounts_import.import_rows(acc, rows, dry_run=args.dry_run, progress=progress if tty else None)
    finally:
        if shown:
            print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), indent=1))
    else:
        print(report.text())
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_alias(args: argparse.Namespace) -> int:
    acc = _accounts()
    if args.action == "list":
        rows = acc.list_aliases(args.filter or "", limit=args.limit, offset=0)
        _print_rows(rows, [("SOURCE", lambda r: r.source), ("DESTINATION", lambda r: r.destination)])
    elif args.action == "add":
        row = acc.add_alias(args.source, args.destination)
        print(f"added alias {row.source} -> {row.destination}")
    elif args.action == "remove":
        if not _confirm(f"Remove alias {args.source}{' -> ' + args.destination if args.destination else ''}?",
                        args.yes):
            print("nothing changed")
            return EXIT_FAIL
        acc.remove_alias(args.source, args.destination)
        print(f"removed alias {args.source}")
    return EXIT_OK


def cmd_tui(args: argparse.Namespace) -> int:
    from mailtui.screens.app import run_app  # the only place the engine reaches into the UI (lazily)

    return run_app()


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailtui", description="Install and run a Postfix + Dovecot + "
                                     "MariaDB mail server. Without a command, the terminal UI starts.")
    parser.add_argument("--version", action="version", version=f"mailtui {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("install", help="install and configure the mail server from an answers file")
    p.add_argument("--answers", metavar="FILE", help="the install plan (TOML)")
    p.add_argument("--dry-run", action="store_true", help="print what would change and change nothing")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before applying")
    p.add_argument("--attach", action="store_true", help="follow an install that is running or has ended")
    p.add_argument("--resume", action="store_true", help="finish an interrupted or failed install")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--only", metavar="STEPS", help=argparse.SUPPRESS)  # the worker: these steps (a,b,…)
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("check", help="check the installed mail server; non-zero exit names what fails")
    p.add_argument("--json", action="store_true")
    p.add_argument("--user", metavar="EMAIL", help="also log in over IMAPS as this mailbox")
    p.add_argument("--roundtrip", metavar="EMAIL", help="also send a message to this mailbox over SMTP and read "
                   "it back over IMAPS (then delete it)")
    p.add_argument("--password-stdin", action="store_true",
                   help="read that mailbox's password from stdin (one line; --user and --roundtrip for two "
                        "different mailboxes: two lines, in that order)")
    p.set_defaults(func=cmd_check)

    def common_list(q: argparse.ArgumentParser) -> None:
        q.add_argument("--filter", default="", help="only names containing this text")
        q.add_argument("--limit", type=int, default=1000)

    p = sub.add_parser("domain", help="virtual domains")
    ds = p.add_subparsers(dest="action", required=True)
    common_list(ds.add_parser("list"))
    ds.add_parser("add").add_argument("name")
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

    from mailtui.cli import logs as cli_logs

    cli_logs.add_parser(sub)

    from mailtui.cli import ops as cli_ops

    cli_ops.add_parsers(sub)

    from mailtui.cli import rollback as cli_rollback

    cli_rollback.add_parser(sub)

    from mailtui.cli import bans as cli_bans

    cli_bans.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args.func = cmd_tui
    try:
        return args.func(args)
    except ValidationError as exc:
        print(f"mailtui: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except MailtuiError as exc:
        print(f"mailtui: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_FAIL
    except BrokenPipeError:
        os._exit(EXIT_OK)
    except Exception as exc:  # never a bare traceback for the operator: say what happened, keep the details
        import traceback

        log = Path("/tmp") / f"mailtui-error-{os.getpid()}.log"
        log.write_text(traceback.format_exc())
        print(f"mailtui: internal error: {type(exc).__name__}: {exc} (details in {log})", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())
