"""Starting a host's PID 1 inside its (already plugged-in) network namespace.

Today: `ip netns exec tnh-<id>` + `unshare --mount --pid --uts --ipc --fork`, a shell that mounts /proc,
/sys, /dev, /run, /tmp and the read-only mailtui mounts and pivots into the overlay, then pid1.py (a
reaper). The network is not this module's business: it only joins the named namespace network.py made, so
another PID 1 (systemd-nspawn --boot --network-namespace-path=/run/netns/tnh-<id>) can replace this one
without touching the network.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.testhost import procs
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
    machine_net = procs.ns_id(1, "net")
    if procs.ns_id(init_pid, "net") == machine_net:
        procs.kill([init_pid])
        raise TestHostError(f"host PID 1 ({init_pid}) is in this machine's network namespace: refusing")
    return Booted(proc, init_pid, ns_ids)
