"""`mailtui dns check`: mailtui/system/dns_query.py really asks a DNS server over UDP (and TCP when the
reply is truncated), and mailtui/ops/dns_check.py compares each printed record with the answer.

The server here is a small authoritative fake on 127.0.0.1 (UDP and TCP, random ports) serving a zone
made from the report's own records; it fails closed: a name it does not hold is NXDOMAIN. The real
server (nsd on the test network, a zone from `mailtui dns`) is the end-to-end test's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailtui.errors import ValidationError
from mailtui.model.answers import Answers, Domain
from mailtui.ops import dns, dns_check
from mailtui.system import dns_query
from mailtui.system.dns_query import DnsUnreachable

Zone = dict[tuple[str, str], list[str]]  # (name, type) -> values as `mailtui dns` prints them (TXT whole)
IPV4 = "198.51.100.25"


def _rdata(rtype: str, value: str) -> bytes:
    if rtype == "A":
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == "AAAA":
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype == "MX":
        pref, target = value.split()
        return struct.pack("!H", int(pref)) + dns_query.encode_name(target)
    if rtype in ("PTR", "CNAME", "NS"):
        return dns_query.encode_name(value)
    if rtype == "SRV":
        priority, weight, port, target = value.split()
        return struct.pack("!HHH", int(priority), int(weight), int(port)) + dns_query.encode_name(target)
    if rtype == "TXT":
        raw = value.encode()
        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        return b"".join(bytes([len(c)]) + c for c in chunks)
    raise AssertionError(rtype)


def reply(zone: Zone, msg: bytes, limit: int | None) -> bytes:
    qid, _flags = struct.unpack("!HH", msg[:4])
    name, pos = dns_query.read_name(msg, 12)
    qtype = struct.unpack("!H", msg[pos:pos + 2])[0]
    question = msg[12:pos + 4]
    rtype = dns_query.TYPE_NAMES[qtype]
    values = zone.get((name, rtype), [])
    exists = any(n == name for n, _t in zone)
    answers = b"".join(dns_query.encode_name(name) + struct.pack("!HHIH", qtype, 1, 300, len(data)) + data
                       for data in (_rdata(rtype, v) for v in values))
    flags = 0x8400 | (0 if exists else 3)  # QR, AA; NXDOMAIN for a name the zone does not hold
    out = struct.pack("!HHHHHH", qid, flags, 1, len(values), 0, 0) + question + answers
    if limit is not None and len(out) > limit:  # too long for UDP: truncated, the client asks over TCP
        out = struct.pack("!HHHHHH", qid, flags | dns_query.FLAG_TC, 1, 0, 0, 0) + question
    return out


@contextlib.contextmanager
def fake_dns(zone: Zone) -> Iterator[tuple[int, list[str]]]:
    """(port, transports used) of a fake server for `zone` on 127.0.0.1, UDP and TCP on the same port."""
    used: list[str] = []

    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            used.append("udp")
            sock.sendto(reply(zone, data, 512), self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            length = struct.unpack("!H", self.request.recv(2))[0]
            data = self.request.recv(length)
            used.append("tcp")
            out = reply(zone, data, None)
            self.request.sendall(struct.pack("!H", len(out)) + out)

    udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
    port = udp.server_address[1]
    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield port, used
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()


def report() -> dns.DnsReport:
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test"), Domain("other.test")])
    return dns.report(answers, IPV4, None)


def zone_of(r: dns.DnsReport) -> Zone:
    """The zone an operator publishes from the report (and the PTR their provider sets)."""
    zone: Zone = {}
    for rec in r.records:
        if rec.type == "PTR":
            zone.setdefault((ipaddress.ip_address(rec.name).reverse_pointer, "PTR"), []).append(rec.value)
        else:
            zone.setdefault((rec.name, rec.type), []).append(rec.value)
    return zone


def run_check(zone: Zone, r: dns.DnsReport | None = None) -> dns_check.DnsCheck:
    with fake_dns(zone) as (port, _used):
        return dns_check.check(r or report(), "127.0.0.1", port=port)


def failing(result: dns_check.DnsCheck) -> dict[str, str]:
    return {c.label: c.detail for c in result.checks if not c.ok}


def test_the_zone_made_from_the_report_passes_record_by_record() -> None:
    result = run_check(zone_of(report()))
    assert result.ok, failing(result)
    labels = [c.label for c in result.checks]
    assert {"A mail.example.test", f"PTR {IPV4}", "SPF mail.example.test", "MX example.test", "SPF other.test",
            "DMARC example.test", "DMARC other.test"} <= set(labels)
    assert "published" in dns_check.check_text(result) and "every record is published" in dns_check.check_text(result)


@pytest.mark.parametrize(("key", "value", "label", "says"), [
    (("mail.example.test", "A"), ["198.51.100.99"], "A mail.example.test", "not this machine's 198.51.100.25"),
    (("example.test", "MX"), ["10 mx.elsewhere.test"], "MX example.test", "names mx.elsewhere.test"),
    (("other.test", "MX"), [], "MX other.test", "has no MX record"),
    (("example.test", "TXT"), ["v=spf1 a mx ~all"], "SPF example.test", 'says "v=spf1 a mx ~all"'),
    (("example.test", "TXT"), ["v=spf1 mx -all", "v=spf1 a -all"], "SPF example.test", "2 SPF records"),
    (("_dmarc.other.test", "TXT"), ["some other text"], "DMARC other.test", "no DMARC record"),
    (("25.100.51.198.in-addr.arpa", "PTR"), ["vps-123.provider.test"], f"PTR {IPV4}", "names vps-123.provider.test"),
])
def test_each_record_mangled_in_turn_fails_naming_it(key: tuple[str, str], value: list[str], label: str,
                                                     says: str) -> None:
    zone = zone_of(report())
    zone[key] = value
    result = run_check(zone)
    assert not result.ok
    assert list(failing(result)) == [label], failing(result)
    assert says in failing(result)[label]


def test_a_missing_name_is_nxdomain_and_a_stricter_dmarc_passes() -> None:
    zone = zone_of(report())
    del zone[("_dmarc.example.test", "TXT")]
    zone[("_dmarc.other.test", "TXT")] = ["v=DMARC1; p=reject; rua=mailto:postmaster@other.test"]
    result = run_check(zone)
    assert failing(result) == {"DMARC example.test": "_dmarc.example.test does not exist in DNS (NXDOMAIN)"}
    assert next(c for c in result.checks if c.label == "DMARC other.test").detail == "published (p=reject)"


def test_a_server_that_does_not_answer_fails_every_record() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        r = report()
        began = time.monotonic()
        result = dns_check.check(r, "127.0.0.1", port=silent.getsockname()[1],
                                 ask=lambda name, rtype: dns_query.query(name, rtype, server="127.0.0.1",
                                                                         port=silent.getsockname()[1], timeout=0.2))
        assert time.monotonic() - began < 10
    assert not result.ok and len(failing(result)) == len(r.records)
    assert all("did not answer" in detail for detail in failing(result).values())


def test_a_long_txt_record_comes_over_tcp_when_the_udp_reply_is_truncated() -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 736  # as long as a 4096-bit key's record: over 512 bytes with the rest
    zone: Zone = {("202612a._domainkey.example.test", "TXT"): [key]}
    with fake_dns(zone) as (port, used):
        answer = dns_query.query("202612a._domainkey.example.test", "TXT", server="127.0.0.1", port=port)
    assert used == ["udp", "tcp"]
    assert answer.values("TXT") == [key] and answer.records[0].strings == (key[:255], key[255:510], key[510:])
    with fake_dns({("example.test", "MX"): ["10 mail.example.test"]}) as (port, used):
        assert dns_query.query("example.test", "MX", server="127.0.0.1", port=port).values("MX") == \
            ["10 mail.example.test"]
    assert used == ["udp"]  # control: a short reply stays on UDP


def test_behind_nat_the_ptr_is_checked_for_the_address_dns_gives_the_host() -> None:
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")])
    r = dns.report(answers, None, None)
    zone = zone_of(dns.report(answers, IPV4, None))
    result = run_check(zone, r)
    assert result.ok, failing(result)
    assert next(c for c in result.checks if c.record.type == "PTR").detail == f"published ({IPV4})"
    assert "not compared" in next(c for c in result.checks if c.record.type == "A").detail


def test_the_server_to_ask_is_an_address_or_the_resolver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as bad:
        dns_check.server_to_ask("dns.example.test")
    assert "server" in bad.value.problems and "IP address" in bad.value.problems["server"]
    assert dns_check.server_to_ask(" 192.0.2.53 ") == "192.0.2.53"
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch example.test\nnameserver fe80::1%eth0\nnameserver 192.0.2.1\n")
    assert dns_query.default_server(conf) == "fe80::1"
    monkeypatch.setattr(dns_query, "RESOLV_CONF", tmp_path / "missing")
    with pytest.raises(ValidationError) as none:
        dns_check.server_to_ask(None)
    assert "names no nameserver" in none.value.problems["server"]


def test_a_reply_to_another_query_is_not_taken() -> None:
    msg = dns_query.build_query(7, "example.test", "A")
    with pytest.raises(ValueError):
        dns_query.parse_reply(msg, 7)  # a query, not a reply (QR unset)
    with pytest.raises(ValueError):
        dns_query.parse_reply(replace_id(reply({}, msg, None), 8), 7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent, pytest.raises(DnsUnreachable, match="0 s"):
        silent.bind(("127.0.0.1", 0))
        dns_query.query("example.test", "A", server="127.0.0.1", port=silent.getsockname()[1], timeout=0.3)


def replace_id(msg: bytes, qid: int) -> bytes:
    return struct.pack("!H", qid) + msg[2:]


def test_only_one_domain_keeps_the_servers_own_records() -> None:
    r = report()
    one = r.only("other.test")
    names = {rec.name for rec in one.records}
    assert one.domains == ["other.test"] and "example.test" not in names and "_dmarc.example.test" not in names
    assert {"mail.example.test", "other.test", "_dmarc.other.test", IPV4} <= names
    with pytest.raises(ValidationError) as bad:
        r.only("nothere.test")
    assert "domain" in bad.value.problems and "serves: example.test, other.test" in bad.value.problems["domain"]


def test_the_zone_fragment_holds_the_records_alone_and_a_line_to_fill_in() -> None:
    r = dns.report(Answers(hostname="mail.example.test", domains=[Domain("example.test"), Domain("other.test")]),
                   None, None)
    lines = r.zone().splitlines()
    assert "; fill in, then remove the ';': mail.example.test. IN A <this server's public IPv4>" in lines
    assert "other.test. IN MX 10 mail.example.test." in lines
    assert '_dmarc.other.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@other.test"' in lines
    assert not [line for line in lines if "PTR" in line or "Mail client" in line]
    known = dns.report(Answers(hostname="mail.example.test", domains=[Domain("example.test")]), IPV4, None)
    assert f"mail.example.test. IN A {IPV4}" in known.zone().splitlines()
    assert "fill in" not in known.zone()


KEY_A, KEY_B = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + "A" * 360, "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + "B" * 360


def dkim_report() -> dns.DnsReport:
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")])
    keys = [dns.DkimPublished("example.test", "202612a", "signing", KEY_A),
            dns.DkimPublished("example.test", "202612b", "standby", KEY_B)]
    return dns.report(answers, IPV4, None, dkim_keys=keys)


def test_dkim_records_pass_when_the_key_is_published_however_it_is_written() -> None:
    r = dkim_report()
    zone = zone_of(r)
    # Tags in another order, spaces inside p= (as some DNS panels wrap it): the key is what counts.
    zone[("202612b._domainkey.example.test", "TXT")] = [f"k=rsa; v=DKIM1; p={KEY_B[:100]} {KEY_B[100:]}"]
    result = run_check(zone, r)
    assert result.ok, failing(result)
    assert {"DKIM 202612a example.test", "DKIM 202612b example.test"} <= {c.label for c in result.checks}


@pytest.mark.parametrize(("value", "says"), [
    ([f"v=DKIM1; k=rsa; p={KEY_B}"], "the TXT record holds a different key"),
    (["v=DKIM1; k=rsa"], "holds no DKIM key"),
    ([], "has no TXT record"),
])
def test_a_dkim_record_mangled_fails_naming_its_selector(value: list[str], says: str) -> None:
    r = dkim_report()
    zone = zone_of(r)
    zone[("202612a._domainkey.example.test", "TXT")] = value
    result = run_check(zone, r)
    assert list(failing(result)) == ["DKIM 202612a example.test"], failing(result)
    assert says in failing(result)["DKIM 202612a example.test"]


def test_dkim_records_sit_between_spf_and_dmarc_and_an_unreadable_key_is_a_line_to_fill_in() -> None:
    records = [(rec.name, rec.type) for rec in dkim_report().records]
    spf, dmarc = records.index(("example.test", "TXT")), records.index(("_dmarc.example.test", "TXT"))
    assert records[spf + 1:dmarc] == [("202612a._domainkey.example.test", "TXT"),
                                      ("202612b._domainkey.example.test", "TXT")]
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")])
    unreadable = dns.report(answers, IPV4, None, dkim_keys=[dns.DkimPublished("example.test", "202612a", "signing",
                                                                              None)])
    assert ('; fill in, then remove the \';\': 202612a._domainkey.example.test. IN TXT '
            f'"{dns.DKIM_KEY_PLACEHOLDER}"') in unreadable.zone()
    long_line = next(line for line in dkim_report().zone().splitlines() if line.startswith("202612a."))
    assert long_line.count('"') == 4  # two strings: a 2048-bit key's record is longer than 255 bytes


def test_srv_records_tell_mail_apps_the_ports_and_what_is_not_offered() -> None:
    r = report()
    srv = {rec.name: rec.value for rec in r.records if rec.type == "SRV" and rec.name.endswith(".example.test")}
    assert srv == {"_submission._tcp.example.test": "0 1 587 mail.example.test",
                   "_submissions._tcp.example.test": "0 1 465 mail.example.test",
                   "_imaps._tcp.example.test": "0 1 993 mail.example.test",
                   "_pop3s._tcp.example.test": "0 0 0 .",  # POP3 is off by default
                   "_imap._tcp.example.test": "0 0 0 .", "_pop3._tcp.example.test": "0 0 0 ."}
    assert "_imaps._tcp.example.test. IN SRV 0 1 993 mail.example.test." in dns.zone_text(r)
    assert "_imap._tcp.example.test. IN SRV 0 0 0 ." in dns.zone_text(r)
    assert run_check(zone_of(r)).ok  # as printed: every SRV passes (the "." target decoded back)


@pytest.mark.parametrize(("name", "value", "detail"), [
    ("_imaps._tcp.example.test", ["10 5 993 other.example.net"], "not mail.example.test:993"),
    ("_imap._tcp.example.test", ["0 1 143 mail.example.test"], "a service this server does not offer"),
    ("_submission._tcp.example.test", [], "has no SRV record"),
])
def test_an_srv_record_naming_another_host_or_an_unoffered_service_fails(name: str, value: list[str],
                                                                          detail: str) -> None:
    zone = zone_of(report())
    zone[(name, "SRV")] = value
    result = run_check(zone)
    failed = {c.record.name: c.detail for c in result.checks if not c.ok}
    assert list(failed) == [name] and detail in failed[name], failed
