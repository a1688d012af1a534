"""The throwaway test-host harness itself: isolation, offline apt, teardown, caches (root only).

The test network (several hosts, the test DNS, the seal) is tested in test_network.py.

Run: /path/to/venv/bin/pytest tests/testhost -v -s   (-s shows the harness's timings)
The first run builds the cached bases (~40 s per release, needs the Debian mirror); later runs reuse them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness import testhost as th  # noqa: E402
from tests.harness.testhost import procs  # noqa: E402

RELEASES = list(th.RELEASES)
NONINTERACTIVE = {"DEBIAN_FRONTEND": "noninteractive"}
MACHINE_HOSTNAME = socket.gethostname()

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason=f"test hosts need root (namespaces, mounts, debootstrap); running as uid {os.geteuid()}",
)


@pytest.fixture(scope="module", params=RELEASES)
def host(request: pytest.FixtureRequest) -> Iterator[th.TestHost]:
    """One shared host per release for the read-mostly checks."""
    with th.test_host(request.param) as h:
        yield h


def _machine_ip_forward() -> str:
    return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()


# ------------------------------------------------------------------------------------------- identity


def test_debian_version(host: th.TestHost) -> None:
    version = host.read_file("/etc/debian_version").strip()
    assert version.startswith(th.RELEASES[host.release] + "."), version


def test_pid_namespace_is_isolated(host: th.TestHost) -> None:
    ps = host.run(["ps", "-e", "-o", "pid=,args="]).stdout.splitlines()
    assert len(ps) <= 10, ps  # init, ps, perhaps the daemons of other tests on this shared host
    assert ps[0].split(None, 1) == ["1", "/usr/bin/python3 - mailtui-testhost-init"], ps
    assert not any("pytest" in line for line in ps), ps


def test_hostname_inside_and_machine_unchanged(host: th.TestHost) -> None:
    assert host.run("hostname").stdout.strip() == th.DEFAULT_HOSTNAME
    assert host.run("hostname -f").stdout.strip() == th.DEFAULT_HOSTNAME  # via /etc/hosts
    assert host.read_file("/etc/hostname").strip() == th.DEFAULT_HOSTNAME
    assert host.read_file("/etc/resolv.conf") == "nameserver 127.0.0.1\n"  # no test DNS on its network
    assert socket.gethostname() == MACHINE_HOSTNAME


def test_custom_hostname() -> None:
    with th.test_host("bookworm", hostname="mx.other.test") as h:
        assert h.run("hostname").stdout.strip() == "mx.other.test"
        assert "mx.other.test mx" in h.read_file("/etc/hosts")
    assert socket.gethostname() == MACHINE_HOSTNAME


def test_cwd_is_root_and_env_is_clean(host: th.TestHost) -> None:
    out = host.run("pwd; echo $HOME; echo ${PYTEST_CURRENT_TEST:-unset}", env={"EXTRA": "x"}).stdout.split()
    assert out == ["/", "/root", "unset"]
    assert host.run("echo $EXTRA", env={"EXTRA": "x"}).stdout.strip() == "x"


def test_service_command_exists(host: th.TestHost) -> None:
    assert host.run("command -v service").stdout.strip() == "/usr/sbin/service"
    assert host.run("test -x /usr/sbin/policy-rc.d && /usr/sbin/policy-rc.d", check=False).returncode == 101


# -------------------------------------------------------------------------------------------- network


def test_tcp_server_inside_reachable_from_outside(host: th.TestHost) -> None:
    host.start_daemon(["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", "/etc"])
    host.wait_tcp(8080)
    with urllib.request.urlopen(f"http://{host.ip}:8080/debian_version", timeout=5) as resp:
        assert resp.read().decode().startswith(th.RELEASES[host.release] + ".")


def test_host_reaches_the_runner_on_the_network(host: th.TestHost) -> None:
    with socket.create_server((host.runner_ip, 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(10)
        script = f"import socket; socket.create_connection(('runner', {port}), 5).sendall(b'hi')"
        host.run(["python3", "-c", script])
        conn, (peer, _) = server.accept()
        with conn:
            assert conn.recv(10) == b"hi"
        assert peer == host.ip


def test_no_default_route_inside(host: th.TestHost) -> None:
    routes = host.run("ip route; ip -6 route").stdout
    assert "default" not in routes, routes
    assert f"{host.network.subnet} dev eth0" in routes


# ----------------------------------------------------------------------------------------- /proc/sys


def test_proc_sys_read_only_except_net(host: th.TestHost) -> None:
    before = _machine_ip_forward()
    denied = host.run("echo 1 > /proc/sys/kernel/panic_on_oops", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr, denied
    denied = host.run("echo other > /proc/sys/kernel/hostname", check=False)
    assert denied.returncode != 0, denied
    host.run("echo 1 > /proc/sys/net/ipv4/ip_forward")
    assert host.read_file("/proc/sys/net/ipv4/ip_forward").strip() == "1"
    host.run("echo 0 > /proc/sys/net/ipv4/ip_forward")
    assert _machine_ip_forward() == before
    assert "ro" in host.run("grep ' /sys ' /proc/mounts").stdout.split()[3].split(",")


# -------------------------------------------------------------------------------------- files, daemons


def test_write_and_read_file(host: th.TestHost) -> None:
    host.write_file("/etc/mailtui-harness/secret.conf", "a = 1\n", mode=0o600)
    assert host.read_file("/etc/mailtui-harness/secret.conf") == "a = 1\n"
    assert host.run("stat -c %a:%U /etc/mailtui-harness/secret.conf").stdout.strip() == "600:root"
    assert (host.root / "etc/mailtui-harness/secret.conf").read_text() == "a = 1\n"  # overlay, from outside
    host.write_file("/tmp/in-tmpfs", b"\x00bytes")  # /tmp is a tmpfs inside: only reachable through run()
    assert host.run("od -An -c /tmp/in-tmpfs").stdout.split()[:2] == ["\\0", "b"]
    assert not (host.root / "tmp/in-tmpfs").exists()


def test_daemon_holding_stdout_does_not_hang_run(host: th.TestHost) -> None:
    start = time.monotonic()
    result = host.run("sleep 300 & echo started")  # sleep inherits stdout/stderr and keeps them open
    assert result.stdout.strip() == "started"
    assert time.monotonic() - start < 10


def test_run_timeout_kills_the_command(host: th.TestHost) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        host.run("echo before; sleep 120; echo after", timeout=1)
    time.sleep(0.3)
    assert "sleep 120" not in host.run("ps -eo args").stdout


def test_failed_command_shows_its_output(host: th.TestHost) -> None:
    with pytest.raises(th.CommandFailed) as info:
        host.run("echo to-stdout; echo to-stderr >&2; exit 3")
    assert info.value.returncode == 3
    assert "to-stdout" in str(info.value) and "to-stderr" in str(info.value)
    assert host.run("exit 4", check=False).returncode == 4


def test_input_is_passed_on_stdin(host: th.TestHost) -> None:
    assert host.run("tr a-z A-Z", input="hello").stdout == "HELLO"
    assert host.run("cat", input=None).stdout == ""  # stdin is /dev/null


# ------------------------------------------------------------------------------------ packages, python


def test_offline_apt_install_of_one_package(host: th.TestHost) -> None:
    start = time.monotonic()
    host.run("apt-get install -y --no-download postfix", env=NONINTERACTIVE)
    print(f"\n{host.release}: offline apt-get install postfix took {time.monotonic() - start:.1f} s")
    assert host.run("dpkg-query -W -f '${Status}' postfix").stdout == "install ok installed"
    assert host.run("postconf -h mail_version").stdout.strip()
    # policy-rc.d: nothing started during apt
    assert "master" not in host.run("ps -eo comm").stdout.split()


def test_python_deps_and_app_import(host: th.TestHost) -> None:
    script = "import sys, mailtui, pymysql, passlib, sh, textual; print(sys.version_info[:2], mailtui.__file__)"
    out = host.run(["python3", "-c", script], env={"PYTHONPATH": th.MAILTUI_PYTHONPATH}).stdout
    expected = "(3, 11)" if host.release == "bookworm" else "(3, 13)"
    assert out.startswith(expected), out
    assert "/opt/mailtui/app/mailtui/__init__.py" in out
    denied = host.run("touch /opt/mailtui/deps/x /opt/mailtui/app/x", check=False)
    assert "Read-only file system" in denied.stderr


@pytest.mark.parametrize("release", RELEASES)
def test_full_stack_installs_offline(release: str) -> None:
    """Every package any answers file can ask for installs offline, in a host with no route out, from the
    base's apt cache: mailtui's own packages step with every optional part on (POP3, firewall, fail2ban: the
    reliability tier's answers) made the cached stack layer; apt-get --no-download adds the rest of the list."""
    from tests.reliability.conftest import ANSWERS as EVERYTHING_ON

    packages = th.stack_packages()
    layer = th.stack_layer(release, EVERYTHING_ON)
    print(f"\n{release}: the packages step with everything on took {layer.meta['build_seconds']} s (layer build)")
    with th.test_host(release, layers=[layer]) as h:
        start = time.monotonic()
        h.run(["apt-get", "install", "-y", "--no-download", *packages], env=NONINTERACTIVE)
        print(f"{release}: offline apt-get install of the rest took {time.monotonic() - start:.1f} s")
        status = h.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *packages]).stdout
        assert all(line.endswith("install ok installed") for line in status.splitlines()), status
        assert len(status.splitlines()) == len(packages)
        for script in ("postfix", "dovecot", "mariadb"):
            assert h.run(f"test -x /etc/init.d/{script}", check=False).returncode == 0, script
        # The layer sits on systemd: apt started the services as it does on a real server.
        active = h.run(["systemctl", "is-active", "postfix", "dovecot", "mariadb"], check=False).stdout.split()
        assert active == ["active"] * 3, active


# ------------------------------------------------------------------------------------------- teardown


def _assert_gone(host: th.TestHost) -> None:
    assert host.leftovers() == []
    assert not procs.pids_in_namespaces(host.ns_ids - _other_ns_ids(host))
    assert host.netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not Path("/run/netns", host.network.bridge_netns).exists()  # its own network went with it
    assert not Path("/sys/class/net", host.network.runner_link).exists()
    assert procs.mounts_under(host.dir) == []
    assert not host.dir.exists()


def _other_ns_ids(host: th.TestHost) -> set[str]:
    return set().union(*(h.ns_ids for h in th.live_hosts() if h is not host))


@pytest.mark.parametrize("release", RELEASES)
def test_close_leaves_nothing(release: str) -> None:
    h = th.create_host(release)
    h.start_daemon("sleep 1000")
    h.run("sleep 1000 >/dev/null 2>&1 &")
    h.start_daemon(["python3", "-m", "http.server", "8081"])
    h.wait_tcp(8081)
    assert len(h.leftovers()) > 3  # sanity: leftovers() does see a live host
    start = time.monotonic()
    h.close()
    print(f"\n{release}: teardown took {time.monotonic() - start:.2f} s")
    _assert_gone(h)
    h.close()  # idempotent
    with pytest.raises(th.TestHostError):
        h.run("true")


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {repo!r})
    from tests.harness import testhost as th
    h = th.create_host("bookworm")
    h.start_daemon("sleep 1000")
    print(json.dumps({{"id": h.id, "dir": str(h.dir), "ns": sorted(h.ns_ids), "net": h.network.id}}), flush=True)
    time.sleep(600)
    """
)


def _child_host() -> tuple[subprocess.Popen[str], dict[str, object]]:
    import json

    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(repo=str(REPO_ROOT))], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line, "child did not start a host"
    return child, json.loads(line)


def _assert_child_host_gone(info: dict[str, object]) -> None:
    host_id = str(info["id"])
    net_id = str(info["net"])
    assert not Path(str(info["dir"])).exists()
    assert not Path("/run/netns", f"tnh-{host_id}").exists()
    assert not Path("/run/netns", f"tnb-{net_id}").exists()
    assert not Path("/sys/class/net", f"tnr{net_id}").exists()
    assert procs.mounts_under(Path(str(info["dir"]))) == []


def test_sigterm_to_the_test_process_still_tears_down() -> None:
    child, info = _child_host()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) != 0
    _assert_child_host_gone(info)


def test_clean_removes_hosts_of_a_killed_test_process() -> None:
    child, info = _child_host()
    child.kill()
    child.wait(timeout=30)
    assert Path(str(info["dir"])).exists()  # SIGKILL: nothing could tear down
    removed = th.clean()
    assert f"host {info['id']}" in removed
    assert f"network {info['net']}" in removed
    _assert_child_host_gone(info)


def test_init_reaps_orphaned_zombies(host: th.TestHost) -> None:
    host.run("for i in 1 2 3; do (sleep 0.2 &) ; done")  # orphans re-parented to PID 1, then exit
    time.sleep(1)
    states = host.run(["ps", "-eo", "stat=,args="]).stdout.splitlines()
    assert not [s for s in states if s.startswith("Z")], states
