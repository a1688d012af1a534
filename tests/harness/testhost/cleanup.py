"""Removing what test hosts and networks leave behind: everything still live when the test process exits
(atexit; SIGTERM becomes an exit), and `scripts/testhost clean` for what a killed test process left (hosts
of this cache dir, networks and host namespaces of any cache dir whose owner is dead)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import time
from pathlib import Path

from tests.harness.testhost import bases, cgroups, layers, network, procs, pydeps
from tests.harness.testhost.common import RELEASES, TestHostError, cache_dir, cache_lock, file_lock, require_root
from tests.harness.testhost.host import live_hosts, teardown


@atexit.register
def close_everything() -> None:
    """Close this process's live hosts and networks (atexit)."""
    for host in live_hosts():
        with contextlib.suppress(Exception):
            host.close()
    for net in network.live_networks():
        with contextlib.suppress(Exception):
            net.close()


def _stale_hosts(everything: bool) -> tuple[list[str], set[str]]:
    """Tear down hosts of this cache whose test process died (all with everything=True). Returns what was
    removed and the netns names of the hosts left running."""
    done: list[str] = []
    live_netns: set[str] = set()
    hosts_dir = cache_dir() / "hosts"
    for host_dir in sorted(hosts_dir.glob("*")) if hosts_dir.is_dir() else []:
        try:
            meta = json.loads((host_dir / "meta.json").read_text())
        except (OSError, ValueError):
            meta = {"netns": f"{network.HOST_NETNS_PREFIX}{host_dir.name}"}
            try:
                age = time.time() - host_dir.stat().st_mtime
            except FileNotFoundError:  # torn down meanwhile by its own test (or another clean)
                continue
            if age < 60:  # maybe just being created
                live_netns.add(meta["netns"])
                continue
        if procs.owner_alive(meta.get("owner_pid"), meta.get("owner_start")) and not everything:
            live_netns.add(meta.get("netns", ""))
            continue
        teardown(host_dir, meta)
        network.remove_record("hosts", host_dir.name)
        done.append(f"host {host_dir.name}")
    return done, live_netns


def _stale_network_objects(everything: bool, live_netns: set[str]) -> list[str]:
    """Networks and host namespaces (of any cache dir) whose owner died, or of this cache with everything=True;
    namespaces and runner veths nobody has a record of (a minute old at least)."""
    done: list[str] = []
    mine = str(cache_dir())
    records = network.read_records("hosts")
    for host_id, record in records.items():
        alive = network.record_alive(record)
        if record and alive and not (everything and record.get("cache") == mine):
            live_netns.add(record.get("netns", ""))
            continue
        if not record and time.time() - (network.RUN_DIR / "hosts" / f"{host_id}.json").stat().st_mtime < 60:
            live_netns.add(f"{network.HOST_NETNS_PREFIX}{host_id}")
            continue
        host_dir = Path(record.get("host_dir") or "/nonexistent")
        if host_dir.is_dir() and host_dir.is_relative_to(cache_dir()):
            teardown(host_dir, {"netns": record.get("netns"), **_meta_of(host_dir)})
        procs.delete_netns(record.get("netns") or f"{network.HOST_NETNS_PREFIX}{host_id}")
        network.remove_record("hosts", host_id)
        done.append(f"host namespace {host_id}")
    live_nets: set[str] = set()
    for net_id, record in network.read_records("nets").items():
        if record and network.record_alive(record) and not (everything and record.get("cache") == mine):
            live_nets.add(net_id)
            continue
        if not record and time.time() - (network.RUN_DIR / "nets" / f"{net_id}.json").stat().st_mtime < 60:
            live_nets.add(net_id)
            continue
        network.teardown_network({"id": net_id, "runner_link": f"{network.RUNNER_LINK_PREFIX}{net_id}",
                                  "bridge_netns": f"{network.BRIDGE_NETNS_PREFIX}{net_id}", **record})
        done.append(f"network {net_id}")
    for name in os.listdir("/run/netns") if Path("/run/netns").is_dir() else []:
        orphan_host = name.startswith(network.HOST_NETNS_PREFIX) and name not in live_netns
        orphan_net = name.startswith(network.BRIDGE_NETNS_PREFIX) and name[4:] not in live_nets
        if (orphan_host or orphan_net) and time.time() - Path("/run/netns", name).stat().st_mtime > 60:
            procs.delete_netns(name)
            done.append(f"netns {name}")
    for link in os.listdir("/sys/class/net"):
        if re.fullmatch(rf"{network.RUNNER_LINK_PREFIX}[0-9a-f]{{6}}", link) and link[3:] not in live_nets:
            procs.delete_link(link)
            done.append(f"runner veth {link}")
    done += _orphan_cgroups(live_netns)
    return done


def _orphan_cgroups(live_netns: set[str]) -> list[str]:
    """systemd hosts' cgroup subtrees (of any cache dir) whose host namespace is gone, a minute old at least.
    Only empty ones go: the kernel refuses to remove a cgroup that still has a process."""
    done: list[str] = []
    for hierarchy in cgroups.hierarchies():
        for sub in hierarchy.here.glob(f"{cgroups.PREFIX}*"):
            host_id = sub.name.removeprefix(cgroups.PREFIX)
            netns = f"{network.HOST_NETNS_PREFIX}{host_id}"
            if netns in live_netns or procs.netns_exists(netns) or time.time() - sub.stat().st_mtime < 60:
                continue
            if not cgroups.remove([sub], timeout=1):
                done.append(f"cgroup {sub}")
    return done


def _meta_of(host_dir: Path) -> dict[str, object]:
    try:
        return json.loads((host_dir / "meta.json").read_text())
    except (OSError, ValueError):
        return {}


def clean(*, everything: bool = False) -> list[str]:
    """Remove leftovers of hosts and networks whose test process died (with everything=True also those of
    running test processes using this cache dir), old app dirs, unused old bases and layers,
    partial builds. Returns what it removed."""
    require_root()
    root = cache_dir()
    done, live_netns = _stale_hosts(everything)
    done += _stale_network_objects(everything, live_netns)
    for point in procs.mounts_under(root / "hosts"):
        host_dir = root / "hosts" / Path(point).relative_to(root / "hosts").parts[0]
        if f"{network.HOST_NETNS_PREFIX}{host_dir.name}" not in live_netns:
            procs.umount(point)
            done.append(f"mount {point}")
    for app in (root / "sessions").glob("app-*") if (root / "sessions").is_dir() else []:
        shutil.rmtree(app, ignore_errors=True)  # the old harness's per-process app dirs
        done.append(f"app dir {app.name}")
    done += [f"app dir {name}" for name in pydeps.prune_app_dirs(everything=everything and not live_netns)]
    with cache_lock(exclusive=True, blocking=False) as locked:
        if not locked:
            return [*done, "the cache is busy: left old bases and layers alone"]
        done += [f"old base {name}" for name in bases.remove_unused_old_bases()]
        if not live_netns:  # nobody can be using an outdated deps dir
            for old in root.glob("pydeps-*"):
                if old != pydeps.pydeps_dir():
                    shutil.rmtree(old, ignore_errors=True)
                    done.append(f"outdated deps {old.name}")
            for old in pydeps.outdated_testdeps():
                shutil.rmtree(old, ignore_errors=True)
                done.append(f"outdated test deps {old.name}")
    done += [f"layer {name}" for name in layers.prune_layers(everything=everything)]
    return done


def purge() -> None:
    """clean(everything=True), then delete the whole cache (bases, layers, deps)."""
    clean(everything=True)
    if procs.mounts_under(cache_dir()):
        raise TestHostError(f"mounts remain under {cache_dir()}: {procs.mounts_under(cache_dir())}")
    for release in RELEASES:
        with file_lock(cache_dir() / f".build-{release}.lock", exclusive=True, blocking=False) as idle:
            if not idle:
                raise TestHostError(f"a {release} base is being built: not purging")
    shutil.rmtree(cache_dir(), ignore_errors=True)
