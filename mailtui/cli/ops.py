"""`mailtui queue …`, `mailtui service …`, `mailtui debug …`: the dashboard's operations, headless.

  mailtui queue list [--json]
  mailtui queue flush [ID]
  mailtui queue hold ID | release ID
  mailtui queue delete ID [--yes] | delete --all-deferred [--yes]
  mailtui service status [NAME] [--json]
  mailtui service start|stop|restart|reload NAME
  mailtui debug on|off|status

Wired into the parser by mailtui.cli.build_parser via add_parsers(subparsers).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from mailtui.errors import ValidationError

EXIT_OK, EXIT_FAIL = 0, 1


def _confirm(question: str, assume_yes: bool) -> bool:
    from mailtui.cli.main import _confirm as confirm  # lazily: cli imports this module

    return confirm(question, assume_yes)


def _print_output(text: str) -> None:
    text = text.strip()
    if text:
        print(text)


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# ---------------------------------------------------------------- queue

def cmd_queue(args: argparse.Namespace) -> int:
    from mailtui.system import postqueue as queue

    if args.action == "list":
        messages = queue.list_queue()
        if args.json:
            print(json.dumps([m.to_json() for m in messages], indent=1))
            return EXIT_OK
        if not messages:
            print("the mail queue is empty")
            return EXIT_OK
        _table(["ID", "QUEUE", "AGE", "SIZE", "SENDER", "RECIPIENTS", "REASON"],
               [[m.queue_id, m.queue, human_age(m.age_seconds), human_size(m.size), m.sender or "<>",
                 ", ".join(m.recipients), m.reason] for m in messages])
        print(f"\n{len(messages)} message(s)")
    elif args.action == "flush":
        _print_output(queue.flush(args.id) if args.id else queue.flush_all())
        print(f"asked Postfix to deliver {args.id or 'every queued message'} now")
    elif args.action == "hold":
        _print_output(queue.hold(args.id))
    elif args.action == "release":
        _print_output(queue.release(args.id))
    elif args.action == "delete":
        if args.all_deferred:
            if args.id:
                raise ValidationError({"delete": "give a queue id or --all-deferred, not both"})
            if not _confirm("Delete every deferred message?", args.yes):
                print("nothing changed")
                return EXIT_FAIL
            _print_output(queue.delete_all_deferred() or "there were no deferred messages")
        else:
            if not args.id:
                raise ValidationError({"delete": "give a queue id or --all-deferred"})
            queue.check_queue_id(args.id)  # refuse before asking
            if not _confirm(f"Delete message {args.id} from the queue?", args.yes):
                print("nothing changed")
                return EXIT_FAIL
            _print_output(queue.delete(args.id))
    return EXIT_OK


# ---------------------------------------------------------------- services

def cmd_service(args: argparse.Namespace) -> int:
    from mailtui.ops import services as ss

    if args.action == "status":
        rows = [ss.status(args.name)] if args.name else ss.statuses()
        problems = ss.config_problems() if not args.name else []
        debug = ss.dovecot_debug_enabled()
        if args.json:
            print(json.dumps({"services": [r.to_json() for r in rows], "config_problems": problems,
                              "dovecot_debug": debug}, indent=1))
        else:
            _table(["SERVICE", "STATE", "PID", "UPTIME", "PORTS"],
                   [[r.label, "running" if r.running else "stopped", str(r.pid or "-"),
                     human_age(r.uptime_seconds), ",".join(map(str, r.ports)) or "-"] for r in rows])
            for p in problems:
                print(f"problem: {p}")
            if debug:
                print("\nReminder: Dovecot debug logging is ON (`mailtui debug off` to stop it)")
        return EXIT_FAIL if any(not r.running for r in rows) else EXIT_OK
    _print_output(ss.control(args.name, args.action))
    print(f"{args.name}: {args.action} done")
    return EXIT_OK


# ---------------------------------------------------------------- debug

def cmd_debug(args: argparse.Namespace) -> int:
    from mailtui.ops import services as ss

    if args.action == "status":
        print("Dovecot debug logging is " + ("ON" if ss.dovecot_debug_enabled() else "off"))
        return EXIT_OK
    on = args.action == "on"
    _print_output(ss.set_dovecot_debug(on))
    if on:
        print("Dovecot debug logging is ON (auth_debug, mail_debug; passwords are never logged). "
              "Turn it off with `mailtui debug off`.")
    else:
        print("Dovecot debug logging is off")
    return EXIT_OK


# ---------------------------------------------------------------- parsers

def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("queue", help="the Postfix mail queue: list, flush, hold, release, delete")
    qs = p.add_subparsers(dest="action", required=True)
    qs.add_parser("list", help="every queued message with its age and why it waits").add_argument(
        "--json", action="store_true")
    qs.add_parser("flush", help="deliver now: one message, or all").add_argument("id", nargs="?")
    qs.add_parser("hold", help="put a message on hold").add_argument("id")
    qs.add_parser("release", help="release a message from hold").add_argument("id")
    q = qs.add_parser("delete", help="delete a message, or every deferred message")
    q.add_argument("id", nargs="?")
    q.add_argument("--all-deferred", action="store_true", help="delete every message in the deferred queue")
    q.add_argument("--yes", "-y", action="store_true")
    p.set_defaults(func=cmd_queue)

    p = sub.add_parser("service", help="Postfix, Dovecot and MariaDB: status, start, stop, restart, reload")
    ss = p.add_subparsers(dest="action", required=True)
    q = ss.add_parser("status", help="running, PID, uptime, listening ports and configuration problems")
    q.add_argument("name", nargs="?", choices=("postfix", "dovecot", "mariadb", "fail2ban"))
    q.add_argument("--json", action="store_true")
    for verb in ("start", "stop", "restart", "reload"):
        ss.add_parser(verb).add_argument("name", choices=("postfix", "dovecot", "mariadb", "fail2ban"))
    p.set_defaults(func=cmd_service)

    p = sub.add_parser("debug", help="Dovecot's debug logging (never logs passwords)")
    p.add_argument("action", choices=("on", "off", "status"))
    p.set_defaults(func=cmd_debug)

