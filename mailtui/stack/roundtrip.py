"""The round trip: a real message over SMTP to a mailbox, read back over IMAPS (the wizard's Verify
stage and `mailtui check --roundtrip`). It sends one message and deletes it again after reading it back;
nothing else changes. Its sessions and its message are marked as a probe's (policy/probe.py): the probe
address and EHLO name (stack/probe_client.py), a Message-ID in the probe domain, the probe sender.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from mailtui import paths
from mailtui.policy import probe
from mailtui.report import Check
from mailtui.stack import probe_client

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
    msg["Message-ID"] = f"<{marker}@{probe.MESSAGE_ID_DOMAIN}>"
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
    sender = f"{probe.SENDER_LOCALPART}@{email.rsplit('@', 1)[1]}"
    msg = _message(sender, email, marker)
    try:
        with probe_client.smtp(host, SMTP_PORT, timeout=timeout) as smtp:  # leaves with QUIT
            smtp.ehlo()
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
        imap = probe_client.imaps(host, IMAPS_PORT, context=_tls_context(),
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


def roundtrip(email: str, password: str, *, host: str = probe.LOOPBACK, timeout: float = 60,
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
