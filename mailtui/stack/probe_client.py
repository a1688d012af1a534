"""The probes' connections to the stack, identified as mailtui's (policy/probe.py): from the probe source
address when they go to this machine's loopback, saying the probe's EHLO name, sending IMAP ID where the
server offers it, and always leaving with QUIT / LOGOUT — so a probe never shows in the mail log as a "lost
connection after CONNECT" or a "Login aborted: Connection closed", and every line of its session names
the probe address (stack/logparse.py marks those lines; the dashboard's Mail log folds them)."""

from __future__ import annotations

import contextlib
import errno
import imaplib
import poplib
import smtplib
import socket
import ssl
from typing import Literal

from mailtui.policy import probe

Speaks = Literal["smtp", "imap", "pop3"]

# RFC 2971: ID is allowed in every state; imaplib does not know it (it refuses commands it does not know).
imaplib.Commands.setdefault("ID", ("NONAUTH", "AUTH", "SELECTED", "LOGOUT"))


def source_for(host: str) -> tuple[str, int] | None:
    """The address a probe to `host` connects from: the probe address for this machine's loopback."""
    return (probe.SOURCE_ADDRESS, 0) if host == probe.LOOPBACK else None


def connect(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection to host:port, from the probe address where it applies (and where the machine
    refuses that address, from the ordinary one: the probe still works, only unmarked)."""
    source = source_for(host)
    if source is not None:
        try:
            return socket.create_connection((host, port), timeout, source_address=source)
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
    return socket.create_connection((host, port), timeout)


class _SMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:  # type: ignore[override]
        return connect(host, port, timeout)


class _SMTPS(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:  # type: ignore[override]
        return self.context.wrap_socket(connect(host, port, timeout), server_hostname=host)


class _IMAPS(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self.ssl_context.wrap_socket(connect(self.host, self.port, timeout), server_hostname=self.host)


class _POP3S(poplib.POP3_SSL):
    def _create_socket(self, timeout: float | None) -> socket.socket:  # type: ignore[override]
        return self.context.wrap_socket(connect(self.host, self.port, timeout), server_hostname=self.host)


def smtp(host: str, port: int, *, timeout: float) -> smtplib.SMTP:
    """An SMTP session (its greeting read) whose ehlo() says the probe's name; `with` it ends with QUIT."""
    return _SMTP(host, port, local_hostname=probe.EHLO_NAME, timeout=timeout)


def identify(imap: imaplib.IMAP4) -> None:
    """IMAP ID (RFC 2971) with the probe's name, where the server offers it (before logging in)."""
    if "ID" in imap.capabilities:
        with contextlib.suppress(imaplib.IMAP4.error):
            imap.xatom("ID", f'("name" "{probe.IMAP_ID_NAME}")')


def imaps(host: str, port: int, *, timeout: float | None, context: ssl.SSLContext) -> imaplib.IMAP4_SSL:
    """An IMAPS session that has said who it is (ID); `with` it, or logout(), ends with LOGOUT."""
    imap = _IMAPS(host, port, ssl_context=context, timeout=timeout)
    try:
        identify(imap)
    except BaseException:
        imap.shutdown()
        raise
    return imap


def tls_greeting(speaks: Speaks, host: str, port: int, *, timeout: float,
                 context: ssl.SSLContext) -> tuple[str, str]:
    """Connect over implicit TLS, read the greeting and leave as a client does — SMTP: EHLO then QUIT;
    IMAP: ID then LOGOUT; POP3: QUIT. Returns (TLS version, greeting). Errors: OSError, ssl.SSLError, and the
    protocol library's own (smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto)."""
    if speaks == "smtp":
        client = _SMTPS(local_hostname=probe.EHLO_NAME, timeout=timeout, context=context)
        try:
            code, message = client.connect(host, port)
            if code != 220:
                raise smtplib.SMTPConnectError(code, message)
            version = _version(client.sock)
            client.ehlo()
            client.quit()
        finally:
            client.close()
        return version, f"{code} {message.decode(errors='replace')}"
    if speaks == "imap":
        with imaps(host, port, timeout=timeout, context=context) as imap:
            return _version(imap.sock), imap.welcome.decode(errors="replace")
    pop = _POP3S(host, port, timeout=timeout, context=context)
    try:
        welcome = pop.getwelcome().decode(errors="replace")
        version = _version(pop.sock)
        pop.quit()
    finally:
        pop.close()
    return version, welcome


def _version(sock: object) -> str:
    return (sock.version() or "?") if isinstance(sock, ssl.SSLSocket) else "?"
