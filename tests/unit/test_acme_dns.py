"""mailtui/ops/acme_dns.py: before an ACME order, do the hostname's A/AAAA records point at this machine?

DNS is a fake `ask` answering from a zone dict; it fails closed: a name it does not hold is NXDOMAIN, and a
silent server raises DnsUnreachable as dns_query.query does. Every question asked is recorded.
"""

from __future__ import annotations

import pytest

from mailtui.model.answers import Answers, Domain
from mailtui.ops import acme_dns
from mailtui.system.dns_query import Answer, DnsUnreachable, Record

HOST = "mail.example.org"
HERE4 = "198.51.100.25"  # this machine's public addresses
HERE6 = "2001:db8::25"
ELSEWHERE4 = "203.0.113.9"
ELSEWHERE6 = "2001:db8::99"
SERVER = "192.0.2.53"

Zone = dict[tuple[str, str], list[str]]


class FakeDns:
    def __init__(self, zone: Zone, *, silent: frozenset[str] = frozenset(), rcode: str = "") -> None:
        self.zone = zone
        self.silent = silent  # record types it never answers
        self.rcode = rcode  # e.g. SERVFAIL for every question
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, rtype: str) -> Answer:
        self.asked.append((name, rtype))
        if rtype in self.silent:
            raise DnsUnreachable(f"the DNS server {SERVER} did not answer within 3 s ({name} {rtype})")
        if self.rcode:
            return Answer(self.rcode)
        if not any(n == name for n, _ in self.zone):
            return Answer("NXDOMAIN")
        return Answer("NOERROR", [Record(name, rtype, v) for v in self.zone.get((name, rtype), [])])


def answers(hostname: str = HOST) -> Answers:
    return Answers(hostname=hostname, domains=[Domain("example.org")])


def run(zone: Zone, ipv4: str | None = HERE4, ipv6: str | None = None, **fake: object) -> acme_dns.AcmeDnsCheck:
    dns = FakeDns(zone, **fake)  # type: ignore[arg-type]
    return acme_dns.check(answers(), ipv4, ipv6, SERVER, ask=dns)


def test_an_a_record_of_this_machine_passes() -> None:
    dns = FakeDns({(HOST, "A"): [HERE4]})
    result = acme_dns.check(answers("Mail.Example.org"), HERE4, None, SERVER, ask=dns)
    assert result.ok and result.hostname == HOST and result.server == SERVER
    assert result.lines == (f"{HOST} has A {HERE4}: this machine",)
    assert dns.asked == [(HOST, "A"), (HOST, "AAAA")]  # the canonical name; AAAA asked although no IPv6 here


def test_an_a_record_of_another_machine_fails_naming_both_addresses() -> None:
    result = run({(HOST, "A"): [ELSEWHERE4]})
    assert not result.ok and result.answered
    assert result.lines == (f"{HOST} has A {ELSEWHERE4}, this machine is {HERE4}",)


def test_a_and_aaaa_of_this_machine_pass_and_an_aaaa_elsewhere_fails() -> None:
    both = run({(HOST, "A"): [HERE4], (HOST, "AAAA"): [HERE6]}, ipv6=HERE6)
    assert both.ok and both.lines == (f"{HOST} has A {HERE4}: this machine", f"{HOST} has AAAA {HERE6}: this machine")
    v6_elsewhere = run({(HOST, "A"): [HERE4], (HOST, "AAAA"): [ELSEWHERE6]}, ipv6=HERE6)
    assert not v6_elsewhere.ok and f"{HOST} has AAAA {ELSEWHERE6}, this machine is {HERE6}" in v6_elsewhere.lines


def test_an_aaaa_record_while_this_machine_has_no_ipv6_fails() -> None:
    result = run({(HOST, "A"): [HERE4], (HOST, "AAAA"): [ELSEWHERE6]})
    assert not result.ok
    assert result.lines[1] == (f"{HOST} has AAAA {ELSEWHERE6}, but this machine has no public IPv6 address "
                               "(the CA tries IPv6 first)")


def test_no_aaaa_record_is_fine_with_an_ipv6_here_and_no_a_record_is_fine_with_a_matching_aaaa() -> None:
    assert run({(HOST, "A"): [HERE4]}, ipv6=HERE6).ok
    v6_only = run({(HOST, "AAAA"): [HERE6]}, ipv6=HERE6)
    assert v6_only.ok and v6_only.lines[0] == f"{HOST} has no A record (the CA connects over IPv6)"


def test_a_name_without_addresses_or_not_in_dns_fails() -> None:
    no_address = run({(HOST, "MX"): ["10 mx.example.net"]})
    assert not no_address.ok
    assert no_address.lines == (f"{HOST} has no A or AAAA record: the CA cannot find this machine",)
    missing = run({("other.example.org", "A"): [HERE4]})
    assert not missing.ok
    assert missing.lines == (f"{HOST} does not exist in DNS (NXDOMAIN): the CA cannot find this machine",)


def test_behind_nat_the_a_record_is_shown_not_compared() -> None:
    result = run({(HOST, "A"): [ELSEWHERE4]}, ipv4=None)
    assert result.ok
    assert result.lines == (f"{HOST} has A {ELSEWHERE4} (this machine's public IPv4 is not known here, e.g. behind "
                            "NAT: not compared)",)


@pytest.mark.parametrize("silent", [frozenset({"A"}), frozenset({"AAAA"}), frozenset({"A", "AAAA"})],
                         ids=["A", "AAAA", "both"])
def test_a_dns_server_that_does_not_answer_is_never_a_pass(silent: frozenset[str]) -> None:
    # The zone would pass: only the silence makes it fail.
    result = run({(HOST, "A"): [HERE4]}, ipv6=HERE6, silent=silent)
    assert not result.ok and not result.answered
    assert result.lines[0] == f"DNS did not answer, so where {HOST} points is not known:"
    assert list(result.lines[1:]) == [
        f"the DNS server {SERVER} did not answer within 3 s ({HOST} {rtype})" for rtype in ("A", "AAAA")
        if rtype in silent]


def test_servfail_is_not_a_pass_either() -> None:
    result = run({(HOST, "A"): [HERE4]}, rcode="SERVFAIL")
    assert not result.ok and not result.answered
    assert result.lines[1:] == (f"the DNS server answered SERVFAIL for {HOST} A",
                                f"the DNS server answered SERVFAIL for {HOST} AAAA")


def test_a_bad_hostname_is_not_asked() -> None:
    dns = FakeDns({})
    result = acme_dns.check(answers("localhost"), HERE4, None, SERVER, ask=dns)
    assert not result.ok and not result.answered and dns.asked == [] and "DNS was not asked" in result.lines[0]
