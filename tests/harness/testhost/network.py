"""The sealed test network: a bridge in a network namespace of its own, test hosts plugged into it, one veth
to the test runner, and no route out.

    this machine's namespace          bridge namespace tnb-<id>              host namespaces tnh-<host id>
    tnr<id> 198.18.<n>.1/24  <-veth->  runner ─┐
      (+ client addresses .200-.254)           br0 ── h<host id> <-veth->  eth0 198.18.<n>.<k>/24  (k = 2..199)
                                                   └─ h<host id> <-veth->  eth0 …

* Nothing is bridged, forwarded or filtered in this machine's namespace: the bridge lives in tnb-<id>
  (IPv6 off there, no address, no route), the machine only gets one veth with an address in the network's
  /24 (IPv6 off on it, so no link-local route either) and the connected route the kernel adds for it.
* Hosts have only their /24 and loopback: no default route, so anything addressed outside the test network
  fails at once with ENETUNREACH inside the host, and nothing is forwarded anywhere.
* Each network claims a /24 of 198.18.0.0/15 (198.18.<n>.0/24, n = 1..254): a machine-wide flock
  (RUN_DIR/slots/<n>.lock, whatever the cache dir) and no address or route of this machine overlapping it.
* Hosts find each other by name: every host's /etc/hosts lists all hosts of its network (their hostname,
  short name and network name) and the runner as `runner`; it is rewritten in every host when one joins.
  With a test DNS on the network (dns.py), every host's /etc/resolv.conf names it.
* Records in RUN_DIR/nets/<id>.json and RUN_DIR/hosts/<host id>.json (owner PID and start time) let
  `scripts/testhost clean` remove what a killed test process left, whichever cache dir it used.

A host's network namespace is a named one (/run/netns/tnh-<host id>) so that its PID 1 can be anything that
joins a given namespace: today `ip netns exec` + unshare (boot.py), later `systemd-nspawn
--network-namespace-path=/run/netns/tnh-<host id>`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import os
import random
import re
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.harness.testhost import procs
from tests.harness.testhost.common import RUN_DIR, TestHostError, cache_dir, cmd, log, tool, write_atomic

if TYPE_CHECKING:
    from tests.harness.testhost.dns import DnsServer
    from tests.harness.testhost.host import TestHost

NET_PREFIX = "198.18"  # 198.18.0.0/15 is reserved for benchmarks; one /24 per network: 198.18.<slot>.0/24
RUNNER_OCTET = 1
HOST_OCTETS = range(2, 200)
CLIENT_OCTETS = range(254, 199, -1)  # extra source addresses of the runner, from the top
BRIDGE_NETNS_PREFIX = "tnb-"
HOST_NETNS_PREFIX = "tnh-"
RUNNER_LINK_PREFIX = "tnr"
NETWORK_DOMAIN = "test"  # default hostnames of network hosts: <name>.test


# ------------------------------------------------------------------------------------------- claiming


def _routes_and_addresses() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network this machine has an address in or a route to (but the default route)."""
    found: list[ipaddress.IPv4Network] = []
    ip = tool("ip")
    addrs = subprocess.run([ip, "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    for match in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+(?:/\d+)?)", addrs):
        found.append(ipaddress.ip_interface(match.group(1)).network)  # type: ignore[arg-type]
    routes = subprocess.run([ip, "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    kinds = {"unicast", "local", "broadcast", "multicast", "anycast", "blackhole", "unreachable", "prohibit",
             "throw", "nat"}
    for line in routes.splitlines():
        words = line.split()
        if words and words[0] in kinds:
            words = words[1:]
        if not words or words[0] == "default":
            continue
        with contextlib.suppress(ValueError):
            found.append(ipaddress.ip_network(words[0], strict=False))  # type: ignore[arg-type]
    return found


def claim_slot() -> tuple[int, int]:
    """A free 198.18.<n>.0/24 (n in 1..254): flock RUN_DIR/slots/<n>.lock, and nothing on this machine (an
    address, a route: another test run's network, the old harness's /30 veths and /32 client addresses,
    anything else) overlapping it. Returns (n, the lock's fd): the slot is ours until that fd is closed."""
    slots = RUN_DIR / "slots"
    slots.mkdir(parents=True, exist_ok=True)
    used = _routes_and_addresses()
    candidates = list(range(1, 255))
    random.shuffle(candidates)
    for n in candidates:
        subnet = ipaddress.ip_network(f"{NET_PREFIX}.{n}.0/24")
        if any(subnet.overlaps(other) for other in used):
            continue
        fd = os.open(slots / f"{n}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                continue
            raise
        return n, fd
    raise TestHostError(f"no free {NET_PREFIX}.<n>.0/24 for a test network: run `scripts/testhost clean`")


# ------------------------------------------------------------------------------------------- records


def _record_dir(kind: str) -> Path:
    path = RUN_DIR / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def _owner() -> dict[str, Any]:
    return {"owner_pid": os.getpid(), "owner_start": procs.start_time(os.getpid()), "cache": str(cache_dir())}


def write_record(kind: str, name: str, data: dict[str, Any]) -> None:
    write_atomic(_record_dir(kind) / f"{name}.json", json.dumps({**data, **_owner()}, indent=2) + "\n")


def remove_record(kind: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (RUN_DIR / kind / f"{name}.json").unlink()


def read_records(kind: str) -> dict[str, dict[str, Any]]:
    """RUN_DIR/<kind>/*.json by name (a record being written or unreadable maps to {})."""
    found: dict[str, dict[str, Any]] = {}
    folder = RUN_DIR / kind
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            found[path.stem] = {}
    return found


def record_alive(record: dict[str, Any]) -> bool:
    return procs.owner_alive(record.get("owner_pid"), record.get("owner_start"))


# ------------------------------------------------------------------------------------------ the network


@dataclass
class Member:
    name: str
    ip: str
    hostnames: list[str]
    netns: str
    host: TestHost | None = None


def _ip(*args: str, what: str) -> None:
    cmd([tool("ip"), *args], what=f"{what} (ip {' '.join(args)})")


def _sysctl_in(netns: str, *settings: str) -> None:
    cmd([tool("ip"), "netns", "exec", netns, tool("sysctl"), "-q", "-w", *settings],
        what=f"sysctl {' '.join(settings)} in {netns}")


@dataclass
class TestNetwork:
    """One sealed network: create with TestNetwork.create() (or test_network()), close() removes it all."""

    __test__ = False

    id: str
    slot: int
    members: dict[str, Member] = field(default_factory=dict)
    dns_ip: str | None = None
    dns_server: DnsServer | None = None
    runner_addresses: list[str] = field(default_factory=list)
    _slot_fd: int | None = None
    _closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def prefix(self) -> str:
        return f"{NET_PREFIX}.{self.slot}"

    @property
    def subnet(self) -> str:
        return f"{self.prefix}.0/24"

    @property
    def runner_ip(self) -> str:
        """The test runner's address on this network (this machine's end of its one veth)."""
        return f"{self.prefix}.{RUNNER_OCTET}"

    @property
    def bridge_netns(self) -> str:
        return f"{BRIDGE_NETNS_PREFIX}{self.id}"

    @property
    def runner_link(self) -> str:
        return f"{RUNNER_LINK_PREFIX}{self.id}"

    @classmethod
    def create(cls) -> TestNetwork:
        slot, fd = claim_slot()
        net = cls(id=secrets.token_hex(3), slot=slot, _slot_fd=fd)
        _LIVE_NETWORKS[net.id] = net
        try:
            net._build()
        except BaseException:
            net.close()
            raise
        return net

    def _record(self) -> dict[str, Any]:
        return {"id": self.id, "slot": self.slot, "subnet": self.subnet, "bridge_netns": self.bridge_netns,
                "runner_link": self.runner_link}

    def _build(self) -> None:
        write_record("nets", self.id, self._record())  # first: clean can find a half-built network
        ns, link = self.bridge_netns, self.runner_link
        _ip("netns", "add", ns, what="bridge namespace")
        _sysctl_in(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        _ip("-n", ns, "link", "set", "lo", "up", what="bridge namespace loopback")
        _ip("-n", ns, "link", "add", "br0", "type", "bridge", what="bridge")
        _ip("-n", ns, "link", "set", "br0", "up", what="bridge up")
        _ip("link", "add", link, "type", "veth", "peer", "name", "runner", "netns", ns, what="runner veth")
        # IPv6 off on our end before it comes up: no link-local address, no fe80::/64 route on this machine.
        Path(f"/proc/sys/net/ipv6/conf/{link}/disable_ipv6").write_text("1\n")
        _ip("addr", "add", f"{self.runner_ip}/24", "dev", link, what="runner address")
        _ip("link", "set", link, "up", what="runner veth up")
        _ip("-n", ns, "link", "set", "runner", "master", "br0", "up", what="runner port")

    # ----------------------------------------------------------------------------------------- hosts

    def attach(self, host_id: str, name: str, hostnames: list[str]) -> Member:
        """A network namespace tnh-<host_id> plugged into the bridge, with the next free address."""
        if self._closed:
            raise TestHostError(f"test network {self.id} is closed")
        with self._lock:
            taken_names = {n for m in self.members.values() for n in (m.name, *m.hostnames)}
            clash = {name, *hostnames} & taken_names
            if clash:
                raise TestHostError(f"test network {self.id} already has a host named {', '.join(sorted(clash))}")
            used = {m.ip for m in self.members.values()}
            ip = next((f"{self.prefix}.{k}" for k in HOST_OCTETS if f"{self.prefix}.{k}" not in used), None)
            if ip is None:
                raise TestHostError(f"test network {self.id} is full ({len(HOST_OCTETS)} hosts)")
            member = Member(name, ip, hostnames, f"{HOST_NETNS_PREFIX}{host_id}")
            self.members[name] = member
        write_record("hosts", host_id, {"netns": member.netns, "network": self.id, "ip": ip,
                                         "host_dir": str(cache_dir() / "hosts" / host_id)})
        ns, port = member.netns, f"h{host_id}"
        try:
            _ip("netns", "add", ns, what="host namespace")
            _ip("-n", self.bridge_netns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
                what="host veth")
            _ip("-n", self.bridge_netns, "link", "set", port, "master", "br0", "up", what="host port")
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0", what="host address")
            _ip("-n", ns, "link", "set", "eth0", "up", what="host eth0 up")
            _ip("-n", ns, "link", "set", "lo", "up", what="host loopback")
        except BaseException:
            self.detach(name, host_id)
            raise
        return member

    def detach(self, name: str, host_id: str) -> None:
        """Remove a host's namespace (its veth goes with it). Its processes must be gone already."""
        with self._lock:
            member = self.members.pop(name, None)
        netns = member.netns if member else f"{HOST_NETNS_PREFIX}{host_id}"
        procs.delete_netns(netns)
        remove_record("hosts", host_id)
        self.refresh_members()

    def hosts_file(self) -> str:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 f"{self.runner_ip}\trunner"]
        for member in self.members.values():
            names = dict.fromkeys([*member.hostnames, *(h.split(".")[0] for h in member.hostnames), member.name])
            lines.append(f"{member.ip}\t{' '.join(names)}")
        return "\n".join(lines) + "\n"

    def resolv_conf(self) -> str:
        """The test DNS when the network has one; else the host's own loopback (nothing answers: a lookup
        fails at once instead of waiting on an address nobody has)."""
        if self.dns_ip:
            return f"nameserver {self.dns_ip}\noptions timeout:2 attempts:2\n"
        return "nameserver 127.0.0.1\n"

    def refresh_members(self) -> None:
        """Rewrite /etc/hosts and /etc/resolv.conf in every running host of the network."""
        for member in list(self.members.values()):
            if member.host is not None and not member.host.closed:
                member.host.write_identity()

    def set_dns(self, server: DnsServer) -> None:
        self.dns_server, self.dns_ip = server, server.ip
        self.refresh_members()

    # ---------------------------------------------------------------------------------------- runner

    def add_runner_address(self) -> str:
        """One more source address of the test runner on this network (198.18.<n>.254 down to .200), beside
        runner_ip: bind it as a socket's source address to be a second client. Goes with the network."""
        with self._lock:
            octet = next((k for k in CLIENT_OCTETS if f"{self.prefix}.{k}" not in self.runner_addresses), None)
            if octet is None:
                raise TestHostError(f"test network {self.id}: no more runner addresses")
            address = f"{self.prefix}.{octet}"
            used = _routes_and_addresses()
            if any(ipaddress.ip_address(address) in n and n.prefixlen > 24 for n in used):
                raise TestHostError(f"{address} is already in use on this machine: not adding it")
            _ip("addr", "add", f"{address}/24", "dev", self.runner_link, what=f"runner address {address}")
            self.runner_addresses.append(address)
            return address

    # ------------------------------------------------------------------------------------- lifecycle

    def host(self, release: str, name: str, *, hostname: str | None = None, **kw: Any) -> TestHost:
        """A new throwaway host on this network (see host.create_host); closed with the network."""
        from tests.harness.testhost.host import create_host

        return create_host(release, hostname or f"{name}.{NETWORK_DOMAIN}", network=self, name=name, **kw)

    def hosts(self, release: str, *names: str, **kw: Any) -> list[TestHost]:
        """Several hosts at once on this network (`net.hosts("bookworm", "mx", "client")`), named <name>.test."""
        return [self.host(release, name, **kw) for name in names]

    def dns(self, release: str = "bookworm", name: str = "dns") -> DnsServer:
        """The network's authoritative test DNS (nsd) on a host of its own; every host's resolver names it."""
        from tests.harness.testhost.dns import start_dns

        return start_dns(self, release, name)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Tear down every host still on the network, then the bridge namespace and the runner's veth."""
        if self._closed:
            return
        self._closed = True
        try:
            for member in list(self.members.values()):
                if member.host is not None:
                    member.host.close()
            teardown_network(self._record())
        finally:
            if self._slot_fd is not None:
                os.close(self._slot_fd)
                self._slot_fd = None
            _LIVE_NETWORKS.pop(self.id, None)
        log(f"network {self.id} ({self.subnet}) torn down")


_LIVE_NETWORKS: dict[str, TestNetwork] = {}


def live_networks() -> list[TestNetwork]:
    return list(_LIVE_NETWORKS.values())


def teardown_network(record: dict[str, Any]) -> None:
    """Remove a network's runner veth and bridge namespace (live or stale, described by its record)."""
    if record.get("runner_link"):
        procs.delete_link(record["runner_link"])
    if record.get("bridge_netns"):
        procs.delete_netns(record["bridge_netns"])
    if record.get("id"):
        remove_record("nets", record["id"])
    left = [what for what, exists in ((record.get("runner_link"), procs.link_exists),
                                      (record.get("bridge_netns"), procs.netns_exists)) if what and exists(what)]
    if left:
        raise TestHostError(f"could not remove {', '.join(left)} of test network {record.get('id')}")


@contextlib.contextmanager
def test_network() -> Iterator[TestNetwork]:
    """A sealed network for the duration of the block; every host on it is torn down with it."""
    net = TestNetwork.create()
    try:
        yield net
    finally:
        net.close()


test_network.__test__ = False  # type: ignore[attr-defined]
