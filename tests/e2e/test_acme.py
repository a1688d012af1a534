"""Certificates from an ACME CA, end to end on the test network (Debian 12 and 13): Debian's pebble on a host
of its own (tests/harness/testhost/pebble.py), the test DNS mapping mail.example.test to the mail host, and
`mailtui install` with [tls] mode = "acme" pointed at pebble.

Proven: every TLS port (25 and 587 with STARTTLS, 465, 993, 995) serves a certificate that verifies
against pebble's issuing root with the host name checked (controls: the same handshake without that root,
and with another name, fails); `mailtui check` shows the expiry and the renewal timer; a second install
orders nothing; `certbot renew --force-renewal` changes the serial on every port with no reload by hand
(certbot's deploy hook); one server switched from self-signed to ACME with pebble down (the install
finishes with exit 1 and says why, the self-signed certificate serves, `mailtui check` fails naming the
order), then with pebble back (ordered, served, port 80 open), then to the operator's own files (served;
certbot's certificate moved aside; port 80 closed).
"""

from __future__ import annotations

import http.client
import smtplib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from mailtui.policy.mta_sts import POLICY_FILE, WELL_KNOWN
from tests.e2e.conftest import HOSTNAME, RELEASES
from tests.e2e.test_dns_check import dns_check, failing, zones_from
from tests.harness.testhost import MAILTUI_PYTHONPATH, DnsServer, TestHost, TestNetwork, stack_layer, test_network
from tests.harness.testhost.pebble import Pebble, start_pebble
from tests.reliability.conftest import ANSWERS as EVERYTHING_ON

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
API_CA = "/root/pebble-api-ca.pem"
TLS = ('[tls]\nmode = "acme"\nemail = "hostmaster@example.test"\nserver = "https://ca.test:14000/dir"\n'
       f'server_ca = "{API_CA}"\n\n')
ACME_ANSWERS = EVERYTHING_ON.replace("\n[outbound]", "\n" + TLS + "[outbound]", 1)
LAYER_ANSWERS = ACME_ANSWERS.replace(f'server_ca = "{API_CA}"\n', "")  # the packages are the same
PORTS = (25, 587, 465, 993, 995)
# The shared server also runs the webmail: nginx holds port 80, so certbot answers the CA from its webroot
# through nginx (and renews that way), and 443 serves the same certificate.
WEBMAIL = "\n[webmail]\nenabled = true\n"
WEBMAIL_PORTS = (*PORTS, 443)


@dataclass
class AcmeServer:
    release: str
    net: TestNetwork
    dns: DnsServer
    ca: Pebble
    mx: TestHost
    install_output: str
    ports: tuple[int, ...] = PORTS

    def install(self, host: TestHost | None = None) -> tuple[int, str]:
        host = host or self.mx
        result = host.mailtui("install", "--answers", "/root/answers.toml", "--yes", env=ENV, check=False,
                              timeout=600)
        return result.returncode, result.stdout + result.stderr


def mail_host(net: TestNetwork, dns: DnsServer, ca: Pebble, release: str, name: str, answers: str,
              init: str = "auto", layer_answers: str = LAYER_ANSWERS) -> TestHost:
    host = net.host(release, name, hostname=HOSTNAME, layers=[stack_layer(release, layer_answers)], init=init)
    # mta-sts.example.test points here (MTA-STS, with the webmail); other.test is not in DNS at all.
    dns.serve({"example.test": f"@ MX 10 mail\nmail A {host.ip}\nmta-sts CNAME mail\n", "ca.test": f"@ A {ca.ip}\n"})
    host.write_file(API_CA, ca.api_ca)
    host.write_file("/root/answers.toml", answers, mode=0o600)
    return host


@pytest.fixture(scope="module", params=RELEASES)
def acme(request: pytest.FixtureRequest) -> Iterator[AcmeServer]:
    release = request.param
    with test_network() as net:
        dns = net.dns(release)
        ca = start_pebble(net, release)
        mx = mail_host(net, dns, ca, release, "mail", ACME_ANSWERS + WEBMAIL, layer_answers=LAYER_ANSWERS + WEBMAIL)
        began = time.monotonic()
        server = AcmeServer(release, net, dns, ca, mx, "", WEBMAIL_PORTS)
        code, server.install_output = server.install()
        assert code == 0, server.install_output[-4000:]
        print(f"\n[{release}] install with an ACME certificate took {time.monotonic() - began:.1f} s")
        yield server


def served(ip: str, port: int, context: ssl.SSLContext, name: str = HOSTNAME) -> dict:
    """The peer certificate `port` presents, verified by `context` as `name` (raises ssl.SSLError if not)."""
    if port in (25, 587):
        with smtplib.SMTP(ip, port, timeout=15) as smtp:
            smtp.ehlo("client.example.test")
            smtp._host = name  # smtplib verifies the name it connected to: the test connects by address
            smtp.starttls(context=context)
            assert isinstance(smtp.sock, ssl.SSLSocket)
            return smtp.sock.getpeercert() or {}
    with socket.create_connection((ip, port), timeout=15) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        return tls.getpeercert() or {}


def trusting(root: str) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=root)  # CERT_REQUIRED, host name checked


def serials(s: AcmeServer, root: str) -> set[str]:
    return {served(s.mx.ip, port, trusting(root))["serialNumber"] for port in s.ports}


def test_every_port_serves_the_cas_certificate_for_the_hostname(acme: AcmeServer) -> None:
    root = acme.ca.issuing_root()
    found = serials(acme, root)
    assert len(found) == 1, f"the ports serve different certificates: {found}"
    print(f"\n[{acme.release}] every port serves serial {found.pop()}, verified against pebble's root")
    # Controls: without pebble's root, and as another name, the same handshake fails.
    untrusted = ssl.create_default_context(cafile=None, capath=None, cadata=None)
    untrusted.load_verify_locations(cadata=acme.ca.api_ca)  # some CA, not the one that issued
    for port in acme.ports:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            served(acme.mx.ip, port, untrusted)
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            served(acme.mx.ip, port, trusting(root), name="other.example.test")


def test_check_shows_the_expiry_and_the_renewal_timer(acme: AcmeServer) -> None:
    result = acme.mx.mailtui("check", env=ENV, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"certificate for {HOSTNAME} from the CA, expires" in result.stdout
    assert "certbot.timer renews the certificate" in result.stdout
    # With the webmail, certbot answered the CA through nginx (port 80 is nginx's) and renews the same way; the
    # site sends HSTS (a CA-issued certificate).
    renewal = acme.mx.read_file(f"/etc/letsencrypt/renewal/{HOSTNAME}.conf")
    assert "authenticator = webroot" in renewal and "/var/www/mailtui-acme" in renewal, renewal
    headers = acme.mx.run(["python3", "-c", "import http.client, ssl; c = http.client.HTTPSConnection('127.0.0.1', "
                           "443, context=ssl._create_unverified_context()); c.request('GET', '/'); "
                           "print(c.getresponse().getheader('Strict-Transport-Security'))"]).stdout.strip()
    assert headers == "max-age=31536000"


def test_a_second_install_orders_nothing(acme: AcmeServer) -> None:
    before = acme.ca.log().count("Issued certificate")
    code, output = acme.install()
    assert code == 0, output[-3000:]
    assert "acme: nothing to change" in output
    assert acme.ca.log().count("Issued certificate") == before


def renew_and_see_it_served(s: AcmeServer) -> tuple[str, str]:
    """`certbot renew --force-renewal` (as its timer or cron would, forced), then every port serves one new
    serial within 30 s, with no reload by hand: (old, new)."""
    root = s.ca.issuing_root()
    (old,) = serials(s, root)
    renewed = s.mx.run(["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew"],
                       env={"REQUESTS_CA_BUNDLE": API_CA}, check=False, timeout=300)
    assert renewed.returncode == 0, renewed.stdout[-3000:] + renewed.stderr
    deadline = time.monotonic() + 30
    while (now := serials(s, root)) != {new := next(iter(now))} or new == old:
        assert time.monotonic() < deadline, f"after the renewal the ports serve {now} (before: {old})"
        time.sleep(1)
    return old, new


def test_a_forced_renewal_is_served_everywhere_without_a_reload_by_hand(acme: AcmeServer) -> None:
    old, new = renew_and_see_it_served(acme)
    print(f"\n[{acme.release}] renewed: serial {old} -> {new} on every port")


def test_a_certificate_ordered_before_the_webmail_is_ordered_again_through_nginx(acme: AcmeServer) -> None:
    """A certificate certbot ordered with its standalone server (an ACME install before the webmail was switched
    on) would fail its renewals once nginx holds port 80, and certbot keeps the authenticator while the
    certificate is not due: the install sees it and orders again, through nginx's webroot."""
    s = acme
    conf = f"/etc/letsencrypt/renewal/{HOSTNAME}.conf"
    renewal = s.mx.read_file(conf)
    assert "authenticator = webroot" in renewal
    s.mx.write_file(conf, renewal.replace("authenticator = webroot", "authenticator = standalone"))
    root = s.ca.issuing_root()
    (old,) = serials(s, root)
    planned = s.mx.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", env=ENV, check=False)
    assert "its standalone authenticator" in planned.stdout and "--force-renewal" in planned.stdout, \
        planned.stdout[-3000:]
    code, output = s.install()
    assert code == 0, output[-3000:]
    assert "authenticator = webroot" in s.mx.read_file(conf)
    deadline = time.monotonic() + 30
    while (now := serials(s, root)) != {new := next(iter(now))} or new == old:
        assert time.monotonic() < deadline, f"after the order the ports serve {now} (before: {old})"
        time.sleep(1)
    code, output = s.install()
    assert code == 0 and "acme: nothing to change" in output, output[-3000:]  # once, not every install


def get_policy(s: AcmeServer, host: str, root: str, path: str = WELL_KNOWN) -> tuple[int, str, str]:
    """GET https://`host``path` from the mail host's port 443 as a sending server fetches its MTA-STS policy: the
    certificate verified against pebble's root as `host` (raises ssl.SSLCertVerificationError if not)."""
    with socket.create_connection((s.mx.ip, 443), timeout=15) as raw, \
            trusting(root).wrap_socket(raw, server_hostname=host) as tls:
        conn = http.client.HTTPConnection(host, timeout=15)
        conn.sock = tls
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()


def test_mta_sts_is_served_for_each_domain_dns_points_here_and_its_records_check(acme: AcmeServer) -> None:
    """ACME mode with the webmail: the certificate names mta-sts.<domain> for each domain whose DNS points here
    (other.test's does not yet: left out, and said), nginx serves the policy there as text/plain in mode testing;
    once the operator publishes what `mailtui dns --zone` prints, `mailtui dns check` passes (a stale policy id
    fails), and the next install orders a certificate naming the other domain too — once; switched to enforce,
the next install serves the enforcing policy and the published id fails the DNS check until updated."""
    s = acme
    root = s.ca.issuing_root()
    assert "mta-sts.other.test is left out of the certificate" in s.install_output, s.install_output[-3000:]
    status, kind, body = get_policy(s, "mta-sts.example.test", root)
    assert (status, kind) == (200, "text/plain"), (status, kind, body)
    fields = dict(line.split(": ", 1) for line in body.splitlines())
    assert fields == {"version": "STSv1", "mode": "testing", "mx": HOSTNAME, "max_age": "86400"}, body
    assert get_policy(s, "mta-sts.example.test", root, "/")[0] == 404  # nothing else at the policy host
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        get_policy(s, "mta-sts.other.test", root)  # control: not in DNS, so not in the certificate

    zones = zones_from(s.mx.mailtui("dns", "--zone", env=ENV).stdout, s.mx.ip)
    s.dns.serve({**zones, "ca.test": f"@ A {s.ca.ip}\n"})
    code, report = dns_check(s.mx, "--server", s.dns.ip)
    assert code == 0, failing(report)
    labels = {c["label"] for c in report["checks"]}
    assert {"CNAME mta-sts.other.test", "MTA-STS example.test", "MTA-STS other.test", "TLS-RPT other.test"} <= labels
    stale = {**zones, "example.test": zones["example.test"].replace("v=STSv1; id=", "v=STSv1; id=0"),
             "ca.test": f"@ A {s.ca.ip}\n"}
    s.dns.serve(stale)
    assert list(failing(dns_check(s.mx, "--server", s.dns.ip)[1])) == ["MTA-STS example.test"]
    s.dns.serve({**zones, "ca.test": f"@ A {s.ca.ip}\n"})

    issued = s.ca.log().count("Issued certificate")
    planned = s.mx.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", env=ENV, check=False)
    assert "the certificate does not name mta-sts.other.test" in planned.stdout, planned.stdout[-3000:]
    code, output = s.install()
    assert code == 0, output[-3000:]
    assert s.ca.log().count("Issued certificate") == issued + 1
    deadline = time.monotonic() + 30
    while True:  # nginx reloads the new certificate through the deploy hook
        try:
            status, kind, body = get_policy(s, "mta-sts.other.test", root)
            break
        except ssl.SSLCertVerificationError:
            assert time.monotonic() < deadline, "mta-sts.other.test is still not in the served certificate"
            time.sleep(1)
    assert (status, kind) == (200, "text/plain") and "mode: testing" in body
    checked = s.mx.mailtui("check", env=ENV, check=False)
    assert checked.returncode == 0, checked.stdout[-3000:]
    for host in ("mta-sts.example.test", "mta-sts.other.test"):
        assert f"https://{host}/.well-known/mta-sts.txt serves the MTA-STS policy" in checked.stdout
    code, output = s.install()
    assert code == 0 and "acme: nothing to change" in output, output[-3000:]
    assert s.ca.log().count("Issued certificate") == issued + 1

    # The operator moves to enforce once the TLS reports are clean: the next install serves the new policy (the
    # certificate is left alone), and `mailtui dns check` names the TXT record until its new id is published.
    answers = s.mx.run(["cat", "/root/answers.toml"]).stdout
    s.mx.write_file("/root/answers.toml", answers.replace("[tls]\n", '[tls]\nmta_sts = "enforce"\n', 1), mode=0o600)
    code, output = s.install()
    assert code == 0 and f"update {POLICY_FILE} (content)" in output, output[-3000:]
    assert s.ca.log().count("Issued certificate") == issued + 1
    status, kind, body = get_policy(s, "mta-sts.example.test", root)
    fields = dict(line.split(": ", 1) for line in body.splitlines())
    assert (status, fields["mode"], fields["max_age"]) == (200, "enforce", "604800"), body
    assert list(failing(dns_check(s.mx, "--server", s.dns.ip)[1])) == ["MTA-STS example.test", "MTA-STS other.test"]
    zones = zones_from(s.mx.mailtui("dns", "--zone", env=ENV).stdout, s.mx.ip)
    s.dns.serve({**zones, "ca.test": f"@ A {s.ca.ip}\n"})
    assert dns_check(s.mx, "--server", s.dns.ip)[0] == 0
    checked = s.mx.mailtui("check", env=ENV, check=False)
    assert checked.returncode == 0 and "MTA-STS policy (mode enforce)" in checked.stdout, checked.stdout[-3000:]


def test_without_systemd_cron_renews_and_the_deploy_hook_reloads() -> None:
    """A server without systemd (supported; Debian 12 here): the install starts cron, which runs Debian's
    certbot cron file; `mailtui check` says so; a renewal reaches every port through the deploy hook's
    non-systemd branch (`postfix reload`, `doveadm reload`)."""
    release = "bookworm"
    with test_network() as net:
        dns = net.dns(release)
        ca = start_pebble(net, release)
        mx = mail_host(net, dns, ca, release, "mail", ACME_ANSWERS, init="plain")
        assert not mx.systemd
        server = AcmeServer(release, net, dns, ca, mx, "")
        code, output = server.install()
        assert code == 0, output[-3000:]
        checked = mx.mailtui("check", env=ENV, check=False)
        assert checked.returncode == 0, checked.stdout[-3000:]
        assert "cron runs certbot's renewal" in checked.stdout
        assert "certbot -q renew" in mx.read_file("/etc/cron.d/certbot")
        old, new = renew_and_see_it_served(server)
        print(f"\n[{release}, no systemd] renewed: serial {old} -> {new} on every port")


OWN_CERT, OWN_KEY = "/root/own/fullchain.pem", "/root/own/privkey.pem"
FILES_TLS = f'[tls]\nmode = "files"\ncert = "{OWN_CERT}"\nkey = "{OWN_KEY}"\n\n'
FILES_ANSWERS = EVERYTHING_ON.replace("\n[outbound]", "\n" + FILES_TLS + "[outbound]", 1)


def port_80_rules(host: TestHost) -> list[str]:
    """ufw's active rules for port 80 (`ufw status`: one line for IPv4, one for IPv6)."""
    shown = host.run(["ufw", "status"]).stdout
    return [line for line in shown.splitlines() if line.startswith("80/tcp")]


def test_switching_modes_self_signed_to_acme_with_the_ca_down_then_up_then_to_own_files(acme: AcmeServer) -> None:
    """One server through every switch, on a network of its own: installed self-signed; switched to ACME
    while pebble is down (the install finishes, exit 1, says why; the self-signed certificate serves and
    `mailtui check` fails naming the order); pebble back, an install orders and serves the CA's certificate
    and opens port 80; switched to the operator's own files: they serve, certbot's certificate is moved
    aside (no longer renewed) and port 80 is closed again."""
    with test_network() as net:
        dns = net.dns(acme.release)
        ca = start_pebble(net, acme.release)
        mx = mail_host(net, dns, ca, acme.release, "mail", EVERYTHING_ON)
        server = AcmeServer(acme.release, net, dns, ca, mx, "")
        code, output = server.install()
        assert code == 0, output[-3000:]
        own = mx.read_file("/etc/ssl/mailtui/cert.pem")
        assert port_80_rules(mx) == []

        ca.stop()
        mx.write_file("/root/answers.toml", ACME_ANSWERS, mode=0o600)
        code, output = server.install()
        assert code == 1, "the install passed with no certificate from the CA:\n" + output[-3000:]
        assert "the CA gave no certificate: the self-signed certificate keeps serving" in output
        assert "install finished, with less than was asked for:" in output
        assert f"certificate for {HOSTNAME} from https://ca.test:14000/dir: the self-signed" in output
        for port in PORTS:
            served(mx.ip, port, trusting(own))  # still the self-signed one, with the host name
        checked = mx.mailtui("check", env=ENV, check=False)
        assert checked.returncode == 1, checked.stdout[-3000:]
        failing = [line for line in checked.stdout.splitlines() if "FAIL" in line]
        assert len(failing) == 1 and f"certificate for {HOSTNAME} from https://ca.test:14000/dir" in failing[0] \
            and "the last order failed" in failing[0], checked.stdout[-3000:]
        assert len(port_80_rules(mx)) == 2  # IPv4 and IPv6: open for the next try
        print(f"\n[{acme.release}] with the CA down, check says: {failing[0][:300]}")

        ca.start()
        code, output = server.install()
        assert code == 0, output[-3000:]
        root = ca.issuing_root()
        assert len({served(mx.ip, port, trusting(root))["serialNumber"] for port in PORTS}) == 1
        assert mx.mailtui("check", env=ENV, check=False).returncode == 0

        mx.run(["mkdir", "-p", "/root/own"])
        mx.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                f"/CN={HOSTNAME}", "-addext", f"subjectAltName=DNS:{HOSTNAME}", "-keyout", OWN_KEY, "-out", OWN_CERT])
        mx.write_file("/root/answers.toml", FILES_ANSWERS, mode=0o600)
        code, output = server.install()
        assert code == 0, output[-3000:]
        assert "retire the ACME certificate" in output or "no longer renewed" in output, output[-3000:]
        mine = mx.read_file(OWN_CERT)
        for port in PORTS:
            served(mx.ip, port, trusting(mine))
        gone = mx.run(["ls", "/etc/letsencrypt/renewal", "/etc/letsencrypt/live"]).stdout
        assert HOSTNAME not in gone, gone  # certbot renews nothing of mailtui's any more
        kept = mx.run("ls -d /var/lib/mailtui/retired-certificates/*/live/*/fullchain.pem", check=False)
        assert kept.returncode == 0 and HOSTNAME in kept.stdout, kept  # kept aside, not deleted
        assert port_80_rules(mx) == []
        checked = mx.mailtui("check", env=ENV, check=False)
        assert checked.returncode == 0, checked.stdout[-3000:]
