"""Before an ACME order: do the hostname's A/AAAA records point at this machine?

The CA's HTTP-01 challenge connects to the hostname on port 80 at the addresses DNS gives it (IPv6 first
when there is an AAAA record). When DNS names another machine the order fails, and the self-signed
certificate keeps serving (steps/acme.py). The wizard asks this before its review and shows a failure as a
warning, not a stop: DNS may be about to change.

The records compared are the DNS report's own A (and AAAA, when this machine has a public IPv6) records
(ops/dns.py), each checked by ops/dns_check.py's check_record. Rules:
  * the name has an A or an AAAA record;
  * an A record is this machine's public IPv4 (when that is not known here — behind NAT — the address
    DNS gives is shown and not compared, as `mailtui dns check` does);
  * an AAAA record is this machine's public IPv6; an AAAA record while this machine has no public IPv6
    fails (the CA would try that address first);
  * a DNS server that does not answer, or answers SERVFAIL/REFUSED, fails: silence is never a pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailtui.model import validate
from mailtui.model.answers import Answers
from mailtui.ops import dns
from mailtui.ops.dns_check import Query, RecordCheck, check_record
from mailtui.system import dns_query
from mailtui.system.dns_query import Answer, DnsUnreachable

USABLE = ("NOERROR", "NXDOMAIN")


@dataclass(frozen=True)
class AcmeDnsCheck:
    hostname: str
    server: str  # the DNS server asked
    ok: bool  # DNS answered, and every A/AAAA record it gives is this machine (or could not be compared)
    lines: tuple[str, ...]  # what was found, in words, one fact a line
    answered: bool = True  # False: DNS gave no usable answer (or was not asked), so nothing is known

    def text(self) -> str:
        return "\n".join(self.lines)

    def to_json(self) -> dict[str, object]:
        return {"hostname": self.hostname, "server": self.server, "ok": self.ok, "answered": self.answered,
                "lines": list(self.lines)}


class _Asker:
    """`ask`, remembering each question that got no usable answer."""

    def __init__(self, ask: Query) -> None:
        self.ask = ask
        self.failures: list[str] = []
        self.nxdomain = False

    def __call__(self, name: str, rtype: str) -> Answer:
        try:
            answer = self.ask(name, rtype)
        except DnsUnreachable as exc:
            self.failures.append(str(exc))
            raise
        if answer.rcode not in USABLE:
            self.failures.append(f"the DNS server answered {answer.rcode} for {name} {rtype}")
        self.nxdomain = self.nxdomain or answer.rcode == "NXDOMAIN"
        return answer


def _any_aaaa(host: str, ask: _Asker) -> RecordCheck:
    """No public IPv6 here: any AAAA record would send the CA to another machine."""
    record = dns.DnsRecord(host, "AAAA", "", "")
    try:
        answer = ask(host, "AAAA")
    except DnsUnreachable as exc:
        return RecordCheck(record, False, str(exc))
    found = tuple(answer.values("AAAA")) if answer.rcode == "NOERROR" else ()
    return RecordCheck(record, not found, "", found)


def check(answers: Answers, ipv4: str | None, ipv6: str | None, server: str, *, port: int = 53,
          ask: Query | None = None) -> AcmeDnsCheck:
    """Whether `server` gives the answers' hostname A/AAAA records of this machine (`ipv4`, `ipv6`: its public
    addresses, None when not known here)."""
    host = validate.canonical_domain(answers.hostname)
    problem = validate.hostname_problem(host)
    if problem:
        return AcmeDnsCheck(host, server, False, (f"the hostname {problem}: DNS was not asked",), answered=False)

    def default_ask(name: str, rtype: str) -> Answer:
        return dns_query.query(name, rtype, server=server, port=port)

    asker = _Asker(ask or default_ask)
    wanted = {r.type: r for r in dns.dns_records(replace(answers, hostname=host), ipv4, ipv6)
              if r.name == host and r.type in ("A", "AAAA")}
    a = check_record(wanted["A"], asker)
    aaaa = check_record(wanted["AAAA"], asker) if "AAAA" in wanted else _any_aaaa(host, asker)

    if asker.failures:
        return AcmeDnsCheck(host, server, False, (
            f"DNS did not answer, so where {host} points is not known:", *asker.failures), answered=False)
    if not a.found and not aaaa.found:
        why = "does not exist in DNS (NXDOMAIN)" if asker.nxdomain else "has no A or AAAA record"
        return AcmeDnsCheck(host, server, False, (f"{host} {why}: the CA cannot find this machine",))

    lines = [_address_line(host, "A", a, ipv4, " (this machine's public IPv4 is not known here, e.g. behind NAT: "
                           "not compared)", "the CA connects over IPv6")]
    if aaaa.found:
        lines.append(_address_line(host, "AAAA", aaaa, ipv6, ", but this machine has no public IPv6 address (the "
                                   "CA tries IPv6 first)", ""))
    ok = (not a.found or a.ok) and (not aaaa.found or aaaa.ok)
    return AcmeDnsCheck(host, server, ok, tuple(lines))


def _address_line(host: str, rtype: str, found: RecordCheck, mine: str | None, unknown: str, none: str) -> str:
    """One record type's finding: here, elsewhere, or (`mine` None) not comparable; `none` when absent."""
    if not found.found:
        return f"{host} has no {rtype} record ({none})"
    said = f"{host} has {rtype} {', '.join(found.found)}"
    if mine is None:
        return said + unknown
    return f"{said}: this machine" if found.ok else f"{said}, this machine is {mine}"
