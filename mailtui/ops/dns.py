"""What the operator does next, outside this machine: the DNS records to publish and the mail client settings.

* dns_records(): MX, SPF, A/AAAA, PTR advice, DKIM (each selector mailtui keeps, ops/dkim.py), DMARC.
* client_settings(): what to type into a mail client.
* DnsReport / report(): both for the server and every domain it serves — the one source for `mailtui dns`,
  the Verify screen and the dashboard's DNS tab; report_text() is the text `mailtui dns` prints and
  "Write to a file" saves (a zone-file fragment: records as lines, everything else as comments).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mailtui import __version__
from mailtui.errors import ValidationError
from mailtui.model import dkim, validate
from mailtui.model.answers import Answers, Domain
from mailtui.policy import mta_sts, ports
from mailtui.system import commands, files

IMAPS_PORT = 993


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    value: str
    note: str


IPV4_PLACEHOLDER = "<this server's public IPv4>"
DKIM_KEY_PLACEHOLDER = "<the DKIM key: its file cannot be read>"


@dataclass(frozen=True)
class DkimPublished:
    """One DKIM selector whose record belongs in DNS (ops/dkim.py reads them from the installed keys)."""

    domain: str
    selector: str
    role: str  # signing, standby or retired (model/dkim.py)
    public_key: str | None  # base64 (p=); None when the key file cannot be read

    @property
    def record(self) -> DnsRecord:
        notes = {
            "signing": f"DKIM: the key rspamd signs {self.domain}'s mail with",
            "standby": "DKIM standby key: published now, so that `mailtui dkim rotate` never waits for DNS",
            "retired": "DKIM key retired by a rotation: keep it a few days, so that mail it signed still verifies, "
                       "then remove it",
        }
        value = dkim.txt_record(self.public_key) if self.public_key else DKIM_KEY_PLACEHOLDER
        return DnsRecord(f"{self.selector}._domainkey.{self.domain}", "TXT", value, notes.get(self.role, "DKIM"))


def unknown(value: str) -> bool:
    """A placeholder where mailtui cannot know the value here (this machine's public address behind NAT)."""
    return value.startswith("<")


def under(name: str, zone: str) -> bool:
    """`name` is `zone` or a name in it."""
    return name == zone or name.endswith("." + zone)


def dns_records(answers: Answers, public_ipv4: str | None = None, public_ipv6: str | None = None,
                dkim_keys: Sequence[DkimPublished] = ()) -> list[DnsRecord]:
    """The DNS records the operator should publish for this server and its domains."""
    host = answers.hostname
    records = [
        DnsRecord(host, "A", public_ipv4 or IPV4_PLACEHOLDER,
                  "the mail server's address; the MX records point here"),
    ]
    if public_ipv6:
        records.append(DnsRecord(host, "AAAA", public_ipv6, "the mail server's IPv6 address"))
    records.append(DnsRecord(public_ipv4 or IPV4_PLACEHOLDER, "PTR", host,
                             "reverse DNS: set it at your hosting provider, not in your zone; it must "
                             f"resolve to {host}, or many receivers reject or spam-file your mail"))
    if public_ipv6:
        records.append(DnsRecord(public_ipv6, "PTR", host,
                                 f"reverse DNS for the IPv6 address, also at your hosting provider: {host}"))
    records.append(DnsRecord(host, "TXT", "v=spf1 a -all",
                             "SPF for the server's own name (bounces and the HELO name)"))
    for domain in answers.domain_names:
        records += [
            DnsRecord(domain, "MX", f"10 {host}", f"mail for {domain} is delivered to {host}"),
            DnsRecord(domain, "TXT", "v=spf1 mx -all",
                      f"SPF: only the domain's MX servers send mail for {domain}"),
            *(k.record for k in dkim_keys if k.domain == domain),
            DnsRecord(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}",
                      "optional DMARC: reports only (p=none); tighten once everything passes"),
            *srv_records(answers, domain),
            *mta_sts_records(answers, domain),
        ]
    return records


def mta_sts_records(answers: Answers, domain: str) -> list[DnsRecord]:
    """MTA-STS and TLS reporting (ACME mode with the webmail: policy/mta_sts.py): the policy host, served by this
    server's nginx with the CA's certificate (ordered for that name once it points here), the TXT record that
    announces the policy's id, and where senders report TLS failures."""
    if not mta_sts.enabled(answers):
        return []
    host = mta_sts.policy_host(domain)
    return [
        DnsRecord(host, "CNAME", answers.hostname,
                  f"MTA-STS: senders fetch the policy from https://{host}{mta_sts.WELL_KNOWN} (this server); the "
                  "certificate names it once this record is there (run `mailtui install` again after publishing)"),
        DnsRecord(f"{mta_sts.TXT_LABEL}.{domain}", "TXT", mta_sts.txt_value(answers),
                  f"MTA-STS in mode {mta_sts.mode(answers)}: {mta_sts.what_mode_does(answers)}; the id changes "
                  "whenever the policy does" + (
                      '; once the TLS reports are clean, set [tls] mta_sts = "enforce" and run `mailtui install` '
                      "again, then publish the new id" if mta_sts.mode(answers) == "testing" else "")),
        DnsRecord(f"{mta_sts.TLSRPT_LABEL}.{domain}", "TXT", mta_sts.tlsrpt_value(domain),
                  f"TLS reports (RFC 8460): senders mail a daily summary of their TLS to postmaster@{domain}"),
    ]


NOT_OFFERED = "0 0 0 ."  # RFC 6186 §4: the target "." says the service is decidedly not available


def srv_records(answers: Answers, domain: str) -> list[DnsRecord]:
    """RFC 6186 / RFC 8314 SRV records: where mail apps find IMAPS, submission (and POP3S) for `domain`'s
    addresses, and that IMAP and POP3 without TLS (and the ports these answers do not serve) are not offered."""
    records = []
    for port in ports.PORTS:
        if not port.srv:
            continue
        name = f"_{port.srv}._tcp.{domain}"
        if port.open and port.used(answers):
            records.append(DnsRecord(name, "SRV", f"0 1 {port.number} {answers.hostname}",
                                     f"mail apps find {port.label} ({port.number}) for {domain} addresses here"))
        else:
            records.append(DnsRecord(name, "SRV", NOT_OFFERED,
                                     f"mail apps: no {port.label} for {domain} (port {port.number} is not served)"))
    return records


def parse_ip_addr(text: str) -> tuple[str | None, str | None]:
    """The first public IPv4 and IPv6 address in `ip -o addr show scope global` output.

    Private (RFC 1918, ULA), documentation and other non-global ranges are skipped, and so are
    temporary (privacy), deprecated and tentative IPv6 addresses: none of them belongs in DNS."""
    v4: str | None = None
    v6: str | None = None
    for line in text.splitlines():
        fields = line.replace("\\", " ").split()
        for family in ("inet", "inet6"):
            if family not in fields:
                continue
            i = fields.index(family)
            if i + 1 >= len(fields):
                continue
            flags = set(fields[i + 2:])
            if "scope" in flags and "global" not in flags:
                continue
            if flags & {"temporary", "deprecated", "tentative", "dadfailed"}:
                continue
            address = fields[i + 1].split("/", 1)[0]
            if family == "inet" and v4 is None and _is_public(address):
                v4 = address
            elif family == "inet6" and v6 is None and _is_public(address):
                v6 = address
    return v4, v6


def parse_if_inet6(text: str) -> str | None:
    """The first public IPv6 address in /proc/net/if_inet6 (scope 00 = global; flags skip temporary,
    deprecated and tentative ones)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[3] != "00":
            continue
        flags = int(fields[4], 16)
        if flags & (0x01 | 0x20 | 0x40):  # IFA_F_TEMPORARY, IFA_F_DEPRECATED, IFA_F_TENTATIVE
            continue
        raw = fields[0]
        if len(raw) != 32:
            continue
        address = str(ipaddress.IPv6Address(bytes.fromhex(raw)))
        if _is_public(address):
            return address
    return None


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def public_addresses() -> tuple[str | None, str | None]:
    """(IPv4, IPv6): this machine's first public addresses, from its own interfaces only (never the
    network). Behind NAT the public IPv4 is not on an interface: then None (the records show a
    placeholder)."""

    if commands.which("ip"):
        result = commands.run(["ip", "-o", "addr", "show", "scope", "global"], check=False, timeout=10)
        if result.ok:
            return parse_ip_addr(result.output)
    try:
        v6 = parse_if_inet6(Path("/proc/net/if_inet6").read_text())
    except OSError:
        v6 = None
    return None, v6


# ---------------------------------------------------------------- mail clients


@dataclass(frozen=True)
class ClientSetting:
    label: str
    value: str


def client_settings(answers: Answers) -> list[ClientSetting]:
    """What a mail client (Thunderbird, a phone) needs, in the order they ask for it."""
    host = answers.hostname
    example = answers.users[0].email if answers.users else (
        f"you@{answers.domain_names[0]}" if answers.domains else "you@example.org")
    settings = [
        ClientSetting("Incoming mail (IMAP) server", host),
        ClientSetting("IMAP port and security", f"{IMAPS_PORT}, SSL/TLS"),
    ]
    if answers.services.pop3:
        settings.append(ClientSetting("POP3 port and security (instead of IMAP)", "995, SSL/TLS"))
    settings += [
        ClientSetting("Outgoing mail (SMTP) server", host),
        ClientSetting("SMTP port and security", "587, STARTTLS"),
    ]
    if answers.services.submissions:
        settings.append(ClientSetting("SMTP port and security (alternative)", "465, SSL/TLS"))
    settings += [
        ClientSetting("Username", f"the full address, e.g. {example}"),
        ClientSetting("Password", "the mailbox password (normal password authentication)"),
    ]
    if answers.tls.mode == "self-signed":
        settings.append(ClientSetting("Certificate",
                                      "self-signed: the client asks once to accept it (or install your own)"))
    return settings


# ---------------------------------------------------------------- the report: records and settings together


@dataclass(frozen=True)
class DnsReport:
    hostname: str
    ipv4: str | None  # this machine's public addresses (None: not on an interface, e.g. behind NAT)
    ipv6: str | None
    domains: list[str]
    records: list[DnsRecord]
    settings: list[ClientSetting]

    def text(self) -> str:
        """Zone-file syntax, values whole: what `mailtui dns` prints and "Write to a file" saves."""
        return report_text(self)

    def only(self, domain: str | None) -> DnsReport:
        """The report for one of its domains (None: all): the server's own records and that domain's.
        ValidationError names `domain` when the server does not serve it."""
        if domain is None:
            return self
        name = validate.canonical_domain(domain)
        if name not in self.domains:
            served = ", ".join(self.domains) or "none yet"
            raise ValidationError({"domain": f"{domain!r} is not a domain this server serves (it serves: {served})"})

        others = [d for d in self.domains if d != name]
        kept = [r for r in self.records
                if r.name == self.hostname or under(r.name, name) or not any(under(r.name, d) for d in others)]
        return replace(self, domains=[name], records=kept)

    def zone(self) -> str:
        """A BIND zone fragment of the records alone, to paste (`mailtui dns --zone`)."""
        return zone_text(self)

    def to_json(self) -> dict[str, object]:
        return {"hostname": self.hostname, "ipv4": self.ipv4, "ipv6": self.ipv6, "domains": self.domains,
                "records": [vars(r) for r in self.records],
                "client_settings": [vars(s) for s in self.settings]}


def report(answers: Answers, ipv4: str | None, ipv6: str | None, domains: Sequence[str] | None = None,
           dkim_keys: Sequence[DkimPublished] = ()) -> DnsReport:
    """The records for the server and `domains` (default: the answers' own; an installed server passes every
    domain in its database, so a domain added in the dashboard is there too) with their DKIM selectors."""
    names = list(dict.fromkeys(domains if domains is not None else answers.domain_names))
    served = replace(answers, domains=[Domain(name) for name in names])
    return DnsReport(answers.hostname, ipv4, ipv6, names, dns_records(served, ipv4, ipv6, dkim_keys),
                     client_settings(answers))


def _fqdn(name: str) -> str:
    return name if name.endswith(".") or unknown(name) else f"{name}."


def _zone_value(record: DnsRecord) -> str:
    if record.type == "TXT":  # a zone file's TXT strings are quoted, at most 255 characters each
        chunks = [record.value[i:i + 255] for i in range(0, len(record.value), 255)] or [""]
        return " ".join(f'"{chunk}"' for chunk in chunks)
    if record.type in ("MX", "CNAME", "NS", "SRV"):
        *rest, target = record.value.split(" ")
        return " ".join([*rest, _fqdn(target)])
    return record.value


def report_text(r: DnsReport) -> str:
    """What `mailtui dns` prints: each record under its note, in zone-file syntax; the reverse DNS and the
    client settings as comments (neither goes into your zone)."""
    lines = [f"; DNS for the mail server {r.hostname} (written by mailtui {__version__})",
             "; Publish the records below in each domain's zone at your DNS provider.",
             "; Reverse DNS (PTR) is set at your hosting provider, not in a zone.",
             "; `mailtui dns` prints this again at any time; `mailtui dns --output FILE` saves it.", ""]
    for record in r.records:
        lines.append(f"; {record.note}" if record.note else ";")
        if record.type == "PTR":
            pointer = record.name
            with contextlib.suppress(ValueError):  # the placeholder of an address not known
                pointer = ipaddress.ip_address(record.name).reverse_pointer + "."
            lines.append(f";   {pointer} IN PTR {_fqdn(record.value)}")
        else:
            lines.append(f"{_fqdn(record.name)} IN {record.type} {_zone_value(record)}")
        lines.append("")
    lines.append("; Mail client settings")
    lines += [f";   {s.label}: {s.value}" for s in r.settings]
    return "\n".join(lines) + "\n"


def zone_text(r: DnsReport) -> str:
    """What `mailtui dns --zone` prints: a BIND zone fragment to paste — the records only, absolute names, one a
    line, each domain's under a comment naming it. A value mailtui cannot know here (this machine's public
    address behind NAT) is a commented-out line to fill in; the PTR is not part of any zone you publish."""
    lines = [f"; mailtui {__version__}: the records for {r.hostname} and {', '.join(r.domains) or 'no domain yet'}"]
    current = None
    for record in r.records:
        if record.type == "PTR":
            continue
        owner = next((d for d in r.domains if under(record.name, d)), r.hostname)
        if owner != current:
            lines += ["", f"; {owner}"]
            current = owner
        line = f"{_fqdn(record.name)} IN {record.type} {_zone_value(record)}"
        lines.append(f"; fill in, then remove the ';': {line}" if unknown(record.value) else line)
    return "\n".join(lines) + "\n"


def write_report(r: DnsReport, path: Path) -> Path:
    """Save report_text() to `path` (an absolute path; the file is replaced whole, readable by all: it holds
    nothing secret). ValidationError names `path` when it cannot be."""
    if not path.is_absolute():
        raise ValidationError({"path": f"{path} is not an absolute path (e.g. /root/mailtui-dns.txt)"})
    if path.is_dir():
        raise ValidationError({"path": f"{path} is a directory: give a file name"})
    if not path.parent.is_dir():
        raise ValidationError({"path": f"{path.parent} does not exist"})
    files.write_export(path, report_text(r))
    return path
