"""MTA-STS and TLS reporting (policy/mta_sts.py): the policy and its id, the records `mailtui dns` prints and
checks, the names the ACME certificate is ordered for (steps/acme_names.py), and nginx's server for the policy.
The real thing (pebble, nsd, nginx): tests/e2e/test_acme.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from mailtui import paths
from mailtui.model.answers import Answers, Domain, Tls, Webmail
from mailtui.ops import dns
from mailtui.policy import mta_sts
from mailtui.stack.certificates import Lineage, san_dns_names
from mailtui.steps import acme, webmail_site
from mailtui.steps.acme_names import order_names
from mailtui.steps.resources import AbsentFileResource, FileResource
from mailtui.system.dns_query import Answer, DnsUnreachable, Record
from tests.unit.test_dns_check import IPV4, Zone, run_check, zone_of

SELF_SIGNED = Answers(hostname="mail.example.test", domains=[Domain("example.test"), Domain("other.test")])
ACME = replace(SELF_SIGNED, tls=Tls("acme", email="hostmaster@example.test"))


def test_the_policy_names_the_hostname_in_testing_mode_and_its_id_follows_it() -> None:
    text = mta_sts.policy(ACME)
    assert text == "version: STSv1\r\nmode: testing\r\nmx: mail.example.test\r\nmax_age: 86400\r\n"
    ident = mta_sts.policy_id(ACME)
    assert ident.isalnum() and 1 <= len(ident) <= 32  # RFC 8461 §3.1
    assert mta_sts.policy_id(replace(ACME, hostname="mx.example.test")) != ident  # a new policy, a new id
    assert mta_sts.txt_value(ACME) == f"v=STSv1; id={ident}"


def test_only_acme_mode_with_the_webmail_publishes_a_policy() -> None:
    assert mta_sts.policy_hosts(ACME) == ["mta-sts.example.test", "mta-sts.other.test"]
    for off in (SELF_SIGNED, replace(ACME, webmail=Webmail(enabled=False))):
        assert mta_sts.policy_hosts(off) == []
        assert not [r for r in dns.report(off, IPV4, None).records if "mta-sts" in r.name or "_smtp._tls" in r.name]


def test_dns_prints_the_policy_host_its_txt_record_and_tls_reporting_per_domain() -> None:
    r = dns.report(ACME, IPV4, None)
    mine = {(rec.name, rec.type): rec.value for rec in r.records if rec.name.endswith("other.test")}
    assert mine[("mta-sts.other.test", "CNAME")] == "mail.example.test"
    assert mine[("_mta-sts.other.test", "TXT")] == mta_sts.txt_value(ACME)
    assert mine[("_smtp._tls.other.test", "TXT")] == "v=TLSRPTv1; rua=mailto:postmaster@other.test"
    zone = dns.zone_text(r)
    assert "mta-sts.other.test. IN CNAME mail.example.test." in zone
    assert f'_mta-sts.other.test. IN TXT "{mta_sts.txt_value(ACME)}"' in zone
    assert run_check(zone_of(r), r).ok  # as printed, everything passes


@pytest.mark.parametrize(("key", "value", "says"), [
    (("mta-sts.example.test", "CNAME"), ["www.example.net"], "an alias of www.example.net"),
    (("_mta-sts.example.test", "TXT"), ["v=STSv1; id=20190101"], "holds"),  # the id of an older policy
    (("_smtp._tls.example.test", "TXT"), [], "has no TLS-RPT records"),
    (("_smtp._tls.example.test", "TXT"), ["v=TLSRPTv1;"], "names no rua= address"),
])
def test_a_wrong_mta_sts_or_tls_rpt_record_fails_naming_it(key: tuple[str, str], value: list[str], says: str) -> None:
    r = dns.report(ACME, IPV4, None)
    zone = zone_of(r)
    zone[key] = value
    failed = {c.record.name: c.detail for c in run_check(zone, r).checks if not c.ok}
    assert list(failed) == [key[0]] and says in failed[key[0]], failed


def test_an_a_record_for_the_policy_host_passes_when_it_is_the_hostnames_address_and_another_rua_too() -> None:
    r = dns.report(ACME, IPV4, None)
    zone: Zone = zone_of(r)
    del zone[("mta-sts.example.test", "CNAME")]
    zone[("mta-sts.example.test", "A")] = [IPV4]
    zone[("_smtp._tls.example.test", "TXT")] = ["v=TLSRPTv1; rua=mailto:tls@reports.example.net"]
    assert run_check(zone, r).ok
    zone[("mta-sts.example.test", "A")] = ["192.0.2.99"]
    failed = {c.record.name: c.detail for c in run_check(zone, r).checks if not c.ok}
    assert list(failed) == ["mta-sts.example.test"] and "not the addresses of mail.example.test" in failed[
        "mta-sts.example.test"]


def fake_ask(zone: dict[tuple[str, str], list[str]]):  # noqa: ANN201
    def ask(name: str, rtype: str) -> Answer:
        if name == "down.test":
            raise DnsUnreachable("the DNS server 198.18.0.53 did not answer within 2 s")
        if not any(n == name for n, _t in zone):
            return Answer("NXDOMAIN")
        return Answer("NOERROR", [Record(name, rtype, v) for v in zone.get((name, rtype), [])])
    return ask


def test_the_certificate_names_only_the_policy_hosts_dns_points_here() -> None:
    ask = fake_ask({("mail.example.test", "A"): [IPV4], ("mta-sts.example.test", "A"): [IPV4],
                    ("mta-sts.other.test", "A"): ["192.0.2.99"]})
    wanted = order_names(ACME, ask)
    assert wanted.names == ("mail.example.test", "mta-sts.example.test") and wanted.dns_known
    assert "points at 192.0.2.99, not at mail.example.test" in wanted.left_out["mta-sts.other.test"]
    nothing = order_names(ACME, fake_ask({("mail.example.test", "A"): [IPV4]}))
    assert nothing.names == ("mail.example.test",)
    assert "NXDOMAIN" in nothing.left_out["mta-sts.example.test"]
    # DNS silent about the hostname: nothing is known, so a certificate's names stand (compared() is None).
    down = order_names(replace(ACME, hostname="down.test"), ask)
    assert not down.dns_known and down.compared() is None and set(down.left_out) == set(mta_sts.policy_hosts(ACME))
    # An order due for another reason meanwhile keeps the names the certificate holds (the CA asks its own DNS).
    held = ("down.test", "mta-sts.example.test")
    assert down.to_order(held) == held and down.to_order(()) == ("down.test",)
    assert wanted.to_order(("mail.example.test", "mta-sts.other.test")) == wanted.names  # DNS known: DNS decides
    assert order_names(SELF_SIGNED, ask).names == ("mail.example.test",)  # no MTA-STS: DNS is not asked
    argv = acme.certbot_command(ACME, wanted.names)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-d"] == ["mail.example.test", "mta-sts.example.test"]


def lineage(**changes: object) -> Lineage:
    base = dict(exists=True, covers=True, not_after=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=89),
                server=ACME.tls.acme_server, key_type="rsa", reuse_key=True, deploy_hook=paths.ACME_DEPLOY_HOOK,
                authenticator="webroot", names=("mail.example.test",))
    return Lineage(**{**base, **changes})  # type: ignore[arg-type]


def test_a_certificate_missing_a_name_or_holding_one_that_left_is_ordered_again() -> None:
    found = lineage()
    assert found.problem(ACME, names=("mail.example.test",)) is None
    assert found.problem(ACME, names=None) is None  # DNS not known: keep it
    assert "does not name mta-sts.example.test" in found.problem(ACME, names=("mail.example.test",
                                                                               "mta-sts.example.test"))
    assert found.names_changed(("mail.example.test", "mta-sts.example.test"))
    wider = lineage(names=("mail.example.test", "mta-sts.other.test"))
    assert "names mta-sts.other.test, which no longer points here" in wider.problem(ACME, names=("mail.example.test",))


def test_the_certificates_names_are_read_from_its_subject_alt_name() -> None:
    # What OpenSSL 3 (Debian 12 and 13) prints for `openssl x509 -noout -ext subjectAltName`.
    text = ("X509v3 Subject Alternative Name: \n"
            "    DNS:mail.example.test, DNS:mta-sts.example.test, IP Address:192.0.2.1\n")
    assert san_dns_names(text) == ("mail.example.test", "mta-sts.example.test")
    assert san_dns_names("") == ()


def test_nginx_serves_the_policy_as_text_plain_at_the_policy_hosts_only_in_acme_mode(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmail_site, "served_pair", lambda a: ("/etc/ssl/mail.pem", "/etc/ssl/mail.key"))
    site = webmail_site.render_nginx_site(ACME, "8.2", ipv6=True)
    block = site[site.index("# MTA-STS"):]
    assert "server_name mta-sts.example.test mta-sts.other.test;" in block
    assert f"root {mta_sts.WEBROOT};" in block and "listen [::]:443 ssl;" in block
    assert "location = /.well-known/mta-sts.txt { types { } default_type text/plain; }" in block
    assert "location / { return 404; }" in block and "ssl_certificate /etc/ssl/mail.pem;" in block
    assert "MTA-STS" not in webmail_site.render_nginx_site(SELF_SIGNED, "8.2", ipv6=False)
    policy = next(r for r in webmail_site.mta_sts_resources(ACME) if isinstance(r, FileResource))
    assert (policy.path, policy.content, policy.mode) == (mta_sts.POLICY_FILE, mta_sts.policy(ACME), 0o644)
    gone = webmail_site.mta_sts_resources(SELF_SIGNED)
    assert [(type(r), r.path) for r in gone] == [(AbsentFileResource, mta_sts.POLICY_FILE)]


ENFORCE = replace(ACME, tls=replace(ACME.tls, mta_sts="enforce"))


@pytest.mark.parametrize(("mode", "max_age"), [("testing", "86400"), ("enforce", "604800"), ("none", "86400")])
def test_the_operator_chooses_the_mode_and_the_id_follows_it(mode: str, max_age: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmail_site, "served_pair", lambda a: ("/etc/ssl/mail.pem", "/etc/ssl/mail.key"))
    a = replace(ACME, tls=replace(ACME.tls, mta_sts=mode))
    fields = dict(line.split(": ", 1) for line in mta_sts.policy(a).splitlines())
    assert (fields["mode"], fields["max_age"]) == (mode, max_age)
    ids = {mta_sts.policy_id(replace(ACME, tls=replace(ACME.tls, mta_sts=m))) for m in ("testing", "enforce", "none")}
    assert len(ids) == 3  # senders fetch again when the mode changes
    txt = next(r for r in dns.report(a, IPV4, None).records if r.name == "_mta-sts.example.test")
    assert f"mode {mode}" in txt.note and ('mta_sts = "enforce"' in txt.note) == (mode == "testing")
    assert f"(mode {mode})" in webmail_site.render_mta_sts_server(a, ipv6=False)


def test_a_bad_mode_or_one_without_acme_and_webmail_names_the_field() -> None:
    from mailtui.model import answers_file
    from mailtui.model.problems import problems

    assert "tls.mta_sts" not in problems(ENFORCE)
    assert "is not one of testing, enforce, none" in problems(replace(ACME, tls=replace(ACME.tls, mta_sts="strict")))[
        "tls.mta_sts"]
    for unused in (replace(ENFORCE, tls=replace(ENFORCE.tls, mode="self-signed", email="")),
                   replace(ENFORCE, webmail=Webmail(enabled=False))):
        assert "only used with tls.mode" in problems(unused)["tls.mta_sts"]
    assert "tls.mta_sts" in problems(replace(ACME, tls=replace(ACME.tls, mta_sts=3)))  # type: ignore[arg-type]
    saved = answers_file.loads(answers_file.dumps(ENFORCE))
    assert saved.tls.mta_sts == "enforce"
    assert answers_file.loads(answers_file.dumps(SELF_SIGNED)).tls.mta_sts == "testing"  # the default
