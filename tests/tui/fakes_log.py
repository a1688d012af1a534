"""A scripted mail log for the Mail log tab's tests: real-looking syslog lines parsed by the engine's own
parser (mailtui.logparse.parse_line), followed like `Engine.follow_log` follows the log, and fed with
new lines by the test while the app runs. Nothing here reads the machine's log."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mailtui.api.types import LogQuery, LogSource
from mailtui.stack import logparse
from mailtui.stack.logparse import LogEvent
from tests.tui.fakes import DashboardEngine

NOW = datetime(2026, 11, 25, 15, 45, 0)  # the year of the classic timestamps, and the summary's "now"
QID = "B29BA1ACA25"
SESSION = "nB+CL4EAB2seEQAAUi6ngw"
DEFERRED_QID = "1F54D1A83DA"

# One message received, delivered over LMTP to Dovecot (linked by the session id in Postfix's reply), and
# around it the other outcomes an operator meets: another message's Dovecot delivery (bob's), a deferral,
# a bounce, a rejection at RCPT, a SASL failure, an IMAP login and a warning.
LINES = [
    "Nov 25 15:36:29 mail dovecot: imap-login: Info: Logged in: user=<alice@example.test>, method=PLAIN,"
    " rip=127.0.0.1, lip=127.0.0.1, mpid=4334, TLS, session=<9pE5lxthxol/AAAB>",
    "Nov 25 15:36:33 mail postfix/smtpd[4364]: connect from unknown[127.0.0.1]",
    f"Nov 25 15:36:33 mail postfix/smtpd[4364]: {QID}: client=unknown[127.0.0.1]",
    f"Nov 25 15:36:33 mail postfix/cleanup[4372]: {QID}: message-id=<1107.0005.03de@mail.example.test>",
    f"Nov 25 15:36:33 mail postfix/qmgr[4355]: {QID}: from=<bench@sender.test>, size=2378, nrcpt=1 (queue active)",
    "Nov 25 15:36:33 mail dovecot: lmtp(4382): Info: Connect from local",
    "Nov 25 15:36:33 mail dovecot: lmtp(bob@example.test)<4391><+aoMMoEAB2seEQAAUi6ngw>: Info: msgid=<other@x>:"
    " saved mail to INBOX",
    f"Nov 25 15:36:33 mail dovecot: lmtp(alice@example.test)<4382><{SESSION}>: Info:"
    " msgid=<1107.0005.03de@mail.example.test>: saved mail to INBOX",
    f"Nov 25 15:36:33 mail postfix/lmtp[4377]: {QID}: to=<alice@example.test>, relay=mail.example.test"
    "[private/dovecot-lmtp], delay=0.09, delays=0.02/0.04/0.02/0.01, dsn=2.0.0, status=sent (250 2.0.0"
    f" <alice@example.test> {SESSION} Saved)",
    "Nov 25 15:36:33 mail dovecot: lmtp(4382): Info: Disconnect from local: Logged out (state=READY)",
    f"Nov 25 15:36:33 mail postfix/qmgr[4355]: {QID}: removed",
    "Nov 25 15:36:34 mail postfix/smtpd[4364]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1"
    " quit=1 commands=5",
    f"Nov 25 15:37:01 mail postfix/lmtp[11311]: {DEFERRED_QID}: to=<carol@example.test>, relay=none, delay=31,"
    " delays=30/0.01/0/0, dsn=4.4.1, status=deferred (connect to mail.example.test[private/dovecot-lmtp]:"
    " No such file or directory)",
    "Nov 25 15:37:02 mail postfix/smtpd[5021]: NOQUEUE: reject: RCPT from unknown[198.18.0.2]: 554 5.7.1"
    " <x@outside.test>: Relay access denied; from=<spam@outside.test> to=<x@outside.test> proto=ESMTP"
    " helo=<relay.test>",
    "Nov 25 15:40:12 mail postfix/smtp[7012]: 9A1B2C3D4E: to=<nobody@elsewhere.test>, relay=mx.elsewhere.test"
    "[198.18.0.9]:25, delay=0.4, delays=0.1/0/0.2/0.1, dsn=5.1.1, status=bounced (host mx.elsewhere.test"
    "[198.18.0.9] said: 550 5.1.1 <nobody@elsewhere.test>: Recipient address rejected: User unknown)",
    "Nov 25 15:42:10 mail postfix/submission/smtpd[7301]: warning: unknown[198.18.0.2]: SASL PLAIN"
    " authentication failed: UGFzc3dvcmQ6",
    "Nov 25 15:43:00 mail postfix/smtpd[5021]: warning: connect to mysql server 127.0.0.1:3306: Too many"
    " connections",
    f"Nov 25 15:44:30 mail postfix/lmtp[11311]: {DEFERRED_QID}: to=<carol@example.test>, relay=none, delay=240,"
    " delays=239/0.01/0/0, dsn=4.4.1, status=deferred (connect to mail.example.test[private/dovecot-lmtp]:"
    " No such file or directory)",
]


def ev(line: str) -> LogEvent:
    """A log line as the engine parses it (the year taken from NOW)."""
    event = logparse.parse_line(line, now=NOW)
    assert event is not None, line
    return event


def sample_events() -> list[LogEvent]:
    return [ev(line) for line in LINES]


def delivered_line(n: int, second: int = 50) -> str:
    """The n-th of many deliveries in the minute before NOW, each with its own queue id."""
    qid = f"{0xA00000000 + n:X}"
    return (f"Nov 25 15:44:{second:02d} mail postfix/lmtp[{9000 + n % 500}]: {qid}: to=<user{n}@example.test>,"
            " relay=mail.example.test[private/dovecot-lmtp], delay=0.01, delays=0/0/0/0.01, dsn=2.0.0,"
            f" status=sent (250 2.0.0 <user{n}@example.test> Sess{n:06d} Saved)")


class LogEngine(DashboardEngine):
    SCRIPT_HELPERS = ("feed",)

    """An installed machine whose mail log is scripted: `follow_log` yields `events` (the last
    `from_end_lines` of them), then whatever the test feeds, until stop() is true."""

    def __init__(self, events: Sequence[LogEvent] | None = None, *, source: str = "/var/log/mail.log",
                 now: datetime = NOW, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events = list(sample_events() if events is None else events)
        self.source = source
        self.now = now.astimezone()
        self.fed: queue.Queue[list[LogEvent]] = queue.Queue()
        self.following = threading.Event()  # set once follow_log runs
        self.stopped = threading.Event()  # set when follow_log returned (stop() came true)
        self.follow_calls: list[int] = []

    def feed(self, lines: Iterable[str | LogEvent]) -> None:
        """New log lines, as if appended to the log now (thread-safe; from the test)."""
        self.fed.put([ev(x) if isinstance(x, str) else x for x in lines])

    def mail_log_source(self) -> LogSource:
        return LogSource(None if self.source == "journal" else Path(self.source))

    def follow_log(self, query: LogQuery, stop: Callable[[], bool]) -> Iterator[LogEvent]:
        from_end_lines = query.lines
        self.follow_calls.append(from_end_lines)
        self.following.set()
        try:
            yield from self.events[-from_end_lines:] if from_end_lines > 0 else []
            while not stop():
                try:
                    batch = self.fed.get(timeout=0.05)
                except queue.Empty:
                    continue
                yield from batch
        finally:
            self.stopped.set()

    def log_summary(self, events: Sequence[LogEvent], minutes: int = 30) -> dict[str, list[int]]:
        return logparse.summary_per_minute(events, minutes=minutes, now=self.now)

    def journey(self, events: Sequence[LogEvent], queue_id: str) -> list[LogEvent]:
        return logparse.journey(events, queue_id)  # the real matching: pure
