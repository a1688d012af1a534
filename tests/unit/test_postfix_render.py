"""Postfix configuration derived from the answers."""

from __future__ import annotations

from mailtui.model import answers, answers_file
from mailtui.model import problems as problems_mod
from mailtui.policy import maps, tls
from mailtui.steps import postfix

BASE = """
hostname = "mail.example.test"
[database]
password = "dbpassword-123456"
[[domains]]
name = "example.test"
[[users]]
email = "alice@example.test"
password = "alice password"
"""


def load(extra: str = "") -> answers.Answers:
    text = BASE.replace("[database]", extra + "\n[database]") if extra else BASE
    return problems_mod.check(answers_file.loads(text), check_files=False)


def test_lookups_are_proxied_and_lmtp_delivers() -> None:
    params = postfix.main_cf(load(), log_to_file=False)
    assert params["virtual_mailbox_domains"] == "proxy:mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf"
    assert params["virtual_alias_maps"].count("proxy:mysql:") == 2
    assert params["virtual_transport"] == "lmtp:unix:private/dovecot-lmtp"
    assert params["smtpd_relay_restrictions"].endswith("reject_unauth_destination")
    assert params["smtpd_tls_protocols"] == ">=TLSv1.2"
    assert params["smtpd_tls_exclude_ciphers"] == "eNULL, EXPORT, RC4, 3DES"  # port 25: opportunistic
    assert "tls_high_cipherlist" not in params  # the strong list is the submission services' own
    assert params["smtpd_sasl_auth_enable"] == "no"  # AUTH only on submission
    assert params["message_size_limit"] == str(50 * 1024 * 1024)
    assert "maillog_file" not in params
    assert "smtp_dns_support_level" not in params


def test_map_files_use_tcp_not_the_socket() -> None:
    content = postfix.map_file_content(load(), maps.by_file("mysql-virtual-mailbox-maps.cf").query)
    assert "hosts = 127.0.0.1:3306" in content
    assert "user = mailuser" in content
    assert "password = dbpassword-123456" in content
    assert "query = SELECT 1 FROM virtual_users WHERE email='%s'" in content


def test_submission_requires_tls_and_auth_and_own_sender() -> None:
    services = {s.key: s for s in postfix.master_services(load(), log_to_file=True)}
    sub = services["submission/inet"]
    assert sub.options["smtpd_tls_security_level"] == "encrypt"
    assert sub.options["smtpd_sasl_auth_enable"] == "yes"
    assert sub.options["smtpd_sender_restrictions"] == "reject_sender_login_mismatch"
    assert services["submissions/inet"].options["smtpd_tls_wrappermode"] == "yes"
    assert "postlog/unix-dgram" in services
    for key in ("submission/inet", "submissions/inet"):  # passwords travel: forward-secret AEAD only
        options = services[key].options
        assert options["smtpd_tls_mandatory_ciphers"] == "high"
        assert options["tls_high_cipherlist"].split(":") == list(tls.STRONG_CIPHERS)
    assert all(("GCM" in c or "CHACHA20" in c) and c.startswith(("ECDHE-", "DHE-")) for c in tls.STRONG_CIPHERS)
    assert sub.entry == "submission inet n - y - - smtpd"


def test_submissions_can_be_turned_off() -> None:
    a = load('[services]\nsubmissions = false')
    assert [s.key for s in postfix.master_services(a, log_to_file=False)] == ["smtp/inet", "submission/inet"]


def test_test_profile_turns_dns_off() -> None:
    a = load('profile = "test"\n[outbound]\nrelayhost = "[127.0.0.1]:2525"')
    params = postfix.main_cf(a, log_to_file=True)
    assert params["smtp_dns_support_level"] == "disabled"
    assert params["smtpd_peername_lookup"] == "no"
    assert params["relayhost"] == "[127.0.0.1]:2525"
    assert params["maillog_file"] == "/var/log/mail.log"


def test_relay_login_forces_tls_outbound() -> None:
    a = load('[outbound]\nrelayhost = "[smtp.isp.test]:587"\nuser = "me"\npassword = "relay-secret"')
    params = postfix.main_cf(a, log_to_file=False)
    assert params["smtp_sasl_auth_enable"] == "yes"
    assert params["smtp_tls_security_level"] == "encrypt"
    assert "relay-secret" in postfix.relay_password_content(a)
    assert "relay-secret" not in str(params)


def test_master_entry_is_compared_without_its_options() -> None:
    from mailtui.steps.postconf_resources import _entry_without_options

    line = "submission inet  n  -  y  -  -  smtpd -o syslog_name=postfix/submission -o smtpd_sasl_auth_enable=yes"
    assert _entry_without_options(line) == "submission inet n - y - - smtpd"
    assert _entry_without_options("") is None


def test_retry_interval_only_where_postfix_knows_it() -> None:
    query = maps.by_file("mysql-virtual-mailbox-maps.cf").query
    assert "retry_interval" not in postfix.map_file_content(load(), query, (3, 7, 11))
    assert "retry_interval = 10" in postfix.map_file_content(load(), query, (3, 10, 13))
