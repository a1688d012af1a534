"""The verify stage's pieces that need no mail server: DNS records, client settings, address parsing,
and the round trip's failure reasons against fake SMTP/IMAP servers."""

from __future__ import annotations

import imaplib
from pathlib import Path
from typing import Any

import pytest

from mailtui.model.answers import Answers, Domain, Services, Tls, User
from mailtui.ops import dns
from mailtui.ops.dns import ClientSetting, DnsRecord
from mailtui.stack import probe_client, roundtrip


def answers(**kw: Any) -> Answers:
    base: dict[str, Any] = dict(hostname="mail.shop.example", domains=[Domain("shop.example"), Domain("other.example")],
                                users=[User("alice@shop.example", "x")])
    base.update(kw)
    return Answers(**base)


def by_type(records: list[DnsRecord], type_: str) -> list[DnsRecord]:
    return [r for r in records if r.type == type_]


def test_dns_records_per_domain_and_for_the_host() -> None:
    records = dns.dns_records(answers(), "203.0.113.7", "2001:db8::7")
    assert [(r.name, r.value) for r in by_type(records, "MX")] == [
        ("shop.example", "10 mail.shop.example"), ("other.example", "10 mail.shop.example")]
    txt = {(r.name, r.value) for r in by_type(records, "TXT")}
    assert ("shop.example", "v=spf1 mx -all") in txt and ("other.example", "v=spf1 mx -all") in txt
    assert ("_dmarc.shop.example", "v=DMARC1; p=none; rua=mailto:postmaster@shop.example") in txt
    assert ("_dmarc.other.example", "v=DMARC1; p=none; rua=mailto:postmaster@other.example") in txt
    assert [(r.name, r.value) for r in by_type(records, "A")] == [("mail.shop.example", "203.0.113.7")]
    assert [(r.name, r.value) for r in by_type(records, "AAAA")] == [("mail.shop.example", "2001:db8::7")]
    ptr = by_type(records, "PTR")
    assert [(r.name, r.value) for r in ptr] == [("203.0.113.7", "mail.shop.example"),
                                                ("2001:db8::7", "mail.shop.example")]
    assert "hosting provider" in ptr[0].note and "mail.shop.example" in ptr[0].note
    dmarc = next(r for r in records if r.name.startswith("_dmarc"))
    assert "optional" in dmarc.note
    assert all(r.note for r in records)


def test_dns_records_without_known_addresses_use_a_placeholder() -> None:
    records = dns.dns_records(answers(domains=[Domain("shop.example")]))
    (a,) = by_type(records, "A")
    assert a.value == "<this server's public IPv4>"
    assert by_type(records, "AAAA") == []
    (ptr,) = by_type(records, "PTR")
    assert ptr.name == "<this server's public IPv4>" and ptr.value == "mail.shop.example"


def test_client_settings() -> None:
    settings = {s.label: s.value for s in dns.client_settings(answers())}
    assert settings["Incoming mail (IMAP) server"] == "mail.shop.example"
    assert settings["IMAP port and security"] == "993, SSL/TLS"
    assert settings["Outgoing mail (SMTP) server"] == "mail.shop.example"
    assert settings["SMTP port and security"] == "587, STARTTLS"
    assert settings["SMTP port and security (alternative)"] == "465, SSL/TLS"
    assert "alice@shop.example" in settings["Username"] and "full address" in settings["Username"]
    assert "mailbox password" in settings["Password"]
    assert "self-signed" in settings["Certificate"]
    assert not any("POP3" in label for label in settings)


def test_client_settings_follow_the_services_and_tls() -> None:
    a = answers(services=Services(pop3=True, submissions=False), tls=Tls("files", "/c.pem", "/k.pem"), users=[])
    settings = dns.client_settings(a)
    labels = [s.label for s in settings]
    assert "POP3 port and security (instead of IMAP)" in labels
    assert "SMTP port and security (alternative)" not in labels and "Certificate" not in labels
    assert ClientSetting("Username", "the full address, e.g. you@shop.example") in settings


IP_ADDR = r"""2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\       valid_lft forever
2: eth0    inet 192.0.2.10/24 scope global secondary eth0\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.1/24 scope global eth0\       valid_lft forever preferred_lft forever
3: eth1    inet 93.184.216.34/24 brd 93.184.216.255 scope global eth1\       valid_lft forever preferred_lft forever
3: eth1    inet 93.184.216.35/24 brd 93.184.216.255 scope global secondary eth1\       valid_lft forever
2: eth0    inet6 fd00::2/64 scope global nodad \       valid_lft forever preferred_lft forever
2: eth0    inet6 2a01:4f8:1:2::99/64 scope global temporary dynamic \       valid_lft 86000sec preferred_lft 14000sec
2: eth0    inet6 2a01:4f8:1:2::3/64 scope global deprecated \       valid_lft forever preferred_lft 0sec
2: eth0    inet6 2a01:4f8:1:2::1/64 scope global \       valid_lft forever preferred_lft forever
"""


def test_public_addresses_parsing_skips_private_documentation_and_temporary() -> None:
    assert dns.parse_ip_addr(IP_ADDR) == ("93.184.216.34", "2a01:4f8:1:2::1")
    # What this VM shows: a documentation IPv4 and a ULA IPv6 are not public.
    vm = (r"4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\       valid_lft forever" "\n"
          r"4: eth0    inet6 fd00::2/64 scope global nodad \       valid_lft forever" "\n")
    assert dns.parse_ip_addr(vm) == (None, None)
    assert dns.parse_ip_addr("") == (None, None)


def test_if_inet6_parsing() -> None:
    text = ("fd000000000000000000000000000002 04 40 00 82     eth0\n"
            "00000000000000000000000000000001 01 80 10 80       lo\n"
            "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
            "2a0104f8000100020000000000000099 04 40 00 01     eth0\n"  # temporary
            "2a0104f8000100020000000000000001 04 40 00 80     eth0\n")
    assert dns.parse_if_inet6(text) == "2a01:4f8:1:2::1"
    assert dns.parse_if_inet6(text.splitlines()[0]) is None


def test_public_addresses_reads_only_local_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.system import commands

    seen: list[list[str]] = []

    def fake_run(argv: list[str], **kw: Any) -> commands.Result:
        seen.append(argv)
        return commands.Result(argv, 0, IP_ADDR)

    monkeypatch.setattr(commands, "run", fake_run)
    monkeypatch.setattr(commands, "which", lambda p: "/usr/sbin/ip")
    assert dns.public_addresses() == ("93.184.216.34", "2a01:4f8:1:2::1")
    assert seen == [["ip", "-o", "addr", "show", "scope", "global"]]


def test_queue_id_and_log_lines(tmp_path: Path) -> None:
    assert roundtrip.queue_id("250 2.0.0 Ok: queued as 4Fh0Yq1QZ3z8") == "4Fh0Yq1QZ3z8"
    assert roundtrip.queue_id("250 ok") is None
    log = tmp_path / "mail.log"
    log.write_text("a 4Fh0Yq1QZ3z8: client=localhost\nb other\nc 4Fh0Yq1QZ3z8: to=<x>, status=deferred\n")
    assert roundtrip.log_lines("4Fh0Yq1QZ3z8", log) == ["a 4Fh0Yq1QZ3z8: client=localhost",
                                                       "c 4Fh0Yq1QZ3z8: to=<x>, status=deferred"]
    assert roundtrip.log_lines("4Fh0Yq1QZ3z8", tmp_path / "missing") == []
    assert roundtrip.log_lines(None, log) == []


# ---------------------------------------------------------------- the round trip against fakes


class FakeSMTP:
    rcpt_reply: tuple[int, bytes] = (250, b"2.1.5 Ok")
    sent: list[bytes] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        assert (host, port) == ("127.0.0.1", 25)

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def ehlo(self, name: str = "") -> tuple[int, bytes]:
        return 250, b"ok"

    def mail(self, sender: str) -> tuple[int, bytes]:
        return 250, b"2.1.0 Ok"

    def rcpt(self, to: str) -> tuple[int, bytes]:
        return self.rcpt_reply

    def data(self, msg: bytes) -> tuple[int, bytes]:
        FakeSMTP.sent.append(msg)
        return 250, b"2.0.0 Ok: queued as ABC123"


class FakeIMAP:
    password = "right"
    deliver = True

    def __init__(self, host: str, port: int, **kw: object) -> None:
        self.deleted = False

    def login(self, user: str, password: str) -> None:
        if password != self.password:
            raise imaplib.IMAP4.error(b"[AUTHENTICATIONFAILED] Authentication failed.")

    def select(self, box: str) -> tuple[str, list[bytes]]:
        return "OK", [b"1"]

    def uid(self, command: str, *args: Any) -> tuple[str, list[Any]]:
        if command == "SEARCH":
            marker = args[-1]
            found = self.deliver and any(marker.encode() in m for m in FakeSMTP.sent)
            return "OK", [b"7" if found else b""]
        if command == "FETCH":
            return "OK", [(b"7 (UID 7 BODY[] {10}", FakeSMTP.sent[-1]), b")"]
        if command == "STORE":
            FakeIMAP.stored = args
            return "OK", []
        raise AssertionError(command)

    def expunge(self) -> tuple[str, list[bytes]]:
        return "OK", []

    def logout(self) -> None:
        pass


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSMTP.sent = []
    FakeSMTP.rcpt_reply = (250, b"2.1.5 Ok")
    FakeIMAP.deliver = True
    monkeypatch.setattr(probe_client, "smtp", FakeSMTP)
    monkeypatch.setattr(probe_client, "imaps", FakeIMAP)
    monkeypatch.setattr(roundtrip, "POLL_SECONDS", 0.01)


def test_roundtrip_ok(fakes: None) -> None:
    accepted, delivered = roundtrip.roundtrip("alice@shop.example", "right")
    assert accepted.ok and accepted.name == "message accepted by Postfix" and "ABC123" in accepted.detail
    assert delivered.ok and delivered.name.startswith("message delivered and read back over IMAPS (")
    assert delivered.name.endswith(" s)")
    assert b"X-Mailtui-Selftest" in FakeSMTP.sent[0]
    # marked as a probe's, so the mail log view can fold its lines (policy/probe.py)
    assert b"@mailtui.invalid>" in FakeSMTP.sent[0] and b"From: mailtui-probe@shop.example" in FakeSMTP.sent[0]
    assert FakeIMAP.stored[1:] == ("+FLAGS.SILENT", r"(\Deleted)")  # the test message is removed again


def test_roundtrip_wrong_password_says_so(fakes: None) -> None:
    accepted, delivered = roundtrip.roundtrip("alice@shop.example", "wrong")
    assert accepted.ok and not delivered.ok
    assert delivered.name == "message delivered and read back over IMAPS"
    assert delivered.detail == ("IMAPS login as alice@shop.example refused: "
                                "[AUTHENTICATIONFAILED] Authentication failed.")


def test_roundtrip_refused_recipient_gives_the_smtp_reply(fakes: None) -> None:
    FakeSMTP.rcpt_reply = (550, b"5.1.1 <nobody@shop.example>: Recipient address rejected: User unknown")
    accepted, delivered = roundtrip.roundtrip("nobody@shop.example", "right")
    assert not accepted.ok
    assert accepted.detail == ("RCPT TO <nobody@shop.example> refused: 550 5.1.1 <nobody@shop.example>: "
                               "Recipient address rejected: User unknown")
    assert not delivered.ok and "not tried" in delivered.detail


def test_roundtrip_timeout_shows_the_mail_log(fakes: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    FakeIMAP.deliver = False
    log = tmp_path / "mail.log"
    log.write_text("postfix/lmtp[9]: ABC123: to=<alice@shop.example>, status=deferred (connection refused)\n")
    monkeypatch.setattr(roundtrip.paths, "MAIL_LOG", str(log))
    accepted, delivered = roundtrip.roundtrip("alice@shop.example", "right", timeout=0.05)
    assert accepted.ok and not delivered.ok
    assert delivered.detail.startswith("not in INBOX after 0 s; mail.log says:\n")
    assert "status=deferred (connection refused)" in delivered.detail


def test_roundtrip_nothing_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **kw: object) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(probe_client, "smtp", refuse)
    accepted, delivered = roundtrip.roundtrip("alice@shop.example", "x")
    assert not accepted.ok and "cannot talk SMTP to 127.0.0.1:25" in accepted.detail
    assert "Connection refused" in accepted.detail and not delivered.ok
