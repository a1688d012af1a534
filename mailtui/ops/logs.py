"""The mail log for the operator: where it is read from, the last lines that match, and following it.

One place for the command line (`mailtui logs`) and the dashboard's Mail log tab: the log source and its
journal fallback, the search backwards, and the journey of one message (its Postfix lines and Dovecot's
LMTP delivery).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError, ValidationError
from mailtui.stack import journal, logfile, logparse
from mailtui.stack.logparse import JourneyMatcher, LogEvent, ProbeMarker

JOURNEY_WINDOW = 20_000  # lines searched past the oldest line of a queue id before giving up
JOURNAL_FILTERED_LINES = 10_000  # journal records read when filtering (it cannot be searched backwards)


@dataclass(frozen=True)
class LogSource:
    """What the mail log is read from: a file, or systemd's journal where there is no mail log."""

    path: Path | None  # None: the journal

    @property
    def journal(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        return "journal" if self.path is None else str(self.path)


@dataclass(frozen=True)
class LogQuery:
    """Which lines: the last `lines` (matching `grep`, case-insensitive, and/or one message's journey)."""

    lines: int = 50
    grep: str | None = None
    queue_id: str | None = None
    file: str | None = None  # another log file than the mail log
    journal: bool = False  # systemd's journal even where there is a mail log

    def problems(self) -> dict[str, str]:
        return {"-n": "give a number of lines, 0 or more"} if self.lines < 0 else {}


def source(query: LogQuery | None = None) -> LogSource:
    """The file the query names, else the mail log, else the journal where there is no mail log."""
    query = query or LogQuery()
    if query.journal:
        return LogSource(None)
    path = Path(query.file) if query.file else Path(paths.MAIL_LOG)
    if not query.file and not path.exists() and journal.journal_available():
        return LogSource(None)
    return LogSource(path)


def _checked(query: LogQuery) -> LogSource:
    if query.problems():
        raise ValidationError(query.problems())
    src = source(query)
    if query.file and src.path is not None and not src.path.exists():  # a path typed wrong: invalid input
        raise ValidationError({"--file": f"{src.path} does not exist"})
    if src.journal and not journal.journal_available():
        raise MailtuiError("there is no systemd journal on this machine")
    return src


def _last_matching(path: Path, query: LogQuery, end: int | None = None) -> list[LogEvent]:
    """The last N lines that match, searching backwards from `end` (all of a queue id's journey)."""
    if query.queue_id:
        events: list[LogEvent] = []
        since_match = None
        for line in logfile.iter_lines_backwards(path, end):
            if query.queue_id in line or " dovecot: lmtp(" in line or "dovecot/lmtp" in line:
                event = logparse.parse_line(line)
                if event is not None:
                    events.append(event)
                    if event.queue_id == query.queue_id:
                        since_match = 0
            if since_match is not None:
                since_match += 1
                if since_match > JOURNEY_WINDOW:
                    break
        events.reverse()
        matched = logparse.journey(events, query.queue_id)
        if query.grep:
            matched = [e for e in matched if query.grep.lower() in e.raw.lower()]
        return matched[-query.lines:] if query.lines > 0 else []
    if not query.grep:
        return [logparse.parse_or_plain(line) for line in logfile.tail_lines(path, query.lines)]
    needle = query.grep.lower()
    found: list[LogEvent] = []
    for line in logfile.iter_lines_backwards(path, end):
        if len(found) >= query.lines:
            break
        if needle in line.lower():
            found.append(logparse.parse_or_plain(line))
    found.reverse()
    return found


def read(query: LogQuery) -> list[LogEvent]:
    """The last `query.lines` lines that match (searching a file backwards: instant on a large log), the
    probes' lines marked (LogEvent.probe)."""
    src = _checked(query)
    if src.path is None:
        matcher = JourneyMatcher(query.grep, query.queue_id)
        marker = ProbeMarker()
        n = max(query.lines, JOURNAL_FILTERED_LINES) if (query.grep or query.queue_id) else query.lines
        found = [out for event in journal.journal_lines(n) for out in matcher.feed(marker.mark(event))]
        return found[-query.lines:] if query.lines > 0 else []
    if not src.path.exists():
        raise MailtuiError(f"there is no mail log at {src.path} (and no systemd journal to read instead)")
    return ProbeMarker().mark_all(_last_matching(src.path, query))


def follow(query: LogQuery, stop: Callable[[], bool] | None = None) -> Iterator[LogEvent]:
    """The last `query.lines` matching lines, then every new matching line (through rotation and
    truncation) until stop() is true. Lines that are not syslog lines come as outcome "info" events; the
    probes' lines are marked (LogEvent.probe)."""
    src = _checked(query)
    matcher = JourneyMatcher(query.grep, query.queue_id)
    marker = ProbeMarker()
    if src.path is None:
        n = max(query.lines, JOURNAL_FILTERED_LINES) if (query.grep or query.queue_id) else query.lines
        for event in journal.journal_lines(n, follow=True, stop=stop):
            yield from matcher.feed(marker.mark(event))
        return
    path = src.path
    if query.grep or query.queue_id:  # first the last N matching lines, then every line after them
        end = path.stat().st_size if path.exists() else None
        for event in _last_matching(path, query, end) if end is not None else []:
            event = marker.mark(event)
            matcher.seen(event)
            yield event
        lines: Iterable[str] = logfile.follow(path, from_end_lines=0, start=end, stop=stop)
    else:
        lines = logfile.follow(path, from_end_lines=query.lines, stop=stop)
    for line in lines:
        yield from matcher.feed(marker.mark(logparse.parse_or_plain(line)))


def journey(events: Iterable[LogEvent], queue_id: str) -> list[LogEvent]:
    return logparse.journey(events, queue_id)


def summary(events: Iterable[LogEvent], minutes: int = 30, now: datetime | None = None) -> dict[str, list[int]]:
    """delivered / deferred / rejected / auth-failure counts per minute, oldest first, ending now."""
    return logparse.summary_per_minute(events, minutes=minutes, now=now or datetime.now().astimezone())
