"""The mail log: parsing real lines of every kind, reading from the end, following through rotation
(by hand and by the real logrotate) and truncation, one message's journey, the journal fallback."""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mailtui.api.live import LiveOperations
from mailtui.cli import logs as cli_logs
from mailtui.ops import logs
from mailtui.stack import journal, logfile, logparse
from mailtui.stack.logfile import follow, tail_lines
from mailtui.stack.logparse import LogEvent, journey, parse_line, summary_per_minute

NOW = datetime(2026, 11, 25, 16, 0, 0)

# Lines as Postfix 3.7/3.10 (postlogd's maillog_file) and Dovecot 2.3/2.4 (log_path with mailtui's
# log_timestamp) wrote them on the test hosts; rsyslog's RFC 3339 variants below.
QID = "B29BA1ACA25"
SESSION = "nB+CL4EAB2seEQAAUi6ngw"
MESSAGE_LOG = "".join(line + "\n" for line in [
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
])


def ev(line: str) -> LogEvent:
    event = parse_line(line, now=NOW)
    assert event is not None, line
    return event


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(("line", "service", "pid", "queue_id", "outcome", "recipient"), [
    # Postfix: delivered over LMTP, deferred, bounced, rejected at RCPT, SASL failure, warnings
    (f"Nov 25 15:36:33 mail postfix/lmtp[4377]: {QID}: to=<alice@example.test>, relay=mail.example.test"
     f"[private/dovecot-lmtp], delay=0.09, delays=0.02/0.04/0.02/0.01, dsn=2.0.0, status=sent (250 2.0.0 "
     f"<alice@example.test> {SESSION} Saved)", "postfix/lmtp", 4377, QID, "delivered", "alice@example.test"),
    ("Nov 25 15:27:01 mail postfix/lmtp[11311]: 1F54D1A83DA: to=<alice@example.test>, relay=none, delay=31,"
     " delays=30/0.01/0/0, dsn=4.4.1, status=deferred (connect to mail.example.test[private/dovecot-lmtp]:"
     " No such file or directory)", "postfix/lmtp", 11311, "1F54D1A83DA", "deferred", "alice@example.test"),
    ("Nov 25 15:37:03 mail postfix/lmtp[6001]: 4C0C51ACB37: to=<alice@example.test>, relay=mail.example.test"
     "[private/dovecot-lmtp], conn_use=68, delay=1.2, delays=0.08/1.1/0/0.01, dsn=4.3.0, status=deferred (host"
     " mail.example.test[private/dovecot-lmtp] said: 451 4.3.0 <alice@example.test> Too many concurrent"
     " deliveries for user (in reply to RCPT TO command))", "postfix/lmtp", 6001, "4C0C51ACB37", "deferred",
     "alice@example.test"),
    ("Nov 25 15:40:12 mail postfix/smtp[7012]: 9A1B2C3D4E: to=<nobody@elsewhere.test>, relay=mx.elsewhere.test"
     "[198.18.0.9]:25, delay=0.4, delays=0.1/0/0.2/0.1, dsn=5.1.1, status=bounced (host mx.elsewhere.test"
     "[198.18.0.9] said: 550 5.1.1 <nobody@elsewhere.test>: Recipient address rejected: User unknown (in reply"
     " to RCPT TO command))", "postfix/smtp", 7012, "9A1B2C3D4E", "bounced", "nobody@elsewhere.test"),
    ("Nov 25 15:37:02 mail postfix/smtpd[5021]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 451 4.3.0"
     " <alice@example.test>: Temporary lookup failure; from=<bench@sender.test> to=<alice@example.test>"
     " proto=SMTP helo=<mail.example.test>", "postfix/smtpd", 5021, None, "rejected", "alice@example.test"),
    ("Nov 25 15:41:00 mail postfix/smtpd[7100]: NOQUEUE: reject: RCPT from unknown[198.18.0.2]: 554 5.7.1"
     " <x@outside.test>: Relay access denied; from=<spam@outside.test> to=<x@outside.test> proto=ESMTP"
     " helo=<relay.test>", "postfix/smtpd", 7100, None, "rejected", "x@outside.test"),
    # The spam filter (lines of Postfix 3.7 seen in the spam e2e test): postscreen's refusals and their reason,
    # rspamd's through the milter (refused, greylisted); postscreen's other lines stay info.
    ("Dec 06 18:19:50 mail postfix/postscreen[2052]: NOQUEUE: reject: RCPT from [198.18.161.4]:50762: 550 5.7.1"
     " Service unavailable; client [198.18.161.4] blocked using zen.spamhaus.org; from=<ann@sender.test>,"
     " to=<alice@example.test>, proto=ESMTP, helo=<sender.test>", "postfix/postscreen", 2052, None, "spam",
     "alice@example.test"),
    ("Dec 06 18:19:50 mail postfix/postscreen[2052]: DNSBL rank 3 for [198.18.161.4]:50762", "postfix/postscreen",
     2052, None, "spam", None),
    ("Dec 06 18:26:58 mail postfix/postscreen[2052]: PREGREET 21 after 0 from [198.18.78.4]:57028: EHLO"
     " impatient.test\\r\\n", "postfix/postscreen", 2052, None, "spam", None),
    ("Dec 06 18:19:44 mail postfix/postscreen[2052]: CONNECT from [198.18.161.4]:50762 to [198.18.161.3]:25",
     "postfix/postscreen", 2052, None, "info", None),
    ("Dec 06 18:30:01 mail postfix/cleanup[3001]: 4A1B2C3D4E: milter-reject: END-OF-MESSAGE from"
     " unknown[198.18.161.4]: 5.7.1 Gtube pattern; from=<ann@sender.test> to=<alice@example.test> proto=ESMTP"
     " helo=<sender.test>", "postfix/cleanup", 3001, "4A1B2C3D4E", "spam", "alice@example.test"),
    ("Nov 25 15:42:10 mail postfix/submission/smtpd[7301]: warning: unknown[198.18.0.2]: SASL PLAIN"
     " authentication failed: UGFzc3dvcmQ6", "postfix/submission/smtpd", 7301, None, "auth-failure", None),
    ("Nov 25 15:37:02 mail postfix/smtpd[5021]: warning: connect to mysql server 127.0.0.1:3306: Too many"
     " connections", "postfix/smtpd", 5021, None, "error", None),
    ("Nov 25 15:37:02 mail postfix/cleanup[5030]: warning: 6E2F91ACB2A: virtual_alias_maps map lookup problem"
     " for alice@example.test -- message not accepted, try again later", "postfix/cleanup", 5030, "6E2F91ACB2A",
     "error", None),
    ("Nov 25 15:43:00 mail postfix/master[4253]: fatal: bind 0.0.0.0 port 25: Address already in use",
     "postfix/master", 4253, None, "error", None),
    ("Nov 25 15:36:33 mail postfix/qmgr[4355]: B29BA1ACA25: removed", "postfix/qmgr", 4355, QID, "info", None),
    ("Nov 25 15:36:29 mail postfix/submissions/smtpd[4331]: NOQUEUE: lost connection after CONNECT from"
     " unknown[127.0.0.1]", "postfix/submissions/smtpd", 4331, None, "info", None),
    ("Nov 25 15:44:00 mail postfix/smtpd[7400]: 4SbqXJ0Q0Mz9sWQ: client=unknown[127.0.0.1]",  # long queue ids
     "postfix/smtpd", 7400, "4SbqXJ0Q0Mz9sWQ", "info", None),
    # Dovecot 2.4 and 2.3, written by Dovecot itself (log_path): level words
    ("Nov 25 15:36:29 mail dovecot: imap-login: Info: Logged in: user=<alice@example.test>, method=PLAIN,"
     " rip=127.0.0.1, lip=127.0.0.1, mpid=4334, TLS, session=<9pE5lxthxol/AAAB>", "dovecot/imap-login", None,
     None, "login", "alice@example.test"),
    ("Nov 25 14:37:32 mail dovecot: imap-login: Info: Login: user=<alice@example.test>, method=PLAIN,"
     " rip=198.18.0.2, lip=198.18.0.1, mpid=2201, TLS, session=<AbCdEf12>", "dovecot/imap-login", None, None,
     "login", "alice@example.test"),
    ("Nov 25 14:38:02 mail dovecot: imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts"
     " in 2 secs): user=<alice@example.test>, method=PLAIN, rip=198.18.0.2, lip=198.18.0.1, TLS,"
     " session=<Xy12>", "dovecot/imap-login", None, None, "auth-failure", "alice@example.test"),
    ("Nov 25 15:46:02 mail dovecot: imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in 2"
     " secs) (auth_failed): user=<alice@example.test>, method=PLAIN, rip=198.18.0.2, lip=198.18.0.1, TLS,"
     " session=<Qw34>", "dovecot/imap-login", None, None, "auth-failure", "alice@example.test"),
    ("Nov 25 15:46:03 mail dovecot: auth: Info: Authentication failed for user alice@example.test",
     "dovecot/auth", None, None, "auth-failure", None),
    (f"Nov 25 15:36:33 mail dovecot: lmtp(alice@example.test)<4382><{SESSION}>: Info:"
     " msgid=<1107.0005.03de@mail.example.test>: saved mail to INBOX", "dovecot/lmtp", 4382, None, "delivered",
     "alice@example.test"),
    ("Nov 25 15:36:33 mail dovecot: lmtp(alice@example.test)<4382><+aoMMoEAB2seEQAAUi6ngw:T2>: Info:"
     " msgid=<1107.0005.03d6@mail.example.test>: saved mail to INBOX", "dovecot/lmtp", 4382, None, "delivered",
     "alice@example.test"),
    ("Nov 25 15:36:33 mail dovecot: lmtp(4382): Info: Connect from local", "dovecot/lmtp", 4382, None, "info",
     None),
    ("Nov 25 15:47:00 mail dovecot: auth-worker(5120): Error: mysql(127.0.0.1): Connect failed to database"
     " (mailserver): Can't connect to MySQL server on '127.0.0.1' (111)", "dovecot/auth-worker", 5120, None,
     "error", None),
    ("Nov 25 15:47:01 mail dovecot: master: Fatal: service(imap-login): listen(*, 993) failed: Address already"
     " in use", "dovecot/master", None, None, "error", None),
    ("Nov 25 15:36:29 mail dovecot: imap(alice@example.test)<4334><9pE5lxthxol/AAAB>: Info: Disconnected:"
     " Logged out in=33 out=795", "dovecot/imap", 4334, None, "info", "alice@example.test"),
    # rsyslog, RFC 3339 (Debian's default template): Dovecot through syslog has no level word for Info
    ("2026-11-25T15:27:01.123456+00:00 mail postfix/smtpd[2001]: NOQUEUE: reject: RCPT from unknown"
     "[198.18.0.2]: 550 5.1.1 <ghost@example.test>: Recipient address rejected: User unknown in virtual mailbox"
     " table; from=<a@outside.test> to=<ghost@example.test> proto=ESMTP helo=<outside.test>", "postfix/smtpd",
     2001, None, "rejected", "ghost@example.test"),
    ("2026-11-25T15:27:02.000001+01:00 mail postfix/lmtp[2010]: 3E4F5A6B7C: to=<alice@example.test>,"
     " relay=mail.example.test[private/dovecot-lmtp], delay=0.05, dsn=2.0.0, status=sent (250 2.0.0"
     " <alice@example.test> kE5gAbCdEfGhIjKlMnOpQw Saved)", "postfix/lmtp", 2010, "3E4F5A6B7C", "delivered",
     "alice@example.test"),
    ("2026-11-25T15:27:03+00:00 mail dovecot: imap-login: Login: user=<bob@example.test>, method=PLAIN,"
     " rip=198.18.0.2, lip=198.18.0.1, mpid=3001, TLS, session=<Zz9>", "dovecot/imap-login", None, None, "login",
     "bob@example.test"),
    ("2026-11-25T15:27:04Z mail dovecot: lmtp(bob@example.test)<3100><cD5gAbCdEfGhIjKlMnOpQw>:"
     " msgid=<m1@outside.test>: saved mail to INBOX", "dovecot/lmtp", 3100, None, "delivered", "bob@example.test"),
])
def test_parse_line(line: str, service: str, pid: int | None, queue_id: str | None, outcome: str,
                    recipient: str | None) -> None:
    e = ev(line)
    assert (e.service, e.pid, e.queue_id, e.outcome, e.recipient) == (service, pid, queue_id, outcome, recipient)
    assert e.host == "mail" and e.raw == line and e.ts is not None and e.ts.tzinfo is not None
    assert line.endswith(e.message)


def test_timestamps_both_formats_and_the_missing_year() -> None:
    bsd = ev("Nov 25 15:27:01 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    assert bsd.ts == datetime(2026, 11, 25, 15, 27, 1).astimezone()
    single_digit_day = ev("Dec  5 01:02:03 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    assert single_digit_day.ts is not None and single_digit_day.ts.year == 2025  # December read in November
    iso = ev("2026-11-25T15:27:01.123456+00:00 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    assert iso.ts == datetime(2026, 11, 25, 15, 27, 1, 123456, tzinfo=timezone.utc)
    offset = ev("2026-11-25T16:27:01+01:00 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    assert offset.ts == datetime(2026, 11, 25, 15, 27, 1, tzinfo=timezone.utc)
    january = parse_line("Dec 31 23:59:59 mail postfix/qmgr[1]: x", now=datetime(2027, 1, 1, 0, 0, 5))
    assert january is not None and january.ts is not None and january.ts.year == 2026


def test_session_and_message_ids_are_extracted() -> None:
    events = [ev(line) for line in MESSAGE_LOG.splitlines()]
    lmtp = next(e for e in events if e.service == "postfix/lmtp")
    assert lmtp.session_id == SESSION
    dove = next(e for e in events if e.service == "dovecot/lmtp" and e.recipient == "alice@example.test")
    assert dove.session_id == SESSION and dove.message_id == "1107.0005.03de@mail.example.test"
    cleanup = next(e for e in events if e.service == "postfix/cleanup")
    assert cleanup.message_id == "1107.0005.03de@mail.example.test"


@pytest.mark.parametrize("line", ["", "   ", "garbage without a header", "-- MARK --"])
def test_unparseable_lines_are_none(line: str) -> None:
    assert parse_line(line) is None


def test_journey_links_dovecot_lmtp_lines_by_session() -> None:
    events = [ev(line) for line in MESSAGE_LOG.splitlines()]
    lines = [e.raw for e in journey(events, QID)]
    assert [e.service for e in journey(events, QID)] == [
        "postfix/smtpd", "postfix/cleanup", "postfix/qmgr", "dovecot/lmtp", "postfix/lmtp", "postfix/qmgr"]
    assert SESSION in lines[3] and "bob@" not in "".join(lines)
    assert journey(events, "NOPE123456") == []


def test_journey_falls_back_to_the_message_id_without_an_lmtp_reply() -> None:
    log = [
        "Nov 25 15:00:00 mail postfix/cleanup[1]: 1A2B3C4D5E: message-id=<m-42@example.test>",
        "Nov 25 15:00:01 mail dovecot: lmtp(alice@example.test)<9><AAAAAAAAAAAAAAAAAAAAAA>: Info:"
        " msgid=<m-42@example.test>: saved mail to INBOX",
        "Nov 25 15:00:01 mail dovecot: lmtp(bob@example.test)<9><BBBBBBBBBBBBBBBBBBBBBB>: Info:"
        " msgid=<m-43@example.test>: saved mail to INBOX",
        "Nov 25 15:00:01 mail postfix/qmgr[2]: 1A2B3C4D5E: removed",
    ]
    got = journey([ev(x) for x in log], "1A2B3C4D5E")
    assert [e.raw for e in got] == [log[0], log[1], log[3]]


def test_summary_per_minute() -> None:
    base = "Nov 25 15:{m:02d}:{s:02d} mail "
    lines = [
        base.format(m=58, s=1) + "postfix/lmtp[1]: 1A2B3C4D5E: to=<a@x.test>, relay=r, status=sent (250 ok)",
        base.format(m=58, s=1) + "dovecot: lmtp(a@x.test)<1><S>: Info: saved mail to INBOX",  # same delivery
        base.format(m=59, s=2) + "postfix/lmtp[1]: 2A2B3C4D5E: to=<a@x.test>, relay=r, status=sent (250 ok)",
        base.format(m=59, s=3) + "postfix/lmtp[1]: 3A2B3C4D5E: to=<a@x.test>, relay=r, status=deferred (x)",
        base.format(m=59, s=4) + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from u[1.2.3.4]: 554 5.7.1 x",
        base.format(m=59, s=4) + "postfix/cleanup[1]: 5A2B3C4D5E: milter-reject: END-OF-MESSAGE from u[1.2.3.4]: x",
        base.format(m=59, s=5) + "postfix/smtpd[1]: warning: u[1.2.3.4]: SASL LOGIN authentication failed: x",
        base.format(m=59, s=6) + "dovecot: imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs):"
                                 " user=<a@x.test>",
        base.format(m=20, s=0) + "postfix/lmtp[1]: 4A2B3C4D5E: to=<a@x.test>, relay=r, status=sent (250 ok)",
    ]
    s = summary_per_minute([ev(x) for x in lines], minutes=5)
    assert s == {"delivered": [0, 0, 0, 1, 1], "deferred": [0, 0, 0, 0, 1], "rejected": [0, 0, 0, 0, 1],
                 "spam": [0, 0, 0, 0, 1], "auth-failure": [0, 0, 0, 0, 2]}
    later = summary_per_minute([ev(x) for x in lines], minutes=3,
                               now=datetime(2026, 11, 25, 16, 0, 30).astimezone())
    assert later["delivered"] == [1, 1, 0]
    assert summary_per_minute([], minutes=2) == {k: [0, 0] for k in logparse.SUMMARY_OUTCOMES}


# ---------------------------------------------------------------- the journal


JOURNAL_FIXTURE = [
    {"__CURSOR": "s=5e1c0f6e0e6b4c3a9e0a1b2c3d4e5f60;i=1a2b;b=0f1e2d3c4b5a69788796a5b4c3d2e1f0;m=3c8e2f1;"
                 "t=64a1b2c3d4e5f;x=1a2b3c4d5e6f7081", "__REALTIME_TIMESTAMP": "1795620421123456",
     "__MONOTONIC_TIMESTAMP": "63500017", "_BOOT_ID": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "PRIORITY": "6",
     "SYSLOG_FACILITY": "2", "SYSLOG_IDENTIFIER": "postfix/smtpd", "SYSLOG_PID": "2001", "_PID": "2001",
     "_UID": "101", "_GID": "104", "_COMM": "smtpd", "_EXE": "/usr/lib/postfix/sbin/smtpd",
     "_CMDLINE": "smtpd -n smtp -t inet -u -c -o stress= -s 2", "_SYSTEMD_UNIT": "postfix@-.service",
     "_TRANSPORT": "syslog", "_HOSTNAME": "mail", "SYSLOG_TIMESTAMP": "Nov 25 15:27:01 ",
     "MESSAGE": "NOQUEUE: reject: RCPT from unknown[198.18.0.2]: 554 5.7.1 <x@outside.test>: Relay access"
                " denied; from=<s@outside.test> to=<x@outside.test> proto=ESMTP helo=<relay.test>"},
    {"__REALTIME_TIMESTAMP": "1795620422000000", "PRIORITY": "6", "SYSLOG_FACILITY": "2",
     "SYSLOG_IDENTIFIER": "postfix/lmtp", "SYSLOG_PID": "2010", "_PID": "2010", "_COMM": "lmtp",
     "_SYSTEMD_UNIT": "postfix@-.service", "_TRANSPORT": "syslog", "_HOSTNAME": "mail",
     "MESSAGE": "3E4F5A6B7C: to=<alice@example.test>, relay=mail.example.test[private/dovecot-lmtp],"
                " delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 <alice@example.test>"
                " kE5gAbCdEfGhIjKlMnOpQw Saved)"},
    {"__REALTIME_TIMESTAMP": "1795620421900000", "PRIORITY": "6", "SYSLOG_FACILITY": "2",
     "SYSLOG_IDENTIFIER": "dovecot", "_PID": "2015", "_COMM": "lmtp", "_SYSTEMD_UNIT": "dovecot.service",
     "_TRANSPORT": "syslog", "_HOSTNAME": "mail",
     "MESSAGE": "lmtp(alice@example.test)<2015><kE5gAbCdEfGhIjKlMnOpQw>: msgid=<m1@outside.test>: saved mail"
                " to INBOX"},
    {"__REALTIME_TIMESTAMP": "1795620430000000", "PRIORITY": "6", "SYSLOG_FACILITY": "2",
     "SYSLOG_IDENTIFIER": "dovecot", "_PID": "2020", "_COMM": "imap-login", "_SYSTEMD_UNIT": "dovecot.service",
     "_TRANSPORT": "syslog", "_HOSTNAME": "mail",
     "MESSAGE": "imap-login: Login: user=<alice@example.test>, method=PLAIN, rip=198.18.0.2, lip=198.18.0.1,"
                " mpid=2021, TLS, session=<Ab12>"},
    {"__REALTIME_TIMESTAMP": "1795620431000000", "PRIORITY": "4", "SYSLOG_FACILITY": "2",
     "SYSLOG_IDENTIFIER": "postfix/submission/smtpd", "SYSLOG_PID": "2030", "_PID": "2030",
     "_HOSTNAME": "mail",
     "MESSAGE": "warning: unknown[198.18.0.2]: SASL PLAIN authentication failed: UGFzc3dvcmQ6"},
    {"__REALTIME_TIMESTAMP": "1795620432000000", "PRIORITY": "3", "SYSLOG_FACILITY": "2",
     "SYSLOG_IDENTIFIER": "dovecot", "_PID": "2040", "_HOSTNAME": "mail",
     # a MESSAGE that is not valid UTF-8: journalctl writes it as an array of byte values
     "MESSAGE": list(b"auth: Error: bad byte \xff in request")},
]


def test_journal_records_become_events() -> None:
    records = [json.dumps(r) for r in JOURNAL_FIXTURE] + ["", "not json", json.dumps({"MESSAGE": "no ident"})]
    events = list(journal.journal_lines(records=records))
    assert [(e.service, e.pid, e.outcome, e.recipient) for e in events] == [
        ("postfix/smtpd", 2001, "rejected", "x@outside.test"),
        ("postfix/lmtp", 2010, "delivered", "alice@example.test"),
        ("dovecot/lmtp", 2015, "delivered", "alice@example.test"),
        ("dovecot/imap-login", 2020, "login", "alice@example.test"),
        ("postfix/submission/smtpd", 2030, "auth-failure", None),
        ("dovecot/auth", 2040, "error", None),
    ]
    first = events[0]
    assert first.ts == datetime.fromtimestamp(1795620421.123456, tz=timezone.utc)
    assert first.host == "mail" and first.raw.endswith("mail postfix/smtpd[2001]: " + JOURNAL_FIXTURE[0]["MESSAGE"])
    assert events[1].queue_id == "3E4F5A6B7C" and events[1].session_id == events[2].session_id
    assert [e.service for e in journey(events, "3E4F5A6B7C")] == ["postfix/lmtp", "dovecot/lmtp"]
    assert "\ufffd" in events[5].message


def test_journal_lines_runs_journalctl_and_follows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in journalctl on PATH: its output is parsed; with follow, stop() ends it and kills it."""
    records = tmp_path / "records.json"
    records.write_text("".join(json.dumps(r) + "\n" for r in JOURNAL_FIXTURE[:3]))
    fake = tmp_path / "journalctl.py"  # this Python runs it: the unit tier runs no other program
    fake.write_text(f"import sys, time\nopen({str(tmp_path / 'argv')!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                    f"sys.stdout.write(open({str(records)!r}).read())\nsys.stdout.flush()\n"
                    "if '-f' in sys.argv: time.sleep(30)\n")
    real = journal.journal_command
    monkeypatch.setattr(journal, "journal_command", lambda n, follow: [sys.executable, str(fake), *real(n, follow)[1:]])
    assert [e.service for e in journal.journal_lines(10)] == ["postfix/smtpd", "postfix/lmtp", "dovecot/lmtp"]
    assert (tmp_path / "argv").read_text().split() == ["-o", "json", "--no-pager", "-n", "10", "SYSLOG_FACILITY=2"]
    got: list[LogEvent] = []
    began = time.monotonic()
    for event in journal.journal_lines(10, follow=True, poll=0.02, stop=lambda: len(got) >= 3 or
                                       time.monotonic() - began > 5):
        got.append(event)
    assert len(got) == 3 and time.monotonic() - began < 5


def test_journal_command_reads_the_mail_facility() -> None:
    assert journal.journal_command(50, True) == ["journalctl", "-o", "json", "--no-pager", "-n", "50", "-f",
                                                 "SYSLOG_FACILITY=2"]


# ---------------------------------------------------------------- reading from the end


def test_tail_lines(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    assert tail_lines(log, 5) == []
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    assert tail_lines(log, 3) == ["line 7", "line 8", "line 9"]
    assert tail_lines(log, 100) == [f"line {i}" for i in range(10)]
    assert tail_lines(log, 0) == []
    with log.open("a") as fh:
        fh.write("partial")
    assert tail_lines(log, 2) == ["line 9", "partial"]


def test_tail_of_a_big_file_is_instant(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    block = "".join(f"Nov 25 15:{i % 60:02d}:00 mail postfix/qmgr[4355]: {i:011X}: removed\n"
                    for i in range(20000)).encode()
    with log.open("wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(block)
        fh.write(b"".join(f"Nov 25 16:00:00 mail postfix/qmgr[1]: LAST{i}: removed\n".encode() for i in range(300)))
    assert log.stat().st_size > 50 * 1024 * 1024
    began = time.perf_counter()
    lines = tail_lines(log, 200)
    elapsed = time.perf_counter() - began
    assert lines == [f"Nov 25 16:00:00 mail postfix/qmgr[1]: LAST{i}: removed" for i in range(100, 300)]
    assert elapsed < 0.2, elapsed
    began = time.perf_counter()
    gen = follow(log, from_end_lines=200, poll=0.01)
    first = [next(gen) for _ in range(200)]
    elapsed = time.perf_counter() - began
    gen.close()
    assert first == lines and elapsed < 0.2, elapsed


def test_lines_backwards(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(b"x" * (i % 70000) + f" {i}\n".encode() for i in range(0, 300000, 7001)) + b"tail")
    got = list(logfile.iter_lines_backwards(log))
    assert got == list(reversed(log.read_text().splitlines()))


# ---------------------------------------------------------------- following


class Follower:
    """follow() in a thread, its lines in a queue."""

    def __init__(self, path: Path, from_end_lines: int = 200) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, args=(path, from_end_lines), daemon=True)
        self.thread.start()

    def _run(self, path: Path, n: int) -> None:
        for line in follow(path, from_end_lines=n, poll=0.02, stop=lambda: self.stopped):
            self.lines.put(line)

    def take(self, count: int, timeout: float = 5.0) -> list[str]:
        got, deadline = [], time.monotonic() + timeout
        while len(got) < count:
            try:
                got.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return got

    def quiet(self, wait: float = 0.2) -> list[str]:
        time.sleep(wait)
        return self.take(10_000, timeout=0.01)

    def stop(self) -> None:
        self.stopped = True
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def following() -> Iterator[Callable[..., Follower]]:
    made: list[Follower] = []

    def make(path: Path, from_end_lines: int = 200) -> Follower:
        f = Follower(path, from_end_lines)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def test_follow_yields_the_tail_then_appends(tmp_path: Path, following: Callable[..., Follower]) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(f"old {i}\n" for i in range(10)))
    f = following(log, 3)
    assert f.take(3) == ["old 7", "old 8", "old 9"]
    append(log, "new 1\nnew 2\n")
    assert f.take(2) == ["new 1", "new 2"]
    assert f.quiet() == []


def test_follow_holds_partial_lines(tmp_path: Path, following: Callable[..., Follower]) -> None:
    log = tmp_path / "mail.log"
    log.write_text("a\nb\nhalf")
    f = following(log, 10)
    assert f.take(2) == ["a", "b"]
    assert f.quiet() == []
    append(log, " and the rest\nnext ")
    assert f.take(1) == ["half and the rest"]
    assert f.quiet() == []
    append(log, "done\n")
    assert f.take(1) == ["next done"]


def test_follow_waits_for_a_missing_file(tmp_path: Path, following: Callable[..., Follower]) -> None:
    log = tmp_path / "mail.log"
    f = following(log)
    assert f.quiet() == []
    log.write_text("first\nsecond\n")
    assert f.take(2) == ["first", "second"]


def test_follow_survives_rename_rotation(tmp_path: Path, following: Callable[..., Follower]) -> None:
    log = tmp_path / "mail.log"
    log.write_text("before\n")
    f = following(log)
    assert f.take(1) == ["before"]
    writer = log.open("a")  # a daemon that keeps its file open across the rename, until it reopens
    writer.write("old 1\n")
    writer.flush()
    os.rename(log, tmp_path / "mail.log.1")
    writer.write("old 2 (written before the daemon reopened)\n")
    writer.flush()
    log.write_text("new 1\n")
    got = f.take(3)
    assert sorted(got) == sorted(["old 1", "old 2 (written before the daemon reopened)", "new 1"])
    assert got.index("old 1") < got.index("old 2 (written before the daemon reopened)")
    writer.close()
    append(log, "new 2\n")
    assert f.take(1) == ["new 2"]


def test_follow_survives_truncation(tmp_path: Path, following: Callable[..., Follower]) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    f = following(log, 1)
    assert f.take(1) == ["line 99"]
    with log.open("r+") as fh:
        fh.truncate(0)
    append(log, "after 1\n")
    assert f.take(1) == ["after 1"]
    # truncated and rewritten past the old size between two looks: the byte before our offset changed
    with log.open("w") as fh:
        fh.write("".join(f"rewritten {i:04d} with a longer line\n" for i in range(50)))
    got = f.take(50)
    assert got == [f"rewritten {i:04d} with a longer line" for i in range(50)]


def test_follow_stops_when_told(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("x\n")
    stop = threading.Event()
    out: list[str] = []
    t = threading.Thread(target=lambda: out.extend(follow(log, poll=0.02, stop=stop.is_set)))
    t.start()
    time.sleep(0.1)
    stop.set()
    t.join(timeout=2)
    assert not t.is_alive() and out == ["x"]


# ---------------------------------------------------------------- the real logrotate

CREATE = f"    create 0640 {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name}\n"


# ---------------------------------------------------------------- `mailtui logs`


def run_logs(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    parser = argparse.ArgumentParser(prog="mailtui")
    cli_logs.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["logs", *argv])
    code = args.func(args, LiveOperations())  # the log file is the test's own: nothing else is read
    return code, capsys.readouterr().out.splitlines()


def test_cli_logs_tail_grep_and_queue_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "mail.log"
    log.write_text(MESSAGE_LOG)
    assert run_logs(capsys, "--file", str(log), "-n", "2") == (0, MESSAGE_LOG.splitlines()[-2:])
    code, out = run_logs(capsys, "--file", str(log), "--grep", "DOVECOT", "-n", "2")
    assert code == 0 and len(out) == 2 and all("dovecot" in x for x in out) and "Disconnect" in out[-1]
    code, out = run_logs(capsys, "--file", str(log), "--queue-id", QID)
    assert code == 0 and len(out) == 6 and SESSION in out[3] and out[3].startswith("Nov 25 15:36:33 mail dovecot")
    code, out = run_logs(capsys, "--file", str(log), "--queue-id", QID, "--json", "-n", "1")
    assert code == 0 and json.loads(out[0])["outcome"] == "info" and json.loads(out[0])["queue_id"] == QID


def test_cli_logs_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mailtui.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        run_logs(capsys, "--file", str(tmp_path / "x.log"), "-n", "-1")
    assert "-n" in refused.value.problems
    with pytest.raises(ValidationError, match="missing.log does not exist") as refused:  # a path typed wrong
        run_logs(capsys, "--file", str(tmp_path / "missing.log"))
    assert "--file" in refused.value.problems


def test_cli_logs_follow_queue_id_holds_dovecot_lines(tmp_path: Path) -> None:
    matcher = logparse.JourneyMatcher(None, QID)
    shown = [e.raw for line in MESSAGE_LOG.splitlines() for e in matcher.feed(ev(line))]
    assert shown == [e.raw for e in journey([ev(x) for x in MESSAGE_LOG.splitlines()], QID)]


def test_cli_logs_follow(tmp_path: Path) -> None:
    """`mailtui logs -f --grep` in a subprocess: the matching tail, then matching new lines."""
    log = tmp_path / "mail.log"
    log.write_text(MESSAGE_LOG)
    code = ("import sys\nfrom mailtui.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "logs", "-f", "--grep", "status=", "--file", str(log)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        assert "status=sent" in proc.stdout.readline()
        append(log, "Nov 25 15:50:00 mail postfix/qmgr[1]: 5A5B5C5D5E: removed\n"
                    "Nov 25 15:50:01 mail postfix/lmtp[2]: 5A5B5C5D5E: to=<a@x.test>, relay=r, status=deferred (x)\n")
        assert "status=deferred" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_cli_logs_follow_loses_no_line_written_during_the_search(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A line written while `logs -f --grep` searched the tail is followed, not lost (and not shown twice)."""
    log = tmp_path / "mail.log"
    log.write_text(MESSAGE_LOG)
    deferred = "Nov 25 15:50:01 mail postfix/lmtp[2]: 5A5B5C5D5E: to=<a@x.test>, relay=r, status=deferred (x)"
    search = logs._last_matching

    def slow_search(path: Path, query: logs.LogQuery, end: int | None = None) -> list[LogEvent]:
        found = search(path, query, end)
        append(log, deferred + "\n")  # written after the search read the file, before the follow began
        return found

    shown: list[str] = []

    def printer(as_json: bool) -> Callable[[LogEvent], None]:
        def show(event: LogEvent) -> None:
            shown.append(event.raw)
            if "status=deferred" in event.raw:
                raise KeyboardInterrupt  # what ends `logs -f`
        return show

    monkeypatch.setattr(logs, "_last_matching", slow_search)
    monkeypatch.setattr(cli_logs, "printer", printer)
    parser = argparse.ArgumentParser()
    cli_logs.add_parser(parser.add_subparsers())
    args = parser.parse_args(["logs", "-f", "--grep", "status=", "--file", str(log)])
    worker = threading.Thread(target=cli_logs.cmd_logs, args=(args, LiveOperations()), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"the line written during the search never came: {shown}"
    assert [line for line in shown if "status=" in line][-1] == deferred and shown.count(deferred) == 1


def test_lines_backwards_up_to_an_offset_are_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(b"one\ntwo\nthr")
    assert list(logfile.iter_lines_backwards(log)) == ["thr", "two", "one"]
    assert list(logfile.iter_lines_backwards(log, 12)) == ["two", "one"]  # "thr" is still being written
    assert list(logfile.iter_lines_backwards(log, 8)) == ["two", "one"]
    assert list(logfile.iter_lines_backwards(log, 7)) == ["one"]  # the newline after "two" is not before 7
    assert list(logfile.iter_lines_backwards(log, 4)) == ["one"]
    assert list(logfile.iter_lines_backwards(log, 0)) == []
    follower = logfile.follow(log, start=12, poll=0.01)
    append(log, "ee\nfour\n")
    assert [next(follower), next(follower)] == ["three", "four"]  # from the offset, the held partial line
    follower.close()


def test_times_of_both_formats_compare() -> None:
    a = ev("Nov 25 15:27:01 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    b = ev("2026-11-25T15:27:01.5+00:00 mail postfix/smtpd[1]: connect from x[1.2.3.4]")
    assert a.ts is not None and b.ts is not None
    assert sorted([b.ts, a.ts]) in ([a.ts, b.ts], [b.ts, a.ts])  # both aware: no TypeError
    assert b.ts - a.ts == datetime(2026, 11, 25, 15, 27, 1, 500000, tzinfo=timezone.utc) - a.ts
