"""End-to-end: the real install on a fresh Debian 12 and a fresh Debian 13 test host.

One install per release (session-scoped; the tests of one release run in one xdist worker, the two
releases side by side), on a host that boots systemd as a real server does (the systemd layer: services
start as apt installs them) and has nothing of the stack yet: this is the fresh-install test. Then every
test talks to the installed stack from the test runner over the test network, i.e. from an address outside
the test host's mynetworks — exactly what a stranger on the Internet would see.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.harness.fixtures import net  # noqa: F401  (several hosts on one sealed network)
from tests.harness.release_groups import group_by_release
from tests.harness.testhost import TestHost, systemd_layer, test_host

RELEASES = ["bookworm", "trixie"]
HOSTNAME = "mail.example.test"
SSH_PORT = 2222  # the port "this SSH session" came in on: the firewall must keep it open
SINK_PORT = 2525
SINK_DIR = "/var/tmp/sink"  # smtp-sink -d writes every message it accepts here: outbound mail, readable

PASSWORDS = {
    "alice@example.test": "alice-Secret-1",
    "bob@other.test": "bob-Secret-22",
}

ANSWERS = f"""
hostname = "{HOSTNAME}"
profile = "test"

[outbound]
relayhost = "[127.0.0.1]:{SINK_PORT}"

[firewall]
enable = true

[services]
pop3 = false
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

[[aliases]]
source = "info@other.test"
destination = "alice@example.test"
"""


@dataclass
class Installed:
    host: TestHost
    release: str
    install_output: str
    install_seconds: float

    @property
    def ip(self) -> str:
        return self.host.ip

    def mailtui(self, *args: str, **kw):  # type: ignore[no-untyped-def]
        return self.host.mailtui(*args, **kw)

    def install(self) -> tuple[int, str]:
        env = {"SSH_CONNECTION": f"{self.host.runner_ip} 40000 {self.host.ip} {SSH_PORT}"}
        result = self.host.mailtui("install", "--answers", "/root/answers.toml", "--yes",
                                   env=env, check=False, timeout=900)
        return result.returncode, result.stdout + result.stderr


def package_installed(host: TestHost, package: str) -> bool:
    """dpkg says the package is installed on the host (not merely known, or removed with its config kept)."""
    status = host.run(["dpkg-query", "-W", "-f=${Status}", package], check=False).stdout
    return "installed" in status.split()


def start_sink(host: TestHost) -> None:
    """The outbound relay's stand-in: smtp-sink on the host's loopback, keeping each message as a file in
    SINK_DIR (test scaffolding, not part of the server: started again after a reboot)."""
    host.run(["install", "-d", "-o", "postfix", "-g", "postfix", SINK_DIR])
    host.start_daemon(["/usr/sbin/smtp-sink", "-u", "postfix", "-d", f"{SINK_DIR}/%Y%m%d%H%M%S.",
                       f"127.0.0.1:{SINK_PORT}", "100"])


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    group_by_release(items, split=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (namespaces, overlayfs, debootstrap)")


@pytest.fixture(scope="session", params=RELEASES)
def installed(request: pytest.FixtureRequest) -> Iterator[Installed]:
    _require_root()
    release = request.param
    with test_host(release, hostname=HOSTNAME, layers=[systemd_layer(release)]) as host:
        assert host.systemd and host.boot_state == "running", host.boot_state
        host.write_file("/root/answers.toml", ANSWERS, mode=0o600)
        inst = Installed(host, release, "", 0.0)
        # A dry run on the fresh host shows the whole plan and changes nothing.
        dry = host.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", check=False, timeout=300)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        for expected in ("install", "postfix", "CREATE DATABASE", "virtual_transport = lmtp:unix:private/dovecot-lmtp",
                         "/etc/dovecot/dovecot.conf", "ufw", "dry run: nothing was changed"):
            assert expected in dry.stdout, f"{expected!r} missing from the dry run:\n{dry.stdout[-3000:]}"
        untouched = host.run("dpkg-query -W postfix; ls /etc/postfix /var/lib/mailtui", check=False)
        assert untouched.returncode != 0 and "No such file" in untouched.stderr, untouched
        began = time.monotonic()
        code, output = inst.install()
        inst.install_seconds = time.monotonic() - began
        inst.install_output = output
        print(f"\n[{release}] first install took {inst.install_seconds:.1f} s")
        assert code == 0, f"install on {release} failed (exit {code}):\n{output[-6000:]}"
        # Outbound mail goes to a sink on the test host's loopback, never off the machine; the sink keeps
        # each message as a file so tests can see what left.
        start_sink(host)
        yield inst
