"""The names the ACME certificate is ordered for: the hostname, and (MTA-STS: policy/mta_sts.py) each domain's
mta-sts.<domain> — but only those whose DNS already points where the hostname does.

Why only those: the CA checks every name of an order, and one name it cannot reach fails the whole order — the
hostname's certificate included, on which every mail port depends. A domain whose mta-sts record is not
published yet is left out (and said); the next install after it is published orders again with it. A name that
stops pointing here is left out the same way, so certbot's renewals never carry a name that would fail them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailtui.model.answers import Answers
from mailtui.policy import mta_sts
from mailtui.system import dns_query
from mailtui.system.dns_query import Answer, DnsUnreachable

Ask = Callable[[str, str], Answer]


@dataclass(frozen=True)
class OrderNames:
    names: tuple[str, ...]  # the hostname first
    left_out: dict[str, str] = field(default_factory=dict)  # name -> why
    dns_known: bool = True  # False: DNS did not say where the hostname points (a certificate's names then stand)

    def compared(self) -> tuple[str, ...] | None:
        """The names to compare a certificate's with (None: not known, keep what it names)."""
        return self.names if self.dns_known else None

    def to_order(self, held: tuple[str, ...]) -> tuple[str, ...]:
        """The names of an order (one due for another reason, e.g. expiry): with DNS silent, the ones the
        certificate `held` already (the CA asks its own DNS), else the ones DNS points here."""
        return self.names if self.dns_known or not held else held


def _addresses(name: str, ask: Ask) -> tuple[set[str], str]:
    """The A and AAAA addresses DNS gives `name` (through a CNAME too), and what went wrong when none."""
    found: set[str] = set()
    said = ""
    for rtype in ("A", "AAAA"):
        try:
            answer = ask(name, rtype)
        except DnsUnreachable as exc:
            return set(), str(exc)
        if answer.rcode != "NOERROR":
            said = f"DNS answers {answer.rcode} for {name}"
        found.update(answer.values(rtype))
    return found, said or f"{name} has no A or AAAA record"


def order_names(answers: Answers, ask: Ask | None = None) -> OrderNames:
    """The hostname, and each MTA-STS policy host that DNS (this machine's resolver) points at the hostname's
    addresses."""
    hosts = mta_sts.policy_hosts(answers)
    if not hosts:
        return OrderNames((answers.hostname,))
    if ask is None:
        server = dns_query.default_server()
        if server is None:
            return OrderNames((answers.hostname,), dict.fromkeys(hosts, "no DNS server in /etc/resolv.conf"), False)

        def ask(name: str, rtype: str) -> Answer:
            return dns_query.query(name, rtype, server=server, timeout=2.0)

    mine, why = _addresses(answers.hostname, ask)
    if not mine:
        return OrderNames((answers.hostname,), dict.fromkeys(
            hosts, f"where {answers.hostname} points is not known ({why})"), False)
    names, left_out = [answers.hostname], {}
    for host in hosts:
        theirs, said = _addresses(host, ask)
        if theirs and theirs <= mine:
            names.append(host)
        else:
            left_out[host] = (f"{host} points at {', '.join(sorted(theirs))}, not at {answers.hostname}" if theirs
                              else said)
    return OrderNames(tuple(names), left_out)
