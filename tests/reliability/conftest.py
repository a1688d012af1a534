"""Reliability tier, security part: mailtui's security promises proven on fresh Debian 12 and 13 test hosts.

Two kinds of host per release (session-scoped; the tests of one release run in one xdist worker):

* `secured`: one install, shared by the tests that talk to the stack (TLS, database accounts, file modes,
  logs, load) — from the test runner, i.e. from outside the test host's mynetworks; on the cached "packages
  installed" layer (these tests are not about installing packages), which boots systemd as servers do;
* `traced`: a second fresh host (a bare base without systemd: apt and dpkg are traced too, and every daemon
  is mailtui's child, not PID 1's, so the trace sees it start) whose whole install (plus
  `mailtui user add/passwd` and `mailtui check`) runs under `strace -f -e trace=execve`, so every program
  started on the way is recorded with its full argv and environment. After the trace the host's daemons
  are unusable for new programs (see trace_install), so those tests only read files and the trace.

Every promise comes with a positive control: the same probe shown to succeed where it should, so that a
test can fail at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomllib

from tests.e2e.conftest import SSH_PORT, Installed
from tests.harness.release_groups import group_by_release
from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost, stack_layer, test_host
from tests.reliability.helpers import webmail_secrets

RELEASES = ["bookworm", "trixie"]
HOSTNAME = "mail.example.test"
SINK_PORT = 2525
ANSWERS_PATH = "/root/answers.toml"  # the operator's own answers file (the test's input), root 0600
SAVED_ANSWERS = "/var/lib/mailtui/answers.toml"

PASSWORDS = {
    "alice@example.test": "alice-Rel-Secret-8Kq2",
    "bob@other.test": "bob-Rel-Secret-5Wd7",
}
RELAY_USER = "relay-login"
RELAY_PASSWORD = "relay-Rel-Secret-3Pz9"
# Used by the traced host only: a mailbox added after the install, then given a new password.
CAROL = "carol@example.test"
CAROL_PASSWORDS = ("carol-Rel-Secret-6Tn4", "carol-Rel-Changed-2Hv8")

# POP3S on as well, so 995 is covered too; a relay login, so /etc/postfix/sasl_passwd exists and its
# password is one more secret to look for. The database passwords are left to mailtui to generate.
ANSWERS = f"""
hostname = "{HOSTNAME}"
profile = "test"

[outbound]
relayhost = "[127.0.0.1]:{SINK_PORT}"
user = "{RELAY_USER}"
password = "{RELAY_PASSWORD}"

[firewall]
enable = true

[services]
pop3 = true
submissions = true

[[domains]]
name = "example.test"

[[domains]]
name = "other.test"

[[users]]
email = "alice@example.test"
password = "{PASSWORDS['alice@example.test']}"

[[users]]
email = "bob@other.test"
password = "{PASSWORDS['bob@other.test']}"

[[aliases]]
source = "postmaster@example.test"
destination = "alice@example.test"
"""
# The traced host signs, filters and runs the webmail too: its trace and files are searched for the DKIM private
# keys, the Redis password and the webmail's secrets (two database passwords, Roundcube's DES key) as well. (The shared
# and load hosts do not: rspamd on a host with no resolver waits out its DNS timeouts, ~8 s a message — the
# DKIM server of the e2e tier has the test DNS.)
TRACED_ANSWERS = (ANSWERS + "\n[dkim]\nenabled = true\n\n[srs]\nenabled = true\n\n[spam]\nenabled = true\n"
                  "\n[webmail]\nenabled = true\n")
REDIS_INCLUDE = "/etc/redis/mailtui.conf"  # the Redis password mailtui made ([spam]: requirepass)
SRS_SECRET = "/etc/postsrsd.secret"  # made by postsrsd's package (random), read by postsrsd alone
DKIM_KEY_DIR = "/var/lib/rspamd/dkim"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: proves a promise on fresh test hosts (root, debootstrap)")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    group_by_release(items)


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("reliability tests need root (namespaces, overlayfs, debootstrap)")


# ----------------------------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Secrets:
    """Every secret of one installed host, by label: the mailbox passwords, the relay password, the
    database passwords mailtui generated (read from the saved answers after the install) and the DKIM
    private keys (a line from the middle of each key file: "DKIM key <file name>")."""

    values: dict[str, str]

    @classmethod
    def of(cls, host: TestHost, extra: dict[str, str] | None = None) -> Secrets:
        saved = tomllib.loads(host.read_file(SAVED_ANSWERS))
        db = saved["database"]
        values = {f"password of {email}": pw for email, pw in PASSWORDS.items()}
        values["outbound.password"] = RELAY_PASSWORD
        values["database.password"] = db["password"]
        values["database.admin_password"] = db["admin_password"]
        values.update(dkim_keys(host))
        values.update(extra or {})
        for label, value in values.items():
            # Short or empty values would match by accident; the generated ones are 20 characters.
            assert len(value) >= 12, f"{label} is too short to search for: {value!r}"
        return cls(values)


def dkim_keys(host: TestHost) -> dict[str, str]:
    """Each DKIM private key by "DKIM key <file name>": its fourth base64 line (64 characters of the key)."""
    names = host.run(["ls", DKIM_KEY_DIR], check=False).stdout.split()
    keys = {}
    for name in names:
        lines = host.read_file(f"{DKIM_KEY_DIR}/{name}").splitlines()
        assert lines[0] == "-----BEGIN PRIVATE KEY-----" and len(lines[4]) == 64, (name, lines[:2])
        keys[f"DKIM key {name}"] = lines[4]
    return keys


def install_secured(host: TestHost, release: str) -> Installed:
    host.write_file(ANSWERS_PATH, ANSWERS, mode=0o600)
    inst = Installed(host, release, "", 0.0)
    began = time.monotonic()
    code, output = inst.install()
    inst.install_seconds = time.monotonic() - began
    inst.install_output = output
    print(f"\n[{release}] install took {inst.install_seconds:.1f} s")
    assert code == 0, f"install on {release} failed (exit {code}):\n{output[-6000:]}"
    # Outbound mail goes to a sink on the test host's loopback, never off the machine.
    host.start_daemon(["/usr/sbin/smtp-sink", "-u", "postfix", f"127.0.0.1:{SINK_PORT}", "100"])
    return inst


@pytest.fixture(scope="session", params=RELEASES)
def secured(request: pytest.FixtureRequest) -> Iterator[Installed]:
    """A fresh host per release with the stack installed from ANSWERS (one install, shared), on the cached
    "packages installed" layer."""
    require_root()
    layer = stack_layer(request.param, ANSWERS)
    with test_host(request.param, hostname=HOSTNAME, layers=[layer]) as host:
        yield install_secured(host, request.param)


# ----------------------------------------------------------------------------------------------- tracing

# Runs inside the traced host as `sh /root/traced.sh`. No secret is in this file or on any command line
# it writes: passwords come from files, over stdin. The last lines are the positive control: a secret
# that does reach a command line (echo) and an environment (true), from the same trace.
TRACED_SCRIPT = f"""
cd /
python3 -m mailtui install --answers {ANSWERS_PATH} --yes >/root/traced-install.log 2>&1
echo "install $?" >/root/traced.rc
python3 -m mailtui user add {CAROL} --password-stdin </root/carol.pw >/root/traced-user.log 2>&1
echo "user-add $?" >>/root/traced.rc
python3 -m mailtui user passwd {CAROL} --password-stdin </root/carol-new.pw >>/root/traced-user.log 2>&1
echo "user-passwd $?" >>/root/traced.rc
python3 -m mailtui check --user alice@example.test --password-stdin </root/alice.pw >/root/traced-check.log 2>&1
echo "check $?" >>/root/traced.rc
rm -f /root/carol.pw /root/carol-new.pw /root/alice.pw
canary=$(cat /root/canary)
rm -f /root/canary
/bin/echo "$canary" >/dev/null
MAILTUI_CANARY="$canary" /bin/true
touch /root/traced.done
"""
CANARY = "canary-Rel-" + os.urandom(6).hex()


@dataclass
class Traced:
    host: TestHost
    release: str
    trace: str  # strace's output: one execve per line, full argv and environment
    rc: dict[str, int]  # exit code of each traced command
    seconds: float
    secrets: Secrets = field(repr=False)
    logs: dict[str, str] = field(default_factory=dict, repr=False)


def _strace() -> str:
    found = shutil.which("strace") or shutil.which("strace", path="/usr/bin:/bin")
    if not found:
        pytest.fail("strace is needed on this machine for the trace tests: apt-get install strace")
    return found


def trace_install(host: TestHost, trace_file: Path, timeout: float = 600) -> float:
    """Run TRACED_SCRIPT inside `host` under strace, which runs here and follows every fork into the host
    (nsenter and everything below it, daemons included). Returns the seconds it took.

    --seccomp-bpf stops the tracees only at execve (without it every syscall stops, several times slower).
    Its filter stays in the traced processes when strace detaches: from then on their execve fails with
    ENOSYS (Dovecot can no longer start imap-login, measured), so nothing after the trace may need them.
    """
    argv = [
        _strace(), "-f", "-qq", "-I1", "--seccomp-bpf", "-v", "-s", "65536",
        "-e", "trace=execve", "-e", "signal=none", "-o", str(trace_file), "--",
        *host._argv(["/bin/sh", "/root/traced.sh"]),
    ]  # fmt: skip
    env = host._env({"PYTHONPATH": MAILTUI_PYTHONPATH,
                     "SSH_CONNECTION": f"{host.runner_ip} 40000 {host.ip} {SSH_PORT}"})
    done = host.root / "root" / "traced.done"
    began = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            # strace itself does not end: the daemons the install started stay traced until it detaches.
            while not done.exists():
                if proc.poll() is not None:
                    out.seek(0)
                    raise AssertionError(f"strace ended early (exit {proc.returncode}): {out.read()[-3000:]!r}")
                assert time.monotonic() - began < timeout, f"the traced install took over {timeout} s"
                time.sleep(0.5)
            seconds = time.monotonic() - began
        finally:
            proc.terminate()  # -I1: SIGTERM makes strace detach from the daemons and exit
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return seconds


@pytest.fixture(scope="session", params=RELEASES)
def traced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    """A second fresh host per release: the install, `mailtui user add/passwd` and `mailtui check`, all
    under strace."""
    require_root()
    release = request.param
    trace_file = tmp_path_factory.mktemp(f"trace-{release}") / "execve.trace"
    with test_host(release, hostname=HOSTNAME) as host:
        host.write_file(ANSWERS_PATH, TRACED_ANSWERS, mode=0o600)
        host.write_file("/root/traced.sh", TRACED_SCRIPT, mode=0o700)
        host.write_file("/root/carol.pw", CAROL_PASSWORDS[0] + "\n", mode=0o600)
        host.write_file("/root/carol-new.pw", CAROL_PASSWORDS[1] + "\n", mode=0o600)
        host.write_file("/root/alice.pw", PASSWORDS["alice@example.test"] + "\n", mode=0o600)
        host.write_file("/root/canary", CANARY + "\n", mode=0o600)
        seconds = trace_install(host, trace_file)
        rc = {name: int(code) for name, code in (line.split() for line in host.read_file("/root/traced.rc").split("\n")
                                                 if line.strip())}
        logs = {name: host.read_file(f"/root/traced-{name}.log") for name in ("install", "user", "check")}
        assert dkim_keys(host), "the traced install made no DKIM keys to search for"
        print(f"\n[{release}] traced install + user add/passwd + check took {seconds:.1f} s; "
              f"trace {trace_file.stat().st_size / 1e6:.1f} MB")
        extra = {f"password {i + 1} of {CAROL}": pw for i, pw in enumerate(CAROL_PASSWORDS)}
        extra["SRS secret"] = host.read_file(SRS_SECRET).strip()
        extra["Redis password"] = next(line.split()[1] for line in host.read_file(REDIS_INCLUDE).splitlines()
                                       if line.startswith("requirepass "))
        extra.update(webmail_secrets(host))
        traced = Traced(host, release, trace_file.read_text(errors="replace"), rc, seconds,
                        Secrets.of(host, extra), logs)
        yield traced
    with contextlib.suppress(OSError):
        trace_file.unlink()


# ------------------------------------------------------------------------------- the TLS 1.0/1.1 control


@dataclass(frozen=True)
class OldTlsServer:
    """`openssl s_server` on this machine's loopback speaking only one old TLS version."""

    version: str  # "TLSv1" or "TLSv1.1", as ssl.SSLSocket.version() names it
    port: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_tls_servers(work: Path, flag_sets: list[list[str]]) -> Iterator[list[int]]:
    """`openssl s_server` on this machine's loopback, one per entry of `flag_sets` (its protocol and cipher
    flags), with a throwaway self-signed RSA certificate: the controls that prove a test's client really
    offers what the mail ports refuse. Yields their ports."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is needed on this machine for the TLS controls")
    cert, key = work / "cert.pem", work / "key.pem"
    if not cert.exists():
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=tls-control", "-keyout", key, "-out", cert], check=True, capture_output=True)
    procs: list[subprocess.Popen[bytes]] = []
    ports = []
    try:
        for flags in flag_sets:
            port = _free_port()
            procs.append(subprocess.Popen(
                [openssl, "s_server", "-accept", f"127.0.0.1:{port}", *flags, "-cert", cert, "-key", key, "-quiet"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"openssl s_server {flags} did not start"
                    time.sleep(0.05)
            ports.append(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def old_tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[OldTlsServer]]:
    """Two local servers, one TLS 1.0 only, one TLS 1.1 only (ciphers at OpenSSL security level 0 so that
    OpenSSL 3 allows the old versions at all)."""
    versions = (("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1"))
    flag_sets = [[flag, "-cipher", "DEFAULT:@SECLEVEL=0"] for flag, _ in versions]
    with local_tls_servers(tmp_path_factory.mktemp("old-tls"), flag_sets) as ports:
        yield [OldTlsServer(version, port) for (_, version), port in zip(versions, ports, strict=True)]


@pytest.fixture(scope="session")
def weak_suites_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A local TLS 1.2 server that offers every suite OpenSSL has, anonymous, CBC and RSA key exchange
    included (security level 0): the control for the TLS-profile tests' clients. Yields its port."""
    flags = ["-tls1_2", "-cipher", "ALL:@SECLEVEL=0"]
    with local_tls_servers(tmp_path_factory.mktemp("weak-suites"), [flags]) as ports:
        yield ports[0]
