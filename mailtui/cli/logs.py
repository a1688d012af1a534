"""`mailtui logs [-f] [--grep TEXT] [--queue-id ID] [-n N] [--file PATH] [--journal] [--json]`.

Without -f: the last N lines of the mail log (with --grep / --queue-id: the last N matching lines,
searching the file backwards). With -f: those, then new lines as they come, through rotation and
truncation, until Ctrl-C. --queue-id shows one message's journey: its Postfix lines and Dovecot's LMTP
delivery lines. Where there is no mail log but systemd's journal, the journal is read instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from mailtui.errors import MailtuiError, ValidationError
from mailtui.stack import maillog
from mailtui.stack.maillog import LogEvent

JOURNEY_WINDOW = 20_000  # lines searched past the oldest line of a queue id before giving up (no -f)
DOVECOT_HELD = 5_000  # Dovecot LMTP lines held while following --queue-id (they come before Postfix's)

_COLOURS = {"delivered": "32", "deferred": "33", "bounced": "31", "rejected": "31", "auth-failure": "35",
            "error": "1;31", "login": "36"}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("logs", help="show or follow the mail log (parsed; filter by text or queue id)")
    p.add_argument("-f", "--follow", action="store_true", help="keep following new lines (Ctrl-C ends)")
    p.add_argument("--grep", metavar="TEXT", help="only lines containing this text (case-insensitive)")
    p.add_argument("--queue-id", metavar="ID", help="one message's journey: its lines and Dovecot's delivery")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="how many lines first (default 50)")
    p.add_argument("--file", metavar="PATH", help=f"the log file (default {maillog.mail_log_path()})")
    p.add_argument("--journal", action="store_true", help="read systemd's journal instead of a file")
    p.add_argument("--json", action="store_true", help="one JSON object per line (parsed fields)")
    p.set_defaults(func=cmd_logs)
    return p


class _Matcher:
    """--grep and --queue-id; with a queue id, Dovecot LMTP lines are linked through the session id
    Postfix's lmtp line names (Dovecot logs its delivery just before Postfix logs the reply)."""

    def __init__(self, grep: str | None, queue_id: str | None) -> None:
        self.grep = grep.lower() if grep else None
        self.queue_id = queue_id
        self.sessions: set[str] = set()
        self.held: OrderedDict[int, LogEvent] = OrderedDict()
        self._n = 0

    def feed(self, event: LogEvent) -> list[LogEvent]:
        if self.grep and self.grep not in event.raw.lower():
            return []
        if not self.queue_id:
            return [event]
        if event.queue_id == self.queue_id:
            out = []
            if event.session_id and event.session_id not in self.sessions:
                self.sessions.add(event.session_id)
                out = [e for e in self.held.values() if e.session_id == event.session_id]
            return [*out, event]
        if event.service.startswith("dovecot/") and event.session_id:
            if event.session_id in self.sessions:
                return [event]
            self._n += 1
            self.held[self._n] = event
            while len(self.held) > DOVECOT_HELD:
                self.held.popitem(last=False)
        return []


def _events(lines: Iterable[str]) -> Iterator[LogEvent]:
    for line in lines:
        event = maillog.parse_line(line)
        if event is None:  # not a syslog line: show it as it is
            event = LogEvent(None, "", "", None, None, "info", None, line, line)
        yield event


def _last_matching(path: Path, args: argparse.Namespace, end: int | None = None) -> list[LogEvent]:
    """The last N lines that match, searching backwards from `end` (all of a queue id's journey)."""
    if args.queue_id:
        events: list[LogEvent] = []
        since_match = None
        for line in maillog.iter_lines_backwards(path, end):
            if args.queue_id in line or " dovecot: lmtp(" in line or "dovecot/lmtp" in line:
                event = maillog.parse_line(line)
                if event is not None:
                    events.append(event)
                    if event.queue_id == args.queue_id:
                        since_match = 0
            if since_match is not None:
                since_match += 1
                if since_match > JOURNEY_WINDOW:
                    break
        events.reverse()
        matched = maillog.journey(events, args.queue_id)
        if args.grep:
            matched = [e for e in matched if args.grep.lower() in e.raw.lower()]
        return matched[-args.lines:] if args.lines > 0 else []
    if not args.grep:
        return list(_events(maillog.tail_lines(path, args.lines)))
    needle = args.grep.lower()
    found: list[LogEvent] = []
    for line in maillog.iter_lines_backwards(path, end):
        if len(found) >= args.lines:
            break
        if needle in line.lower():
            found.extend(_events([line]))
    found.reverse()
    return found


def _printer(as_json: bool) -> Callable[[LogEvent], None]:
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR") and not as_json

    def show(event: LogEvent) -> None:
        if as_json:
            print(json.dumps({
                "ts": event.ts.isoformat() if event.ts else None, "host": event.host, "service": event.service,
                "pid": event.pid, "queue_id": event.queue_id, "outcome": event.outcome,
                "recipient": event.recipient, "session_id": event.session_id, "message_id": event.message_id,
                "message": event.message, "raw": event.raw,
            }), flush=True)
        elif colour and event.outcome in _COLOURS:
            print(f"\033[{_COLOURS[event.outcome]}m{event.raw}\033[0m", flush=True)
        else:
            print(event.raw, flush=True)

    return show


def cmd_logs(args: argparse.Namespace) -> int:
    if args.lines < 0:
        raise ValidationError({"-n": "give a number of lines, 0 or more"})
    show = _printer(args.json)
    path = Path(args.file) if args.file else maillog.mail_log_path()
    use_journal = args.journal or (not args.file and not path.exists() and maillog.journal_available())
    try:
        if use_journal:
            return _from_journal(args, show)
        if not path.exists() and not args.follow:
            raise MailtuiError(f"there is no mail log at {path} (and no systemd journal to read instead)")
        if not args.follow:
            for event in _last_matching(path, args):
                show(event)
            return 0
        matcher = _Matcher(args.grep, args.queue_id)
        if args.grep or args.queue_id:  # first the last N matching lines, then every line after them
            end = path.stat().st_size if path.exists() else None
            first = _last_matching(path, args, end) if end is not None else []
            for event in first:
                show(event)
                if event.session_id and event.queue_id == args.queue_id:
                    matcher.sessions.add(event.session_id)
            lines = maillog.follow(path, from_end_lines=0, start=end)
        else:
            lines = maillog.follow(path, from_end_lines=args.lines)
        for event in _events(lines):
            for out in matcher.feed(event):
                show(out)
    except KeyboardInterrupt:
        return 0
    return 0


def _from_journal(args: argparse.Namespace, show: Callable[[LogEvent], None]) -> int:
    if not maillog.journal_available():
        raise MailtuiError("there is no systemd journal on this machine")
    matcher = _Matcher(args.grep, args.queue_id)
    filtered = bool(args.grep or args.queue_id)
    n = max(args.lines, 10_000) if filtered else args.lines
    if not args.follow:
        found = [out for event in maillog.journal_lines(n) for out in matcher.feed(event)]
        for event in found[-args.lines:] if args.lines > 0 else []:
            show(event)
        return 0
    for event in maillog.journal_lines(n, follow=True):
        for out in matcher.feed(event):
            show(out)
    return 0
