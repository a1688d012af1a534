"""When did a mailbox last log in? From Dovecot's login lines in the mail log.

Dovecot logs every successful IMAP/POP3 login, 2.3 as `imap-login: Login: user=<alice@example.org>, …`
and 2.4 as `imap-login: Logged in: user=<alice@example.org>, …` (logparse.parse_line turns both into
outcome "login" with the user as recipient). last_logins() reads the log backwards, newest line
first, so the first login line of a user is that user's last login; it stops as soon as every asked
address is found, or when `max_bytes` of log have been read — then the rotated file (`mail.log.1`)
is read with what is left of the budget. A mailbox whose login is not in what was read gets None:
it did not log in during the time that part of the log covers (or the log is elsewhere: the journal).

Cheap enough for a page of 10–50 addresses: a line is parsed only when it holds `user=<` and one of
the asked addresses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from mailtui import paths
from mailtui.stack import logfile, logparse

MAX_BYTES = 64 * 1024 * 1024
_MARKERS = ("Login: user=<", "Logged in: user=<")


def _user_of(line: str) -> str | None:
    """The user of a login line (lower-case), None for any other line. A quick look before parsing."""
    for marker in _MARKERS:
        start = line.find(marker)
        if start >= 0:
            start += len(marker)
            end = line.find(">", start)
            return line[start:end].lower() if end > start else None
    return None


def _scan(path: Path, pending: dict[str, list[str]], found: dict[str, datetime | None], budget: int,
          now: datetime) -> int:
    """Look for the pending users in one file, newest line first; returns the bytes read."""
    used = 0
    for line in logfile.iter_lines_backwards(path):
        used += len(line) + 1  # characters, not bytes: close enough for a budget
        user = _user_of(line)
        if user is not None and user in pending:
            event = logparse.parse_line(line, now=now)
            if event is not None and event.outcome == "login" and event.ts is not None:
                for asked in pending.pop(user):
                    found[asked] = event.ts
                if not pending:
                    break
        if used >= budget:
            break
    return used


def last_logins(emails: Iterable[str], path: str | os.PathLike[str] | None = None, *,
                max_bytes: int = MAX_BYTES, now: datetime | None = None) -> dict[str, datetime | None]:
    """{email: time of its last login, or None when none is in the scanned log} for every asked email
    (keys as given; matched case-insensitively). `path` defaults to the mail log (paths.MAIL_LOG);
    its rotated `path.1` is read too when the budget allows. `now` settles the year of classic
    syslog timestamps (default: the current time)."""
    log = Path(path) if path is not None else Path(paths.MAIL_LOG)
    found: dict[str, datetime | None] = {}
    pending: dict[str, list[str]] = {}
    for email in emails:
        found[email] = None
        pending.setdefault(email.strip().lower(), []).append(email)
    if not pending:
        return found
    moment = now or datetime.now()
    budget = max_bytes
    for candidate in (log, log.with_name(log.name + ".1")):
        if not pending or budget <= 0:
            break
        try:
            budget -= _scan(candidate, pending, found, budget, moment)
        except OSError:  # unreadable (permissions): what was found so far stands
            continue
    return found
