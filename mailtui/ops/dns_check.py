"""`mailtui dns check`: ask DNS for every record `mailtui dns` prints and say, record by record, whether it is
published as printed — present and equal, or what differs, in words.

The records compared are the very ones the report holds (ops/dns.py: one source for the command, the Verify
screen and the dashboard). Rules, per kind of record:
  A / AAAA   the host name has this machine's public address (when it is not known here — behind NAT —
             any address passes, and the line says it could not be compared);
  MX         the domain's MX names this host (another preference is fine, another host is not);
  PTR        the reverse name of the public address points back at the host name;
  SPF        exactly one `v=spf1` TXT record at the name, equal to the one printed (two are an error to
             receivers: both are ignored);
  DMARC      a `v=DMARC1` TXT record at _dmarc.DOMAIN (a stricter policy than the printed p=none passes:
             tightening it is the advice);
  TLS-RPT    exactly one `v=TLSRPTv1` TXT record with a `rua=` address (the operator's address is theirs);
  other TXT  equal to the printed value (MTA-STS: its id must be the policy's current one);
  CNAME      the name is an alias of the printed host, or has the same A addresses as that host;
  SRV        a record naming the printed port and host (priority and weight are the operator's), or, where
             the printed target is "." (not offered), only such a record.
A DNS server that does not answer fails every record it was asked for: silence is never a pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from mailtui.errors import ValidationError
from mailtui.model import dkim, validate
from mailtui.ops.dns import DnsRecord, DnsReport, unknown
from mailtui.system import dns_query
from mailtui.system.dns_query import Answer, DnsUnreachable

Query = Callable[[str, str], Answer]  # (name, type) -> the server's answer; raises DnsUnreachable


@dataclass(frozen=True)
class RecordCheck:
    record: DnsRecord
    ok: bool
    detail: str  # what DNS holds, in words
    found: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The record as the operator knows it: "MX example.org", "SPF example.org", "DMARC example.org"."""
        r = self.record
        if r.type == "TXT" and r.value.startswith("v=spf1"):
            return f"SPF {r.name}"
        if r.type == "TXT" and r.name.startswith("_dmarc."):
            return f"DMARC {r.name.removeprefix('_dmarc.')}"
        if r.type == "TXT" and "._domainkey." in r.name:
            selector, _, domain = r.name.partition("._domainkey.")
            return f"DKIM {selector} {domain}"
        if r.type == "TXT" and r.value.startswith("v=STSv1"):
            return f"MTA-STS {r.name.removeprefix('_mta-sts.')}"
        if r.type == "TXT" and r.value.startswith("v=TLSRPTv1"):
            return f"TLS-RPT {r.name.removeprefix('_smtp._tls.')}"
        if r.type == "PTR":
            return f"PTR {r.name}"
        return f"{r.type} {r.name}"

    def to_json(self) -> dict[str, object]:
        return {"record": vars(self.record), "label": self.label, "ok": self.ok, "detail": self.detail,
                "found": list(self.found)}


@dataclass(frozen=True)
class DnsCheck:
    server: str
    checks: list[RecordCheck]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {"server": self.server, "ok": self.ok, "checks": [c.to_json() for c in self.checks]}

    def text(self) -> str:
        """What `mailtui dns check` prints (check_text)."""
        return check_text(self)


def _name(name: str) -> str:
    return name.rstrip(".").lower()


def _quoted(values: list[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def check_record(record: DnsRecord, ask: Query) -> RecordCheck:
    """One printed record against what DNS says."""
    try:
        if record.type == "PTR":
            return _check_ptr(record, ask)
        answer = ask(record.name, record.type)
    except DnsUnreachable as exc:
        return RecordCheck(record, False, str(exc))
    if answer.rcode not in ("NOERROR", "NXDOMAIN"):
        return RecordCheck(record, False, f"the DNS server answered {answer.rcode} for {record.name}")
    if answer.rcode == "NXDOMAIN":
        return RecordCheck(record, False, f"{record.name} does not exist in DNS (NXDOMAIN)")
    found = answer.values(record.type)
    if record.type in ("A", "AAAA"):
        return _check_address(record, found)
    if record.type == "MX":
        return _check_mx(record, found)
    if record.type == "TXT":
        return _check_txt(record, found)
    if record.type == "SRV":
        return _check_srv(record, found)
    if record.type == "CNAME":
        return _check_cname(record, found, ask)
    ok = record.value in found
    return RecordCheck(record, ok, "published" if ok else f"DNS holds {_quoted(found) or 'no such record'}",
                       tuple(found))


def _check_address(record: DnsRecord, found: list[str]) -> RecordCheck:
    if not found:
        return RecordCheck(record, False, f"{record.name} has no {record.type} record")
    if unknown(record.value):  # this machine's public address is not known here
        return RecordCheck(record, True, f"{record.name} has {', '.join(found)} (this machine's public address "
                           "is not known here, so it was not compared)", tuple(found))
    want = ipaddress.ip_address(record.value)
    ok = any(ipaddress.ip_address(v) == want for v in found)
    detail = "published" if ok else f"{record.name} has {', '.join(found)}, not this machine's {record.value}"
    return RecordCheck(record, ok, detail, tuple(found))


def _check_mx(record: DnsRecord, found: list[str]) -> RecordCheck:
    want = _name(record.value.split()[-1])
    targets = [_name(v.split()[-1]) for v in found]
    if not found:
        return RecordCheck(record, False, f"{record.name} has no MX record: mail for it cannot find this server")
    ok = want in targets
    detail = "published" if ok else f"the MX of {record.name} names {', '.join(targets)}, not {want}"
    if ok and record.value not in found:
        detail = f"published (as {', '.join(v for v in found if _name(v.split()[-1]) == want)})"
    return RecordCheck(record, ok, detail, tuple(found))


def _check_txt(record: DnsRecord, found: list[str]) -> RecordCheck:
    if record.value.startswith("v=spf1"):
        spf = [v for v in found if v.lower().startswith("v=spf1")]
        if not spf:
            return RecordCheck(record, False, f"{record.name} has no SPF record (a TXT record starting v=spf1)",
                               tuple(found))
        if len(spf) > 1:
            return RecordCheck(record, False, f"{record.name} has {len(spf)} SPF records ({_quoted(spf)}): "
                               "receivers then ignore SPF; keep one", tuple(found))
        ok = " ".join(spf[0].split()) == record.value
        return RecordCheck(record, ok, "published" if ok else f"the SPF record says \"{spf[0]}\"", tuple(found))
    if record.value.startswith("v=DMARC1"):
        dmarc = [v for v in found if v.replace(" ", "").upper().startswith("V=DMARC1")]
        if not dmarc:
            return RecordCheck(record, False, f"{record.name} has no DMARC record", tuple(found))
        if len(dmarc) > 1:
            return RecordCheck(record, False, f"{record.name} has {len(dmarc)} DMARC records: receivers then "
                               "ignore DMARC; keep one", tuple(found))
        policy = next((t.strip() for t in dmarc[0].split(";") if t.strip().startswith("p=")), "no p= tag")
        ok = policy != "no p= tag"
        return RecordCheck(record, ok, f"published ({policy})" if ok else "the DMARC record has no p= policy",
                           tuple(found))
    if record.value.startswith("v=DKIM1"):
        return _check_dkim(record, found)
    if record.value.startswith("v=TLSRPTv1"):
        reports = [v for v in found if v.replace(" ", "").startswith("v=TLSRPTv1")]
        if len(reports) != 1:
            return RecordCheck(record, False, f"{record.name} has {len(reports) or 'no'} TLS-RPT records"
                               + (" (keep one)" if reports else ""), tuple(found))
        ok = "rua=" in reports[0]
        return RecordCheck(record, ok, "published" if ok else "the TLS-RPT record names no rua= address",
                           tuple(found))
    ok = record.value in found
    return RecordCheck(record, ok, "published" if ok else
                       (f"{record.name} holds {_quoted(found)}" if found else f"{record.name} has no TXT record"),
                       tuple(found))


def _check_cname(record: DnsRecord, found: list[str], ask: Query) -> RecordCheck:
    """An alias of the host; an A record of the same addresses does as well (some providers allow no CNAME)."""
    targets = [_name(v) for v in found]
    if _name(record.value) in targets:
        return RecordCheck(record, True, "published", tuple(found))
    if targets:
        return RecordCheck(record, False, f"{record.name} is an alias of {', '.join(targets)}, not {record.value}",
                           tuple(found))
    try:
        mine = set(ask(record.value, "A").values("A"))
        theirs = ask(record.name, "A")
    except DnsUnreachable as exc:
        return RecordCheck(record, False, str(exc))
    addresses = theirs.values("A")
    if mine and set(addresses) == mine:
        return RecordCheck(record, True, f"published (as A {', '.join(addresses)}, the addresses of {record.value})",
                           tuple(addresses))
    if theirs.rcode == "NXDOMAIN":
        return RecordCheck(record, False, f"{record.name} does not exist in DNS (NXDOMAIN)")
    return RecordCheck(record, False, f"{record.name} has " + (f"A {', '.join(addresses)}, not the addresses of "
                       f"{record.value}" if addresses else "no CNAME or A record"), tuple(addresses))


def _srv_target(value: str) -> tuple[str, str]:
    """(port, target) of an SRV value "priority weight port target"."""
    _priority, _weight, port, target = (value.split() + ["", "", "", ""])[:4]
    return port, _name(target) or "."


def _check_srv(record: DnsRecord, found: list[str]) -> RecordCheck:
    want = _srv_target(record.value)
    targets = [_srv_target(v) for v in found]
    if not found:
        return RecordCheck(record, False, f"{record.name} has no SRV record", ())
    if want[1] == ".":
        ok = all(t[1] == "." for t in targets)
        return RecordCheck(record, ok, "published" if ok else
                           f"{record.name} points mail apps at {', '.join(f'{t}:{p}' for p, t in targets)}, a "
                           "service this server does not offer", tuple(found))
    ok = want in targets
    return RecordCheck(record, ok, "published" if ok else
                       f"{record.name} names {', '.join(f'{t}:{p}' for p, t in targets)}, not {want[1]}:{want[0]}",
                       tuple(found))


def _check_dkim(record: DnsRecord, found: list[str]) -> RecordCheck:
    """The key is what matters (p=); the other tags and the spacing may be written differently."""
    if not found:
        return RecordCheck(record, False, f"{record.name} has no TXT record", ())
    keys = [dkim.record_key(v) for v in found]
    want = dkim.record_key(record.value)
    if want in keys:
        return RecordCheck(record, True, "published", tuple(found))
    if not any(k is not None for k in keys):
        return RecordCheck(record, False, f"the TXT record holds no DKIM key (p=): {_quoted(found)}", tuple(found))
    return RecordCheck(record, False, "the TXT record holds a different key", tuple(found))


def _check_ptr(record: DnsRecord, ask: Query) -> RecordCheck:
    address = record.name
    if unknown(address):
        # This machine's public address is not known here (behind NAT): the one DNS gives the host name.
        published = ask(record.value, "A").values("A")
        if not published:
            return RecordCheck(record, False, f"this machine's public address is not known here and {record.value} "
                               "has no A record to take it from")
        address = published[0]
    reverse = ipaddress.ip_address(address).reverse_pointer
    answer = ask(reverse, "PTR")
    found = [_name(v) for v in answer.values("PTR")]
    want = _name(record.value)
    if not found:
        return RecordCheck(record, False, f"{address} has no reverse DNS (PTR): set it to {want} at your "
                           "hosting provider")
    ok = want in found
    return RecordCheck(record, ok, f"published ({address})" if ok else
                       f"the reverse DNS of {address} names {', '.join(found)}, not {want} (set it at your "
                       "hosting provider)", tuple(found))


def server_to_ask(server: str | None) -> str:
    """`server` (an IP address), else this machine's resolver (/etc/resolv.conf). ValidationError names
    `server` when it is not an address, or when there is none to ask."""
    if server is None:
        found = dns_query.default_server()
        if found is None:
            raise ValidationError({"server": f"{dns_query.RESOLV_CONF} names no nameserver: give one with --server"})
        return found
    problem = validate.ip_address_problem(server)
    if problem:
        raise ValidationError({"server": problem})
    return str(validate.canonical_ip_address(server))


def check(report: DnsReport, server: str, *, port: int = 53, ask: Query | None = None) -> DnsCheck:
    """Every record of `report` against what `server` answers."""
    def default_ask(name: str, rtype: str) -> Answer:
        return dns_query.query(name, rtype, server=server, port=port)

    asker = ask or default_ask
    return DnsCheck(server, [check_record(record, asker) for record in report.records])


def check_text(result: DnsCheck) -> str:
    """What `mailtui dns check` prints: one line a record, then the verdict."""
    lines = [f"Asked the DNS server {result.server}:"]
    width = max((len(c.label) for c in result.checks), default=0)
    for c in result.checks:
        lines.append(f"{'ok  ' if c.ok else 'FAIL'} {c.label:<{width}}  {c.detail}")
    failed = sum(not c.ok for c in result.checks)
    lines.append("" if not result.checks else
                 "every record is published as printed" if not failed
                 else f"{failed} of {len(result.checks)} record(s) not as `mailtui dns` prints them")
    return "\n".join(lines).rstrip() + "\n"
