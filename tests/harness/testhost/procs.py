"""Processes, namespaces, mounts and links of this machine, as the harness finds and removes them."""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.harness.testhost.common import tool


def proc_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def children(pid: int) -> list[int]:
    return [p for p in proc_pids() if ppid(p) == pid]


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for p in proc_pids():
        pp = ppid(p)
        if pp is not None:
            parents.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def ns_id(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def ns_pid(pid: int) -> int | None:
    """The process's PID in its own (innermost) PID namespace: NSpid's last field."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def pids_in_namespaces(ns_ids: set[str]) -> list[int]:
    """Processes (other than us) that are in any of the given namespaces, e.g. {'net:[4026532301]'}."""
    me = os.getpid()
    return [pid for pid in proc_pids()
            if pid != me and any(ns_id(pid, kind) in ns_ids for kind in ("pid", "mnt", "net"))]


def start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_alive(pid: int | None, started: str | None) -> bool:
    """The process `pid` is still the one that started at `started` (not a recycled PID)."""
    return bool(pid) and start_time(int(pid or 0)) == started


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in our mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def umount(point: str) -> None:
    if subprocess.run([tool("umount"), point], capture_output=True).returncode != 0:
        subprocess.run([tool("umount"), "-l", point], capture_output=True)


def overlay_lowers_in_use() -> set[str]:
    """Every directory some overlay on this machine uses as a lower layer."""
    lowers: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if " - overlay " in line:
            for found in re.findall(r"lowerdir=([^,\s]+)", line):
                lowers.update(found.split(":"))
    return lowers


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def netns_pids(name: str) -> list[int]:
    out = subprocess.run([tool("ip"), "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def delete_netns(name: str) -> None:
    """Kill whatever still runs in the named network namespace, then delete it (its links go with it)."""
    if not netns_exists(name):
        return
    kill(netns_pids(name))
    subprocess.run([tool("ip"), "netns", "del", name], capture_output=True)


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def delete_link(name: str) -> None:
    if link_exists(name):
        subprocess.run([tool("ip"), "link", "del", name], capture_output=True)


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line from proc's stdout within `timeout` (or what came, '<timeout>', '<EOF, exit N>')."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
            return data.decode(errors="replace") or "<timeout>"
        chunk = os.read(proc.stdout.fileno(), 256)
        if not chunk:
            return data.decode(errors="replace") or f"<EOF, exit {proc.wait()}>"
        data += chunk
    return data.decode(errors="replace").strip()
