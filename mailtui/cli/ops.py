"""`mailtui queue …`, `mailtui service …`, `mailtui debug …`: the dashboard's operations, headless.

  mailtui queue list [--json]
  mailtui queue flush [ID]
  mailtui queue hold ID | release ID
  mailtui queue delete ID [--yes] | delete --all-deferred [--yes]
  mailtui service status [NAME] [--json]
  mailtui service start|stop|restart|reload NAME
  mailtui debug on|off|status

Wired into the parser by cli/main.py via add_parsers(subparsers).
"""

from __future__ import annotations

import argparse
import json

from mailtui.api.operations import Operations
from mailtui.api.types import check_queue_id
from mailtui.cli.common import EXIT_FAIL, EXIT_OK, confirm, print_output, print_table
from mailtui.errors import ValidationError
from mailtui.format import human_age, human_size

# ---------------------------------------------------------------- queue

def cmd_queue(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "list":
        messages = ops.queue_list()
        if args.json:
            print(json.dumps([m.to_json() for m in messages], indent=1))
            return EXIT_OK
        if not messages:
            print("the mail queue is empty")
            return EXIT_OK
        print_table(["ID", "QUEUE", "AGE", "SIZE", "SENDER", "RECIPIENTS", "REASON"],
               [[m.queue_id, m.queue, human_age(m.age_seconds), human_size(m.size), m.sender or "<>",
                 ", ".join(m.recipients), m.reason] for m in messages])
        print(f"\n{len(messages)} message(s)")
    elif args.action == "flush":
        if args.id:
            check_queue_id(args.id)
        print_output(ops.queue_action("flush", args.id or None))
        print(f"asked Postfix to deliver {args.id or 'every queued message'} now")
    elif args.action in ("hold", "release"):
        print_output(ops.queue_action(args.action, check_queue_id(args.id)))
    elif args.action == "delete":
        if args.all_deferred:
            if args.id:
                raise ValidationError({"delete": "give a queue id or --all-deferred, not both"})
            if not confirm("Delete every deferred message?", args.yes):
                print("nothing changed")
                return EXIT_FAIL
            print_output(ops.queue_action("delete-deferred") or "there were no deferred messages")
        else:
            if not args.id:
                raise ValidationError({"delete": "give a queue id or --all-deferred"})
            check_queue_id(args.id)  # refuse before asking
            if not confirm(f"Delete message {args.id} from the queue?", args.yes):
                print("nothing changed")
                return EXIT_FAIL
            print_output(ops.queue_action("delete", args.id))
    return EXIT_OK


# ---------------------------------------------------------------- services

def cmd_service(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "status":
        rows = ops.service_statuses(args.name)
        problems = ops.config_problems() if not args.name else []
        debug = ops.dovecot_debug_enabled()
        if args.json:
            print(json.dumps({"services": [r.to_json() for r in rows], "config_problems": problems,
                              "dovecot_debug": debug}, indent=1))
        else:
            print_table(["SERVICE", "STATE", "PID", "UPTIME", "PORTS"],
                   [[r.label, "running" if r.running else "stopped", str(r.pid or "-"),
                     human_age(r.uptime_seconds), ",".join(map(str, r.ports)) or "-"] for r in rows])
            for p in problems:
                print(f"problem: {p}")
            if debug:
                print("\nReminder: Dovecot debug logging is ON (`mailtui debug off` to stop it)")
        return EXIT_FAIL if any(not r.running for r in rows) else EXIT_OK
    print_output(ops.control_service(args.name, args.action, getattr(args, "max_wait", None)))
    print(f"{args.name}: {args.action} done")
    return EXIT_OK


# ---------------------------------------------------------------- debug

def cmd_debug(args: argparse.Namespace, ops: Operations) -> int:
    if args.action == "status":
        print("Dovecot debug logging is " + ("ON" if ops.dovecot_debug_enabled() else "off"))
        return EXIT_OK
    on = args.action == "on"
    print_output(ops.set_dovecot_debug(on))
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
        q = ss.add_parser(verb)
        q.add_argument("name", choices=("postfix", "dovecot", "mariadb", "fail2ban"))
        if verb in ("restart", "stop"):
            q.add_argument("--max-wait", type=float, metavar="SECONDS",
                           help="Dovecot: how long to wait for Postfix's deliveries in flight before going on "
                                "(default 30; a delivery cut off may then arrive twice)")
    p.set_defaults(func=cmd_service)

    p = sub.add_parser("debug", help="Dovecot's debug logging (never logs passwords)")
    ds = p.add_subparsers(dest="action", required=True)
    ds.add_parser("on", help="log Dovecot's auth and mail debugging (never the settings that log passwords)")
    ds.add_parser("off", help="stop it")
    ds.add_parser("status", help="is it on?")
    p.set_defaults(func=cmd_debug)

