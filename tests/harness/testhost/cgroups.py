"""A cgroup subtree of its own for each systemd test host, in every cgroup hierarchy of this machine.

systemd-nspawn --keep-unit splits the cgroup it starts in into `payload/` and `supervisor/`; started from
the machine's root cgroup it leaves those at the root of the `name=systemd` and unified hierarchies after
the container stops (measured). So each host's nspawn starts in `<where the runner is>/mailtui-th-<id>` of
every hierarchy (under the runner's own place, so any limit on the runner still applies), and teardown
removes that subtree, whatever systemd created below it.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "mailtui-th-"


@dataclass(frozen=True)
class Hierarchy:
    name: str  # 'name=systemd', 'memory', … ('' for the unified one), as /proc/self/cgroup names it
    root: Path  # where it is mounted
    own: str  # this process's cgroup in it: '/', '/process_api/…'

    @property
    def here(self) -> Path:
        return self.root / self.own.lstrip("/")


def hierarchies() -> list[Hierarchy]:
    """Every cgroup hierarchy this process is in, with its mount point (/proc/self/cgroup, mountinfo)."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _source, options = (right.split() + ["", "", ""])[:3]
        point = Path(left.split()[4])
        if fstype == "cgroup2":
            mounts.setdefault("", point)
        elif fstype == "cgroup":
            names = sorted(o for o in options.split(",") if o not in ("rw", "ro"))
            mounts.setdefault(",".join(names), point)
    found = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _hid, controllers, own = line.split(":", 2)
        key = ",".join(sorted(controllers.split(","))) if controllers else ""
        if key in mounts:
            found.append(Hierarchy(controllers, mounts[key], own))
    return found


def top_level() -> dict[str, set[str]]:
    """The cgroups at the root of every hierarchy (what a host must not leave behind)."""
    return {h.name: {p.name for p in h.root.iterdir() if p.is_dir()} for h in hierarchies()}


def planned(host_id: str) -> list[Path]:
    """Where create(host_id) makes the host's cgroups."""
    return [h.here / f"{PREFIX}{host_id}" for h in hierarchies()]


def create(host_id: str) -> list[Path]:
    """mailtui-th-<id> below this process's cgroup in every hierarchy; the cpuset one gets its parent's CPUs
    and memory nodes (an empty cpuset takes no process)."""
    made: list[Path] = []
    for hierarchy in hierarchies():
        parent = hierarchy.here
        sub = parent / f"{PREFIX}{host_id}"
        sub.mkdir()
        made.append(sub)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (sub / knob).exists() and not (sub / knob).read_text().strip():
                (sub / knob).write_text((parent / knob).read_text())
    return made


ENTER = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f/cgroup.procs"; shift; done; shift; exec "$@"'
"""A /bin/sh script: `sh -c ENTER sh CG... -- CMD...` moves itself into every cgroup CG, then execs CMD."""


def pids_in(paths: list[Path]) -> list[int]:
    """Every process in the given cgroups or below them."""
    found: set[int] = set()
    for top in paths:
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                with contextlib.suppress(OSError):
                    found.update(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return sorted(found)


def remove(paths: list[Path], timeout: float = 10) -> list[str]:
    """rmdir every cgroup below and including `paths`, deepest first (a cgroup whose last process is still
    exiting is busy for a moment: retried until `timeout`). Returns what could not be removed."""
    deadline = time.monotonic() + timeout
    while True:
        left: list[str] = []
        for top in paths:
            if not top.exists():
                continue
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(Path(w[0]).parts)):
                try:
                    os.rmdir(dirpath)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    left.append(f"{dirpath}: {exc.strerror}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
