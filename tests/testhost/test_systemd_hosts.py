"""Test hosts that boot systemd as PID 1 (systemd-nspawn on the systemd layer), as every real server does:
the boot ends `running` on both releases, in the cgroup mode the harness pins, inside the host's own network
namespace, and a host leaves nothing behind in any cgroup hierarchy of this machine (root only)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import testhost as th
from tests.harness.testhost import boot, cgroups, procs

RELEASES = list(th.RELEASES)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="test hosts need root")


@pytest.fixture(scope="module", params=RELEASES)
def host(request: pytest.FixtureRequest) -> Iterator[th.TestHost]:
    with th.test_host(request.param, layers=[th.systemd_layer(request.param)]) as h:
        yield h


def test_systemd_is_pid_1_and_the_boot_ends_running(host: th.TestHost) -> None:
    assert host.systemd and host.boot_state == "running"
    assert host.read_file("/proc/1/comm").strip() == "systemd"
    state = host.run(["systemctl", "is-system-running"], check=False)
    failed = host.run(["systemctl", "--failed", "--no-legend", "--plain"]).stdout
    assert state.stdout.strip() == "running" and not failed.strip(), (state.stdout, failed)
    version = host.run(["systemctl", "--version"]).stdout.split()[1]
    assert int(version) == {"bookworm": 252, "trixie": 257}[host.release]


def test_cgroup_mode_is_pinned_to_the_unified_hierarchy(host: th.TestHost) -> None:
    # systemd >= 256 (Debian 13) treats cgroup v1 as unsupported: both releases boot on cgroup v2.
    assert host.run(["stat", "-fc", "%T", "/sys/fs/cgroup"]).stdout.strip() == "cgroup2fs"


def test_services_start_during_apt_and_noisy_timers_are_masked(host: th.TestHost) -> None:
    assert host.run(["test", "-e", "/usr/sbin/policy-rc.d"], check=False).returncode == 1
    assert host.run(["systemctl", "is-active", "ssh"], check=False).stdout.strip() == "active"
    for timer in ("apt-daily.timer", "apt-daily-upgrade.timer"):
        assert host.run(["systemctl", "is-enabled", timer], check=False).stdout.strip() == "masked", timer


def test_host_is_in_its_own_network_namespace(host: th.TestHost) -> None:
    own = procs.ns_id(host.init_pid, "net")
    assert own == f"net:[{os.stat(f'/run/netns/{host.netns}').st_ino}]"
    assert own not in (procs.ns_id(1, "net"), procs.ns_id(os.getpid(), "net"))
    # the check the harness runs before the first command refuses both mistakes (its positive control)
    with pytest.raises(th.TestHostError, match="this machine's network namespace"):
        boot.check_network(os.getpid(), host.netns)
    other = th.create_host(host.release)
    try:
        with pytest.raises(th.TestHostError, match="not in the test network's"):
            boot.check_network(host.init_pid, other.netns)
    finally:
        other.close()


def test_sysctl_writes_stay_in_the_host(host: th.TestHost) -> None:
    machine = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    assert host.run("echo 1 > /proc/sys/net/ipv4/ip_forward", check=False).returncode == 0  # its own netns
    assert host.run("echo x > /proc/sys/kernel/domainname", check=False).returncode != 0  # read-only
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == machine


def test_the_hosts_processes_live_in_its_cgroup_subtree(host: th.TestHost) -> None:
    assert host.cgroups and all(c.name == f"{cgroups.PREFIX}{host.id}" for c in host.cgroups)
    inside = cgroups.pids_in(host.cgroups)
    assert host.init_pid in inside and host._proc is not None and host._proc.pid in inside


@pytest.mark.parametrize("release", RELEASES)
def test_a_systemd_host_leaves_nothing_in_any_cgroup_hierarchy(release: str) -> None:
    layer = th.systemd_layer(release)
    before = cgroups.top_level()
    host = th.create_host(release, layers=[layer])
    during = cgroups.top_level()
    # Positive control: where the runner sits at a hierarchy's root, the host's subtree shows at that root.
    roots_here = [h.name for h in cgroups.hierarchies() if h.own == "/"]
    assert roots_here and all(f"{cgroups.PREFIX}{host.id}" in during[name] for name in roots_here)
    assert all(c.is_dir() for c in host.cgroups)
    host.close()
    assert host.leftovers() == []

    def settled(top: dict[str, set[str]]) -> dict[str, set[str]]:  # other hosts (other tests) come and go
        return {name: {n for n in names if not n.startswith(cgroups.PREFIX)} for name, names in top.items()}

    after = cgroups.top_level()
    assert settled(after) == settled(before)
    for hierarchy in cgroups.hierarchies():  # nor below the runner's own cgroup
        assert not (hierarchy.here / f"{cgroups.PREFIX}{host.id}").exists(), hierarchy
        assert not {"payload", "supervisor"} & after[hierarchy.name], hierarchy


def test_init_systemd_needs_the_systemd_layer() -> None:
    with pytest.raises(th.TestHostError, match="systemd_layer"), th.test_host("bookworm", init="systemd"):
        pass


@pytest.mark.parametrize("release", RELEASES)
def test_reboot_keeps_the_disk_and_boots_again(release: str) -> None:
    with th.test_host(release, layers=[th.systemd_layer(release)]) as host:
        host.write_file("/root/on-disk", "kept\n")
        host.write_file("/run/in-memory", "gone\n")
        boot_id = host.read_file("/proc/sys/kernel/random/boot_id")  # nspawn gives each boot its own
        old_pid = host.init_pid
        took = host.reboot()
        assert host.boot_state == "running" and took < 30, (host.boot_state, took)
        assert host.init_pid != old_pid and host.read_file("/proc/sys/kernel/random/boot_id") != boot_id
        assert host.read_file("/root/on-disk") == "kept\n"
        assert host.run(["test", "-e", "/run/in-memory"], check=False).returncode == 1
        boot.check_network(host.init_pid, host.netns)
        assert host.run(["systemctl", "is-active", "ssh"], check=False).stdout.strip() == "active"
    assert host.leftovers() == []


_CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
from tests.harness import testhost as th
h = th.create_host("bookworm", layers=[th.systemd_layer("bookworm")])
print(json.dumps({{"id": h.id, "cgroups": [str(c) for c in h.cgroups], "nspawn": h._proc.pid}}), flush=True)
time.sleep(600)
"""


def test_clean_removes_a_systemd_host_and_its_cgroups_after_a_killed_test_process() -> None:
    import json
    import subprocess
    import sys

    th.systemd_layer("bookworm")  # built here, not in the child
    repo = str(Path(__file__).resolve().parents[2])
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(repo=repo)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    info = json.loads(child.stdout.readline())
    child.kill()
    child.wait(timeout=30)
    nspawn = int(info["nspawn"])
    assert procs.start_time(nspawn) is not None  # SIGKILL: nothing tore the container down
    removed = th.clean()
    assert f"host {info['id']}" in removed, removed
    assert not any(Path(c).exists() for c in info["cgroups"]), info["cgroups"]
    deadline = time.monotonic() + 10
    while procs.start_time(nspawn) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert procs.start_time(nspawn) is None, "systemd-nspawn outlived clean()"
