"""Mail log lines as events: time, host, service, queue id, outcome — and one message's journey.

- `parse_line(line)` -> LogEvent | None. Both timestamp formats: the classic `Nov 25 15:27:01` (Postfix
  postlogd, Dovecot with mailtui's log_timestamp, rsyslog's traditional format) and RFC 3339 (rsyslog's
  default on Debian).
- `journey(events, queue_id)`: one message's lines, with Dovecot's LMTP delivery lines linked through the
  session id Dovecot returns to Postfix (`250 2.0.0 <rcpt> SESSION Saved`); `JourneyMatcher` does the same
  for a stream of lines as they come, `queue_id_of_session` the other way round.
- `summary_per_minute(events)`: delivered / deferred / rejected / auth-failure counts per minute.
- Probe traffic: `probe` is set on a line of mailtui's own probes (`mailtui check`, the verify step, the round
  trip; policy/probe.py): the probe address as the client, the probe's EHLO name, the round trip's
  Message-ID. `ProbeMarker` carries the mark on to the lines of the same queue id or Dovecot session that
  name none of these (a probe message's qmgr and lmtp lines, its IMAP session's logout).

Where the lines come from: stack/logfile.py (the file) and stack/journal.py (systemd's journal).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mailtui.policy import probe

# "spam": refused or held back by the spam filter — postscreen (a block list, a client talking first) or rspamd
# through the milter (refused, greylisted, over a user's hourly limit).
OUTCOMES = ("delivered", "deferred", "bounced", "rejected", "spam", "auth-failure", "login", "error", "info")
SUMMARY_OUTCOMES = ("delivered", "deferred", "rejected", "spam", "auth-failure")
DOVECOT_HELD = 5_000  # Dovecot LMTP lines a JourneyMatcher holds back (they come before Postfix's)
PROBES_REMEMBERED = 1_000  # queue ids and Dovecot sessions of probes a ProbeMarker remembers

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
    probe: bool = False  # a line of mailtui's own probes (policy/probe.py), not of the server's users


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
# A probe's line: its client address (Postfix "name[127.0.0.2]", Dovecot "rip=127.0.0.2", auth's
# "sql(user,127.0.0.2,…)"), its EHLO name (helo=<…> of a rejection), the round trip's Message-ID.
_PROBE = re.compile(
    r"(?<![\w.])" + re.escape(probe.SOURCE_ADDRESS) + r"(?![\w.])"
    + "|helo=<" + re.escape(probe.EHLO_NAME) + ">"
    + "|@" + re.escape(probe.MESSAGE_ID_DOMAIN) + ">"
)
_SESSION_FIELD = re.compile(r"\bsession=<([^>]+)>")


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
    return parse_tagged(raw, ts, m["host"], m["rest"])


def is_probe_text(text: str) -> bool:
    """Does this log text name one of mailtui's probes (policy/probe.py)?"""
    return _PROBE.search(text) is not None


def parse_tagged(raw: str, ts: datetime | None, host: str, rest: str) -> LogEvent:
    event = _parse_tagged(raw, ts, host, rest)
    return replace(event, probe=True) if is_probe_text(event.message) else event


def _parse_tagged(raw: str, ts: datetime | None, host: str, rest: str) -> LogEvent:
    t = _TAG.match(rest)
    if t is None:
        return LogEvent(ts, host, "", None, None, "info", None, rest, raw)
    tag, msg = t["tag"], t["msg"]
    pid = int(t["pid"]) if t["pid"] else None
    if tag == "dovecot" or tag.startswith("dovecot/"):
        return _parse_dovecot(raw, ts, host, pid, msg)
    return _parse_postfix(raw, ts, host, tag, pid, msg)


# postscreen's lines for a client it refuses: the refusal itself, and why (a block list's rank, talking first)
_POSTSCREEN_REFUSAL = re.compile(r"(NOQUEUE: reject:|PREGREET |DNSBL rank |COMMAND PIPELINING|BARE NEWLINE|"
                                 r"NON-SMTP COMMAND|DENYLISTED|BLACKLISTED)")


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
    elif "milter-reject:" in msg or (service.endswith("/postscreen") and _POSTSCREEN_REFUSAL.match(msg)):
        outcome = "spam"
    elif "reject:" in msg:  # NOQUEUE: reject: RCPT …, QID: reject: header …
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
    """Counts of delivered / deferred / rejected / spam / auth-failure per minute for the last `minutes`
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


def plain_event(line: str) -> LogEvent:
    """A line that is not a syslog line, shown as it is (outcome "info")."""
    return LogEvent(None, "", "", None, None, "info", None, line, line)


def parse_or_plain(line: str) -> LogEvent:
    return parse_line(line) or plain_event(line)


def queue_id_of_session(events: Sequence[LogEvent], session_id: str | None) -> str | None:
    """The queue id of the message a Dovecot LMTP session delivered (Postfix's lmtp line names the session);
    the newest such line wins."""
    if not session_id:
        return None
    for event in reversed(events):
        if event.queue_id and event.session_id == session_id:
            return event.queue_id
    return None


class JourneyMatcher:
    """journey() for lines as they come: a text filter and/or one queue id. With a queue id, Dovecot's
    LMTP lines are held back until Postfix's lmtp line names their session (Dovecot logs its delivery just
    before Postfix logs the reply)."""

    def __init__(self, grep: str | None, queue_id: str | None) -> None:
        self.grep = grep.lower() if grep else None
        self.queue_id = queue_id
        self.sessions: set[str] = set()
        self.held: OrderedDict[int, LogEvent] = OrderedDict()
        self._n = 0

    def seen(self, event: LogEvent) -> None:
        """An event shown already (e.g. from the search before following): remember its session."""
        if event.session_id and event.queue_id == self.queue_id:
            self.sessions.add(event.session_id)

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


class ProbeMarker:
    """Marks probe lines in a stream, in log order: a line is a probe's when it names a probe itself
    (`LogEvent.probe` from the parser) or belongs to the queue id or Dovecot session of one that did — the
    round trip's message through qmgr and lmtp, its IMAP session to the logout."""

    def __init__(self) -> None:
        self.queue_ids: OrderedDict[str, None] = OrderedDict()
        self.sessions: OrderedDict[str, None] = OrderedDict()

    def mark(self, event: LogEvent) -> LogEvent:
        if event.probe:
            self._remember(self.queue_ids, event.queue_id)
            self._remember(self.sessions, event.session_id)
            field = _SESSION_FIELD.search(event.message) if "session=<" in event.message else None
            self._remember(self.sessions, field[1] if field else None)
            return event
        if (event.queue_id and event.queue_id in self.queue_ids) or \
                (event.session_id and event.session_id in self.sessions):
            return replace(event, probe=True)
        return event

    def mark_all(self, events: Iterable[LogEvent]) -> list[LogEvent]:
        return [self.mark(e) for e in events]

    @staticmethod
    def _remember(seen: OrderedDict[str, None], key: str | None) -> None:
        if key:
            seen[key] = None
            seen.move_to_end(key)
            while len(seen) > PROBES_REMEMBERED:
                seen.popitem(last=False)
