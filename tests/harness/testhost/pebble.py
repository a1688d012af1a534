"""The test network's ACME CA: Debian's `pebble` on a host of its own.

    with test_network() as net:
        dns = net.dns("bookworm")
        ca = start_pebble(net, "bookworm")             # ca.test, its API at ca.api_url
        mx = net.host("bookworm", "mx", hostname="mail.example.test", layers=[...])
        dns.serve({"example.test": f"mail A {mx.ip}\\n", "ca.test": f"@ A {ca.ip}\\n"})
        mx.write_file("/root/pebble-api-ca.pem", ca.api_ca)   # [tls] server_ca
        ... install with [tls] mode = "acme", server = ca.api_url ...
        root = ca.issuing_root()                        # verify the served certificate against this

Debian's package ships the binary and an example configuration but no certificate for pebble's own HTTPS
API (REFERENCE-stack §6): the host makes a throwaway CA and a certificate for ca.test with openssl, and the
mail host trusts that CA for the API only (certbot's REQUESTS_CA_BUNDLE). pebble validates HTTP-01
challenges on port 80 of the name being ordered (httpPort 80, where certbot's standalone server listens),
resolving it through the test DNS (-dnsserver), never the machine's resolver. PEBBLE_VA_NOSLEEP=1 skips
its random 0-15 s wait before each validation; PEBBLE_WFE_NONCEREJECT=0 stops its deliberate 5 % of
badNonce errors. The root that signs the certificates is made anew at every start: fetch it from the
management API (issuing_root) after starting.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests.harness.testhost.common import TestHostError
from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer
from tests.harness.testhost.network import TestNetwork

PACKAGES = ["pebble"]
API_PORT = 14000
MANAGEMENT_PORT = 15000
CONF_DIR = "/etc/pebble-test"
LOG = "/var/log/pebble.log"
HOSTNAME = "ca.test"

# Inside the CA host: a CA for pebble's API and a certificate for ca.test (and the host's address) it signs.
# Key usages spelled out: Python 3.13 (Debian 13) verifies strictly and refuses a CA without them.
MAKE_API_CERT = f"""
set -e
mkdir -p {CONF_DIR}
cd {CONF_DIR}
[ -f api.pem ] && exit 0  # a restart keeps the API's certificate (the mail host trusts its CA)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pebble-api-test-ca -keyout api-ca.key -out api-ca.pem \\
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN={HOSTNAME} -keyout api.key -out api.csr 2>/dev/null
printf 'subjectAltName=DNS:{HOSTNAME},IP:%s\\n' "$1" > api.ext
printf 'keyUsage=critical,digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' >> api.ext
openssl x509 -req -in api.csr -CA api-ca.pem -CAkey api-ca.key -CAcreateserial -days 2 -extfile api.ext \\
    -out api.pem 2>/dev/null
"""


def pebble_layer(release: str) -> Layer:
    """pebble installed (offline, from the base's apt cache)."""

    def build(host: TestHost) -> dict[str, Any]:
        host.run(["apt-get", "install", "-y", "--no-download", "--no-install-recommends", *PACKAGES],
                 env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        return {"pebble": host.run(["dpkg-query", "-W", "-f", "${Version}", "pebble"]).stdout}

    return ensure_layer(release, "pebble", {"packages": PACKAGES}, build, hostname=HOSTNAME)


def config(*, http_port: int = 80) -> dict[str, Any]:
    return {"pebble": {
        "listenAddress": f"0.0.0.0:{API_PORT}",
        "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
        "certificate": f"{CONF_DIR}/api.pem",
        "privateKey": f"{CONF_DIR}/api.key",
        "httpPort": http_port,
        "tlsPort": 5001,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}


@dataclass
class Pebble:
    """pebble running on `host`; the API's CA (PEM) for the mail host to trust."""

    network: TestNetwork
    host: TestHost
    api_ca: str = ""
    pid: int = 0

    @property
    def ip(self) -> str:
        return self.host.ip

    @property
    def api_url(self) -> str:
        return f"https://{HOSTNAME}:{API_PORT}/dir"

    def start(self) -> None:
        dns = self.network.dns_ip
        if not dns:
            raise TestHostError("pebble validates through the test DNS: start the network's DNS first")
        self.host.run(["sh", "-c", MAKE_API_CERT, "sh", self.ip])
        self.host.write_file(f"{CONF_DIR}/config.json", json.dumps(config(), indent=2) + "\n")
        self.api_ca = self.host.read_file(f"{CONF_DIR}/api-ca.pem")
        # An argv, not a shell line: the PID must be pebble's own (env execs it), so that stop() stops it.
        argv = ["env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "pebble", "-config",
                f"{CONF_DIR}/config.json", "-dnsserver", f"{dns}:53"]
        self.pid = self.host.start_daemon(argv, log=LOG)
        self.host.wait_tcp(API_PORT)
        self.host.wait_tcp(MANAGEMENT_PORT)

    def stop(self) -> None:
        """Stop pebble and prove it: its API port refuses connections."""
        if self.pid:
            self.host.run(["kill", str(self.pid)], check=False)
            deadline = time.monotonic() + 10
            while self.host.run(["kill", "-0", str(self.pid)], check=False).returncode == 0:
                if time.monotonic() > deadline:
                    raise TestHostError("pebble did not stop within 10 s")
                time.sleep(0.1)
            self.pid = 0
        if self.host.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{API_PORT}"], check=False).returncode == 0:
            raise TestHostError(f"pebble's API still answers on {API_PORT} after it was stopped")

    def issuing_root(self) -> str:
        """The root certificate (PEM) pebble signs with since its last start (management API)."""
        script = ("import ssl, sys, urllib.request\n"
                  f"ctx = ssl.create_default_context(cafile='{CONF_DIR}/api-ca.pem')\n"
                  f"sys.stdout.write(urllib.request.urlopen('https://127.0.0.1:{MANAGEMENT_PORT}/roots/0', "
                  "context=ctx, timeout=10).read().decode())\n")
        # The API certificate names ca.test and the host's address, not 127.0.0.1: ask by address.
        return self.host.run(["python3", "-c", script.replace("127.0.0.1", self.ip)]).stdout

    def log(self) -> str:
        return self.host.run(["cat", LOG], check=False).stdout


def start_pebble(network: TestNetwork, release: str, name: str = "ca") -> Pebble:
    """A CA host on `network` (pebble, started; ca.test must resolve to it for the mail host: add it to
    the test DNS's zones)."""
    host = network.host(release, name, hostname=HOSTNAME, layers=[pebble_layer(release)])
    ca = Pebble(network, host)
    ca.start()
    return ca
