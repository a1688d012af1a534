"""rspamd's own record of every message it scanned: one `rspamd_task_write_log` line each in its log file.

rspamd writes the line at level notice (Debian's logging.inc: level "notice" or finer, log file
/var/log/rspamd/rspamd.log; the same with or without systemd), in its default log_format:

    2026-12-06 18:02:11 #2071(rspamd_proxy) <4c1e7a>; proxy; rspamd_task_write_log: id: <m@x.test>,
    qid: <4F1A2B3C4D>, ip: 198.18.0.5, user: alice@example.test, from: <a@x.test>, (default: T (reject):
    [1000.00/15.00] [GTUBE(0.00){...},...]), len: 512, time: 21.3ms, dns req: 2, digest: <…>, rcpts: <b@y.test>

(on one line). `parse_scan(line)` reads such a line; `per_hour(scans)` counts them per hour for the
dashboard's Spam view and `mailtui spam stats`. The counts are rspamd's own, not mailtui's bookkeeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# What an action means to the sender and the user, and the series the Spam view draws (in this order).
SERIES = ("scanned", "refused", "greylisted", "junked", "limited")
ACTION_SERIES = {"reject": "refused", "greylist": "greylisted", "add header": "junked",
                 "rewrite subject": "junked", "soft reject": "limited"}
# rspamd's greylisting answers "soft reject" too (with its GREYLIST symbol); the hourly limit's soft reject has none.
GREYLIST_SYMBOL = "GREYLIST"


def kind_of(action: str, symbols: Iterable[str]) -> str:
    """The Spam view's name for what rspamd did ("" for a message let through as it was)."""
    if action == "soft reject" and GREYLIST_SYMBOL in symbols:
        return "greylisted"
    return ACTION_SERIES.get(action, "")

_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.\d+)? .*?\brspamd_task_write_log: (?P<rest>.*)$")
_QID = re.compile(r"\bqid: <([^>]*)>")
_IP = re.compile(r"\bip: ([0-9A-Fa-f.:]+),")
_USER = re.compile(r"\buser: ([^,\s]+),")
_FROM = re.compile(r"\bfrom: <([^>]*)>")
_RESULT = re.compile(r"\((?:default|[\w-]+): [TFS] \((?P<action>[a-z ]+)\): \[(?P<score>-?[\d.]+|nan|inf)/"
                     r"(?P<required>-?[\d.]+|nan|inf)\]")
_RCPTS = re.compile(r"\brcpts: <([^>]*)>")
_SYMBOL = re.compile(r"(?:\[|,)([A-Z][A-Z0-9_]*)\((?:-?[\d.]+|nan)\)")


@dataclass(frozen=True, slots=True)
class ScanLine:
    ts: datetime  # local time, timezone-aware
    action: str  # rspamd's action name: "no action", "greylist", "add header", "soft reject", "reject", …
    score: float
    required: float
    queue_id: str
    ip: str
    user: str  # the SMTP login of mail a user submitted ("" for mail from outside)
    sender: str
    recipients: tuple[str, ...]
    symbols: tuple[str, ...] = ()  # the names of the rules that matched

    @property
    def kind(self) -> str:
        return kind_of(self.action, self.symbols)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def parse_scan(line: str) -> ScanLine | None:
    """One scan result line of rspamd's log, or None for any other line."""
    m = _LINE.match(line)
    if not m:
        return None
    rest = m.group("rest")
    result = _RESULT.search(rest)
    if not result:
        return None
    try:
        ts = datetime.strptime(m.group("ts"), "%Y-%m-%d %H:%M:%S").astimezone()
    except ValueError:
        return None

    def field(pattern: re.Pattern[str]) -> str:
        found = pattern.search(rest[:result.start()])  # the fields before the result, never a symbol's text
        return found.group(1) if found else ""

    rcpts = _RCPTS.search(rest, result.end())
    listed = rest[result.end():rest.find("]), len:", result.end())]
    return ScanLine(ts=ts, action=result.group("action"), score=_number(result.group("score")),
                    required=_number(result.group("required")), queue_id=field(_QID), ip=field(_IP),
                    user=field(_USER), sender=field(_FROM),
                    recipients=tuple(r for r in (rcpts.group(1).split(",") if rcpts else []) if r),
                    symbols=tuple(_SYMBOL.findall(listed)))


def hour_of(ts: datetime) -> datetime:
    return ts.astimezone().replace(minute=0, second=0, microsecond=0)


def per_hour(scans: Iterable[ScanLine], *, hours: int = 24, now: datetime | None = None) -> dict[str, list[int]]:
    """Counts per hour for the `hours` hours ending with the hour of `now` (default: the current time),
    oldest first: every scan under "scanned", and each held-back or filed one under its SERIES name."""
    result = {name: [0] * hours for name in SERIES}
    end = hour_of(now or datetime.now().astimezone())
    for scan in scans:
        idx = hours - 1 - int((end - hour_of(scan.ts)) // timedelta(hours=1))
        if 0 <= idx < hours:
            result["scanned"][idx] += 1
            series = scan.kind
            if series:
                result[series][idx] += 1
    return result
