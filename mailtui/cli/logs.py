"""`mailtui logs [-f] [--grep TEXT] [--queue-id ID] [-n N] [--file PATH] [--journal] [--json]`.

Without -f: the last N lines of the mail log (with --grep / --queue-id: the last N matching lines,
searching the file backwards). With -f: those, then new lines as they come, through rotation and
truncation, until Ctrl-C. --queue-id shows one message's journey: its Postfix lines and Dovecot's LMTP
delivery lines. Where there is no mail log but systemd's journal, the journal is read instead
(ops/logs.py does the reading, for this command and the dashboard alike). Lines of mailtui's own probes
(`mailtui check`: connections from 127.0.0.2, EHLO mailtui-probe.invalid) are dimmed; --json has "probe".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable

from mailtui import paths
from mailtui.api.operations import Operations
from mailtui.api.types import LogEvent, LogQuery
from mailtui.cli.common import EXIT_OK
from mailtui.errors import ValidationError

_COLOURS = {"delivered": "32", "deferred": "33", "bounced": "31", "rejected": "31", "spam": "38;5;208",
            "auth-failure": "35",
            "error": "1;31", "login": "36"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    p = subparsers.add_parser("logs", help="show or follow the mail log (parsed; filter by text or queue id)")
    p.add_argument("-f", "--follow", action="store_true", help="keep following new lines (Ctrl-C ends)")
    p.add_argument("--grep", metavar="TEXT", help="only lines containing this text (case-insensitive)")
    p.add_argument("--queue-id", metavar="ID", help="one message's journey: its lines and Dovecot's delivery")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="how many lines first (default 50)")
    p.add_argument("--file", metavar="PATH", help=f"the log file (default {paths.MAIL_LOG})")
    p.add_argument("--journal", action="store_true", help="read systemd's journal instead of a file")
    p.add_argument("--json", action="store_true", help="one JSON object per line (parsed fields)")
    p.set_defaults(func=cmd_logs)
    return p


def printer(as_json: bool) -> Callable[[LogEvent], None]:
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not as_json

    def show(event: LogEvent) -> None:
        if as_json:
            print(json.dumps({
                "ts": event.ts.isoformat() if event.ts else None, "host": event.host, "service": event.service,
                "pid": event.pid, "queue_id": event.queue_id, "outcome": event.outcome,
                "recipient": event.recipient, "session_id": event.session_id, "message_id": event.message_id,
                "message": event.message, "raw": event.raw, "probe": event.probe,
            }), flush=True)
        elif colour and event.probe:  # mailtui's own probes (`mailtui check`): dimmed
            print(f"\033[2m{event.raw}\033[0m", flush=True)
        elif colour and event.outcome in _COLOURS:
            print(f"\033[{_COLOURS[event.outcome]}m{event.raw}\033[0m", flush=True)
        else:
            print(event.raw, flush=True)

    return show


def cmd_logs(args: argparse.Namespace, ops: Operations) -> int:
    query = LogQuery(lines=args.lines, grep=args.grep, queue_id=args.queue_id, file=args.file, journal=args.journal)
    if query.problems():
        raise ValidationError(query.problems())
    show = printer(args.json)
    try:
        if not args.follow:
            for event in ops.read_log(query):
                show(event)
            return EXIT_OK
        for event in ops.follow_log(query, lambda: False):
            show(event)
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK
