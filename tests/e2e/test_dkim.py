"""DKIM signing and inbound Authentication-Results through rspamd, and SRS for forwarded mail (postsrsd), end
to end (Debian 12 and 13).

One installed server a release with [dkim] on, on the test network beside the test DNS, which serves the
zones made from `mailtui dns --zone` (as an operator publishes them). Signatures are verified by dkimpy (a
different implementation from the signer) on a third host of the network, a receiver resolving the
selectors through the test DNS; every verification has a negative control (the body altered, the record
holding another key). The DNS host notes every query it receives: the last test proves rspamd asked for
no name outside the test network (every map download, fuzzy or blocklist call starts with one).
"""

from __future__ import annotations

import json
import re
import smtplib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest

from tests.e2e.conftest import ANSWERS, HOSTNAME, PASSWORDS, RELEASES, SINK_DIR, start_sink
from tests.e2e.test_dns_check import zones_from
from tests.e2e.test_mail import tls_context
from tests.harness.testhost import (
    MAILTUI_PYTHONPATH,
    DnsServer,
    TestHost,
    dkimpy_layer,
    stack_layer,
    test_network,
)

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
FORWARD = "fwd@example.test"  # an alias forwarding to an outside address
DKIM_ANSWERS = ANSWERS + f"""
[dkim]
enabled = true

[srs]
enabled = true

[[aliases]]
source = "{FORWARD}"
destination = "carol@elsewhere.test"
"""
ALICE, BOB, OUTSIDE = "alice@example.test", "bob@other.test", "carol@elsewhere.test"
MAILDIR = "/var/mail/vhosts"
# dkimpy on the verifier host: exit 0 when the first signature verifies (printing its d= and s=), 1 when not.
VERIFY = r"""
import json, sys, dkim
data = open(sys.argv[1], "rb").read()
sig = dkim.DKIM(data)
try:
    ok, why = bool(sig.verify()), ""
except dkim.DKIMException as exc:  # dkimpy raises on a bad signature (body hash mismatch, no key, ...)
    ok, why = False, str(exc)
print(json.dumps({"ok": ok, "d": (sig.domain or b"").decode(), "s": (sig.selector or b"").decode(), "why": why}))
sys.exit(0 if ok else 1)
"""


@dataclass
class Signed:
    release: str
    dns: DnsServer
    mx: TestHost
    verifier: TestHost
    zones: dict[str, str]
    configured: int  # how many queries the DNS host had noted when rspamd ran on mailtui's configuration alone

    def mailtui(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = self.mx.run(["python3", "-m", "mailtui", *args], env=ENV, check=False, timeout=300)
        if check:
            assert result.returncode == 0, f"mailtui {' '.join(args)}:\n{result.stdout}{result.stderr}"
        return result.returncode, result.stdout + result.stderr

    def status(self) -> list[dict]:
        return json.loads(self.mailtui("dkim", "status", "--json")[1])


@pytest.fixture(scope="module", params=RELEASES)
def signed(request: pytest.FixtureRequest) -> Iterator[Signed]:
    release = request.param
    with test_network() as net:
        dns = net.dns(release)
        dns.log_queries()  # from before the server boots: rspamd fetches its maps as it starts
        mx = net.host(release, "mail", hostname=HOSTNAME, layers=[stack_layer(release, DKIM_ANSWERS)])
        verifier = net.host(release, "verifier", layers=[dkimpy_layer(release)])
        mx.write_file("/root/answers.toml", DKIM_ANSWERS, mode=0o600)
        began = time.monotonic()
        installed = mx.mailtui("install", "--answers", "/root/answers.toml", "--yes", env=ENV, check=False,
                               timeout=600)
        assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr
        print(f"\n[{release}] install with DKIM took {time.monotonic() - began:.1f} s")
        # rspamd as apt started it (the stock configuration, before the install) does call out — measured:
        # fuzzy1/fuzzy2.rspamd.com, maps.rspamd.com — and after the install's reload its old workers retry
        # for a few seconds more. From a restart on, only mailtui's configuration runs.
        mx.run(["systemctl", "restart", "rspamd"])
        configured = len(dns.queries())
        start_sink(mx)
        printed = mx.run(["python3", "-m", "mailtui", "dns", "--zone"], env=ENV).stdout
        zones = zones_from(printed, mx.ip)
        dns.serve(zones)
        yield Signed(release, dns, mx, verifier, zones, configured)


def submit(s: Signed, to: str, marker: str, sender: str = ALICE, password: str = "") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, f"dkim {marker}"
    msg["Message-ID"] = f"<{marker}@example.test>"
    msg.set_content(f"signed {marker}\n")
    with smtplib.SMTP(s.mx.ip, 587, timeout=30) as smtp:
        smtp.starttls(context=tls_context())
        smtp.login(sender, password or PASSWORDS[sender])
        smtp.send_message(msg)


def find(s: Signed, where: str, marker: str, timeout: float = 30) -> str:
    """The file holding `marker` under `where` (a mailbox: only new/ and cur/, Dovecot writes into tmp/ first)."""
    dirs = [where] if where == SINK_DIR else [f"{where}/new", f"{where}/cur"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = s.mx.run(["grep", "-rl", marker, *dirs], check=False).stdout.split()
        if found:
            return found[0]
        time.sleep(0.3)
    log = s.mx.run("tail -n 30 /var/log/mail.log", check=False).stdout
    raise AssertionError(f"{marker} never reached {where} on {s.release}; mail.log:\n{log}")


def box(address: str) -> str:
    local, domain = address.split("@")
    return f"{MAILDIR}/{domain}/{local}"


def verify(s: Signed, path: str) -> dict:
    """dkimpy's verdict on the message at `path` on the server, handed to the verifier host as it is."""
    s.verifier.write_file("/root/message.eml", s.mx.read_file(path))
    result = s.verifier.run(["python3", "-c", VERIFY, "/root/message.eml"], check=False, timeout=60)
    assert result.returncode in (0, 1) and result.stdout.strip(), result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def verifies(s: Signed, path: str, selector: str) -> None:
    verdict = verify(s, path)
    assert (verdict["ok"], verdict["d"], verdict["s"]) == (True, "example.test", selector), verdict


def headers(s: Signed, path: str) -> str:
    text = s.mx.read_file(path)
    return text.split("\n\n", 1)[0]


def dkim_record(zones: dict[str, str], selector: str, domain: str) -> str:
    line = next(line for line in zones[domain].splitlines() if line.startswith(f"{selector}._domainkey.{domain}."))
    return line


def test_keys_are_made_private_and_every_record_checks(signed: Signed) -> None:
    keys = signed.status()
    roles = {(k["domain"], k["role"]) for k in keys}
    assert roles == {(d, r) for d in ("example.test", "other.test") for r in ("signing", "standby")}, keys
    assert all(k["bits"] == 2048 and k["key_readable"] for k in keys), keys
    for key in keys:
        mode = signed.mx.run(["stat", "-c", "%U %a", key["key_file"]]).stdout.split()
        assert mode == ["_rspamd", "600"], (key["key_file"], mode)
    # A key others may read, or one the signer cannot read: `mailtui check` fails naming that key file.
    standby = next(k for k in keys if k["domain"] == "other.test" and k["role"] == "standby")
    for damage, undo in ((["chmod", "o+r"], ["chmod", "o-r"]), (["chown", "root"], ["chown", "_rspamd"])):
        signed.mx.run([*damage, standby["key_file"]])
        try:
            code, out = signed.mailtui("check", check=False)
            failed = [line for line in out.splitlines() if "FAIL" in line]
            assert code == 1 and failed and all(standby["key_file"] in line for line in failed), out
        finally:
            signed.mx.run([*undo, standby["key_file"]])
    assert signed.mailtui("check", check=False)[0] == 0
    code, out = signed.mailtui("dns", "check", "--server", signed.dns.ip, "--json", check=False)
    report = json.loads(out)
    labels = {c["label"]: c for c in report["checks"]}
    for key in keys:
        assert labels[f"DKIM {key['selector']} {key['domain']}"]["ok"], labels
    assert code == 0 and report["ok"], [c for c in report["checks"] if not c["ok"]]

    # The signing record of example.test holding another key (other.test's): the check names it.
    signing = next(k for k in keys if k["domain"] == "example.test" and k["role"] == "signing")
    theirs = next(k for k in keys if k["domain"] == "other.test" and k["role"] == "signing")
    mine_line = dkim_record(signed.zones, signing["selector"], "example.test")
    their_value = dkim_record(signed.zones, theirs["selector"], "other.test").split(" IN TXT ", 1)[1]
    swapped = dict(signed.zones, **{"example.test": signed.zones["example.test"].replace(
        mine_line, mine_line.split(" IN TXT ", 1)[0] + " IN TXT " + their_value)})
    signed.dns.serve(swapped)
    try:
        code, out = signed.mailtui("dns", "check", "--server", signed.dns.ip, "--json", check=False)
        bad = {c["label"]: c["detail"] for c in json.loads(out)["checks"] if not c["ok"]}
        assert code == 1 and bad == {f"DKIM {signing['selector']} example.test": "the TXT record holds a different key"}
    finally:
        signed.dns.serve(signed.zones)


def test_submitted_mail_is_signed_and_verifies_and_the_controls_fail(signed: Signed) -> None:
    local, outside = uuid.uuid4().hex, uuid.uuid4().hex
    submit(signed, BOB, local)
    submit(signed, OUTSIDE, outside)
    signing = next(k for k in signed.status() if k["domain"] == "example.test" and k["role"] == "signing")
    delivered = find(signed, box(BOB), local)
    relayed = find(signed, SINK_DIR, outside)
    for path in (delivered, relayed):
        assert headers(signed, path).count("DKIM-Signature:") == 1, headers(signed, path)
        verifies(signed, path, signing["selector"])

    # Negative controls: the body altered; the published record holding another key.
    signed.mx.run(["sh", "-c", f"cp {delivered} /root/altered && sed -i 's/signed {local}/signed tampered/' "
                   "/root/altered"])
    altered = signed.mx.read_file("/root/altered")
    assert f"signed {local}" not in altered and "signed tampered" in altered
    verdict = verify(signed, "/root/altered")
    assert not verdict["ok"] and "body hash mismatch" in verdict["why"], verdict
    other = next(k for k in signed.status() if k["domain"] == "other.test" and k["role"] == "signing")
    line = dkim_record(signed.zones, signing["selector"], "example.test")
    their_value = dkim_record(signed.zones, other["selector"], "other.test").split(" IN TXT ", 1)[1]
    signed.dns.serve(dict(signed.zones, **{"example.test": signed.zones["example.test"].replace(
        line, line.split(" IN TXT ", 1)[0] + " IN TXT " + their_value)}))
    try:
        verdict = verify(signed, delivered)
        # The key is found (the record is there) and the signature does not verify with it.
        assert not verdict["ok"] and "body hash" not in verdict["why"] and "DNS" not in verdict["why"], verdict
    finally:
        signed.dns.serve(signed.zones)
    verifies(signed, delivered, signing["selector"])


def test_mail_made_on_the_server_and_its_bounces_are_signed(signed: Signed) -> None:
    """`sendmail` on the server (pickup: Postfix's non_smtpd_milters), and the bounce Postfix makes for it
    (internal_mail_filter_classes = bounce), From MAILER-DAEMON@<hostname>: signed with the key of the
    hostname's registered domain, example.test (the test profile makes .test a public suffix for rspamd)."""
    signing = next(k for k in signed.status() if k["domain"] == "example.test" and k["role"] == "signing")
    local = uuid.uuid4().hex
    signed.mx.run(["/usr/sbin/sendmail", "-f", ALICE, OUTSIDE],
                  input=f"From: {ALICE}\nTo: {OUTSIDE}\nSubject: local {local}\n\nlocal {local}\n")
    verifies(signed, find(signed, SINK_DIR, f"local {local}"), signing["selector"])

    lost = uuid.uuid4().hex
    signed.mx.run(["/usr/sbin/sendmail", "-f", ALICE, "nobody@example.test"],
                  input=f"From: {ALICE}\nTo: nobody@example.test\nSubject: lost {lost}\n\nlost {lost}\n")
    bounce = find(signed, box(ALICE), f"lost {lost}")
    head = headers(signed, bounce)
    assert f"From: Mail Delivery System <MAILER-DAEMON@{HOSTNAME}>" in head and "Undelivered Mail" in head, head
    verifies(signed, bounce, signing["selector"])


def test_mail_in_on_25_is_not_signed_and_a_forged_authentication_results_is_gone(signed: Signed) -> None:
    marker = uuid.uuid4().hex
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "someone@sender.test", ALICE, f"inbound {marker}"
    msg["Authentication-Results"] = f"{HOSTNAME}; dkim=pass header.d=bank.test; forged={marker}"
    msg.set_content(f"inbound {marker}\n")
    with smtplib.SMTP(signed.mx.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.send_message(msg)
    path = find(signed, box(ALICE), f"inbound {marker}")
    head = headers(signed, path)
    assert "DKIM-Signature:" not in head, head
    assert f"forged={marker}" not in head, head
    results = [h for h in head.replace("\n\t", " ").replace("\n ", " ").splitlines()
               if h.lower().startswith("authentication-results:")]
    assert len(results) == 1 and HOSTNAME in results[0] and "spf=" in results[0], head


def test_rotation_signs_with_the_standby_and_earlier_mail_still_verifies(signed: Signed) -> None:
    before = uuid.uuid4().hex
    submit(signed, BOB, before)
    earlier = find(signed, box(BOB), before)
    keys = signed.status()
    old = next(k for k in keys if k["domain"] == "example.test" and k["role"] == "signing")
    standby = next(k for k in keys if k["domain"] == "example.test" and k["role"] == "standby")
    code, out = signed.mailtui("dkim", "rotate", "example.test", "--yes")
    assert f"{standby['selector']} signs now" in out, out
    roles = {k["selector"]: k["role"] for k in signed.status() if k["domain"] == "example.test"}
    assert roles[old["selector"]] == "retired" and roles[standby["selector"]] == "signing", roles
    assert sorted(roles.values()) == ["retired", "signing", "standby"], roles

    after = uuid.uuid4().hex
    submit(signed, BOB, after)
    later = find(signed, box(BOB), after)
    # The zone published before the rotation: the standby's record was in it all along.
    verifies(signed, later, standby["selector"])
    verifies(signed, earlier, old["selector"])
    # `mailtui dns` now lists the new standby's record too (to publish before the next rotation).
    printed = signed.mailtui("dns", "--zone")[1]
    assert all(f"{sel}._domainkey.example.test." in printed for sel in roles), printed


def test_rspamd_down_mail_flows_unsigned_and_the_check_names_it(signed: Signed) -> None:
    signed.mx.run(["systemctl", "stop", "rspamd"])
    try:
        marker = uuid.uuid4().hex
        submit(signed, BOB, marker)
        path = find(signed, box(BOB), marker)
        assert "DKIM-Signature:" not in headers(signed, path)
        code, out = signed.mailtui("check", check=False)
        assert code == 1 and "rspamd" in out, out
    finally:
        signed.mx.run(["systemctl", "start", "rspamd"])
    deadline = time.monotonic() + 60
    while signed.mailtui("check", check=False)[0] != 0 and time.monotonic() < deadline:
        time.sleep(1)
    code, out = signed.mailtui("check", check=False)
    assert code == 0, out


def envelope(s: Signed, path: str) -> tuple[str, str]:
    """(MAIL FROM, RCPT TO) of a message smtp-sink kept: it writes the commands' arguments after the colon as
    X-Mail-Args / X-Rcpt-Args ("<a@b.test> SIZE=…")."""
    head = headers(s, path)
    mail = next(line for line in head.splitlines() if line.startswith("X-Mail-Args:"))
    rcpt = next(line for line in head.splitlines() if line.startswith("X-Rcpt-Args:"))
    return (mail.split("<", 1)[1].split(">", 1)[0], rcpt.split("<", 1)[1].split(">", 1)[0])


def test_forwarded_mail_gets_an_srs_sender_and_a_bounce_to_it_comes_back(signed: Signed) -> None:
    marker = uuid.uuid4().hex
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "someone@sender.test", FORWARD, f"forward {marker}"
    msg.set_content(f"forward {marker}\n")
    with smtplib.SMTP(signed.mx.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.send_message(msg)
    sender, rcpt = envelope(signed, find(signed, SINK_DIR, f"forward {marker}"))
    assert rcpt == OUTSIDE
    assert sender.startswith("SRS0=") and sender.endswith(f"=sender.test=someone@{HOSTNAME}"), sender

    # Mail of this server's own users keeps its sender (their domain is excluded).
    own = uuid.uuid4().hex
    submit(signed, OUTSIDE, own)
    assert envelope(signed, find(signed, SINK_DIR, own)) == (ALICE, OUTSIDE)

    # The final receiver bounces to the SRS address: it comes back here and goes on to the original sender.
    bounce = uuid.uuid4().hex
    with smtplib.SMTP(signed.mx.ip, 25, timeout=30) as smtp:
        smtp.ehlo("mx.elsewhere.test")
        smtp.sendmail("", [sender], f"Subject: bounce {bounce}\r\n\r\nundeliverable {bounce}\r\n")
    assert envelope(signed, find(signed, SINK_DIR, f"bounce {bounce}")) == ("", "someone@sender.test")
    # A forged SRS address (a hash postsrsd did not make) is refused, not relayed.
    forged = sender.replace("SRS0=", "SRS0=zz", 1) if not sender.startswith("SRS0=zz") else sender.replace("zz", "yy")
    with smtplib.SMTP(signed.mx.ip, 25, timeout=30) as smtp:
        smtp.ehlo("mx.elsewhere.test")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("", [forged], "Subject: forged\r\n\r\nforged\r\n")


def test_a_domain_added_later_is_signed_at_once_and_removed_its_keys_move_aside(signed: Signed) -> None:
    third, dave, password = "third.test", "dave@third.test", "dave-Secret-333"
    signed.mailtui("domain", "add", third)
    keys = {k["role"]: k for k in signed.status() if k["domain"] == third}
    assert set(keys) == {"signing", "standby"}, keys
    zones = zones_from(signed.mailtui("dns", "--zone")[1], signed.mx.ip)
    assert f"{keys['standby']['selector']}._domainkey.{third}." in zones[third]  # published from the start
    signed.dns.serve(zones)
    try:
        added = signed.mx.run(["python3", "-m", "mailtui", "user", "add", dave, "--password-stdin"], env=ENV,
                              input=password + "\n", check=False)
        assert added.returncode == 0, added.stdout + added.stderr
        marker = uuid.uuid4().hex
        submit(signed, OUTSIDE, marker, sender=dave, password=password)
        path = find(signed, SINK_DIR, marker)
        verdict = verify(signed, path)
        assert (verdict["ok"], verdict["d"], verdict["s"]) == (True, third, keys["signing"]["selector"]), verdict
        # SRS: the new domain's own mail keeps its sender (the database says it is served here).
        assert envelope(signed, path) == (dave, OUTSIDE)

        signed.mailtui("user", "remove", dave, "--yes")
        signed.mailtui("domain", "remove", third, "--yes")
        assert not [k for k in signed.status() if k["domain"] == third]
        assert third not in signed.mx.read_file("/etc/rspamd/local.d/dkim_signing.conf")
        moved = signed.mx.run(["ls", "/var/lib/mailtui/dkim-removed"]).stdout.split()
        for key in keys.values():  # moved aside, not deleted
            name = key["key_file"].rsplit("/", 1)[1]
            assert any(entry.startswith(name + ".") for entry in moved), (name, moved)
            assert signed.mx.run(["test", "-e", key["key_file"]], check=False).returncode == 1
        assert signed.mailtui("check", check=False)[0] == 0
    finally:
        signed.dns.serve(signed.zones)


# Where a name may lie that the server asks for: the test network's own names (the .test zones, with the
# resolver's search domain appended or not) and its addresses' reverse names (198.18.0.0/15).
INSIDE = re.compile(r"(^|\.)(test|18\.198\.in-addr\.arpa|19\.198\.in-addr\.arpa)\.$")


def outside_names(queries: list[tuple[str, str, int]], source: str) -> list[str]:
    return sorted({name for ip, name, _type in queries if ip == source and not INSIDE.search(name)})


def test_the_server_asks_for_no_name_outside_the_test_network(signed: Signed) -> None:
    """rspamd's default remote calls (map downloads from maps.rspamd.com, fuzzy storage, public DNS blocklists,
    asn.rspamd.com) are off in the test profile: from the moment rspamd runs on mailtui's configuration, the
    DNS host saw no query from the server for a name outside the test network — over every message above,
    a rotation's reload and rspamd stopped and started."""
    noted = signed.dns.queries()
    print(f"\n[{signed.release}] outside names asked for before the install configured rspamd: "
          f"{outside_names(noted[:signed.configured], signed.mx.ip)}")
    queries = noted[signed.configured:]
    from_mx = [q for q in queries if q[0] == signed.mx.ip]
    # The log is complete: the server's own lookups (SPF, DKIM, DMARC of the test domains) and the
    # verifier's selector lookups are in it.
    assert any(name.startswith("_dmarc.") for _ip, name, _t in from_mx), from_mx[:20]
    assert any("._domainkey.example.test." in name for ip, name, _t in queries if ip == signed.verifier.ip)
    assert outside_names(queries, signed.mx.ip) == []
    # Control: a lookup of rspamd's map server from the server is noted and named outside.
    signed.mx.run(["getent", "ahosts", "maps.rspamd.com"], check=False)
    time.sleep(0.5)
    assert "maps.rspamd.com." in outside_names(signed.dns.queries(), signed.mx.ip)


def test_switched_off_rspamd_and_postsrsd_stop_and_mail_flows_unsigned_and_unrewritten(signed: Signed) -> None:
    """The last test of the module: the same answers with DKIM and SRS off, installed again."""
    off = DKIM_ANSWERS.replace("[dkim]\nenabled = true", "[dkim]\nenabled = false").replace(
        "[srs]\nenabled = true", "[srs]\nenabled = false")
    assert off.count("enabled = false") == 2
    signed.mx.write_file("/root/answers-off.toml", off, mode=0o600)
    code, out = signed.mailtui("install", "--answers", "/root/answers-off.toml", "--yes", check=False)
    assert code == 0, out[-4000:]
    for daemon in ("rspamd", "postsrsd"):
        assert signed.mx.run(["systemctl", "is-active", daemon], check=False).stdout.strip() == "inactive"
        assert signed.mx.run(["systemctl", "is-enabled", daemon], check=False).stdout.strip() == "disabled"
    assert signed.mx.run(["postconf", "-h", "smtpd_milters", "sender_canonical_maps"]).stdout.split() == []
    marker = uuid.uuid4().hex
    submit(signed, BOB, marker)
    assert "DKIM-Signature:" not in headers(signed, find(signed, box(BOB), marker))
    forward = uuid.uuid4().hex
    with smtplib.SMTP(signed.mx.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.sendmail("someone@sender.test", [FORWARD], f"Subject: forward {forward}\r\n\r\n{forward}\r\n")
    assert envelope(signed, find(signed, SINK_DIR, f"forward {forward}")) == ("someone@sender.test", OUTSIDE)
    code, out = signed.mailtui("check", check=False)
    assert code == 0, out
    # The keys stay (switched on again, the same keys sign): only rspamd's configuration of mailtui's is gone.
    assert signed.mx.run(["ls", "/var/lib/rspamd/dkim"]).stdout.split()
    assert signed.mx.run(["test", "-e", "/etc/rspamd/local.d/dkim_signing.conf"], check=False).returncode == 1
    # Done once: installed again, nothing is left to do about them.
    again = signed.mailtui("install", "--answers", "/root/answers-off.toml", "--dry-run")[1]
    planned = [line for line in again.splitlines() if line.startswith(" * ")]
    assert not [line for line in planned if "rspamd" in line or "postsrsd" in line], again
