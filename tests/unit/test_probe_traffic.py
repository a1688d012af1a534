"""mailtui's own probes (`mailtui check`, the verify step, the round trip) say who they are and leave cleanly
(stack/probe_client.py, policy/probe.py), and their lines in the mail log are marked as probe traffic
(stack/logparse.py) so that the log view can fold them.

The conversations run against small servers this test starts on the loopback; the log lines are the ones
Postfix and Dovecot write for such sessions (see tests/unit/test_maillog.py for the line formats)."""

from __future__ import annotations

import errno
import itertools
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailtui.api.live import LiveOperations
from mailtui.api.types import LogQuery
from mailtui.policy import probe
from mailtui.stack import logparse, probe_client, probes
from mailtui.stack.logparse import LogEvent, ProbeMarker
from tests.unit.test_fail2ban_step import failregex

NOW = datetime(2026, 11, 25, 16, 0, 0)
QID = "C41D21ACB37"
LMTP_SESSION = "Qz1MBc2BB2kbEgAAUi6ngw"
IMAP_SESSION = "AbCd12/xyZ"


def ev(line: str) -> LogEvent:
    event = logparse.parse_line(line, now=NOW)
    assert event is not None, line
    return event


# ---------------------------------------------------------------- the log lines of probe sessions

PROBE_LINES = [
    # the TLS check of 465 (EHLO, QUIT) and the STARTTLS check of 587 (EHLO, STARTTLS, EHLO, QUIT)
    "Nov 25 15:50:01 mail postfix/submissions/smtpd[5101]: connect from unknown[127.0.0.2]",
    "Nov 25 15:50:01 mail postfix/submissions/smtpd[5101]: Anonymous TLS connection established from"
    " unknown[127.0.0.2]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "Nov 25 15:50:01 mail postfix/submissions/smtpd[5101]: disconnect from unknown[127.0.0.2] ehlo=1 quit=1"
    " commands=2",
    "Nov 25 15:50:01 mail postfix/submission/smtpd[5102]: disconnect from unknown[127.0.0.2] ehlo=2 starttls=1"
    " quit=1 commands=4",
    # an older probe that still just connected and closed: its noise is marked too
    "Nov 25 15:50:02 mail postfix/smtpd[5103]: lost connection after CONNECT from unknown[127.0.0.2]",
    # the TLS check of 993 (ID, LOGOUT), Dovecot 2.4 and 2.3
    "Nov 25 15:50:02 mail dovecot: imap-login: Info: Login aborted: Logged out (no auth attempts in 0 secs)"
    " (no_auth_attempts): user=<>, rip=127.0.0.2, lip=127.0.0.1, TLS, session=<Ab12Cd34>",
    "Nov 25 15:50:02 mail dovecot: imap-login: Info: Disconnected: Aborted login by logging out (no auth attempts"
    " in 0 secs): user=<>, rip=127.0.0.2, lip=127.0.0.1, TLS, session=<Ef56Gh78>",
    # a probe refused: Postfix names the EHLO name
    "Nov 25 15:50:03 mail postfix/smtpd[5104]: NOQUEUE: reject: RCPT from unknown[::1]: 554 5.7.1 <x@outside.test>:"
    f" Relay access denied; from=<a@b.test> to=<x@outside.test> proto=ESMTP helo=<{probe.EHLO_NAME}>",
    # the round trip's message, by its Message-ID
    f"Nov 25 15:50:04 mail postfix/cleanup[5110]: {QID}: message-id=<0c4e9f@{probe.MESSAGE_ID_DOMAIN}>",
]
USER_LINES = [
    "Nov 25 15:36:33 mail postfix/smtpd[4364]: connect from unknown[127.0.0.1]",
    "Nov 25 15:36:34 mail postfix/smtpd[4364]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1"
    " quit=1 commands=5",
    "Nov 25 15:36:35 mail postfix/smtpd[4365]: connect from unknown[127.0.0.25]",
    "Nov 25 15:36:35 mail postfix/smtpd[4366]: connect from mx.example.test[198.127.0.0.2]",
    "Nov 25 14:37:32 mail dovecot: imap-login: Info: Login: user=<alice@example.test>, method=PLAIN,"
    " rip=198.18.0.2, lip=198.18.0.1, mpid=2201, TLS, session=<AbCdEf12>",
    "Nov 25 15:37:02 mail postfix/smtpd[5021]: NOQUEUE: reject: RCPT from unknown[198.18.0.2]: 554 5.7.1"
    " <x@outside.test>: Relay access denied; from=<spam@outside.test> to=<x@outside.test> proto=ESMTP"
    " helo=<relay.test>",
]


@pytest.mark.parametrize("line", PROBE_LINES)
def test_a_probe_sessions_lines_are_marked(line: str) -> None:
    assert ev(line).probe


@pytest.mark.parametrize("line", USER_LINES)
def test_other_lines_are_not(line: str) -> None:
    assert not ev(line).probe


@pytest.mark.parametrize("line", [line for line in PROBE_LINES if "dovecot: imap-login" in line])
def test_fail2ban_does_not_count_a_probes_clean_logout(line: str) -> None:
    assert failregex().search(line) is None


ROUND_TRIP = [
    "Nov 25 15:50:04 mail postfix/smtpd[5110]: connect from unknown[127.0.0.2]",
    f"Nov 25 15:50:04 mail postfix/smtpd[5110]: {QID}: client=unknown[127.0.0.2]",
    f"Nov 25 15:50:04 mail postfix/cleanup[5111]: {QID}: message-id=<0c4e9f@{probe.MESSAGE_ID_DOMAIN}>",
    f"Nov 25 15:50:04 mail postfix/qmgr[4355]: {QID}: from=<{probe.SENDER_LOCALPART}@example.test>, size=912,"
    " nrcpt=1 (queue active)",
    "Nov 25 15:50:04 mail postfix/smtpd[5110]: disconnect from unknown[127.0.0.2] ehlo=1 mail=1 rcpt=1 data=1"
    " quit=1 commands=5",
    f"Nov 25 15:50:04 mail dovecot: lmtp(alice@example.test)<4382><{LMTP_SESSION}>: Info:"
    f" msgid=<0c4e9f@{probe.MESSAGE_ID_DOMAIN}>: saved mail to INBOX",
    f"Nov 25 15:50:04 mail postfix/lmtp[4377]: {QID}: to=<alice@example.test>, relay=mail.example.test"
    "[private/dovecot-lmtp], delay=0.05, delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0"
    f" <alice@example.test> {LMTP_SESSION} Saved)",
    f"Nov 25 15:50:04 mail postfix/qmgr[4355]: {QID}: removed",
    "Nov 25 15:50:05 mail dovecot: imap-login: Info: Logged in: user=<alice@example.test>, method=PLAIN,"
    f" rip=127.0.0.2, lip=127.0.0.1, mpid=4334, TLS, session=<{IMAP_SESSION}>",
    f"Nov 25 15:50:05 mail dovecot: imap(alice@example.test)<4334><{IMAP_SESSION}>: Info: Disconnected:"
    " Logged out in=120 out=1406 deleted=1 expunged=1 trashed=0 hdr_count=0 hdr_bytes=0 body_count=1",
]
OTHERS = [  # the same kinds of lines of another message and another login
    "Nov 25 15:50:06 mail postfix/qmgr[4355]: D00D1ACB37: removed",
    "Nov 25 15:50:06 mail dovecot: imap(alice@example.test)<4335><Other12>: Info: Disconnected: Logged out",
]


def test_the_marker_follows_a_probe_message_and_login_through_their_other_lines() -> None:
    events = [ev(line) for line in ROUND_TRIP + OTHERS]
    unmarked = [e.raw for e in events[:len(ROUND_TRIP)] if not e.probe]
    assert len(unmarked) == 4, unmarked  # qmgr's two lines of the message, its lmtp line, the logout: by state
    marked = ProbeMarker().mark_all(events)
    assert [e.probe for e in marked] == [True] * len(ROUND_TRIP) + [False] * len(OTHERS)


def test_the_engines_log_reading_marks_them(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("".join(line + "\n" for line in USER_LINES + ROUND_TRIP))
    events = LiveOperations().read_log(LogQuery(lines=100, file=str(log)))
    assert [e.probe for e in events] == [False] * len(USER_LINES) + [True] * len(ROUND_TRIP)
    following = LiveOperations().follow_log(LogQuery(lines=100, file=str(log)), lambda: False)
    followed = list(itertools.islice(following, len(events)))  # the tail first, as the dashboard reads it
    following.close()  # type: ignore[attr-defined]
    assert [e.probe for e in followed] == [e.probe for e in events]


# ---------------------------------------------------------------- the probes' conversations


class LineServer:
    """A one-connection server on the loopback speaking a scripted line protocol: `reply(line)` answers each
    line the client sends (None: close). Records the client's address and every line it sent."""

    def __init__(self, greeting: str, reply: Callable[[str], str | None]) -> None:
        self.greeting, self.reply = greeting, reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.peer = ""
        self.lines: list[str] = []
        self.closed_cleanly = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, (self.peer, _) = self.sock.accept()
        with conn, conn.makefile("rwb") as f:
            f.write(self.greeting.encode() + b"\r\n")
            f.flush()
            for raw in f:
                line = raw.decode().rstrip("\r\n")
                self.lines.append(line)
                answer = self.reply(line)
                if answer is None:
                    self.closed_cleanly = True
                    return
                f.write(answer.encode())
                f.flush()

    def close(self) -> None:
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def servers() -> Iterator[list[LineServer]]:
    started: list[LineServer] = []
    yield started
    for server in started:
        server.close()


def smtp_reply(line: str) -> str | None:
    verb = line.split(" ", 1)[0].upper()
    if verb == "EHLO":
        return "250-mail.example.test\r\n250 PIPELINING\r\n"
    return "221 2.0.0 Bye\r\n" if verb == "QUIT" else "502 5.5.2 Error\r\n"


def test_the_smtp_probe_says_its_name_from_the_probe_address_and_quits(servers: list[LineServer]) -> None:
    server = LineServer("220 mail.example.test ESMTP Postfix", smtp_reply)
    servers.append(server)
    check = probes.starttls_check(server.port, host="127.0.0.1")
    server.thread.join(5)
    assert not check.ok and check.detail == "the server does not offer STARTTLS"
    assert server.lines == [f"ehlo {probe.EHLO_NAME}", "QUIT"]  # Postfix: "disconnect from … ehlo=1 quit=1"
    assert server.peer == probe.SOURCE_ADDRESS


def imap_reply(line: str) -> str | None:
    tag, command = line.split(" ", 2)[:2]
    if command == "CAPABILITY":
        return f"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN\r\n{tag} OK done.\r\n"
    if command == "ID":
        return f'* ID ("name" "Dovecot")\r\n{tag} OK ID completed.\r\n'
    if command == "LOGOUT":
        return f"* BYE Logging out\r\n{tag} OK Logout completed.\r\n"
    return f"{tag} BAD Error in IMAP command\r\n"


def pop3_reply(line: str) -> str | None:
    return "+OK Logging out.\r\n" if line == "QUIT" else "-ERR Unknown command.\r\n"


@pytest.fixture
def no_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The implicit-TLS clients without the TLS (this test has no certificate): the conversation is the same."""
    import imaplib
    import poplib

    class IMAP(imaplib.IMAP4):
        def __init__(self, host: str, port: int, *, ssl_context: object, timeout: float | None) -> None:
            super().__init__(host, port, timeout=timeout)

        def _create_socket(self, timeout: float | None) -> socket.socket:
            return probe_client.connect(self.host, self.port, timeout)

    class POP3(poplib.POP3):
        def __init__(self, host: str, port: int, *, timeout: float, context: object) -> None:
            super().__init__(host, port, timeout=timeout)

        def _create_socket(self, timeout: float) -> socket.socket:  # type: ignore[override]
            return probe_client.connect(self.host, self.port, timeout)

    monkeypatch.setattr(probe_client, "_IMAPS", IMAP)
    monkeypatch.setattr(probe_client, "_POP3S", POP3)


@pytest.mark.usefixtures("no_tls")
def test_the_imap_probe_sends_id_and_logs_out(servers: list[LineServer]) -> None:
    server = LineServer("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE AUTH=PLAIN] Dovecot ready.",
                        imap_reply)
    servers.append(server)
    version, greeting = probe_client.tls_greeting("imap", "127.0.0.1", server.port, timeout=5, context=None)  # type: ignore[arg-type]
    server.thread.join(5)
    assert greeting.endswith("Dovecot ready.")
    assert [line.split(" ", 1)[1] for line in server.lines] == ["CAPABILITY", f'ID ("name" "{probe.IMAP_ID_NAME}")',
                                                                "LOGOUT"]
    assert server.peer == probe.SOURCE_ADDRESS


@pytest.mark.usefixtures("no_tls")
def test_the_pop3_probe_quits(servers: list[LineServer]) -> None:
    server = LineServer("+OK Dovecot ready.", pop3_reply)
    servers.append(server)
    _, greeting = probe_client.tls_greeting("pop3", "127.0.0.1", server.port, timeout=5, context=None)  # type: ignore[arg-type]
    server.thread.join(5)
    assert greeting == "+OK Dovecot ready." and server.lines == ["QUIT"] and server.peer == probe.SOURCE_ADDRESS


def test_without_the_probe_address_a_probe_still_connects(monkeypatch: pytest.MonkeyPatch,
                                                          servers: list[LineServer]) -> None:
    real = socket.create_connection

    def no_127_0_0_2(address: tuple[str, int], timeout: float | None = None,
                     source_address: tuple[str, int] | None = None) -> socket.socket:
        if source_address is not None:
            raise OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
        return real(address, timeout)

    monkeypatch.setattr(probe_client.socket, "create_connection", no_127_0_0_2)
    server = LineServer("220 mail.example.test ESMTP Postfix", smtp_reply)
    servers.append(server)
    probes.starttls_check(server.port, host="127.0.0.1")
    server.thread.join(5)
    assert server.peer == "127.0.0.1" and server.lines == [f"ehlo {probe.EHLO_NAME}", "QUIT"]


def test_only_the_loopback_is_probed_from_the_probe_address() -> None:
    assert probe_client.source_for("127.0.0.1") == (probe.SOURCE_ADDRESS, 0)
    assert probe_client.source_for("198.18.0.1") is None
