"""The mail log: read it from the end, follow it as it grows, parse its lines into events.

The log is /var/log/mail.log (rsyslog, or Postfix's `maillog_file` + Dovecot's `log_path`, see
mailtui.system.logs); on a machine with systemd's journal and no mail log, `journal_lines` reads
`journalctl -o json` instead and yields the same events.

- `parse_line(line)` -> LogEvent | None: time, host, service, pid, queue id, outcome, recipient.
  Both timestamp formats: the classic `Nov 25 15:27:01` (Postfix postlogd, Dovecot with mailtui's
  log_timestamp, rsyslog's traditional format) and RFC 3339 (rsyslog's default on Debian).
- `tail_lines(path, n)` reads the last n lines backwards in blocks: instant on a 1 GB file.
- `follow(path, ...)` yields the last lines, then new lines as they are appended; survives rotation
  (rename + new file, logrotate's `create`) and truncation (`copytruncate`).
- `journey(events, queue_id)`: one message's lines, with Dovecot's LMTP delivery lines linked
  through the session id Dovecot returns to Postfix (`250 2.0.0 <rcpt> SESSION Saved`).
- `summary_per_minute(events)`: delivered / deferred / rejected / auth-failure counts per minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mailtui import paths

BLOCK = 64 * 1024  # backwards-read block
READ_CHUNK = 1024 * 1024  # forward read per call while following
MAX_TAIL_SCAN = 64 * 1024 * 1024  # give up looking for line starts beyond this (a file without newlines)
ROTATE_GRACE = 3.0  # seconds to keep reading a rotated file (writers reopen only after postrotate)

OUTCOMES = ("delivered", "deferred", "bounced", "rejected", "auth-failure", "login", "error", "info")
SUMMARY_OUTCOMES = ("delivered", "deferred", "rejected", "auth-failure")


@dataclass(frozen=True, slots=True)
class LogEvent:
    ts: datetime | None  # timezone-aware, in local time
    host: str
    service: str  # "postfix/smtpd", "postfix/submission/smtpd", "dovecot/imap-login", "dovecot/lmtp", …
    pid: int | None
    queue_id: str | None  # Postfix queue id (None for NOQUEUE and Dovecot lines)
    outcome: str  # one of OUTCOMES
    recipient: str | None  # to=<…>; for Dovecot: the user (LMTP delivery, login, auth failure)
    message: str  # the text after "service[pid]: "
    raw: str
    session_id: str | None = None  # Dovecot session (its LMTP lines; Postfix's lmtp reply names it)
    message_id: str | None = None  # cleanup's message-id=<…>, Dovecot's msgid=<…>


# ---------------------------------------------------------------- parsing

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_BSD = re.compile(r"(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)"
                  r"(?:\.(?P<frac>\d+))? (?P<host>\S+) (?P<rest>.*)")
_ISO = re.compile(r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) (?P<host>\S+) (?P<rest>.*)")
_TAG = re.compile(r"(?P<tag>[\w.@/-]+?)(?:\[(?P<pid>\d+)\])?: ?(?P<msg>.*)", re.S)
_DOVECOT = re.compile(r"(?P<proc>[a-z][\w-]*)(?:\((?P<arg>[^)]*)\))?(?:<(?P<pid>\d+)>)?(?:<(?P<sess>[^>]+)>)?: "
                      r"(?P<body>.*)", re.S)
_LEVEL = re.compile(r"(?:(Info|Debug|Warning|Error|Fatal|Panic): )?(?P<text>.*)", re.S)
_QID = re.compile(r"(?:(?:warning|error|fatal|panic): )?"
                  r"(?P<qid>[0-9A-F]{6,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{12,20}): ")
_TO = re.compile(r"\bto=<([^>]*)>")
_STATUS = re.compile(r"\bstatus=(sent|deferred|bounced|expired)\b")
_LMTP_SAVED = re.compile(r"\(250 2\.0\.0 <[^>]*> <?([\w+/:=.-]+)>? Saved\)")
_MSGID = re.compile(r"\b(?:message-id|msgid)=<?([^<>\s,]+)>?")
_SASL_FAIL = re.compile(r"SASL \S+ authentication failed")
_ERROR_WORD = re.compile(r"(?:^|: )(?:warning|error|fatal|panic):", re.I)
_USER = re.compile(r"\buser=<([^>]*)>")
_STATUS_OUTCOME = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced", "expired": "bounced"}


def _bsd_time(m: re.Match[str], now: datetime) -> datetime | None:
    month = _MONTHS.get(m["mon"])
    if month is None:
        return None
    frac = m["frac"]
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        ts = datetime(now.year, month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]), micro)
        if ts - now.replace(tzinfo=None) > timedelta(days=2):  # December's lines read in January
            ts = ts.replace(year=now.year - 1)
    except ValueError:  # Feb 29 of another year, or garbage
        return None
    return ts.astimezone()  # the classic format is local time


def _iso_time(text: str) -> datetime | None:
    try:
        ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts.astimezone()


def parse_line(line: str, *, now: datetime | None = None) -> LogEvent | None:
    """One mail log line as an event; None for a blank line or one without a syslog header.
    `now` settles the year of the classic format (which has none); default: the current time."""
    raw = line.rstrip("\r\n")
    if not raw.strip():
        return None
    m = _BSD.match(raw)
    if m is not None:
        ts = _bsd_time(m, now or datetime.now())
    else:
        m = _ISO.match(raw)
        if m is None:
            return None
        ts = _iso_time(m["iso"])
    return _parse_rest(raw, ts, m["host"], m["rest"])


def _parse_rest(raw: str, ts: datetime | None, host: str, rest: str) -> LogEvent:
    t = _TAG.match(rest)
    if t is None:
        return LogEvent(ts, host, "", None, None, "info", None, rest, raw)
    tag, msg = t["tag"], t["msg"]
    pid = int(t["pid"]) if t["pid"] else None
    if tag == "dovecot" or tag.startswith("dovecot/"):
        return _parse_dovecot(raw, ts, host, pid, msg)
    return _parse_postfix(raw, ts, host, tag, pid, msg)


def _parse_postfix(raw: str, ts: datetime | None, host: str, service: str, pid: int | None, msg: str) -> LogEvent:
    q = _QID.match(msg)
    queue_id = q["qid"] if q else None
    to = _TO.search(msg)
    recipient = to[1] if to else None
    session_id = message_id = None
    status = _STATUS.search(msg) if "status=" in msg else None
    if status is not None:
        outcome = _STATUS_OUTCOME[status[1]]
        if outcome == "delivered":
            saved = _LMTP_SAVED.search(msg)
            session_id = saved[1] if saved else None
    elif "reject:" in msg:  # NOQUEUE: reject: RCPT …, QID: reject: header …, milter-reject:
        outcome = "rejected"
    elif _SASL_FAIL.search(msg):
        outcome = "auth-failure"
    elif _ERROR_WORD.search(msg):
        outcome = "error"
    else:
        outcome = "info"
    if "message-id=" in msg:
        mid = _MSGID.search(msg)
        message_id = mid[1] if mid else None
    return LogEvent(ts, host, service, pid, queue_id, outcome, recipient, msg, raw, session_id, message_id)


def _parse_dovecot(raw: str, ts: datetime | None, host: str, pid: int | None, msg: str) -> LogEvent:
    d = _DOVECOT.match(msg)
    if d is None:
        return LogEvent(ts, host, "dovecot", pid, None, "error" if _ERROR_WORD.search(msg) else "info",
                        None, msg, raw)
    proc, arg, body = d["proc"], d["arg"], d["body"]
    service = f"dovecot/{proc}"
    user = None
    if arg is not None:
        if arg.isdigit():
            pid = int(arg)
        elif "," not in arg:  # imap(alice@x), lmtp(alice@x); not auth's sql(user,ip,<sess>)
            user = arg
    if d["pid"]:
        pid = int(d["pid"])
    session_id = d["sess"]
    lv = _LEVEL.match(body)
    level = lv[1] if lv else None
    text = lv["text"] if lv else body
    message_id = None
    if "msgid=" in text:
        mid = _MSGID.search(text)
        message_id = mid[1] if mid else None
    if "auth failed" in text or "Authentication failed" in text:
        outcome = "auth-failure"
        u = _USER.search(text)
        user = (u[1] or None) if u else user
    elif text.startswith(("Login: user=<", "Logged in: user=<")):
        outcome = "login"
        u = _USER.search(text)
        user = u[1] if u else user
    elif "saved mail to " in text or "stored mail into mailbox " in text:
        outcome = "delivered"
    elif level in ("Warning", "Error", "Fatal", "Panic") or _ERROR_WORD.search(text):
        outcome = "error"
    else:
        outcome = "info"
    return LogEvent(ts, host, service, pid, None, outcome, user, msg, raw, session_id, message_id)


# ---------------------------------------------------------------- one message's journey


def journey(lines: Iterable[LogEvent], queue_id: str) -> list[LogEvent]:
    """Every event with this queue id, plus the Dovecot lines of its LMTP delivery (in log order).
    Dovecot lines are linked by the session id in Postfix's `status=sent (250 2.0.0 <rcpt> SESSION
    Saved)`; only when no such reply was logged, by the message id (cleanup's message-id=<…>)."""
    events = [e for e in lines if e is not None]
    own = [e for e in events if e.queue_id == queue_id]
    sessions = {e.session_id for e in own if e.session_id}
    message_ids = {e.message_id for e in own if e.message_id} if not sessions else set()
    if not sessions and not message_ids:
        return own

    def linked(e: LogEvent) -> bool:
        if not e.service.startswith("dovecot/"):
            return False
        return bool((e.session_id and e.session_id in sessions) or (e.message_id and e.message_id in message_ids))

    return [e for e in events if e.queue_id == queue_id or linked(e)]


# ---------------------------------------------------------------- summary


def summary_per_minute(events: Iterable[LogEvent], *, minutes: int = 30,
                       now: datetime | None = None) -> dict[str, list[int]]:
    """Counts of delivered / deferred / rejected / auth-failure per minute for the last `minutes`
    minutes ending with the minute of `now` (default: the newest event's time), oldest first.
    Deliveries are counted from Postfix's lines only (Dovecot's LMTP line is the same delivery)."""
    evs = [e for e in events if e is not None and e.ts is not None and e.outcome in SUMMARY_OUTCOMES]
    result = {k: [0] * minutes for k in SUMMARY_OUTCOMES}
    if now is None:
        if not evs:
            return result
        now = max(e.ts for e in evs if e.ts is not None)
    end = now.astimezone().replace(second=0, microsecond=0)
    for e in evs:
        if e.outcome == "delivered" and not e.service.startswith("postfix/"):
            continue
        assert e.ts is not None
        idx = minutes - 1 - int((end - e.ts.replace(second=0, microsecond=0)).total_seconds() // 60)
        if 0 <= idx < minutes:
            result[e.outcome][idx] += 1
    return result


# ---------------------------------------------------------------- reading from the end


def _tail(fd: int, end: int, n: int) -> tuple[list[bytes], bytes]:
    """The last n complete lines before `end` (without their newline) and the partial line after
    the last newline. Reads backwards in blocks, so the cost does not depend on the file's size."""
    chunks: list[bytes] = []
    pos, newlines = end, 0
    while pos > 0 and newlines < n + 1 and end - pos < MAX_TAIL_SCAN:
        size = min(BLOCK, pos)
        pos -= size
        data = os.pread(fd, size, pos)
        chunks.append(data)
        newlines += data.count(b"\n")
    data = b"".join(reversed(chunks))
    head, sep, partial = data.rpartition(b"\n")
    if not sep:
        return [], partial
    lines = head.split(b"\n")
    if pos > 0:
        lines = lines[1:]  # the first piece may start mid-line
    return (lines[-n:] if n > 0 else []), partial


def _decode(line: bytes) -> str:
    return line.decode("utf-8", "replace").rstrip("\r")


def tail_lines(path: str | os.PathLike[str], n: int) -> list[str]:
    """The last n lines of the file (a last line without its newline counts), [] when it is missing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        end = os.fstat(fd).st_size
        lines, partial = _tail(fd, end, n)
    finally:
        os.close(fd)
    out = [_decode(x) for x in lines]
    if partial:
        out.append(_decode(partial))
    return out[-n:] if n > 0 else []


def iter_lines_backwards(path: str | os.PathLike[str], end: int | None = None) -> Iterator[str]:
    """Every line of the file, newest first, read in blocks from the end (for searches). With `end`
    (a byte offset), only the complete lines before it: what follow(path, start=end) does not read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        pos = os.fstat(fd).st_size
        if end is not None:
            pos = min(pos, end)
            pos -= len(_tail(fd, pos, 0)[1])  # a line still being written belongs to the follower
        carry = b""
        while pos > 0:
            size = min(BLOCK, pos)
            pos -= size
            data = os.pread(fd, size, pos) + carry
            pieces = data.split(b"\n")
            carry = pieces[0]
            for piece in reversed(pieces[1:]):
                if piece:
                    yield _decode(piece)
        if carry:
            yield _decode(carry)
    finally:
        os.close(fd)


# ---------------------------------------------------------------- following


class _Reader:
    """One open log file read forward from `pos`, holding a partial last line until its newline."""

    def __init__(self, fd: int, pos: int, partial: bytes = b"", last: bytes = b"") -> None:
        self.fd, self.pos, self.partial = fd, pos, partial
        self.last = last  # the byte at pos-1 as we read it: a different one means truncated + rewritten
        st = os.fstat(fd)
        self.ident = (st.st_dev, st.st_ino)

    def read(self) -> list[bytes]:
        size = os.fstat(self.fd).st_size
        if size < self.pos or (self.pos > 0 and size > self.pos and os.pread(self.fd, 1, self.pos - 1) != self.last):
            self.pos, self.partial, self.last = 0, b"", b""  # truncated (copytruncate)
        if size <= self.pos:
            return []
        data = os.pread(self.fd, min(READ_CHUNK, size - self.pos), self.pos)
        if not data:
            return []
        self.pos += len(data)
        self.last = data[-1:]
        data = self.partial + data
        head, sep, self.partial = data.rpartition(b"\n")
        return head.split(b"\n") if sep else []

    def close(self) -> list[bytes]:
        rest = [self.partial] if self.partial else []
        self.partial = b""
        os.close(self.fd)
        return rest


def _open(path: str | os.PathLike[str]) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except (FileNotFoundError, PermissionError):
        return None


def _ident(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def follow(path: str | os.PathLike[str], *, from_end_lines: int = 200, poll: float = 0.2,
           stop: Callable[[], bool] | None = None, start: int | None = None) -> Iterator[str]:
    """Yield the last `from_end_lines` lines of the file, then every line appended to it, until
    stop() is true (checked at least every `poll` seconds) or the caller closes the generator.
    With `start` (a byte offset the caller has searched up to, see iter_lines_backwards), no tail:
    every line from there on, so that nothing written between the search and the follow is lost.

    Rotation (the path names another file): the old file is read to its end and for ROTATE_GRACE
    seconds more (writers reopen it only after logrotate's postrotate), the new file from its start.
    Truncation (the file got shorter, or was rewritten under us): read again from offset 0.
    A missing file is waited for. A partial last line is held until its newline arrives."""
    should_stop = stop or (lambda: False)
    current: _Reader | None = None
    draining: list[tuple[_Reader, float]] = []
    fd = _open(path)
    if fd is not None:
        size = os.fstat(fd).st_size
        end = size if start is None else min(start, size)
        lines, partial = _tail(fd, end, from_end_lines if start is None else 0)
        last = os.pread(fd, 1, end - 1) if end > 0 else b""
        current = _Reader(fd, end, partial, last)
        for line in lines:
            yield _decode(line)
    next_check = 0.0
    try:
        while not should_stop():
            got = False
            if current is not None:
                batch = current.read()
                got = bool(batch)
                for line in batch:
                    yield _decode(line)
            now = time.monotonic()
            for reader, deadline in list(draining):
                batch = reader.read()
                got = got or bool(batch)
                if not batch and now > deadline:
                    batch = reader.close()
                    draining.remove((reader, deadline))
                for line in batch:
                    yield _decode(line)
            if got and now < next_check:
                continue  # more may be waiting: read on
            next_check = now + poll
            ident = _ident(path)
            if ident is not None and (current is None or ident != current.ident):
                new_fd = _open(path)
                if new_fd is not None:
                    if current is not None:  # rotated: finish the old file, keep an eye on it a little
                        while batch := current.read():
                            for line in batch:
                                yield _decode(line)
                        draining.append((current, time.monotonic() + ROTATE_GRACE))
                    current = _Reader(new_fd, 0)
                    continue
            if not got:
                time.sleep(poll)
    finally:
        for reader in [current, *(r for r, _ in draining)]:
            if reader is not None:
                with contextlib.suppress(OSError):
                    os.close(reader.fd)


# ---------------------------------------------------------------- the journal (fallback)


def journal_available() -> bool:
    """systemd's journal can stand in for the mail log on this machine."""
    return shutil.which("journalctl") is not None and (
        Path("/run/systemd/system").is_dir() or Path("/var/log/journal").is_dir())


def mail_log_path() -> Path:
    return Path(paths.MAIL_LOG)


def _journal_text(value: object) -> str:
    if isinstance(value, list):  # the journal's JSON for a non-UTF-8 field: a list of byte values
        return bytes(v for v in value if isinstance(v, int) and 0 <= v < 256).decode("utf-8", "replace")
    return "" if value is None else str(value)


def parse_journal_record(record: str | dict[str, object]) -> LogEvent | None:
    """One `journalctl -o json` record as an event: SYSLOG_IDENTIFIER is the service tag, _PID (or
    SYSLOG_PID) the pid, __REALTIME_TIMESTAMP (microseconds since the epoch) the time. `raw` is the
    line as syslog would have written it, so filters and display work as on the mail log."""
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except ValueError:
            return None
    if not isinstance(record, dict):
        return None
    message = _journal_text(record.get("MESSAGE")).rstrip("\n")
    ident = _journal_text(record.get("SYSLOG_IDENTIFIER")) or _journal_text(record.get("_COMM"))
    if not message or not ident:
        return None
    pid_text = _journal_text(record.get("SYSLOG_PID") or record.get("_PID"))
    host = _journal_text(record.get("_HOSTNAME")) or "localhost"
    ts = None
    with contextlib.suppress(ValueError, OverflowError, OSError):
        ts = datetime.fromtimestamp(int(_journal_text(record.get("__REALTIME_TIMESTAMP"))) / 1e6,
                                    tz=timezone.utc).astimezone()
    stamp = ts.strftime("%b %d %H:%M:%S") if ts else "Jan  1 00:00:00"
    tag = f"{ident}[{pid_text}]" if pid_text.isdigit() and ident != "dovecot" else ident
    raw = f"{stamp} {host} {tag}: {message}"
    event = _parse_rest(raw, ts, host, f"{tag}: {message}")
    if pid_text.isdigit() and event.pid is None:
        event = replace(event, pid=int(pid_text))
    return event


JOURNAL_MATCH = ("SYSLOG_FACILITY=2",)  # mail: Postfix's syslog_facility and Dovecot's default


def journal_command(n: int, follow: bool) -> list[str]:
    return ["journalctl", "-o", "json", "--no-pager", "-n", str(n), *(["-f"] if follow else []), *JOURNAL_MATCH]


def journal_lines(n: int = 200, *, follow: bool = False, stop: Callable[[], bool] | None = None,
                  poll: float = 0.2, records: Iterable[str] | None = None) -> Iterator[LogEvent]:
    """Mail events from systemd's journal (`journalctl -o json`, mail facility): the last n, then with
    follow=True the new ones until stop() is true. `records` parses given JSON lines instead (tests,
    or a saved `journalctl -o json` output)."""
    if records is not None:
        for rec in records:
            event = parse_journal_record(rec)
            if event is not None:
                yield event
        return
    should_stop = stop or (lambda: False)
    proc = subprocess.Popen(journal_command(n, follow), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        buf = b""
        while not should_stop():
            ready, _, _ = select.select([proc.stdout], [], [], poll)
            if not ready:
                continue
            data = os.read(proc.stdout.fileno(), READ_CHUNK)
            if not data:
                break
            buf += data
            *complete, buf = buf.split(b"\n")
            for rec in complete:
                event = parse_journal_record(rec.decode("utf-8", "replace"))
                if event is not None:
                    yield event
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
