"""Proving the installed server works end to end, and what the operator does next.

* roundtrip(): a real message over SMTP to a mailbox, read back over IMAPS (the wizard's verify stage,
  later `mailtui check --roundtrip`).
* dns_records(): the records to publish (MX, SPF, A/AAAA, PTR advice, optional DMARC).
* client_settings(): what to type into a mail client.

Nothing here changes the machine's configuration; roundtrip() sends one message and deletes it again
after reading it back.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from mailtui import paths
from mailtui.model.answers import Answers
from mailtui.steps.base import Check

SMTP_PORT = 25
IMAPS_PORT = 993
MARK_HEADER = "X-Mailtui-Selftest"
ACCEPTED = "message accepted by Postfix"
DELIVERED = "message delivered and read back over IMAPS"
CONNECT_TIMEOUT = 15.0
POLL_SECONDS = 0.5
LOG_LINES = 8


def _tls_context() -> ssl.SSLContext:
    # The certificate may be self-signed: the round trip proves delivery, not who signed the certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _message(sender: str, to: str, marker: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"mailtui self-test {marker[:8]}"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<{marker}@mailtui.invalid>"
    msg[MARK_HEADER] = marker
    msg.set_content("This message was sent by mailtui to prove that mail reaches this mailbox.\n"
                    f"It is deleted again once it has been read back.\nmarker: {marker}\n")
    return msg


def queue_id(reply: str) -> str | None:
    """Postfix's queue id from its reply to DATA: '2.0.0 Ok: queued as 4Fh0Yq1QZ3z8'."""
    match = re.search(r"queued as ([0-9A-Za-z]+)", reply)
    return match.group(1) if match else None


def _smtp_reply(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def send(email: str, marker: str, *, host: str, timeout: float = CONNECT_TIMEOUT) -> tuple[Check, str | None]:
    """Hand the marked message to Postfix on port 25. Returns the check and Postfix's queue id."""
    sender = f"mailtui-selftest@{email.rsplit('@', 1)[1]}"
    msg = _message(sender, email, marker)
    try:
        with smtplib.SMTP(host, SMTP_PORT, timeout=timeout) as smtp:
            smtp.ehlo("mailtui-selftest.invalid")
            code, reply = smtp.mail(sender)
            if code != 250:
                return Check(ACCEPTED, False, f"MAIL FROM refused: {_smtp_reply(code, reply)}"), None
            code, reply = smtp.rcpt(email)
            if code not in (250, 251):
                return Check(ACCEPTED, False, f"RCPT TO <{email}> refused: {_smtp_reply(code, reply)}"), None
            code, reply = smtp.data(msg.as_bytes())
            text = _smtp_reply(code, reply)
            if code != 250:
                return Check(ACCEPTED, False, f"DATA refused: {text}"), None
            qid = queue_id(text)
            return Check(ACCEPTED, True, f"queued as {qid}" if qid else text), qid
    except smtplib.SMTPResponseException as exc:
        return Check(ACCEPTED, False, f"the SMTP server said {_smtp_reply(exc.smtp_code, exc.smtp_error)}"), None
    except (OSError, smtplib.SMTPException) as exc:
        return Check(ACCEPTED, False, f"cannot talk SMTP to {host}:{SMTP_PORT}: {type(exc).__name__}: {exc}"), None


def log_lines(qid: str | None, log: Path | None = None, limit: int = LOG_LINES) -> list[str]:
    """The last mail.log lines mentioning the queue id (empty when the log is unreadable)."""
    if not qid:
        return []
    log = Path(paths.MAIL_LOG) if log is None else log
    try:
        with log.open("rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 512 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if qid in line][-limit:]


def _imap_error(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or type(exc).__name__


def read_back(email: str, password: str, marker: str, *, host: str, timeout: float,
              clock: Callable[[], float] = time.monotonic, cleanup: bool = True) -> tuple[bool, str]:
    """Log in over IMAPS and poll INBOX until the marked message is there and its text reads back.
    Returns (ok, reason-or-detail)."""
    deadline = clock() + timeout
    try:
        imap = imaplib.IMAP4_SSL(host, IMAPS_PORT, ssl_context=_tls_context(),
                                 timeout=min(CONNECT_TIMEOUT, max(timeout, 1.0)))
    except (OSError, imaplib.IMAP4.error) as exc:
        return False, f"cannot connect to IMAPS {host}:{IMAPS_PORT}: {type(exc).__name__}: {exc}"
    try:
        try:
            imap.login(email, password)
        except imaplib.IMAP4.error as exc:
            return False, f"IMAPS login as {email} refused: {_imap_error(exc)}"
        while True:
            status, data = imap.select("INBOX")
            if status != "OK":
                return False, f"SELECT INBOX failed: {data!r}"
            status, data = imap.uid("SEARCH", None, "HEADER", MARK_HEADER, marker)  # type: ignore[arg-type]
            uids = data[0].split() if status == "OK" and data and data[0] else []
            if uids:
                uid = uids[-1].decode()
                status, fetched = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = b"".join(part[1] for part in fetched if isinstance(part, tuple))
                if status != "OK" or marker.encode() not in raw:
                    return False, f"the message is in INBOX but could not be read back ({status})"
                if cleanup:
                    imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                    imap.expunge()
                return True, ""
            if clock() >= deadline:
                return False, f"not in INBOX after {timeout:.0f} s"
            time.sleep(POLL_SECONDS)
    except (OSError, imaplib.IMAP4.error) as exc:
        return False, f"IMAPS error: {type(exc).__name__}: {_imap_error(exc)}"
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()


def roundtrip(email: str, password: str, *, host: str = "127.0.0.1", timeout: float = 60,
              cleanup: bool = True) -> list[Check]:
    """Send a uniquely marked message over SMTP (port 25; this machine is in mynetworks) to `email`,
    then read it back over IMAPS as email/password. Two checks: accepted, then delivered (with the
    time it took). Each failed check says why; a delivery timeout adds the mail log's lines for the
    message's queue id. With cleanup (default) the message is deleted after it was read back."""
    marker = uuid.uuid4().hex
    began = time.monotonic()
    accepted, qid = send(email, marker, host=host)
    if not accepted.ok:
        return [accepted, Check(DELIVERED, False, "not tried: the message was not accepted")]
    ok, reason = read_back(email, password, marker, host=host,
                           timeout=max(0.0, timeout - (time.monotonic() - began)), cleanup=cleanup)
    took = time.monotonic() - began
    if ok:
        return [accepted, Check(f"{DELIVERED} ({took:.1f} s)", True, f"to {email}")]
    if reason.startswith("not in INBOX"):
        lines = log_lines(qid)
        if lines:
            reason += "; mail.log says:\n" + "\n".join(lines)
        elif qid:
            reason += f" (queue id {qid}; see `postqueue -p` and the mail log)"
    return [accepted, Check(DELIVERED, False, reason)]


# ---------------------------------------------------------------- DNS


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str
    value: str
    note: str


IPV4_PLACEHOLDER = "<this server's public IPv4>"


def dns_records(answers: Answers, public_ipv4: str | None = None, public_ipv6: str | None = None) -> list[DnsRecord]:
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
            DnsRecord(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}",
                      "optional DMARC: reports only (p=none); tighten once everything passes"),
        ]
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
    from mailtui.system.commands import run, which

    if which("ip"):
        result = run(["ip", "-o", "addr", "show", "scope", "global"], check=False, timeout=10)
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
