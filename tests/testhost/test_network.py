"""The sealed test network (root only): several hosts that see each other by name, the test DNS, nothing that
leaks out of it, and this machine's own network namespace left exactly as it was.

The rule these tests stand for: everything in the tests that could resolve names or open connections runs
inside a test host on a sealed network; the test runner itself only talks to test hosts.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness import testhost as th  # noqa: E402
from tests.harness.testhost import network  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="test networks need root (namespaces)")

# Outside addresses a leak would go to: this machine's gateway and itself (192.0.2.0/24 here), public
# resolvers over IPv4 and IPv6. No packet is ever sent to them: the hosts have no route.
OUTSIDE_TCP = [("192.0.2.1", 443), ("192.0.2.2", 22), ("2620:fe::fe", 443)]
OUTSIDE_DNS = ["9.9.9.9", "192.0.2.1", "2620:fe::fe"]

CONNECT = """
import errno, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
began = time.monotonic()
try:
    socket.create_connection((host, port), timeout=10).close()
    print("connected", round(time.monotonic() - began, 3))
except OSError as exc:
    print(errno.errorcode.get(exc.errno or 0, type(exc).__name__), round(time.monotonic() - began, 3))
"""


@pytest.fixture(scope="module")
def shared() -> Iterator[th.TestNetwork]:
    """One network for the module: a DNS host and two hosts of different releases."""
    with th.test_network() as n:
        n.dns("bookworm")
        n.host("bookworm", "alpha")
        n.host("trixie", "beta", hostname="mail.example.test")
        yield n


def _host(net: th.TestNetwork, name: str) -> th.TestHost:
    host = net.members[name].host
    assert host is not None
    return host


def _connect(host: th.TestHost, address: str, port: int) -> tuple[str, float]:
    outcome, seconds = host.run(["python3", "-c", CONNECT, address, str(port)]).stdout.split()
    return outcome, float(seconds)


# ------------------------------------------------------------------------------------ hosts see each other


def test_hosts_reach_each_other_by_name(shared: th.TestNetwork) -> None:
    alpha, beta = _host(shared, "alpha"), _host(shared, "beta")
    alpha.start_daemon(["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", "/etc"])
    alpha.wait_tcp(8080)
    for name in ("alpha", "alpha.test"):
        fetch = f"import urllib.request; print(urllib.request.urlopen('http://{name}:8080/debian_version').read())"
        assert beta.run(["python3", "-c", fetch]).stdout.startswith("b'12.")
    assert beta.run(["getent", "hosts", "alpha"]).stdout.split()[0] == alpha.ip
    assert alpha.run(["getent", "hosts", "mail.example.test"]).stdout.split()[0] == beta.ip
    assert alpha.run(["getent", "hosts", "beta"]).stdout.split()[0] == beta.ip
    assert alpha.run(["getent", "hosts", "runner"]).stdout.split()[0] == shared.runner_ip
    assert alpha.run("hostname").stdout.strip() == "alpha.test"


def test_every_host_resolves_through_the_test_dns(shared: th.TestNetwork) -> None:
    assert shared.dns_server is not None
    dns = shared.dns_server
    alpha, beta = _host(shared, "alpha"), _host(shared, "beta")
    dns.serve({"example.test": f"@ MX 10 mail\nmail A {beta.ip}\nwww CNAME mail\n@ TXT \"v=spf1 mx -all\"\n"})
    for host in (alpha, beta, dns.host):
        assert host.read_file("/etc/resolv.conf").splitlines()[0] == f"nameserver {dns.ip}"
    assert dns.query("example.test", "MX").values("MX") == ["10 mail.example.test."]
    assert dns.query("example.test", "TXT").values("TXT") == ["v=spf1 mx -all"]
    # glibc's resolver in a host, through /etc/resolv.conf (www is not in any /etc/hosts)
    assert alpha.run(["getent", "ahostsv4", "www.example.test"]).stdout.split()[0] == beta.ip
    answer = th.query_from(beta, dns.ip, "example.test", "MX")
    assert answer["authoritative"] and answer["records"] == [["example.test.", "MX", "10 mail.example.test."]]
    # authoritative only: any other name is refused at once, never looked up elsewhere
    began = time.monotonic()
    assert th.query_from(alpha, dns.ip, "deb.debian.org")["rcode"] == "REFUSED"
    assert alpha.run(["getent", "hosts", "deb.debian.org"], check=False).returncode != 0
    assert time.monotonic() - began < 5


def test_serve_replaces_the_zones_and_refuses_a_broken_one(shared: th.TestNetwork) -> None:
    assert shared.dns_server is not None
    dns = shared.dns_server
    dns.serve({"one.test": "www A 198.18.0.10\n"})
    assert dns.query("www.one.test").values("A") == ["198.18.0.10"]
    dns.serve({"two.test": "www A 198.18.0.20\n", "2.0.18.198.in-addr.arpa": "20 PTR www.two.test.\n"})
    assert dns.query("www.one.test").rcode == "REFUSED"
    assert dns.query("www.two.test").values("A") == ["198.18.0.20"]
    assert dns.query("20.2.0.18.198.in-addr.arpa", "PTR").values("PTR") == ["www.two.test."]
    with pytest.raises(th.TestHostError, match="does not load"):
        dns.serve({"bad.test": "www A not-an-address\n"})


def test_a_second_runner_address_is_a_second_client(shared: th.TestNetwork) -> None:
    alpha = _host(shared, "alpha")
    second = alpha.add_client_address()
    assert ipaddress.ip_address(second) in ipaddress.ip_network(shared.subnet) and second != shared.runner_ip
    with socket.create_server((second, 0)) as server:  # the host reaches it
        port = server.getsockname()[1]
        server.settimeout(10)
        script = f"import socket; socket.create_connection(('{second}', {port}), 5).sendall(b'x')"
        alpha.run(["python3", "-c", script])
        conn, (peer, _) = server.accept()
        conn.close()
        assert peer == alpha.ip
    alpha.start_daemon(["python3", "-m", "http.server", "8081", "--bind", "0.0.0.0"])
    alpha.wait_tcp(8081)
    with socket.create_connection((alpha.ip, 8081), timeout=5, source_address=(second, 0)) as conn:
        assert conn.getsockname()[0] == second


# ------------------------------------------------------------------------------------------- the seal


def test_nothing_outside_is_reachable_from_a_host(shared: th.TestNetwork) -> None:
    alpha, beta = _host(shared, "alpha"), _host(shared, "beta")
    # positive controls: the same probes reach what is on the network
    alpha.start_daemon(["python3", "-m", "http.server", "8082", "--bind", "0.0.0.0"])
    alpha.wait_tcp(8082)
    assert _connect(beta, alpha.ip, 8082)[0] == "connected"
    assert shared.dns_server is not None
    shared.dns_server.serve({"example.test": f"mail A {beta.ip}\n"})
    assert th.query_from(alpha, shared.dns_server.ip, "mail.example.test")["records"][0][2] == beta.ip
    for host in (alpha, beta):
        for address, port in OUTSIDE_TCP:
            outcome, seconds = _connect(host, address, port)
            assert (outcome, seconds < 1) == ("ENETUNREACH", True), (host.name, address, outcome, seconds)
        for server in OUTSIDE_DNS:
            began = time.monotonic()
            answer = th.query_from(host, server, "example.test")
            assert answer.get("error") == "ENETUNREACH", (host.name, server, answer)
            assert time.monotonic() - began < 3  # one nsenter + python3 start; the send itself fails at once
        routes = host.run("ip route show table all; ip -6 route show table all").stdout
        assert "default" not in routes, routes
        assert f"{shared.subnet} dev eth0" in routes


def test_the_bridge_namespace_routes_and_forwards_nothing(shared: th.TestNetwork) -> None:
    ns = shared.bridge_netns
    routes = _out(["ip", "-n", ns, "route", "show", "table", "all"]) + _out(["ip", "-n", ns, "-6", "route"])
    assert "default" not in routes and shared.prefix not in routes, routes
    addrs = _out(["ip", "-n", ns, "-o", "addr"])
    assert [line.split()[1] for line in addrs.splitlines()] == ["lo"], addrs  # 127.0.0.1 only; no IPv6
    forwarding = _out(["ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward",
                       "net.ipv6.conf.all.forwarding"]).split()
    assert forwarding == ["0", "0"]
    ports = _out(["ip", "-n", ns, "-o", "link", "show", "master", "br0"])
    assert len(ports.splitlines()) == 1 + len(shared.members), ports  # the runner's veth and one per host


def test_two_networks_get_different_subnets_and_do_not_see_each_other(shared: th.TestNetwork) -> None:
    with th.test_host("bookworm") as other:
        assert other.network.subnet != shared.subnet
        assert _connect(other, _host(shared, "alpha").ip, 8082)[0] == "ENETUNREACH"
        assert _connect(_host(shared, "alpha"), other.ip, 22)[0] == "ENETUNREACH"


def test_claim_skips_subnets_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every /24 but one overlaps an address or route of this machine (as the old harness's /30 veths and /32
    client addresses would): the claim takes the free one."""
    # The one left free: a slot no network of this run (or another) holds now — a fixed number was held by a
    # shared network of this very run once in a while (the claim picks at random).
    free, fd = network.claim_slot()
    os.close(fd)
    taken = [ipaddress.ip_network(f"198.18.{n}.0/30") for n in range(1, 255) if n != free]
    monkeypatch.setattr(network, "_routes_and_addresses", lambda: [*taken, ipaddress.ip_network("198.19.0.0/16")])
    slot, fd = network.claim_slot()
    os.close(fd)
    assert slot == free
    monkeypatch.setattr(network, "_routes_and_addresses", lambda: [ipaddress.ip_network("198.18.0.0/15")])
    with pytest.raises(th.TestHostError, match="no free"):
        network.claim_slot()


# ------------------------------------------------------------------------- this machine's namespace

# Links of other test runs that may come and go meanwhile (this harness's runner veths, the old harness's
# per-host veths): left out of the comparison, everything else must be identical.
OTHER_RUNS = re.compile(r"^(tnr[0-9a-f]{6}|mtv[0-9a-f]{8}a)$")


def _out(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _blocks(text: str, keep: set[str]) -> list[str]:
    """`ip link`/`ip addr` output as one normalized block per interface, other test runs' links left out."""
    blocks: list[str] = []
    for block in re.split(r"(?m)^(?=\d+: )", text):
        match = re.match(r"\d+: ([^:@\s]+)", block)
        if not match or (OTHER_RUNS.match(match.group(1)) and match.group(1) not in keep):
            continue
        blocks.append(re.sub(r"\n\s*valid_lft .*", "", block.strip()))
    return blocks


def _lines(text: str, keep: set[str]) -> list[str]:
    found = []
    for line in text.splitlines():
        dev = re.search(r"\bdev (\S+)", line)
        if dev and OTHER_RUNS.match(dev.group(1)) and dev.group(1) not in keep:
            continue
        found.append(line)
    return found


def machine_snapshot(keep: set[str] | frozenset[str] = frozenset()) -> dict[str, object]:
    """This machine's network namespace: links, addresses, routes, bridges, forwarding, firewall rules."""
    keep = set(keep)
    snap: dict[str, object] = {
        "links": _blocks(_out(["ip", "-d", "link"]), keep),
        "addresses": _blocks(_out(["ip", "addr"]), keep),
        "routes": _lines(_out(["ip", "route", "show", "table", "all"]), keep),
        "routes6": _lines(_out(["ip", "-6", "route", "show", "table", "all"]), keep),
        "bridges": _blocks(_out(["ip", "-d", "link", "show", "type", "bridge"]), keep),
        "forwarding": [Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
                       Path("/proc/sys/net/ipv6/conf/all/forwarding").read_text().strip()],
        "netns": sorted(n for n in os.listdir("/run/netns") if n in keep or not n.startswith(("tnb-", "tnh-", "mt-")))
        if Path("/run/netns").is_dir() else [],
    }
    for tool_argv in (["nft", "list", "ruleset"], ["iptables-save"], ["ip6tables-save"]):
        if shutil.which(tool_argv[0]):
            text = _out(tool_argv)
            snap[tool_argv[0]] = [line for line in text.splitlines() if not line.startswith("#")]
        else:
            snap[tool_argv[0]] = "not installed"
    return snap


def test_the_machine_namespace_is_untouched() -> None:
    before = machine_snapshot()
    with th.test_network() as n:
        n.dns("bookworm")
        host = n.host("trixie", "gamma")
        host.add_client_address()
        host.run("echo 1 > /proc/sys/net/ipv4/ip_forward")  # inside: the host's own namespace only
        ours = {n.bridge_netns, *(m.netns for m in n.members.values())}
        during = machine_snapshot(keep={n.runner_link, *ours})
        links = {b.split(":")[1].strip().split("@")[0] for b in during["links"]}  # type: ignore[union-attr]
        links_before = {b.split(":")[1].strip().split("@")[0] for b in before["links"]}  # type: ignore[union-attr]
        assert links - links_before == {n.runner_link}  # the runner's one veth, nothing else
        assert during["bridges"] == before["bridges"]  # the bridge is not here
        assert during["forwarding"] == before["forwarding"]
        new_routes = [r for r in during["routes"] if r not in before["routes"]]  # type: ignore[union-attr]
        assert new_routes and all(f" dev {n.runner_link} " in f"{r} " for r in new_routes), new_routes
        assert any(r.startswith(f"{n.subnet} dev {n.runner_link} ") for r in new_routes), new_routes
        assert not any(r.startswith("default") for r in new_routes), new_routes
        assert during["routes6"] == before["routes6"]  # IPv6 off on the runner's veth: not even link-local
        assert during != before  # the comparison does see a change in this namespace (positive control)
    after = machine_snapshot()
    assert after == before
    assert not ours & set(os.listdir("/run/netns")), "a namespace of the network is left behind"


def test_the_net_fixture_gives_several_hosts_at_once(net: th.TestNetwork) -> None:
    dns = net.dns("trixie")
    mx, ca, client = net.hosts("bookworm", "mx", "ca", "client")
    assert [h.hostname for h in (mx, ca, client)] == ["mx.test", "ca.test", "client.test"]
    assert len({h.ip for h in (dns.host, mx, ca, client)}) == 4
    dns.serve({"example.test": f"@ MX 10 mx.test.\nca A {ca.ip}\n"})
    assert client.run(["getent", "hosts", "ca.example.test"]).stdout.split()[0] == ca.ip  # through the DNS
    assert client.run(["getent", "hosts", "mx"]).stdout.split()[0] == mx.ip  # through /etc/hosts
