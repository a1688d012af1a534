"""Brute force is refused: after N failed logins from one address, that address is refused on the mail
ports while another address still logs in and sends; `mailtui bans` lists the ban and `mailtui bans unban`
lifts it. On fresh Debian 12 (fail2ban 1.0.2, Dovecot 2.3) and 13 (fail2ban 1.1.0, Dovecot 2.4) hosts.

Addresses: B is the test runner's usual address on the host's test network (runner_ip); each test gets its own attacker
address A (TestHost.add_client_address), bound as the client sockets' source address.

Positive controls: N-1 failures from A do not ban it (A still connects and logs in); B logs in and sends
while A is refused (the ports work); after the unban A logs in again. The failures are counted by fail2ban
itself (`fail2ban-client status JAIL`), so the N-1 control cannot pass merely because fail2ban had not read
the log yet.
"""

from __future__ import annotations

import imaplib
import json
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import ANSWERS, SINK_PORT, Installed
from tests.harness.testhost import TestHost, stack_layer, test_host
from tests.reliability.conftest import HOSTNAME, RELEASES, require_root

pytestmark = pytest.mark.reliability

MAX_RETRY = 3
BAN_TIME = 600
USER = "alice@example.test"
PASSWORD = "alice-Secret-1"  # tests/e2e/conftest.py ANSWERS
GUARDED_ANSWERS = ANSWERS + f"""
[security]
fail2ban = true
max_retry = {MAX_RETRY}
find_time = 600
ban_time = {BAN_TIME}
ignore = ["192.0.2.0/24"]
"""
WAIT = 60  # seconds to wait for fail2ban to read the log (a bound on waiting, not a measurement)
BLOCKED = (ConnectionRefusedError, TimeoutError, socket.timeout, ConnectionResetError)


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test host's certificate is self-signed
    return context


class SourcedIMAP(imaplib.IMAP4_SSL):
    """IMAPS from a chosen source address (imaplib has no source_address parameter)."""

    def __init__(self, host: str, source: str, timeout: float = 20) -> None:
        self._source = source
        super().__init__(host, 993, ssl_context=_context(), timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:  # type: ignore[override]
        raw = socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))
        return self.ssl_context.wrap_socket(raw, server_hostname=self.host)


def imap_login(ip: str, source: str, password: str) -> None:
    """Log in over IMAPS from `source`; raises imaplib.IMAP4.error on a refused login, OSError when refused."""
    with SourcedIMAP(ip, source) as imap:
        imap.login(USER, password)
        assert imap.select("INBOX", readonly=True)[0] == "OK"


def smtp_auth(ip: str, source: str, password: str, *, send: bool = False) -> None:
    """STARTTLS + AUTH PLAIN (one attempt) on 587 from `source`; with send, also a message to the user."""
    with smtplib.SMTP(ip, 587, timeout=20, source_address=(source, 0)) as smtp:
        smtp.ehlo("client.example.test")
        smtp.starttls(context=_context())
        smtp.ehlo("client.example.test")
        smtp.auth("PLAIN", lambda challenge=None: f"\0{USER}\0{password}", initial_response_ok=True)
        if send:
            refused = smtp.sendmail(USER, [USER], f"From: {USER}\r\nTo: {USER}\r\nSubject: still here\r\n\r\nhi\r\n")
            assert refused == {}


def connect_error(ip: str, port: int, source: str) -> str:
    """How a TCP connection from `source` to `port` fails (the test fails if it succeeds)."""
    try:
        socket.create_connection((ip, port), timeout=5, source_address=(source, 0)).close()
    except BLOCKED as exc:
        return type(exc).__name__
    raise AssertionError(f"{source} could still connect to {port}")


@dataclass
class Guarded:
    inst: Installed
    benign: str  # B: this machine's usual address towards the host

    @property
    def host(self) -> TestHost:
        return self.inst.host

    @property
    def ip(self) -> str:
        return self.inst.ip

    def bans(self) -> dict:
        result = self.inst.mailtui("bans", "--json", check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)

    def jail(self, name: str) -> dict:
        return next(j for j in self.bans()["jails"] if j["name"] == name)

    def banned(self, address: str) -> list[dict]:
        return [b for b in self.bans()["bans"] if b["address"] == address]

    def wait_for(self, what: str, probe: Callable[[], bool]) -> float:
        """Wait until probe() holds (fail after WAIT s); return the seconds it took."""
        began = time.monotonic()
        while not probe():
            assert time.monotonic() - began < WAIT, f"{what}: not within {WAIT} s"
            time.sleep(0.2)
        return time.monotonic() - began


@pytest.fixture(scope="module", params=RELEASES)
def guarded(request: pytest.FixtureRequest) -> Iterator[Guarded]:
    """A fresh host per release with the stack and fail2ban installed by mailtui, N = MAX_RETRY (on the cached
    "packages installed" layer: this is not about installing packages)."""
    require_root()
    layer = stack_layer(request.param, GUARDED_ANSWERS)
    with test_host(request.param, hostname=HOSTNAME, layers=[layer]) as host:
        host.write_file("/root/answers.toml", GUARDED_ANSWERS, mode=0o600)
        inst = Installed(host, request.param, "", 0.0)
        began = time.monotonic()
        code, output = inst.install()
        inst.install_seconds = time.monotonic() - began
        inst.install_output = output
        assert code == 0, f"install on {request.param} failed (exit {code}):\n{output[-6000:]}"
        step = [line for line in output.splitlines() if "fail2ban:" in line and line.startswith("ok")]
        print(f"\n[{request.param}] install with fail2ban took {inst.install_seconds:.1f} s; {step}")
        host.start_daemon(["/usr/sbin/smtp-sink", "-u", "postfix", f"127.0.0.1:{SINK_PORT}", "100"])
        yield Guarded(inst, host.runner_ip)


def test_fail2ban_runs_the_mail_jails_and_check_says_so(guarded: Guarded) -> None:
    names = [j["name"] for j in guarded.bans()["jails"]]
    assert "postfix-sasl" in names and "dovecot" in names, names
    # Debian 12's stock sshd jail reads /var/log/auth.log, which nothing writes here (no rsyslog): on systemd
    # mailtui makes it read the journal (fail2ban's systemd backend, python3-systemd installed), without
    # systemd it switches it off (saying why), or fail2ban would not start. Debian 13's reads the journal and
    # starts as it is: left alone.
    jail_file = guarded.host.read_file("/etc/fail2ban/jail.d/mailtui.local")
    if guarded.inst.release == "bookworm" and guarded.host.systemd:
        assert "[sshd]\nbackend = systemd\n" in jail_file and "/var/log/auth.log" in jail_file, jail_file
        assert "sshd" in names
    elif guarded.inst.release == "bookworm":
        assert "[sshd]\nenabled = false\n" in jail_file and "/var/log/auth.log" in jail_file, jail_file
        assert "sshd" not in names
    else:
        assert "[sshd]" not in jail_file and "sshd" in names, (jail_file, names)
    check = guarded.inst.mailtui("check", "--json", check=False, timeout=300)
    data = json.loads(check.stdout)
    f2b = [c for c in data["checks"] if c["name"].startswith("fail2ban jails running")]
    assert f2b and all(c["ok"] for c in f2b), f2b
    assert data["ok"], [c for c in data["checks"] if not c["ok"]]
    # Control: with fail2ban stopped, the same check fails and names why.
    guarded.host.run("service fail2ban stop >/root/f2b-stop.log 2>&1")
    try:
        stopped = json.loads(guarded.inst.mailtui("check", "--json", check=False, timeout=300).stdout)
        failed = [c for c in stopped["checks"] if c["name"].startswith("fail2ban jails running")]
        assert failed and not failed[0]["ok"] and "not running" in failed[0]["detail"], failed
    finally:
        guarded.host.run("service fail2ban start >/root/f2b-start.log 2>&1")
        guarded.wait_for("jails back", lambda: len(guarded.bans()["jails"]) >= 2)


def test_imap_brute_force_is_refused_and_unban_lifts_it(guarded: Guarded) -> None:
    attacker = guarded.host.add_client_address()
    ip = guarded.ip
    before = guarded.jail("dovecot")["total_failed"]
    # Positive control: N-1 failures, counted by fail2ban, do not ban; A still logs in.
    for _ in range(MAX_RETRY - 1):
        with pytest.raises(imaplib.IMAP4.error):
            imap_login(ip, attacker, "wrong-password")
    guarded.wait_for("N-1 failures counted",
                     lambda: guarded.jail("dovecot")["total_failed"] >= before + MAX_RETRY - 1)
    assert guarded.banned(attacker) == []
    imap_login(ip, attacker, PASSWORD)
    assert guarded.banned(attacker) == []
    # The Nth failure bans A.
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(ip, attacker, "wrong-password")
    latency = guarded.wait_for("A banned", lambda: bool(guarded.banned(attacker)))
    print(f"\n[{guarded.inst.release}] IMAP: banned {latency:.1f} s after the failed login's answer")
    raw = guarded.host.run(["fail2ban-client", "get", "dovecot", "banip", "--with-time"]).stdout
    print(f"[{guarded.inst.release}] fail2ban-client get dovecot banip --with-time: {raw!r}")
    (ban,) = guarded.banned(attacker)
    assert ban["jail"] == "dovecot" and ban["since"] and ban["until"], ban
    assert ban["ends_at"] - ban["banned_at"] == BAN_TIME
    # A is refused on every mail port; B still logs in and sends.
    for port in (993, 587, 465, 25):
        connect_error(ip, port, attacker)
    imap_login(ip, guarded.benign, PASSWORD)
    smtp_auth(ip, guarded.benign, PASSWORD, send=True)
    # Bad input changes nothing: exit 2 naming the field, for a malformed address and for one banned nowhere.
    bad = guarded.inst.mailtui("bans", "unban", "198.19.1.999", check=False)
    assert bad.returncode == 2 and "address" in bad.stderr, bad
    bad_jail = guarded.inst.mailtui("bans", "unban", attacker, "--jail", "no;such", check=False)
    assert bad_jail.returncode == 2 and "jail" in bad_jail.stderr, bad_jail
    nowhere = guarded.inst.mailtui("bans", "unban", guarded.benign, check=False)
    assert nowhere.returncode == 2 and "not banned" in nowhere.stderr and "address" in nowhere.stderr, nowhere
    assert guarded.banned(attacker)
    connect_error(ip, 993, attacker)
    # Unban: A logs in again.
    lifted = guarded.inst.mailtui("bans", "unban", attacker, check=False)
    assert lifted.returncode == 0 and "dovecot" in lifted.stdout, lifted
    assert guarded.banned(attacker) == []
    imap_login(ip, attacker, PASSWORD)


def test_smtp_auth_brute_force_is_refused_and_unban_lifts_it(guarded: Guarded) -> None:
    attacker = guarded.host.add_client_address()
    ip = guarded.ip
    before = guarded.jail("postfix-sasl")["total_failed"]
    for _ in range(MAX_RETRY - 1):
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp_auth(ip, attacker, "wrong-password")
    guarded.wait_for("N-1 failures counted",
                     lambda: guarded.jail("postfix-sasl")["total_failed"] >= before + MAX_RETRY - 1)
    assert guarded.banned(attacker) == []
    smtp_auth(ip, attacker, PASSWORD)  # control: not banned, the port works for A
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp_auth(ip, attacker, "wrong-password")
    latency = guarded.wait_for("A banned", lambda: bool(guarded.banned(attacker)))
    print(f"\n[{guarded.inst.release}] SMTP AUTH: banned {latency:.1f} s after the 535")
    assert [b["jail"] for b in guarded.banned(attacker)] == ["postfix-sasl"]
    for port in (587, 465, 993):
        connect_error(ip, port, attacker)
    smtp_auth(ip, guarded.benign, PASSWORD, send=True)
    imap_login(ip, guarded.benign, PASSWORD)
    lifted = guarded.inst.mailtui("bans", "unban", attacker, "--jail", "postfix-sasl", check=False)
    assert lifted.returncode == 0 and "postfix-sasl" in lifted.stdout, lifted
    smtp_auth(ip, attacker, PASSWORD, send=True)


def test_second_install_changes_nothing_and_keeps_bans(guarded: Guarded) -> None:
    attacker = guarded.host.add_client_address()
    for _ in range(MAX_RETRY):
        with pytest.raises(imaplib.IMAP4.error):
            imap_login(guarded.ip, attacker, "wrong-password")
    guarded.wait_for("A banned", lambda: bool(guarded.banned(attacker)))
    dry = guarded.inst.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", check=False, timeout=300)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "== Brute-force protection (fail2ban) ==\n   nothing to change\n" in dry.stdout, dry.stdout[-3000:]
    assert guarded.banned(attacker)
    guarded.inst.mailtui("bans", "unban", attacker)


def test_switching_it_off_removes_the_jails_and_on_again_restores_them(guarded: Guarded) -> None:
    """[security] fail2ban = false after an install: mailtui's jail and filter files go, fail2ban drops the mail
    jails (Debian 13: reloaded, Debian's sshd jail runs on) or is stopped (Debian 12: without mailtui's file
    the stock sshd jail cannot start); failed logins ban nobody; check passes; a second run changes nothing.
    Switched on again, the jails are back and ban again (the control that the attacker would be banned)."""
    host, release = guarded.host, guarded.inst.release
    files = ("/etc/fail2ban/jail.d/mailtui.local", "/etc/fail2ban/filter.d/mailtui-dovecot.conf")
    host.write_file("/root/answers.toml", ANSWERS + "\n[security]\nfail2ban = false\n", mode=0o600)
    try:
        dry = guarded.inst.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", check=False, timeout=300)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert f"remove {files[0]} (brute-force protection is off" in dry.stdout, dry.stdout[-3000:]
        assert "reload fail2ban without mailtui's jails" in dry.stdout
        code, output = guarded.inst.install()
        assert code == 0, output[-6000:]
        assert "reloading fail2ban without mailtui's jails" in output, output[-3000:]
        for path in files:
            assert host.run(["test", "!", "-e", path], check=False).returncode == 0, f"{path} is still there"
        running = host.run("fail2ban-client status", check=False)
        if release == "bookworm":
            assert "stopping fail2ban: its configuration does not load" in output, output[-3000:]
            assert running.returncode != 0, running.stdout
            assert "f2b" not in host.run("nft list ruleset").stdout
            off = guarded.inst.mailtui("bans", check=False)
            assert off.returncode != 0 and "switched off" in off.stderr, off
        else:
            assert running.returncode == 0 and "sshd" in running.stdout, running.stdout
            assert "dovecot" not in running.stdout and "postfix-sasl" not in running.stdout, running.stdout
        attacker = host.add_client_address()
        for _ in range(MAX_RETRY + 1):
            with pytest.raises(imaplib.IMAP4.error):
                imap_login(guarded.ip, attacker, "wrong-password")
        time.sleep(3)  # fail2ban (if it counted) bans within 1-3 s (measured above)
        imap_login(guarded.ip, attacker, PASSWORD)
        check = json.loads(guarded.inst.mailtui("check", "--json", check=False, timeout=300).stdout)
        assert check["ok"], [c for c in check["checks"] if not c["ok"]]
        assert any(c["name"] == "fail2ban runs none of mailtui's jails" and c["ok"] for c in check["checks"])
        again = guarded.inst.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", check=False,
                                     timeout=300)
        assert "== Brute-force protection (fail2ban) ==\n   nothing to change\n" in again.stdout, again.stdout[-3000:]
    finally:
        host.write_file("/root/answers.toml", GUARDED_ANSWERS, mode=0o600)
    code, output = guarded.inst.install()
    assert code == 0, output[-6000:]
    assert {"postfix-sasl", "dovecot"} <= {j["name"] for j in guarded.bans()["jails"]}
    # A fresh address: fail2ban, started again, also counts the failures still in mail.log within find_time.
    second = host.add_client_address()
    for _ in range(MAX_RETRY):
        with pytest.raises(imaplib.IMAP4.error):
            imap_login(guarded.ip, second, "wrong-password")
    guarded.wait_for("a new attacker banned", lambda: bool(guarded.banned(second)))
    connect_error(guarded.ip, 993, second)
    guarded.inst.mailtui("bans", "unban", second)
    for address in (attacker, second):
        if guarded.banned(address):
            guarded.inst.mailtui("bans", "unban", address)
