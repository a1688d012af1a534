"""ACME mode's pure parts: what certbot is asked, when an install orders, what the firewall and the packages
step add, which certificate Postfix and Dovecot serve. (End to end with pebble: tests/e2e/test_acme.py.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

from mailtui import paths
from mailtui.model import answers_file
from mailtui.policy import ports
from mailtui.stack import certificates
from mailtui.stack.certificates import Lineage, renewal_params
from mailtui.steps import acme, tls
from mailtui.steps.packages import wanted_packages

TEXT = '''hostname = "mail.example.test"
[tls]
mode = "acme"
email = "hostmaster@example.test"
server = "https://ca.test:14000/dir"
server_ca = "/root/pebble-api-ca.pem"
'''
NOW = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)
RENEWAL = """\
# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/mail.example.test
cert = /etc/letsencrypt/live/mail.example.test/cert.pem

# Options used in the renewal process
[renewalparams]
account = 0123456789abcdef
server = https://ca.test:14000/dir
authenticator = standalone
key_type = rsa
rsa_key_size = 2048
reuse_key = True
renew_hook = /usr/local/sbin/mailtui-reload-tls
"""


def answers():  # noqa: ANN201
    return answers_file.loads(TEXT)


def good(**changes: object) -> Lineage:
    base = dict(exists=True, covers=True, not_after=NOW + dt.timedelta(days=89), server="https://ca.test:14000/dir",
                key_type="rsa", reuse_key=True, deploy_hook=paths.ACME_DEPLOY_HOOK, authenticator="standalone")
    return Lineage(**{**base, **changes})  # type: ignore[arg-type]


def test_certbot_orders_an_rsa_certificate_reusing_its_key_with_mailtuis_deploy_hook() -> None:
    argv = acme.certbot_command(answers())
    assert argv[:2] == ["certbot", "certonly"]
    for flag, value in (("--server", "https://ca.test:14000/dir"), ("--cert-name", "mail.example.test"),
                        ("-d", "mail.example.test"), ("--key-type", "rsa"), ("--rsa-key-size", "2048"),
                        ("--deploy-hook", paths.ACME_DEPLOY_HOOK), ("--email", "hostmaster@example.test")):
        assert argv[argv.index(flag) + 1] == value
    assert {"--standalone", "--reuse-key", "--keep-until-expiring", "--non-interactive", "--agree-tos"} <= set(argv)
    assert acme.certbot_env(answers()) == {"REQUESTS_CA_BUNDLE": "/root/pebble-api-ca.pem"}
    assert "Environment=REQUESTS_CA_BUNDLE=/root/pebble-api-ca.pem" in acme.dropin_content(answers())


def test_the_renewal_file_is_read_as_certbot_writes_it() -> None:
    params = renewal_params(RENEWAL)
    assert (params["server"], params["key_type"], params["reuse_key"], params["renew_hook"]) == (
        "https://ca.test:14000/dir", "rsa", "True", paths.ACME_DEPLOY_HOOK)
    assert renewal_params("version = 2.1.0\n") == {}


def test_an_install_orders_only_when_there_is_a_reason() -> None:
    a = answers()
    assert good().problem(a, NOW) is None
    assert good(exists=False).problem(a, NOW) == "no certificate from the CA yet"
    assert "not valid for" in str(good(covers=False).problem(a, NOW))
    assert "expires in 20 days" in str(good(not_after=NOW + dt.timedelta(days=20)).problem(a, NOW))
    assert "renewed from https://other.test/dir" in str(good(server="https://other.test/dir").problem(a, NOW))
    for changed in ({"key_type": "ecdsa"}, {"reuse_key": False}, {"deploy_hook": ""}):
        assert "renewal settings" in str(good(**changed).problem(a, NOW))


def test_the_webmail_switched_on_or_off_orders_again_with_the_other_authenticator() -> None:
    """certbot keeps the order's authenticator for its renewals: standalone would fail once nginx holds port 80
    (and webroot once nothing serves it), and `--keep-until-expiring` would not rewrite it — so the install
    orders again, forcing the renewal."""
    a = answers()
    assert not good().authenticator_changed(a)
    on = replace(a, webmail=replace(a.webmail, enabled=True))
    why = str(good().problem(on, NOW))
    assert "standalone authenticator" in why and "ordered again with webroot" in why
    assert good(authenticator="webroot").problem(on, NOW) is None
    assert "webroot authenticator" in str(good(authenticator="webroot").problem(a, NOW))
    argv = acme.certbot_command(on, renew_now=True)
    assert "--force-renewal" in argv and "--keep-until-expiring" not in argv
    assert argv[argv.index("--webroot") + 1:argv.index("--webroot") + 3] == ["-w", "/var/www/mailtui-acme"]


def test_port_80_is_opened_in_acme_mode_only() -> None:
    assert 80 in [p.number for p in ports.firewall_open(answers())]
    assert 80 not in [p.number for p in ports.served(answers())]  # nothing is expected to listen on it
    plain = answers_file.loads('hostname = "mail.example.test"\n')
    assert 80 not in [p.number for p in ports.firewall_open(plain)]


def test_certbot_is_installed_in_acme_mode_and_cron_where_there_is_no_systemd() -> None:
    with_systemd = wanted_packages(answers(), database_server=True, systemd=True)
    assert "certbot" in with_systemd and "cron" not in with_systemd
    assert "cron" in wanted_packages(answers(), database_server=True, systemd=False)
    plain = answers_file.loads('hostname = "mail.example.test"\n')
    assert "certbot" not in wanted_packages(plain, database_server=True, systemd=False)


def test_postfix_and_dovecot_serve_the_cas_certificate_once_it_is_there(monkeypatch) -> None:
    monkeypatch.setattr(certificates, "issued", lambda _a: False)
    assert tls.served_pair(answers()) == (paths.SELF_SIGNED_CERT, paths.SELF_SIGNED_KEY)
    monkeypatch.setattr(certificates, "issued", lambda _a: True)
    assert tls.served_pair(answers()) == ("/etc/letsencrypt/live/mail.example.test/fullchain.pem",
                                          "/etc/letsencrypt/live/mail.example.test/privkey.pem")


def test_the_acme_step_opens_port_80_itself_only_when_ufw_is_already_on(monkeypatch) -> None:
    monkeypatch.setattr(acme.os.path, "isdir", lambda _p: False)  # no systemd: no drop-in
    ctx = type("Ctx", (), {"answers": answers()})()
    monkeypatch.setattr(acme, "ufw_active", lambda: False)
    assert [type(r).__name__ for r in acme.AcmeStep().resources(ctx)] == ["FileResource", "AcmeCertificateResource"]
    monkeypatch.setattr(acme, "ufw_active", lambda: True)
    kinds = [(type(r).__name__, getattr(r, "port", None)) for r in acme.AcmeStep().resources(ctx)]
    assert kinds == [("FileResource", None), ("UfwRuleResource", 80), ("AcmeCertificateResource", None)]


def lineage_tree(root: Path, hook: str) -> Path:
    """certbot's files for the hostname below `root` as certbot lays them out (live/ links into archive/)."""
    host = "mail.example.test"
    (root / "archive" / host).mkdir(parents=True)
    (root / "archive" / host / "fullchain1.pem").write_text("chain\n")
    (root / "live" / host).mkdir(parents=True)
    (root / "live" / host / "fullchain.pem").symlink_to(f"../../archive/{host}/fullchain1.pem")
    (root / "renewal").mkdir()
    (root / "renewal" / f"{host}.conf").write_text(RENEWAL.replace(paths.ACME_DEPLOY_HOOK, hook))
    return root


def test_leaving_acme_retires_mailtuis_certificate_aside_and_leaves_an_operators_alone(monkeypatch, tmp_path) -> None:
    le = lineage_tree(tmp_path / "le", paths.ACME_DEPLOY_HOOK)
    monkeypatch.setattr(paths, "LETSENCRYPT_DIR", str(le))
    monkeypatch.setattr(paths, "RETIRED_CERTS", tmp_path / "retired")
    monkeypatch.setattr(acme, "mailtuis_port_80_rule", lambda: None)
    monkeypatch.setattr(acme.files, "make_directory", lambda p, **_kw: Path(p).mkdir(exist_ok=True))
    self_signed = answers_file.loads(TEXT.replace('mode = "acme"\nemail = "hostmaster@example.test"\n'
                                                  'server = "https://ca.test:14000/dir"\n'
                                                  'server_ca = "/root/pebble-api-ca.pem"\n', ""))
    monkeypatch.setattr(tls, "dh_file", lambda _ctx: None)
    ctx = type("Ctx", (), {"answers": self_signed})()
    retire = next(r for r in tls.TlsStep().resources(ctx) if isinstance(r, acme.RetiredAcmeResource))
    change = retire.pending(ctx)
    assert change is not None and change.summary == (
        "retire the ACME certificate of mail.example.test: certbot stops renewing it, its files are kept aside "
        "(the TLS mode is no longer acme)")
    retire.apply(ctx, type("Out", (), {"line": lambda _self, _m: None})())
    (aside,) = (tmp_path / "retired").iterdir()
    assert (aside / "live/mail.example.test/fullchain.pem").read_text() == "chain\n"  # the links still resolve
    assert (aside / "renewal/mail.example.test.conf").exists() and not (le / "renewal/mail.example.test.conf").exists()
    assert retire.pending(ctx) is None
    # Only mailtui's port-80 rule left (an order that failed, then a switch away): that alone is closed.
    rule = "ufw allow 80/tcp comment 'mailtui ACME HTTP-01 challenge (certbot)'"
    monkeypatch.setattr(acme, "mailtuis_port_80_rule", lambda: rule)
    closing = retire.pending(ctx)
    assert closing is not None and closing.summary == "close port 80 again (the TLS mode is no longer acme)"
    assert closing.diff == "$ ufw delete allow 80/tcp comment 'mailtui ACME HTTP-01 challenge (certbot)'"
    monkeypatch.setattr(acme, "mailtuis_port_80_rule", lambda: None)
    # The operator's own certbot certificate (another deploy hook, or none) is not mailtui's to retire.
    other = lineage_tree(tmp_path / "other", "/usr/local/bin/their-hook")
    monkeypatch.setattr(paths, "LETSENCRYPT_DIR", str(other))
    assert retire.pending(ctx) is None
    # In ACME mode the TLS step retires nothing.
    assert not any(isinstance(r, acme.RetiredAcmeResource)
                   for r in tls.TlsStep().resources(type("Ctx", (), {"answers": answers()})()))


def test_a_failed_order_is_an_advisory_the_install_finishes_with_and_check_fails_on(monkeypatch) -> None:
    from mailtui.install import plan as install_plan

    ctx = type("Ctx", (), {"answers": answers()})()
    failed = certificates.Check("certificate for mail.example.test from https://ca.test:14000/dir", False,
                                "the self-signed certificate serves instead; the last order failed: connection refused")
    monkeypatch.setattr(acme, "acme_served_check", lambda _a: failed)
    resource_check = certificates.Check(failed.name, False, "not as the install sets it up", drift="order one")
    hook = certificates.Check("file /usr/local/sbin/mailtui-reload-tls", True)
    monkeypatch.setattr(acme.Step, "verify", lambda _self, _ctx: [hook, resource_check])
    # `mailtui check`: the certificate's one failing line says why the CA gave none, and what an install does.
    assert acme.AcmeStep().verify(ctx) == [hook, replace(failed, drift="order one")]
    monkeypatch.setattr(install_plan, "steps_for", lambda _ctx: [acme.AcmeStep()])
    assert install_plan.failed_advisories(ctx) == [f"{failed.name}: {failed.detail}"]
    monkeypatch.setattr(acme, "acme_served_check", lambda _a: certificates.Check(failed.name, True))
    assert install_plan.failed_advisories(ctx) == []


def test_the_failure_reason_is_certbots_own_words_on_one_line(monkeypatch, tmp_path) -> None:
    kept = tmp_path / "acme-failure.txt"
    monkeypatch.setattr(paths, "ACME_FAILURE", kept)
    assert certificates.failure_reason() == ""
    kept.write_text("An unexpected error occurred:\nrequests.exceptions.ConnectionError: HTTPSConnectionPool("
                    "host='ca.test', port=14000): [Errno 111] Connection refused\nAsk for help or search for "
                    "solutions at https://community.letsencrypt.org. See the logfile …\n")
    assert certificates.failure_reason() == ("requests.exceptions.ConnectionError: HTTPSConnectionPool("
                                             "host='ca.test', port=14000): [Errno 111] Connection refused")
    kept.write_text("x" * 1000)
    assert len(certificates.failure_reason()) == certificates.REASON_CHARS


def test_check_shows_expiry_and_renewal_start_and_fails_under_14_days(monkeypatch) -> None:
    ctx = type("Ctx", (), {"answers": answers()})()
    monkeypatch.setattr(acme, "issued", lambda _a: True)
    monkeypatch.setattr(acme, "renewal_check", lambda: certificates.Check("certbot.timer renews the certificate", True))
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60, hours=1)
    monkeypatch.setattr(acme, "lineage", lambda _a: good(not_after=expiry))
    (shown, timer) = acme.AcmeStep().functional_checks(ctx)
    renewal = expiry - dt.timedelta(days=30)
    assert shown.ok and shown.name == (f"certificate for mail.example.test from the CA, expires {expiry:%Y-%m-%d} "
                                       f"(60 days; renewed from {renewal:%Y-%m-%d})")
    assert timer.ok
    monkeypatch.setattr(acme, "lineage", lambda _a: good(not_after=dt.datetime.now(dt.timezone.utc)
                                                         + dt.timedelta(days=13)))
    (short, _timer) = acme.AcmeStep().functional_checks(ctx)
    assert not short.ok and "under 14 days left: renewals are failing" in short.detail
    monkeypatch.setattr(acme, "lineage", lambda _a: good(not_after=dt.datetime.now(dt.timezone.utc)
                                                         - dt.timedelta(days=1)))
    (gone, _timer) = acme.AcmeStep().functional_checks(ctx)  # the same words as the dashboard's certificate line
    assert not gone.ok and gone.detail == "expired (see /var/log/letsencrypt/letsencrypt.log)"
    monkeypatch.setattr(acme, "issued", lambda _a: False)  # no certificate: the resource's check says so
    assert acme.AcmeStep().functional_checks(ctx) == []
