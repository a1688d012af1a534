"""The webmail step's declarations (Roundcube's configuration, nginx's site, dbconfig-common's answers), the
[webmail] and [updates] answers, and the packages they add. The real stack: tests/e2e/test_webmail.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailtui.errors import ValidationError
from mailtui.model import answers_file, problems
from mailtui.model.answers import Answers, Database, Domain, Services, Tls, Webmail
from mailtui.policy import ports, web
from mailtui.steps import packages_list as pl
from mailtui.steps import updates, webmail, webmail_site
from mailtui.steps.packages import WEBMAIL_SELECTIONS, wanted_packages, webmail_packages
from mailtui.system import services

BASE = Answers(hostname="mail.example.test", domains=[Domain("example.test")])


def test_php_version_from_debians_php_fpm_package() -> None:
    assert web.php_version("2:8.2+93") == "8.2"
    assert web.php_version("2:8.4+96") == "8.4"
    assert web.php_version("2:8.3+93ubuntu2") == "8.3"
    assert web.php_version(None) is None and web.php_version("garbage") is None
    assert web.php_fpm_service("8.2") == "php8.2-fpm" and web.php_fpm_socket("8.4") == "/run/php/php8.4-fpm.sock"
    php = services.info("php8.2-fpm")
    assert php.process_names == ("php-fpm8.2",) and php.pidfile == "/run/php/php8.2-fpm.pid"


def test_roundcube_talks_tls_to_the_mail_services_and_verifies_the_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    text = webmail.render_config(BASE, "A" * 24)
    assert "$config['imap_host'] = 'ssl://127.0.0.1:993';" in text
    assert "$config['smtp_host'] = 'ssl://127.0.0.1:465';" in text  # 465 on by default
    assert text.count("'verify_peer' => true") == 2 and text.count("'peer_name' => 'mail.example.test'") == 2
    assert "'allow_self_signed' => false" in text
    assert "$config['des_key'] = 'AAAAAAAAAAAAAAAAAAAAAAAA';" in text
    assert "$config['login_rate_limit'] = 0;" in text  # fail2ban bans the address; no account lock-out
    assert "$config['login_rate_limit'] = 3;" in webmail.render_config(
        replace(BASE, security=replace(BASE.security, fail2ban=False)), "A" * 24)
    assert "$config['enable_installer'] = false;" in text and "$config['enable_spellcheck'] = false;" in text
    no_465 = replace(BASE, services=Services(submissions=False))
    assert "$config['smtp_host'] = 'tls://127.0.0.1:587';" in webmail.render_config(no_465, "A" * 24)
    # The operator's certificate files: verified against the system's CAs, not against the leaf itself.
    files = replace(BASE, tls=Tls("files", "/etc/ssl/x.pem", "/etc/ssl/x.key"))
    assert f"'cafile' => '{webmail.SYSTEM_CA_BUNDLE}'" in webmail.render_config(files, "A" * 24)


def test_filters_and_vacation_go_to_managesieve_on_loopback_with_starttls_verified() -> None:
    assert "'managesieve'];" in webmail.render_config(BASE, "A" * 24)
    text = webmail.render_managesieve_config(BASE)
    assert f"$config['managesieve_host'] = 'tls://127.0.0.1:{ports.MANAGESIEVE_PORT}';" in text
    assert "'verify_peer' => true" in text and "'peer_name' => 'mail.example.test'" in text
    assert "$config['managesieve_vacation'] = 1;" in text and "$config['managesieve_default'] = '';" in text


def test_php_strings_are_quoted() -> None:
    assert web.php_str("it's a \\ test") == "'it\\'s a \\\\ test'"


def test_the_des_key_found_in_roundcubes_file_is_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "config.inc.php"
    conf.write_text("<?php\n$config['des_key'] = 'GqVycsX2G+nRz1NumcxO60ZW';\n")
    assert webmail.existing_des_key(str(conf)) == "GqVycsX2G+nRz1NumcxO60ZW"
    conf.write_text("<?php\n$config['des_key'] = 'rcmail-!24ByteDESkey*Str';\n")  # upstream's sample key
    assert webmail.existing_des_key(str(conf)) == "rcmail-!24ByteDESkey*Str"
    assert webmail.existing_des_key(str(tmp_path / "missing")) is None
    key = webmail.new_des_key()
    assert len(key) == 24 and key != webmail.new_des_key()


def test_nginx_redirects_http_and_sends_the_policys_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webmail_site, "served_pair", lambda a: ("/etc/ssl/mail.pem", "/etc/ssl/mail.key"))
    site = webmail_site.render_nginx_site(BASE, "8.2", ipv6=False)
    assert site.count("server_tokens off;") == 2  # in both servers (Debian 13's nginx.conf sets it in http)
    assert "return 301 https://mail.example.test$request_uri;" in site
    assert "fastcgi_pass unix:/run/php/php8.2-fpm.sock;" in site
    assert f"root {web.DOCROOT};" in site and "[::]" not in site
    assert "Strict-Transport-Security" not in site  # self-signed: no HSTS
    # Every HTTPS location: Roundcube's pages and files, its PHP, the three autoconfiguration answers.
    assert site.count(f'add_header Content-Security-Policy "{web.CONTENT_SECURITY_POLICY}" always;') == 5
    assert "listen [::]:443 ssl default_server;" in webmail_site.render_nginx_site(BASE, "8.2", ipv6=True)
    acme = replace(BASE, tls=Tls("acme", email="a@example.test"))
    assert web.headers(acme)["Strict-Transport-Security"] == web.HSTS
    # ACME mode: nginx answers the CA's challenge on port 80 from certbot's webroot; certbot orders through it.
    assert f"root {web.ACME_WEBROOT};" in webmail_site.render_nginx_site(acme, "8.2", ipv6=False)
    assert "acme-challenge" not in site
    from mailtui.steps.acme import certbot_command

    command = certbot_command(acme)
    assert command[command.index("--webroot"):][:3] == ["--webroot", "-w", web.ACME_WEBROOT]
    no_web = replace(acme, webmail=Webmail(enabled=False))
    assert "--standalone" in certbot_command(no_web) and "--webroot" not in certbot_command(no_web)


def test_dbconfig_is_answered_and_reinstall_only_while_the_database_is_missing() -> None:
    a = replace(BASE, webmail=Webmail(db_password="pw'with\"quotes"))
    first = webmail.dbconfig_selections(a, reinstall=True)
    assert "roundcube-core roundcube/dbconfig-reinstall boolean true\n" in first
    assert "roundcube-core roundcube/mysql/app-pass password pw'with\"quotes\n" in first
    assert "roundcube-core roundcube/db/app-user string roundcube@localhost\n" in first
    assert "roundcube-core roundcube/reconfigure-webserver multiselect\n" in first
    assert "dbconfig-reinstall boolean false" in webmail.dbconfig_selections(a, reinstall=False)
    assert "roundcube/dbconfig-install boolean false" in WEBMAIL_SELECTIONS


def test_packages_webmail_after_the_web_server_and_updates() -> None:
    wanted = wanted_packages(BASE, database_server=True, systemd=True)
    assert set(pl.WEB_SERVER) <= set(wanted) and set(pl.UPDATES) <= set(wanted)
    assert not set(pl.WEBMAIL) & set(wanted)  # Roundcube in an apt run of its own, after nginx and PHP-FPM
    assert webmail_packages(BASE) == pl.WEBMAIL
    off = replace(BASE, webmail=Webmail(enabled=False))
    assert webmail_packages(off) == [] and not set(pl.WEB_SERVER) & set(
        wanted_packages(off, database_server=True, systemd=True))


def test_without_systemd_cron_flushes_the_auth_cache_after_a_password_change(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.steps import sql_session, webmail_password

    monkeypatch.setattr(sql_session, "local_server_running", lambda: False)
    assert "cron" in wanted_packages(BASE, database_server=True, systemd=False)
    assert "cron" not in wanted_packages(BASE, database_server=True, systemd=True)
    monkeypatch.setattr(webmail_password.services, "has_systemd", lambda: False)
    targets = {getattr(r, "path", getattr(r, "target", "")) for r in webmail_password.password_resources(BASE)}
    assert web.FLUSH_CRON in targets and not any(str(t).endswith(".path") for t in targets)
    line = webmail_password.FLUSH_CRON.splitlines()[-1]
    assert line.startswith("* * * * * root ") and line.endswith("/usr/bin/doveadm auth cache flush")
    monkeypatch.setattr(webmail_password.services, "has_systemd", lambda: True)
    targets = {getattr(r, "path", getattr(r, "target", "")) for r in webmail_password.password_resources(BASE)}
    assert web.FLUSH_CRON not in targets and f"{web.FLUSH_UNIT}.path" in targets


def test_the_firewall_opens_80_and_443_for_the_webmail_only() -> None:
    numbers = [p.number for p in ports.firewall_open(BASE)]
    assert 80 in numbers and 443 in numbers and len(numbers) == len(set(numbers))
    off = [p.number for p in ports.firewall_open(replace(BASE, webmail=Webmail(enabled=False)))]
    assert 80 not in off and 443 not in off


def test_answers_name_the_webmail_field_and_older_files_keep_it_off() -> None:
    with pytest.raises(ValidationError) as err:
        problems.check(replace(BASE, webmail=Webmail(host="not a name")), check_files=False)
    assert "webmail.host" in err.value.problems
    with pytest.raises(ValidationError) as err:
        problems.check(replace(BASE, database=Database(host="10.1.2.3")), check_files=False)
    assert "database.host = 127.0.0.1" in err.value.problems["webmail.enabled"]
    with pytest.raises(ValidationError) as err:
        problems.check(replace(BASE, webmail=Webmail(host="web.example.test")), check_files=False)
    assert "leave this empty" in err.value.problems["webmail.host"]
    with pytest.raises(ValidationError) as err:
        problems.check(replace(BASE, webmail=Webmail(db_password="short")), check_files=False)
    assert "webmail.db_password" in err.value.problems
    # A version-4 file (before the webmail) leaves both off; the current version saves them.
    old = answers_file.loads('version = 4\nhostname = "mail.example.test"\n')
    assert not old.webmail.enabled and not old.updates.enabled
    a = problems.check(BASE.with_generated_secrets(), check_files=False)
    assert a.webmail.db_password and a.webmail.password_db_password
    again = answers_file.loads(answers_file.dumps(a))
    assert again.webmail == a.webmail and again.updates.enabled
    assert "db_password" not in answers_file.dumps(a, include_secrets=False)


def test_updates_switch_apts_periodic_runs_on_and_off() -> None:
    assert 'APT::Periodic::Unattended-Upgrade "1";' in updates.render_periodic(BASE)
    off = updates.render_periodic(replace(BASE, updates=replace(BASE.updates, enabled=False)))
    assert 'APT::Periodic::Unattended-Upgrade "0";' in off and 'Update-Package-Lists "0"' in off
