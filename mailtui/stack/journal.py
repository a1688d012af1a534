"""systemd's journal as the mail log, where there is no mail log file: `journalctl -o json` records of the
mail facility, parsed into the same events as the file's lines."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from mailtui.stack.logfile import READ_CHUNK
from mailtui.stack.logparse import LogEvent, parse_tagged


def journal_available() -> bool:
    """systemd's journal can stand in for the mail log on this machine."""
    return shutil.which("journalctl") is not None and (
        Path("/run/systemd/system").is_dir() or Path("/var/log/journal").is_dir())


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
    event = parse_tagged(raw, ts, host, f"{tag}: {message}")
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
