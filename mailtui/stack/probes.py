"""Checks that prove the installed stack works: ports, TLS, logins, and that files holding secrets are
private. Used by `mailtui check` and the install's verify step. Each check returns a `Check` with the
reason when it fails. Every connection to the stack goes through stack/probe_client.py, which marks it as
mailtui's (policy/probe.py) and leaves the way a client does."""

from __future__ import annotations

import grp
import imaplib
import os
import poplib
import pwd
import smtplib
import ssl
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError
from mailtui.model.answers import Answers
from mailtui.policy import ports, probe
from mailtui.report import Check
from mailtui.stack import lmtp_quiesce, probe_client
from mailtui.system import fail2ban

LISTEN_STATE = "0A"
LOCALHOST = probe.LOOPBACK


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state (IPv4 and IPv6), read from /proc like `ss -ltn` does."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == LISTEN_STATE:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def port_checks(answers: Answers) -> list[Check]:
    listening = listening_ports()
    checks = [
        Check(f"port {p.describe()} listening", p.number in listening,
              "" if p.number in listening else "nothing listens there")
        for p in ports.served(answers)
    ]
    checks += [
        Check(f"port {p.describe()} closed", p.number not in listening,
              "" if p.number not in listening else "it is open")
        for p in ports.closed(answers)
    ]
    return checks


def insecure_context() -> ssl.SSLContext:
    # The certificate may be self-signed: this checks that TLS is offered, not who signed it.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def starttls_check(port: int, host: str = LOCALHOST, timeout: float = 10) -> Check:
    name = f"STARTTLS offered on {port}"
    try:
        with probe_client.smtp(host, port, timeout=timeout) as smtp:  # leaves with QUIT
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                return Check(name, False, "the server does not offer STARTTLS")
            smtp.starttls(context=insecure_context())
            smtp.ehlo()
            version = smtp.sock.version() if isinstance(smtp.sock, ssl.SSLSocket) else "?"
            return Check(name, True, version or "")
    except (OSError, smtplib.SMTPException) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def implicit_tls_check(port: int, label: str, host: str = LOCALHOST, timeout: float = 10,
                       speaks: probe_client.Speaks = "smtp") -> Check:
    """TLS from the first byte: the greeting read over it, then a clean goodbye in the port's protocol."""
    name = f"TLS on {port} ({label})"
    try:
        version, banner = probe_client.tls_greeting(speaks, host, port, timeout=timeout, context=insecure_context())
        return Check(name, True, f"{version}: {banner.strip()[:60]}")
    except (OSError, ssl.SSLError, smtplib.SMTPException, imaplib.IMAP4.error, poplib.error_proto) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def tls_checks(answers: Answers) -> list[Check]:
    return [starttls_check(p.number) if p.tls == "starttls" else implicit_tls_check(p.number, p.label, speaks=p.speaks)
            for p in ports.served(answers)]


def _sieve_capabilities(stream: object) -> list[str]:
    """A ManageSieve server's capability lines up to its OK (RFC 5804 §1.7)."""
    lines = []
    while True:
        line = stream.readline(4096).decode("utf-8", "replace").rstrip("\r\n")  # type: ignore[attr-defined]
        if not line:
            raise OSError("the connection closed before OK")
        if line.startswith(("OK", "NO", "BYE")):
            if not line.startswith("OK"):
                raise OSError(line)
            return lines
        lines.append(line)


def managesieve_check(host: str = ports.MANAGESIEVE_ADDRESS, port: int = ports.MANAGESIEVE_PORT,
                      timeout: float = 10) -> Check:
    """Dovecot's ManageSieve (the webmail's filters and vacation reply): its greeting, STARTTLS, its greeting
    again over TLS, LOGOUT."""
    name = f"ManageSieve on {host}:{port} (filters and vacation in the webmail)"
    try:
        with probe_client.connect(host, port, timeout) as sock:
            capabilities = _sieve_capabilities(sock.makefile("rb"))
            if '"STARTTLS"' not in capabilities:
                return Check(name, False, "STARTTLS is not offered: " + " ".join(capabilities)[:200])
            sock.sendall(b"STARTTLS\r\n")
            _sieve_capabilities(sock.makefile("rb"))  # only the OK
            with insecure_context().wrap_socket(sock) as tls:
                stream = tls.makefile("rb")
                capabilities = _sieve_capabilities(stream)
                tls.sendall(b"LOGOUT\r\n")
                _sieve_capabilities(stream)
                implementation = next((c for c in capabilities if c.startswith('"IMPLEMENTATION"')), "")
                return Check(name, True, f"{tls.version()}: {implementation[17:].strip(chr(34))}")
    except (OSError, ssl.SSLError) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def imap_login_check(email: str, password: str, host: str = LOCALHOST, timeout: float = 10) -> Check:
    name = f"IMAPS login as {email}"
    try:
        with probe_client.imaps(host, 993, timeout=timeout, context=insecure_context()) as imap:
            imap.login(email, password)
            status, _ = imap.select("INBOX", readonly=True)
            return Check(name, status == "OK", "" if status == "OK" else f"SELECT INBOX said {status}")
    except (OSError, imaplib.IMAP4.error) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- secrets on disk


def private_path_check(path: str | Path, what: str, *, owner: str | None = "root",
                       group_may_read: bool = False) -> Check:
    """A file or directory that holds (or guards) a secret: owned by `owner` (None: anyone), no access
    at all for others, none for its group either unless `group_may_read` (then read only, never write).

    The check's name holds the path, so a failure names what the operator has to fix."""

    name = f"{what} {path} private"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Check(name, False, f"{path} is missing")
    except OSError as exc:
        return Check(name, False, f"cannot inspect {path}: {exc}")
    mode = st.st_mode & 0o7777
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    problems = []
    if owner is not None and user != owner:
        problems.append(f"owned by {user}, not {owner}")
    if mode & 0o007:
        problems.append(f"others may {_access_words(mode & 0o007)}")
    group_bits = (mode & 0o070) >> 3
    if group_bits and not (group_may_read and group_bits == 0o4):
        problems.append(f"group {group} may {_access_words(group_bits)}")
    state = f"{user}:{group} {mode:04o}"
    if problems:
        return Check(name, False, f"{path} is {state}: {', '.join(problems)} (it holds a secret)")
    return Check(name, True, state)


def _access_words(bits: int) -> str:
    return "/".join(word for bit, word in ((0o4, "read"), (0o2, "write"), (0o1, "enter/execute")) if bits & bit)


def state_checks() -> list[Check]:
    """mailtui's state directory (saved answers with the database passwords, backups, install progress)
    and the saved answers themselves: root-only."""

    # What does not exist leaks nothing (e.g. the database step verified before mailtui saved anything).
    checks = [private_path_check(paths.STATE_DIR, "mailtui's state directory")] if paths.STATE_DIR.exists() else []
    for path in (paths.ANSWERS_FILE, paths.PENDING_ANSWERS):
        if path.exists():
            checks.append(private_path_check(path, "saved answers (database passwords)"))
    # Listed only when it fails: a database step verified offline has nothing that passes.
    deferral = lmtp_deferral_check()
    return checks + ([] if deferral.ok else [deferral])


def lmtp_deferral_check() -> Check:
    """Postfix is not left deferring its deliveries to Dovecot (`defer_transports`), e.g. by a mailtui
    killed while it restarted Dovecot (stack/lmtp_quiesce.py; any `mailtui service` action repairs it).
    Part of state_checks(): the marker such a kill leaves is in mailtui's state directory."""

    name = "Postfix delivers to Dovecot (no defer_transports left behind)"
    try:
        found = lmtp_quiesce.problems()
    except MailtuiError as exc:
        return Check(name, False, f"cannot tell: {exc}")
    return Check(name, not found, "; ".join(found))


# ---------------------------------------------------------------- brute-force protection


def fail2ban_check(jails: tuple[str, ...] | list[str]) -> Check:
    """fail2ban answers and runs the given jails (steps/fail2ban.py configures them)."""
    name = f"fail2ban jails running ({', '.join(jails)})"
    why = fail2ban.unavailable()
    if why is not None:
        return Check(name, False, why)
    try:
        running = fail2ban.parse_jail_list(fail2ban.client("status").output)
    except MailtuiError as exc:
        return Check(name, False, str(exc))
    missing = [j for j in jails if j not in running]
    if missing:
        return Check(name, False, f"not running: {', '.join(missing)} (running: {', '.join(running) or 'none'})")
    return Check(name, True, ", ".join(running))
