"""`mailtui dns check` against a real DNS server: the test network's nsd serves zones made from what
`mailtui dns --zone` printed on an installed server (Debian 12 and 13), and the check passes record by record;
each record mangled in turn fails, naming that record; a DNS server that does not answer fails.

The operator's part is played by the test: `mailtui dns` prints the records in zone-file syntax (the
host's public address is unknown on the test network — 198.18.0.0/15 is not a public range — so the test
fills in the address, as an operator fills in theirs), the lines go into the zone of the domain they fall
under, and the reverse zone gets the PTR the hosting provider would set.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import HOSTNAME, RELEASES
from tests.harness.testhost import MAILTUI_PYTHONPATH, DnsServer, TestHost, stack_layer, test_network
from tests.reliability.conftest import ANSWERS as EVERYTHING_ON

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
PLACEHOLDER = "<this server's public IPv4>"
FILL_IN = "; fill in, then remove the ';': "


@pytest.fixture(scope="module", params=RELEASES)
def dns_and_mx(request: pytest.FixtureRequest) -> Iterator[tuple[DnsServer, TestHost]]:
    release = request.param
    with test_network() as net:
        dns = net.dns(release)
        mx = net.host(release, "mail", hostname=HOSTNAME, layers=[stack_layer(release, EVERYTHING_ON)])
        mx.write_file("/root/answers.toml", EVERYTHING_ON, mode=0o600)
        installed = mx.mailtui("install", "--answers", "/root/answers.toml", "--yes", env=ENV, check=False,
                               timeout=600)
        assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr
        yield dns, mx


def zones_from(printed: str, address: str) -> dict[str, str]:
    """The zones an operator publishes from `mailtui dns --zone`: each record line in the zone of the domain it
    falls under (the longest match), the placeholder address filled in; plus the reverse zone with the PTR
    the provider sets."""
    domains = sorted({line.split()[0].rstrip(".") for line in printed.splitlines()
                      if " IN MX " in line}, key=len, reverse=True)
    zones: dict[str, list[str]] = {d: [] for d in domains}
    for line in printed.splitlines():
        line = line.removeprefix(FILL_IN)  # the operator fills in what mailtui cannot know here
        if not line.strip() or line.startswith(";"):
            continue
        name = line.split()[0].rstrip(".")
        zone = next(d for d in domains if name == d or name.endswith("." + d))
        zones[zone].append(line.replace(PLACEHOLDER, address))
    reverse = ipaddress.ip_address(address).reverse_pointer
    zones["18.198.in-addr.arpa"] = [f"{reverse}. IN PTR {HOSTNAME}."]
    return {zone: "\n".join(lines) + "\n" for zone, lines in zones.items()}


def dns_check(mx: TestHost, *args: str) -> tuple[int, dict]:
    result = mx.run(["python3", "-m", "mailtui", "dns", "check", "--json", *args], env=ENV, check=False, timeout=120)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def failing(report: dict) -> dict[str, str]:
    return {c["label"]: c["detail"] for c in report["checks"] if not c["ok"]}


def test_the_published_records_pass_and_each_one_mangled_fails_naming_it(
        dns_and_mx: tuple[DnsServer, TestHost]) -> None:
    dns, mx = dns_and_mx
    printed = mx.run(["python3", "-m", "mailtui", "dns", "--zone"], env=ENV).stdout
    assert FILL_IN + f"{HOSTNAME}. IN A {PLACEHOLDER}" in printed, printed
    zones = zones_from(printed, mx.ip)
    dns.serve(zones)

    code, report = dns_check(mx, "--server", dns.ip)
    assert code == 0 and report["ok"], failing(report)
    labels = [c["label"] for c in report["checks"]]
    assert {f"A {HOSTNAME}", f"PTR {PLACEHOLDER}", f"SPF {HOSTNAME}", "MX example.test", "MX other.test",
            "SPF example.test", "DMARC other.test", "SRV _imaps._tcp.other.test", "SRV _imap._tcp.example.test",
            "SRV _submission._tcp.example.test"} <= set(labels), labels
    # Without --server: this machine's resolver, which on the test network is the test DNS.
    assert dns_check(mx)[0] == 0
    text = mx.run(["python3", "-m", "mailtui", "dns", "check", "other.test", "--server", dns.ip], env=ENV)
    assert "every record is published as printed" in text.stdout and "MX example.test" not in text.stdout

    # Each record in turn: the MX, SPF and DMARC lines of a domain, the host's SPF, then its A and the PTR.
    mangles = {
        "MX example.test": ("example.test. IN MX 10 mail.example.test.", "example.test. IN MX 10 mx.elsewhere.test."),
        "SPF other.test": ('other.test. IN TXT "v=spf1 mx -all"', 'other.test. IN TXT "v=spf1 a ~all"'),
        "DMARC example.test": ('_dmarc.example.test. IN TXT "v=DMARC1', '_dmarc.example.test. IN TXT "x=DMARC1'),
        f"SPF {HOSTNAME}": (f'{HOSTNAME}. IN TXT "v=spf1 a -all"', f'{HOSTNAME}. IN TXT "v=spf1 -all"'),
        # RFC 6186: mail apps sent to another host, or to IMAP without TLS (port 143 is closed).
        "SRV _imaps._tcp.other.test": ("_imaps._tcp.other.test. IN SRV 0 1 993 mail.example.test.",
                                       "_imaps._tcp.other.test. IN SRV 0 1 993 imap.elsewhere.test."),
        "SRV _imap._tcp.example.test": ("_imap._tcp.example.test. IN SRV 0 0 0 .",
                                        "_imap._tcp.example.test. IN SRV 0 1 143 mail.example.test."),
    }
    for label, (good, bad) in mangles.items():
        changed = {zone: text.replace(good, bad) for zone, text in zones.items()}
        assert changed != zones, f"{good!r} is not in the zones:\n{zones}"
        dns.serve(changed)
        code, report = dns_check(mx, "--server", dns.ip)
        assert code == 1 and list(failing(report)) == [label], (label, failing(report))
    # The host's address is not known on the machine here (not a public one), so the A record is not compared
    # — but the reverse DNS is then checked for the address DNS gives, and that one has none.
    dns.serve({zone: text.replace(f"{HOSTNAME}. IN A {mx.ip}", f"{HOSTNAME}. IN A 198.18.255.254")
               for zone, text in zones.items()})
    code, report = dns_check(mx, "--server", dns.ip)
    assert code == 1 and list(failing(report)) == [f"PTR {PLACEHOLDER}"], failing(report)
    assert "198.18.255.254 has no reverse DNS" in failing(report)[f"PTR {PLACEHOLDER}"]
    ptr = dict(zones, **{"18.198.in-addr.arpa": zones["18.198.in-addr.arpa"].replace(HOSTNAME, "vps.provider.test")})
    dns.serve(ptr)
    code, report = dns_check(mx, "--server", dns.ip)
    assert code == 1 and list(failing(report)) == [f"PTR {PLACEHOLDER}"], failing(report)
    assert "vps.provider.test" in failing(report)[f"PTR {PLACEHOLDER}"]

    # A DNS server that does not answer is a failure for every record, never a pass.
    dns.stop()
    code, report = dns_check(mx, "--server", dns.ip)
    assert code == 1 and len(failing(report)) == len(report["checks"])
    assert all("did not answer" in d or "could not be asked" in d for d in failing(report).values()), report
