"""The spam filter as rspamd itself reports it, and teaching it by hand: `mailtui spam stats|learn`.

Everything comes from rspamd's controller on loopback (policy/spam.RSPAMD_CONTROLLER; it trusts 127.0.0.1
without a password): /stat (what it scanned since its statistics began, by action; what it learned),
/history (its last scans: the refused and deferred ones with their scores and rules) and /learnspam,
/learnham (the same requests the IMAPSieve pipe makes when a user moves mail into Junk or out of it).
The counts per hour and the users held back by the hourly limit come from rspamd's own log
(stack/rspamd_log.py), which covers more than the history's last rows.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mailtui.errors import MailtuiError, ValidationError
from mailtui.policy import spam
from mailtui.stack import logfile, rspamd_log

TIMEOUT = 30.0
MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # rspamd's default max_message for a scan
# rspamd's action names, in the order a message climbs through them
ACTIONS = ("no action", "greylist", "add header", "rewrite subject", "soft reject", "reject")
HELD = ("reject", "soft reject", "greylist")  # the actions a sender sees (5xx, 4xx, 4xx)
LEARN_KINDS = ("spam", "ham")
RECENT = 10
HOURS = 24  # the window of the counts per hour
MAX_LOG_LINES = 2_000_000  # read no further back than this in rspamd's log (and its last rotated file)


@dataclass(frozen=True)
class Scan:
    """One message rspamd refused or held back (its history)."""

    time: float  # Unix time
    action: str
    score: float
    required: float
    sender: str
    recipients: tuple[str, ...]
    subject: str
    ip: str
    user: str  # the login, for mail a user submitted
    rules: tuple[str, ...]  # the rules that scored most, "NAME(score)"
    kind: str = ""  # rspamd_log.kind_of: refused, greylisted, junked, limited ("" let through)


@dataclass(frozen=True)
class Limited:
    """A user whose mail the hourly limit held back (4xx) in the window."""

    user: str
    times: int
    last: float  # Unix time


@dataclass(frozen=True)
class SpamStats:
    scanned: int
    actions: dict[str, int]  # rspamd's action name -> messages
    learned: int  # learn requests carried out
    learned_spam: int  # what the Bayes classifier holds, per class (rspamd updates these every so often)
    learned_ham: int
    held: list[Scan] = field(default_factory=list)  # the last refused or deferred, newest first
    # From rspamd's log: per hour for the last HOURS hours, oldest first, the last ending at hour_end
    # (rspamd_log.SERIES: scanned, refused, greylisted, junked, limited)
    hourly: dict[str, list[int]] = field(default_factory=dict)
    hour_end: float = 0.0  # Unix time of the start of the newest hour
    limited: list[Limited] = field(default_factory=list)  # users held back by the hourly limit, most first
    refused_outbound: int = 0  # mail a logged-in user submitted that was refused as spam, in the window

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _controller(path: str, data: bytes | None = None) -> tuple[int, Any]:
    url = f"http://{spam.RSPAMD_CONTROLLER}{path}"
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:  # noqa: S310 (loopback, fixed URL)
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        raise MailtuiError(f"rspamd's controller does not answer on {spam.RSPAMD_CONTROLLER} ({exc}); is rspamd "
                           "running? (`mailtui service status rspamd`)") from None
    try:
        return status, json.loads(body.decode(errors="replace") or "null")
    except json.JSONDecodeError:
        raise MailtuiError(f"rspamd's controller answered {path} with something that is not JSON") from None


def _int(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _addresses(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return (str(value),) if value else ()


def scan_from_row(row: dict[str, Any]) -> Scan:
    """A row of rspamd's /history (version 2, rspamd 3.x)."""
    symbols = row.get("symbols") if isinstance(row.get("symbols"), dict) else {}
    scored = sorted(((name, _float(s.get("score") if isinstance(s, dict) else 0)) for name, s in symbols.items()),
                    key=lambda item: -abs(item[1]))
    return Scan(
        time=_float(row.get("unix_time")),
        action=str(row.get("action", "")),
        score=round(_float(row.get("score")), 2),
        required=round(_float(row.get("required_score")), 2),
        sender=str(row.get("sender_smtp") or row.get("sender_mime") or ""),
        recipients=_addresses(row.get("rcpt_smtp") or row.get("rcpt_mime")),
        subject=str(row.get("subject") or ""),
        ip=str(row.get("ip") or ""),
        user=str(row.get("user") or ""),
        rules=tuple(f"{name}({score:g})" for name, score in scored[:5] if score),
        kind=rspamd_log.kind_of(str(row.get("action", "")), symbols),
    )


def stats_from(stat: dict[str, Any], history: dict[str, Any] | list[Any] | None) -> SpamStats:
    """SpamStats from the controller's /stat and /history replies."""
    actions_in = stat.get("actions") if isinstance(stat.get("actions"), dict) else {}
    actions = {name: _int(actions_in.get(name)) for name in ACTIONS}
    per_class = {"spam": 0, "ham": 0}
    for statfile in stat.get("statfiles") or []:
        if isinstance(statfile, dict):
            symbol = str(statfile.get("symbol", "")).upper()
            kind = "spam" if "SPAM" in symbol else "ham" if "HAM" in symbol else None
            if kind:
                per_class[kind] += _int(statfile.get("revision"))
    rows = history.get("rows") if isinstance(history, dict) else history if isinstance(history, list) else []
    held = [scan_from_row(r) for r in rows or [] if isinstance(r, dict) and r.get("action") in HELD]
    held.sort(key=lambda s: -s.time)
    return SpamStats(scanned=_int(stat.get("scanned")), actions=actions, learned=_int(stat.get("learned")),
                     learned_spam=per_class["spam"], learned_ham=per_class["ham"], held=held[:RECENT])


def _line_end(fd: int, size: int) -> int:
    """The offset just after the last newline at or before `size` (0 when there is none)."""
    pos = size
    while pos > 0:
        chunk = os.pread(fd, min(65536, pos), max(0, pos - 65536))
        at = chunk.rfind(b"\n")
        if at >= 0:
            return max(0, pos - len(chunk)) + at + 1
        pos -= len(chunk)
    return 0


@dataclass
class _Kept:
    ident: tuple[int, int]  # (device, inode) of the log file read
    end: int  # the offset read up to (always just after a newline)
    scans: list[rspamd_log.ScanLine]  # oldest first


_kept: dict[str, _Kept] = {}  # rspamd's log -> what was read of it (the Spam tab asks every 10 s)


def recent_scans(paths: tuple[str, ...] | None = None, *, hours: int = HOURS,
                 now: datetime | None = None) -> list[rspamd_log.ScanLine]:
    """rspamd's scan lines of the last `hours` hours from its log, newest first (then the rotated file, if
    the log does not reach back that far; logrotate compresses only the older ones). What was read is kept:
    the next call reads only the lines rspamd appended since, unless the file was rotated or truncated."""
    if paths is None:
        paths = (spam.RSPAMD_LOG, spam.RSPAMD_LOG + ".1")
    end_hour = rspamd_log.hour_of(now or datetime.now().astimezone())
    start = end_hour.timestamp() - (hours - 1) * 3600
    log, rotated = paths[0], paths[1:]
    try:
        fd = os.open(log, os.O_RDONLY)
    except OSError:
        _kept.pop(log, None)
        return _backwards(rotated, start)
    try:
        st = os.fstat(fd)
        ident = (st.st_dev, st.st_ino)
        kept = _kept.get(log)
        if kept is not None and kept.ident == ident and kept.end <= st.st_size:
            end = _line_end(fd, st.st_size)
            data = os.pread(fd, end - kept.end, kept.end) if end > kept.end else b""
            new = [rspamd_log.parse_scan(line.decode("utf-8", "replace")) for line in data.split(b"\n")]
            kept.scans.extend(x for x in new if x is not None)
            kept.end = max(kept.end, end)
        else:
            end = _line_end(fd, st.st_size)
            older = _backwards((log, *rotated), start, log_end=end)
            kept = _Kept(ident, end, older[::-1])
            _kept[log] = kept
    finally:
        os.close(fd)
    first = next((i for i, x in enumerate(kept.scans) if x.ts.timestamp() >= start), len(kept.scans))
    del kept.scans[:first]
    return kept.scans[::-1]


def _backwards(paths: tuple[str, ...], start: float, log_end: int | None = None) -> list[rspamd_log.ScanLine]:
    """The scan lines since `start` from these files, read newest first (the first up to `log_end`)."""
    scans: list[rspamd_log.ScanLine] = []
    read = 0
    for n, path in enumerate(paths):
        for line in logfile.iter_lines_backwards(path, end=log_end if n == 0 else None):
            read += 1
            if read > MAX_LOG_LINES:
                return scans
            scan = rspamd_log.parse_scan(line)
            if scan is None:
                continue
            if scan.ts.timestamp() < start:
                return scans
            scans.append(scan)
    return scans


def window_from(scans: list[rspamd_log.ScanLine], *, hours: int = HOURS,
                now: datetime | None = None) -> dict[str, Any]:
    """The log's part of SpamStats: counts per hour, the users held back by the limit, outbound refusals."""
    now = now or datetime.now().astimezone()
    limited: dict[str, Limited] = {}
    for scan in scans:
        if scan.kind == "limited" and scan.user:
            known = limited.get(scan.user)
            last = max(scan.ts.timestamp(), known.last if known else 0.0)
            limited[scan.user] = Limited(scan.user, (known.times if known else 0) + 1, last)
    return {"hourly": rspamd_log.per_hour(scans, hours=hours, now=now),
            "hour_end": rspamd_log.hour_of(now).timestamp(),
            "limited": sorted(limited.values(), key=lambda x: (-x.times, -x.last)),
            "refused_outbound": sum(1 for s in scans if s.action == "reject" and s.user)}


def stats() -> SpamStats:
    status, stat = _controller("/stat")
    if status != 200 or not isinstance(stat, dict):
        raise MailtuiError(f"rspamd's controller refused /stat (HTTP {status})")
    _, history = _controller("/history")  # empty without Redis (history is kept there): the counts still stand
    counts = stats_from(stat, history if isinstance(history, (dict, list)) else None)
    now = datetime.now().astimezone()
    return replace(counts, **window_from(recent_scans(now=now), now=now))


def read_message(kind: str, path: Path) -> bytes:
    """The message in `path` to learn as `kind`, checked before rspamd is asked. ValidationError names `kind`
    or `FILE`."""
    if kind not in LEARN_KINDS:
        raise ValidationError({"kind": f"must be spam or ham, not {kind!r}"})
    try:
        info = path.stat()
    except OSError as exc:
        raise ValidationError({"FILE": f"cannot read {path}: {exc.strerror or exc}"}) from None
    if not path.is_file():
        raise ValidationError({"FILE": f"{path} is not a file (a message saved as .eml or a maildir file)"})
    if info.st_size == 0:
        raise ValidationError({"FILE": f"{path} is empty"})
    if info.st_size > MAX_MESSAGE_BYTES:
        raise ValidationError({"FILE": f"{path} is larger than rspamd scans ({MAX_MESSAGE_BYTES // 2**20} MB)"})
    data = path.read_bytes()
    first = data.lstrip(b"\r\n").split(b"\n", 1)[0]
    if not re.match(rb"^(From |[!-9;-~]+:)", first):
        raise ValidationError({"FILE": f"{path} does not look like a mail message (it does not begin with a header)"})
    return data


def learn(kind: str, path: Path) -> str:
    """Teach rspamd that the message in `path` (as received: headers and body) is spam or ham. ValidationError
    names `kind` or `FILE`."""
    data = read_message(kind, path)
    status, reply = _controller(f"/learn{kind}", data)
    if status == 200 and isinstance(reply, dict) and reply.get("success"):
        return f"rspamd learned {path} as {kind}"
    error = str(reply.get("error")) if isinstance(reply, dict) and reply.get("error") else f"HTTP {status}"
    if status == 208 or "already learned" in error:
        return f"rspamd had already learned {path} as {kind}: {error}"
    raise MailtuiError(f"rspamd did not learn {path} as {kind}: {error}")
