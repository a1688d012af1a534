"""The test network's DNS: Debian's nsd (authoritative only) on a host of its own, serving the zones a test
writes; every host's /etc/resolv.conf names it.

    with test_network() as net:
        dns = net.dns("bookworm")
        mx = net.host("bookworm", "mx", hostname="mail.example.test")
        dns.serve({"example.test": f"@ MX 10 mail\\nmail A {mx.ip}\\n"})   # SOA and NS added when missing
        assert dns.query("mail.example.test").values("A") == [mx.ip]

Why nsd: it is authoritative only — it answers from the zones it was given and never recurses or forwards,
so a lookup of any other name gets REFUSED at once instead of a resolver trying root servers (which the
sealed network would stop anyway, but only after timeouts); it is small (one package, no DNSSEC key
management unless asked), loads plain zone files, checks them with nsd-checkzone (a test that writes a bad
zone gets nsd's own error) and starts in well under a second, so each serve() simply restarts it. glibc's
stub resolver, Postfix and Python accept its answers (AA set, RA not). Installed from the base's apt cache
into a cached layer ("dns"), so a DNS host starts as fast as any other host.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.testhost import dnswire
from tests.harness.testhost.common import TestHostError
from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer
from tests.harness.testhost.network import TestNetwork

CONF = "/etc/nsd/mailtui-test.conf"
ZONES_DIR = "/etc/nsd/mailtui-test-zones"
STATE_DIR = "/var/lib/nsd-test"
NSD_LOG = "/var/log/nsd-test.log"
ZONE_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNSWIRE_SOURCE = Path(dnswire.__file__).read_text()
QUERY_LOG = "/var/log/dns-queries.log"
# The DNS host's query log: every UDP query that reaches its address, seen on the wire (a raw packet
# socket; nsd itself logs no queries): "<source IP> <name> <type number>" a line, flushed at once.
# Runs inside the DNS host: python3 - IP LOGFILE.
QUERY_SNIFFER = r"""
import socket, struct, sys
ip, path = socket.inet_aton(sys.argv[1]), sys.argv[2]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
out = open(path, "a", buffering=1)
print("ready", file=sys.stderr, flush=True)
while True:
    frame = sock.recv(65535)
    pkt = frame[14:]
    if len(pkt) < 20 or pkt[9] != 17 or pkt[16:20] != ip:
        continue
    ihl = (pkt[0] & 0x0F) * 4
    udp = pkt[ihl:]
    if len(udp) < 20 or struct.unpack("!H", udp[2:4])[0] != 53:
        continue
    msg, pos, labels = udp[8:], 12, []
    try:
        while msg[pos]:
            labels.append(msg[pos + 1:pos + 1 + msg[pos]].decode(errors="replace"))
            pos += 1 + msg[pos]
        qtype = struct.unpack("!H", msg[pos + 1:pos + 3])[0]
    except (IndexError, struct.error):
        continue
    out.write(f"{socket.inet_ntoa(pkt[12:16])} {'.'.join(labels).lower()}. {qtype}\n")
"""


def dns_layer(release: str) -> Layer:
    """nsd installed (offline, from the base's apt cache; policy-rc.d keeps it from starting)."""

    def build(host: TestHost) -> dict[str, Any]:
        host.run(["apt-get", "install", "-y", "--no-download", "--no-install-recommends", "nsd"],
                 env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        return {"nsd": host.run(["dpkg-query", "-W", "-f", "${Version}", "nsd"]).stdout}

    return ensure_layer(release, "dns", {"packages": ["nsd"]}, build, hostname="dns.test")


def _conf(ip: str, zones: list[str]) -> str:
    lines = [
        "server:",
        f"    ip-address: {ip}",
        "    ip-address: 127.0.0.1",
        "    port: 53",
        '    username: ""',
        '    chroot: ""',
        '    database: ""',
        f'    zonesdir: "{ZONES_DIR}"',
        f'    zonelistfile: "{STATE_DIR}/zone.list"',
        f'    xfrdfile: "{STATE_DIR}/xfrd.state"',
        f'    xfrdir: "{STATE_DIR}"',
        '    pidfile: "/run/nsd-test.pid"',
        f'    logfile: "{NSD_LOG}"',
        "    server-count: 1",
        "    hide-version: yes",
        "    verbosity: 2",
        "remote-control:",
        "    control-enable: no",
    ]
    for zone in zones:
        lines += ["zone:", f'    name: "{zone}"', f'    zonefile: "{zone}.zone"']
    return "\n".join(lines) + "\n"


@dataclass
class DnsServer:
    """nsd on `host`, on `network`. serve() (re)loads it with a test's zones."""

    network: TestNetwork
    host: TestHost
    pid: int = 0  # nsd's PID inside the host
    zones: tuple[str, ...] = ()

    @property
    def ip(self) -> str:
        return self.host.ip

    def zone_text(self, zone: str, text: str) -> str:
        """`text` as nsd loads it: $ORIGIN and $TTL first, and an SOA and NS record when it has none."""
        head = []
        if not re.search(r"^\$ORIGIN\s", text, flags=re.M):
            head.append(f"$ORIGIN {zone}.")
        if not re.search(r"^\$TTL\s", text, flags=re.M):
            head.append("$TTL 60")
        if not re.search(r"\bSOA\b", text, flags=re.I):
            head.append(f"@ IN SOA {self.host.hostname}. hostmaster.{zone}. 1 3600 600 86400 60")
            head.append(f"@ IN NS {self.host.hostname}.")
        return "\n".join([*head, text.rstrip("\n")]) + "\n"

    def serve(self, zones: dict[str, str]) -> None:
        """Serve exactly these zones (name -> zone file text) from now on; returns once nsd answers for each."""
        names = [zone.rstrip(".").lower() for zone in zones]
        for zone in names:
            if not ZONE_NAME.match(zone):
                raise TestHostError(f"not a zone name: {zone!r}")
        self.stop()
        self.host.run(["rm", "-rf", ZONES_DIR])
        for zone, text in zip(names, zones.values(), strict=True):
            path = f"{ZONES_DIR}/{zone}.zone"
            self.host.write_file(path, self.zone_text(zone, text))
            checked = self.host.run(["nsd-checkzone", zone, path], check=False)
            if checked.returncode != 0:
                raise TestHostError(f"zone {zone} does not load: {checked.stdout}{checked.stderr}")
        self.host.write_file(CONF, _conf(self.ip, names))
        self.host.run(["mkdir", "-p", STATE_DIR])
        checked = self.host.run(["nsd-checkconf", CONF], check=False)
        if checked.returncode != 0:
            raise TestHostError(f"nsd's configuration is refused: {checked.stdout}{checked.stderr}")
        self.pid = self.host.start_daemon(["nsd", "-d", "-c", CONF], log="/var/log/nsd-test.out")
        self.zones = tuple(names)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        pending = list(self.zones) or ["ready.invalid"]
        while pending:
            zone = pending[0]
            try:
                answer = dnswire.query(self.ip, zone, "SOA", timeout=0.5)
                if not self.zones or (answer.rcode == "NOERROR" and answer.authoritative):
                    pending.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                log = self.host.run(f"tail -n 30 {NSD_LOG} /var/log/nsd-test.out", check=False).stdout
                raise TestHostError(f"nsd on {self.ip} does not answer for {zone} after {timeout} s:\n{log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if not self.pid:
            return
        self.host.run(["kill", str(self.pid)], check=False)
        deadline = time.monotonic() + 10
        while self.host.run(["kill", "-0", str(self.pid)], check=False).returncode == 0:
            if time.monotonic() > deadline:
                self.host.run(["kill", "-9", str(self.pid)], check=False)
                break
            time.sleep(0.05)
        self.pid = 0

    def log_queries(self) -> None:
        """From now on, note every query that reaches the DNS host (queries() reads them): a test proves with
        it that nothing asked for a name outside the test network's zones."""
        self.host.write_file("/root/query-sniffer.py", QUERY_SNIFFER)
        self.host.run(["touch", QUERY_LOG])
        self.host.start_daemon(["python3", "/root/query-sniffer.py", self.ip, QUERY_LOG], log="/var/log/sniffer.out")
        deadline = time.monotonic() + 10
        while "ready" not in self.host.run(["cat", "/var/log/sniffer.out"], check=False).stdout:
            if time.monotonic() > deadline:
                raise TestHostError("the DNS query log never started: "
                                    + self.host.run(["cat", "/var/log/sniffer.out"], check=False).stdout)
            time.sleep(0.05)

    def queries(self) -> list[tuple[str, str, int]]:
        """(source IP, name with its final dot, type number) of every query since log_queries(), in order."""
        rows = []
        for line in self.host.read_file(QUERY_LOG).splitlines():
            source, name, qtype = line.split()
            rows.append((source, name, int(qtype)))
        return rows

    def query(self, name: str, rtype: str = "A") -> dnswire.Answer:
        """Ask the test DNS from the test runner."""
        return dnswire.query(self.ip, name, rtype)


def query_from(host: TestHost, server: str, name: str, rtype: str = "A") -> dict[str, Any]:
    """Ask `server` from inside `host` (dnswire fed to its python3): the decoded answer, or {"error": errno
    name, "message": …} when the query could not be sent or got no answer."""
    import json

    result = host.run(["python3", "-", server, name, rtype], input=DNSWIRE_SOURCE, check=False)
    if result.returncode not in (0, 3):
        raise TestHostError(f"dnswire inside {host.id} failed: {result.stdout}{result.stderr}")
    return json.loads(result.stdout)


def start_dns(network: TestNetwork, release: str, name: str = "dns") -> DnsServer:
    """A DNS host on `network` (nsd, no zones yet: serve() loads them); the network's hosts resolve through it."""
    if network.dns_server is not None:
        raise TestHostError(f"test network {network.id} has a DNS server already ({network.dns_ip})")
    host = network.host(release, name, hostname=f"{name}.test", layers=[dns_layer(release)])
    server = DnsServer(network, host)
    network.set_dns(server)
    return server
