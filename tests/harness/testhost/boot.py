"""Starting a host's PID 1 inside its (already plugged-in) network namespace, one of two kinds:

- boot(): `ip netns exec tnh-<id>` + `unshare --mount --pid --uts --ipc --fork`, a shell that mounts /proc,
  /sys, /dev, /run, /tmp and the read-only mailtui mounts and pivots into the overlay, then pid1.py (a
  reaper): a host without systemd.
- boot_systemd(): `systemd-nspawn --boot` of the overlay (its layers hold systemd), joining the same named
  network namespace, started from a cgroup subtree of its own (cgroups.py), the cgroup mode pinned to the
  unified hierarchy (systemd >= 256, Debian 13's, treats v1 as unsupported); returns once the boot is over.

The network is not this module's business: both only join the named namespace network.py made, and both
refuse to go on if PID 1 ended up in this machine's own network namespace.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.testhost import cgroups, procs
from tests.harness.testhost.common import APP_MOUNT, DEPS_MOUNT, INSIDE_PATH, TestHostError, tool

PID1_SCRIPT = Path(__file__).with_name("pid1.py")

SETUP = r"""
set -eu
R="$1"; HN="$2"; DEPS="$3"; APP="$4"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
printf %s "$HN" > "$R/proc/sys/kernel/hostname"
# /proc/sys read-only except /proc/sys/net (per network namespace): no sysctl write reaches this machine.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw,nosuid,nodev,noexec "$R/proc/sys/net"
if [ -e "$R/proc/sysrq-trigger" ]; then
    mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
    mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=16m,nosuid tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir -m 755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mkdir -m 1777 "$R/run/lock"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount --bind "$DEPS" "$R@DEPS@"
mount -o remount,bind,ro "$R@DEPS@"
mount --bind "$APP" "$R@APP@"
mount -o remount,bind,ro "$R@APP@"
# pivot_root (not chroot): drops this namespace's copies of every other mount on the machine.
cd "$R"
pivot_root . mnt
cd /
umount -l /mnt
exec /usr/bin/python3 - mailtui-testhost-init
""".replace("@DEPS@", DEPS_MOUNT).replace("@APP@", APP_MOUNT)


@dataclass
class Booted:
    proc: subprocess.Popen[bytes]  # `ip netns exec … unshare …`: waits for PID 1
    init_pid: int  # PID 1 of the host, as seen from this machine
    ns_ids: set[str]  # its pid, mnt and net namespaces ('pid:[4026532301]', …)
    cgroups: list[Path] = field(default_factory=list)  # systemd hosts: the subtree of each hierarchy
    boot_state: str = ""  # systemd hosts: `systemctl is-system-running` once the boot was over


def boot(root: Path, hostname: str, netns: str, deps: Path, app: Path, log_path: Path) -> Booted:
    """Start the host's PID 1 in the named network namespace `netns`, rooted in `root`."""
    argv = [
        tool("ip"), "netns", "exec", netns,
        tool("unshare"), "--mount", "--pid", "--uts", "--ipc", "--fork", "--propagation=private", "--",
        "/bin/sh", "-c", SETUP, "sh", str(root), hostname, str(deps), str(app),
    ]  # fmt: skip
    with PID1_SCRIPT.open("rb") as script, log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, stdin=script, stdout=subprocess.PIPE, stderr=log, env={"PATH": INSIDE_PATH},
            start_new_session=True,  # a Ctrl-C at the terminal must not kill PID 1 before close() runs
        )  # fmt: skip
    line = procs.read_line(proc, timeout=30)
    if not line.startswith("ready"):
        log_text = log_path.read_text(errors="replace")[-3000:]
        procs.kill([proc.pid, *procs.descendants(proc.pid)])
        proc.wait()
        raise TestHostError(f"test host init did not start (got {line!r}); init.log:\n{log_text}")
    assert proc.stdout is not None
    proc.stdout.close()
    kids = procs.children(proc.pid)
    if len(kids) != 1:
        raise TestHostError(f"expected one init under unshare pid {proc.pid}, found {kids}")
    init_pid = kids[0]
    ns_ids = {i for k in ("pid", "mnt", "net") if (i := procs.ns_id(init_pid, k))}
    try:
        check_network(init_pid, netns)
    except TestHostError:
        procs.kill([init_pid])
        raise
    return Booted(proc, init_pid, ns_ids)


def check_network(init_pid: int, netns: str) -> None:
    """Raise unless PID 1 is in the named namespace `netns` and not in this machine's (a shared one would put
    the host's `ufw enable` and fail2ban's bans on this machine)."""
    theirs = procs.ns_id(init_pid, "net")
    if theirs is None or theirs == procs.ns_id(1, "net") or theirs == procs.ns_id(os.getpid(), "net"):
        raise TestHostError(f"host PID 1 ({init_pid}) is in this machine's network namespace: refusing")
    if theirs != f"net:[{os.stat(f'/run/netns/{netns}').st_ino}]":
        raise TestHostError(f"host PID 1 ({init_pid}) is in {theirs}, not in the test network's {netns}: refusing")


# The container's own settings: its network is private (with --network-namespace-path: the named namespace;
# without --private-network nspawn keeps CAP_NET_ADMIN from it and /proc/sys/net read-only, and ufw's unit
# fails), no copy of this machine's resolv.conf or timezone, no journal link to this machine, the console's
# output to init.log.
NSPAWN_OPTIONS = ["--boot", "--private-network", "--register=no", "--keep-unit", "--quiet", "--resolv-conf=off",
                  "--timezone=off", "--link-journal=no", "--console=read-only"]
NSPAWN_ENV = {"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}  # the cgroup mode, pinned: cgroup v2 inside
BOOT_TIMEOUT = 90
NSPAWN_REBOOT_EXIT = 133  # systemd-nspawn's exit status when the container rebooted (measured, both releases)


def boot_systemd(root: Path, hostname: str, netns: str, deps: Path, app: Path, log_path: Path,
                 host_id: str) -> Booted:
    """Boot systemd in `root` (which must hold it) in the named network namespace `netns`; wait until the boot
    is over (running or degraded)."""
    subtree = cgroups.create(host_id)
    argv = [
        "/bin/sh", "-c", cgroups.ENTER, "sh", *map(str, subtree), "--",
        tool("systemd-nspawn"), *NSPAWN_OPTIONS, f"--directory={root}", f"--machine=th-{host_id}",
        f"--hostname={hostname}", f"--network-namespace-path=/run/netns/{netns}",
        f"--bind-ro={deps}:{DEPS_MOUNT}", f"--bind-ro={app}:{APP_MOUNT}",
    ]  # fmt: skip
    with log_path.open("ab") as log:  # appended: a reboot's boot follows the last one's shutdown
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env={"PATH": INSIDE_PATH, **NSPAWN_ENV}, start_new_session=True)
    booted = Booted(proc, 0, set(), subtree)
    try:
        booted.init_pid = _find_container_init(proc, log_path)
        _wait_exec(booted.init_pid, "systemd", log_path)
        booted.ns_ids = {i for k in ("pid", "mnt", "net") if (i := procs.ns_id(booted.init_pid, k))}
        check_network(booted.init_pid, netns)
        booted.boot_state = wait_booted(booted.init_pid, log_path)
    except BaseException:
        stop_systemd(booted)
        raise
    return booted


def _wait_exec(pid: int, comm: str, log_path: Path, timeout: float = 30) -> None:
    """Wait until `pid` runs `comm`: nspawn's child is PID 1 of the new PID namespace before it has joined
    the network namespace (seen once, 2026-12-07: still in this machine's), and it joins before it execs
    systemd, so the namespaces are checked once systemd runs."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            running = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError as gone:
            raise TestHostError(f"the host's PID 1 ({pid}) ended before it ran {comm}; init.log:\n"
                                f"{_tail(log_path)}") from gone
        if running == comm:
            return
        if time.monotonic() > deadline:
            raise TestHostError(f"the host's PID 1 ({pid}) still runs {running!r}, not {comm}, after {timeout:.0f} s")
        time.sleep(0.01)


def _find_container_init(proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 30) -> int:
    """The container's PID 1 as this machine sees it: the process below nspawn that is PID 1 of its own PID
    namespace."""
    mine = procs.ns_id(os.getpid(), "pid")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TestHostError(f"systemd-nspawn exited ({proc.returncode}) before the host booted; "
                                f"init.log:\n{_tail(log_path)}")
        for pid in procs.descendants(proc.pid):
            if procs.ns_id(pid, "pid") != mine and procs.ns_pid(pid) == 1:
                return pid
        time.sleep(0.05)
    raise TestHostError(f"no container PID 1 below systemd-nspawn after {timeout} s; init.log:\n{_tail(log_path)}")


def wait_booted(init_pid: int, log_path: Path, timeout: float = BOOT_TIMEOUT) -> str:
    """`systemctl is-system-running --wait` inside: 'running' or 'degraded' once the boot is over."""
    argv = [tool("nsenter"), "-t", str(init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
            "systemctl", "is-system-running", "--wait"]
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, env={"PATH": INSIDE_PATH},
                                 timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
        state = out.stdout.strip()
        if state in ("running", "degraded"):
            return state
        time.sleep(0.1)  # before systemd listens ("offline", an error): again
    raise TestHostError(f"the host did not finish booting in {timeout} s (state {state!r}); "
                        f"init.log:\n{_tail(log_path)}")


def stop_systemd(booted: Booted) -> None:
    """Kill the container (SIGKILL to its PID 1 ends its PID namespace), wait for nspawn, remove the cgroups."""
    if booted.init_pid:
        procs.kill([booted.init_pid])
    with contextlib.suppress(subprocess.TimeoutExpired):
        booted.proc.wait(timeout=10)
    if booted.proc.poll() is None:
        procs.kill([booted.proc.pid])
        booted.proc.wait()
    cgroups.remove(booted.cgroups)


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""
