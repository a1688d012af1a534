"""Probes shared by the reliability tests: TLS handshakes, the mail log, secret scans, `mailtui check`."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import smtplib
import socket
import ssl
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from tests.harness.testhost import TestHost

STARTTLS_PORTS = (25, 587)
# port -> the mail-log process that answers it
PORT_LOG_PROCESS = {
    25: r"postfix/smtpd\[\d+\]",
    465: r"postfix/submissions/smtpd\[\d+\]",
    587: r"postfix/submission/smtpd\[\d+\]",
    993: r"dovecot: imap-login:",
    995: r"dovecot: pop3-login:",
}
MAIL_LOG = "/var/log/mail.log"

# ------------------------------------------------------------------------------------------------- TLS


def _client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test host's certificate is self-signed
    return context


def old_tls_context() -> ssl.SSLContext:
    """A client that offers TLS 1.0 and 1.1 only, with the ciphers those need (OpenSSL 3 refuses them
    below security level 0): what a client stuck on TLS < 1.2 sends."""
    context = _client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # ssl.TLSVersion.TLSv1/TLSv1_1 are deprecated
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def tls12_context() -> ssl.SSLContext:
    context = _client_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


def suites_context(ciphers: str) -> ssl.SSLContext:
    """A TLS 1.2 client offering only `ciphers` (an OpenSSL cipher string; @SECLEVEL=0 lets it offer even
    what OpenSSL 3 would not)."""
    context = tls12_context()
    context.set_ciphers(ciphers)
    return context


def negotiate(host: str, port: int, context: ssl.SSLContext, timeout: float = 15) -> tuple[str, str]:
    """The TLS version and cipher suite negotiated on `port` (STARTTLS on 25 and 587, implicit TLS
    elsewhere); raises ssl.SSLError (or OSError) when the handshake fails."""
    if port in STARTTLS_PORTS:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.ehlo("client.example.test")
            assert smtp.has_extn("starttls"), f"port {port} does not offer STARTTLS"
            smtp.starttls(context=context)
            assert isinstance(smtp.sock, ssl.SSLSocket)
            return smtp.sock.version() or "?", (smtp.sock.cipher() or ("?",))[0]
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        return tls.version() or "?", (tls.cipher() or ("?",))[0]


def handshake(host: str, port: int, context: ssl.SSLContext, timeout: float = 15) -> str:
    """The TLS version negotiated on `port` (see negotiate)."""
    return negotiate(host, port, context, timeout)[0]


def session(host: str, port: int, context: ssl.SSLContext, timeout: float = 5) -> tuple[str, str] | None:
    """(version, cipher) of a handshake on `port`, or None when it fails (see negotiate)."""
    try:
        return negotiate(host, port, context, timeout)
    except (ssl.SSLError, OSError):
        return None


def refused(ip: str, port: int, context: ssl.SSLContext) -> str:
    """The client-side error of a refused handshake (fails if the handshake succeeds)."""
    try:
        version, cipher = negotiate(ip, port, context)
    except ssl.SSLError as exc:
        return f"{type(exc).__name__}: {exc.reason or exc}"
    except ConnectionResetError as exc:  # the server may reset instead of answering the ClientHello
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError(f"port {port} accepted {version} with {cipher}")


SUBMISSION_SERVICES = ("submission/inet", "submissions/inet")  # master.cf, as `postconf -P` names them


@contextlib.contextmanager
def postfix_without(host: TestHost, params: Sequence[str] = (), service_options: Sequence[str] = ()) -> Iterator[None]:
    """A knock-out: Postfix with some of mailtui's main.cf `params` and the submission services' master.cf
    `-o` `service_options` removed, and reloaded. Afterwards main.cf and master.cf are put back byte for
    byte and Postfix is reloaded (other tests share the host)."""
    saved = {f"/etc/postfix/{name}": f"/root/{name}.before-knockout" for name in ("main.cf", "master.cf")}
    for path, copy in saved.items():
        host.run(["cp", "-p", path, copy])
    try:
        if params:
            host.run(["postconf", "-X", *params])
        if service_options:
            host.run(["postconf", "-PX", *(f"{svc}/{opt}" for svc in SUBMISSION_SERVICES for opt in service_options)])
        host.run("postfix reload >/dev/null 2>&1")
        yield
    finally:
        for path, copy in saved.items():
            host.run(["cp", "-p", copy, path])
            host.run(["rm", "-f", copy])
        host.run("postfix reload >/dev/null 2>&1")


def eventually(what: str, probe: Callable[[], bool], timeout: float = 15) -> None:
    """Wait until probe() is true: a reload takes effect as old processes finish."""
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)


# -------------------------------------------------------------------------------------------- mail log


def log_size(host: TestHost) -> int:
    return int(host.run(["stat", "-c", "%s", MAIL_LOG]).stdout)


def log_since(host: TestHost, offset: int) -> str:
    return host.run(["tail", "-c", f"+{offset + 1}", MAIL_LOG]).stdout


def wait_for_log(host: TestHost, offset: int, pattern: str, timeout: float = 10) -> str:
    """The first line written to the mail log after `offset` that matches `pattern` (fails after timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        text = log_since(host, offset)
        for line in text.splitlines():
            if re.search(pattern, line):
                return line
        if time.monotonic() > deadline:
            raise AssertionError(f"no line matching {pattern!r} in the mail log after {timeout} s; it got:\n"
                                 f"{text[-3000:]}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------------ secrets

# Where a secret could land on a host: everything but the kernel's views (/proc, /sys, /dev minus /dev/shm)
# and the read-only OS (/usr minus /usr/local, /bin, /lib, …). Directories named "archives" are skipped:
# the only one is /var/cache/apt/archives, the cached .debs (200 MB, written before mailtui ran).
SCAN_ROOTS = ("/etc", "/var", "/root", "/home", "/srv", "/opt", "/tmp", "/run", "/dev/shm", "/usr/local")


@dataclass(frozen=True)
class Holder:
    """A file that holds a secret: which ones, and who may read it."""

    path: str
    labels: frozenset[str]
    owner: str  # user:group
    mode: int

    @property
    def world_readable(self) -> bool:
        return bool(self.mode & 0o004)


# The webmail's secrets ([webmail]) and the files that may hold each, with owner and mode: Roundcube's own files
# (root:www-data 0640: PHP-FPM runs as www-data), dbconfig-common's copy, Debian's own copies (debconf's password
# store, where dbconfig-common asked for the password; ucf's pristine copies of the files Roundcube's postinst
# generated, each as private as the file it copies), mailtui's saved answers, and the backup of Roundcube's
# original configuration (the DES key is the one the postinst made: mailtui keeps it, sessions depend on it) in
# mailtui's root-only state directory. Found by searching every file, in tests/e2e/test_webmail.py and on the
# traced host of tests/reliability/test_no_secret_leaks.py.
WEBMAIL_DB, PASSWORD_ACCOUNT_DB, DES_KEY = "webmail db", "password account db", "des_key"
WEBMAIL_CONFIG = "/etc/roundcube/config.inc.php"
WEBMAIL_DBCONFIG = "/etc/dbconfig-common/roundcube.conf"  # dbconfig-common's copy of the DB settings
_UCF = "/var/lib/ucf/cache/"


def webmail_secret_holders(state_dir: str = "/var/lib/mailtui") -> dict[str, tuple[frozenset[str], str, int]]:
    answers = frozenset({WEBMAIL_DB, PASSWORD_ACCOUNT_DB})
    return {
        WEBMAIL_CONFIG: (frozenset({DES_KEY}), "root:www-data", 0o640),
        "/etc/roundcube/debian-db.php": (frozenset({WEBMAIL_DB}), "root:www-data", 0o640),
        "/etc/roundcube/plugins/password/config.inc.php": (frozenset({PASSWORD_ACCOUNT_DB}), "root:www-data", 0o640),
        WEBMAIL_DBCONFIG: (frozenset({WEBMAIL_DB}), "root:root", 0o600),
        "/var/cache/debconf/passwords.dat": (frozenset({WEBMAIL_DB}), "root:root", 0o600),
        f"{_UCF}:etc:roundcube:debian-db.php": (frozenset({WEBMAIL_DB}), "root:www-data", 0o640),
        f"{_UCF}:etc:dbconfig-common:roundcube.conf": (frozenset({WEBMAIL_DB}), "root:root", 0o600),
        f"{_UCF}:etc:roundcube:config.inc.php": (frozenset({DES_KEY}), "root:www-data", 0o640),
        f"{state_dir}/backups/original{WEBMAIL_CONFIG}": (frozenset({DES_KEY}), "root:www-data", 0o640),
        f"{state_dir}/answers.toml": (answers, "root:root", 0o600),
        f"{state_dir}/install/answers.toml": (answers, "root:root", 0o600),
    }


def webmail_secrets(host: TestHost, state_dir: str = "/var/lib/mailtui") -> dict[str, str]:
    """The webmail's secrets of an installed host, by label: the two database passwords from the saved answers,
    the DES key from Roundcube's configuration."""
    import tomllib

    saved = tomllib.loads(host.read_file(f"{state_dir}/answers.toml"))["webmail"]
    des_key = re.search(r"\$config\['des_key'\] = '([^']+)'", host.read_file(WEBMAIL_CONFIG))
    assert des_key, "no des_key in Roundcube's configuration"
    return {WEBMAIL_DB: saved["db_password"], PASSWORD_ACCOUNT_DB: saved["password_db_password"],
            DES_KEY: des_key.group(1)}


def scan_host(host: TestHost, secrets: Mapping[str, str]) -> dict[str, Holder]:
    """Every file under SCAN_ROOTS holding any of the secrets (as plain text), by path."""
    needles = "".join(f"{value}\n" for value in secrets.values())
    found = host.run(["grep", "-rlsF", "--exclude-dir=archives", "-f", "-", *SCAN_ROOTS], input=needles,
                     check=False)
    assert found.returncode in (0, 1), found  # 1: nothing found
    holders = {}
    for path in found.stdout.splitlines():
        text = host.run(["cat", "--", path]).stdout
        owner, mode = host.run(["stat", "-c", "%U:%G %a", "--", path]).stdout.split()
        labels = frozenset(label for label, value in secrets.items() if value in text)
        holders[path] = Holder(path, labels, owner, int(mode, 8))
    return holders


def with_base64(secrets: Mapping[str, str]) -> dict[str, str]:
    """The secrets plus their base64 forms (how SMTP AUTH carries them), labelled "<label> (base64)".
    Values that only matter encoded (an AUTH PLAIN blob holds NUL bytes) are kept only in base64."""
    result = {label: value for label, value in secrets.items() if "\0" not in value}
    result.update({f"{label} (base64)": base64.b64encode(value.encode()).decode() for label, value in secrets.items()})
    return result


def lines_with(text: str, secrets: Mapping[str, str]) -> dict[str, list[str]]:
    """The lines of `text` (a trace, a log) holding each secret, by label; labels with none are left out."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        for label, value in secrets.items():
            if value in line:
                found.setdefault(label, []).append(line)
    return found


# --------------------------------------------------------------------------------------- mailtui check


@dataclass(frozen=True)
class CheckRun:
    ok: bool
    returncode: int
    checks: list[dict]

    @property
    def failed(self) -> list[dict]:
        return [c for c in self.checks if not c["ok"]]

    def failures_naming(self, path: str) -> list[dict]:
        """Failed checks whose name or detail names exactly `path` (not merely a path below it)."""
        named = re.compile(re.escape(path) + r"(?![\w./-])")
        return [c for c in self.failed if named.search(c["name"]) or named.search(c["detail"])]


def mailtui_check(host: TestHost) -> CheckRun:
    result = host.mailtui("check", "--json", check=False, timeout=300)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    data = json.loads(result.stdout)
    return CheckRun(data["ok"], result.returncode, data["checks"])


# ---------------------------------------------------------------------------------------------- database


@contextlib.contextmanager
def mariadb_login(host: TestHost, user: str, password: str, database: str) -> Iterator[str]:
    """A root-only client defaults file inside `host` for one account (its password never on a command
    line); yields its path, deletes it afterwards."""
    path = f"/root/.reliability-{user}.cnf"
    host.write_file(path, f"[client]\nhost=127.0.0.1\nuser={user}\npassword={password}\ndatabase={database}\n",
                    mode=0o600)
    try:
        yield path
    finally:
        host.run(["rm", "-f", path])


def mariadb(host: TestHost, defaults: str, sql: str) -> subprocess.CompletedProcess[str]:
    """Run SQL through the mariadb client with a defaults file (first option, as the client requires)."""
    return host.run(["mariadb", f"--defaults-extra-file={defaults}", "--batch", "--skip-column-names"],
                    input=sql, check=False)
