"""Rendering Dovecot's configuration for both dialects (pure: no Dovecot needed)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mailtui import paths
from mailtui.errors import ValidationError
from mailtui.model.answers import Answers, Database, Domain, Services, Spam, Tls, Webmail
from mailtui.policy import tls
from mailtui.steps import dovecot
from mailtui.steps.dovecot import DovecotFiles, DovecotSettings, DovecotStep, render, render_23, render_24
from mailtui.steps.resources import DirectoryResource, FileResource, SystemUserResource
from tests.state import use_state_dir

PASSWORD = "Zq7xK2mP9wL4vN8rT3yB"
DIALECTS = ("2.3", "2.4")


def answers(**kw: Any) -> Answers:
    base = Answers(
        hostname="mail.example.org",
        database=Database(password=PASSWORD, admin_password="Adm1nPassw0rdXYZ12"),
        domains=[Domain("example.org")],
        webmail=Webmail(enabled=False),  # its ManageSieve: test_user_sieve_*
    )
    return replace(base, **kw)


def settings(dialect: str = "2.3", *, pop3: bool = False, debug: bool = False, log_to_file: bool = False,
             dh: str | None = "default", **kw: Any) -> DovecotSettings:
    if dh == "default":
        dh = paths.DOVECOT_SHIPPED_DH if dialect == "2.3" else None
    a = answers(services=Services(pop3=pop3), **kw)
    return DovecotSettings.from_answers(a, dialect=dialect,  # type: ignore[arg-type]
                                        dh_file=dh, log_to_file=log_to_file, debug=debug)


def settings_lines(text: str) -> list[str]:
    """The non-comment, non-blank lines, stripped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def has(text: str, line: str) -> bool:
    return line in settings_lines(text)


def block(text: str, header: str) -> str:
    """The body of the first `header {` block (nested blocks included)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == header + " {")
    depth, body = 0, []
    for ln in lines[start:]:
        depth += ln.count("{") - ln.count("}")
        body.append(ln)
        if depth == 0:
            break
    return "\n".join(body)


# ---------------------------------------------------------------- both dialects


@pytest.mark.parametrize("dialect", DIALECTS)
def test_render_dispatches_on_dialect(dialect: str) -> None:
    s = settings(dialect)
    expected = render_24(s) if dialect == "2.4" else render_23(s)
    assert render(s) == expected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_password_only_in_sql_file(dialect: str) -> None:
    files = render(settings(dialect, debug=True, log_to_file=True))
    assert PASSWORD in files.sql
    assert PASSWORD not in files.main
    assert "Adm1nPassw0rdXYZ12" not in files.main + files.sql  # the management account is not Dovecot's
    assert PASSWORD not in repr(settings(dialect))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_imaps_only(dialect: str) -> None:
    main = render(settings(dialect)).main
    imap = block(main, "service imap-login")
    assert re.search(r"inet_listener imap \{\s*port = 0\s*\}", imap)
    assert re.search(r"inet_listener imaps \{\s*port = 993\s*ssl = yes\s*\}", imap)
    assert has(main, "protocols = imap lmtp")
    assert "pop3" not in main and "995" not in main
    assert has(main, "ssl = required")
    assert has(main, "ssl_min_protocol = TLSv1.2")
    assert has(main, "ssl_cipher_list = " + ":".join(tls.STRONG_CIPHERS))
    assert has(main, "auth_mechanisms = plain login")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_pop3_adds_pop3s_only(dialect: str) -> None:
    main = render(settings(dialect, pop3=True)).main
    assert has(main, "protocols = imap lmtp pop3")
    pop3 = block(main, "service pop3-login")
    assert re.search(r"inet_listener pop3 \{\s*port = 0\s*\}", pop3)
    assert re.search(r"inet_listener pop3s \{\s*port = 995\s*ssl = yes\s*\}", pop3)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_postfix_sockets_and_vmail(dialect: str) -> None:
    main = render(settings(dialect)).main
    lmtp = block(main, "service lmtp")
    assert "unix_listener /var/spool/postfix/private/dovecot-lmtp {" in lmtp
    assert all(x in lmtp for x in ("mode = 0600", "user = postfix", "group = postfix"))
    auth = block(main, "service auth")
    assert "unix_listener /var/spool/postfix/private/auth {" in auth
    assert all(x in auth for x in ("mode = 0660", "user = postfix", "group = postfix"))
    assert re.search(r"unix_listener auth-userdb \{\s*mode = 0600\s*user = vmail\s*\}", auth)
    assert re.search(r"service auth-worker \{\s*user = vmail\s*\}", main)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_mailboxes_auto_created_with_special_use(dialect: str) -> None:
    ns = block(render(settings(dialect)).main, "namespace inbox")
    assert "inbox = yes" in ns
    for name in ("Drafts", "Sent", "Trash", "Junk"):
        assert re.search(rf"mailbox {name} \{{\s*auto = subscribe\s*special_use = \\{name}\s*\}}", ns), name


@pytest.mark.parametrize("dialect", DIALECTS)
def test_certificate_and_auth_cache(dialect: str) -> None:
    s = settings(dialect, tls=Tls("files", "/etc/letsencrypt/live/x/fullchain.pem",
                                  "/etc/letsencrypt/live/x/privkey.pem"))
    main = render(s).main
    assert "/etc/letsencrypt/live/x/fullchain.pem" in main
    assert "/etc/letsencrypt/live/x/privkey.pem" in main
    assert has(main, "auth_cache_size = 10M")
    assert has(main, "auth_cache_ttl = 1 hour")
    assert has(main, "auth_verbose = yes")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_self_signed_paths_by_default(dialect: str) -> None:
    main = render(settings(dialect)).main
    assert paths.SELF_SIGNED_CERT in main and paths.SELF_SIGNED_KEY in main


@pytest.mark.parametrize("dialect", DIALECTS)
def test_debug_never_logs_passwords(dialect: str) -> None:
    quiet = render(settings(dialect)).main
    loud = render(settings(dialect, debug=True)).main
    assert not has(quiet, "auth_debug = yes") and not has(quiet, "mail_debug = yes")
    assert has(loud, "auth_debug = yes") and has(loud, "mail_debug = yes")
    for text in (quiet, loud):
        assert "auth_debug_passwords" not in text
        assert "auth_verbose_passwords" not in text


@pytest.mark.parametrize("dialect", DIALECTS)
def test_log_to_file(dialect: str) -> None:
    syslog = render(settings(dialect)).main
    assert "log_path" not in " ".join(settings_lines(syslog))
    own = render(settings(dialect, log_to_file=True)).main
    assert has(own, f"log_path = {paths.MAIL_LOG}")
    assert has(own, f"info_log_path = {paths.MAIL_LOG}")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_managed_header_and_local_conf_last(dialect: str) -> None:
    main = render(settings(dialect)).main
    head = "\n".join(main.splitlines()[:12])
    assert "Managed by mailtui" in head and "local.conf" in head
    assert settings_lines(main)[-1] == "!include_try local.conf"
    assert "conf.d" not in " ".join(settings_lines(main))  # Debian's drop-ins are not included


@pytest.mark.parametrize("dialect", DIALECTS)
def test_keeps_domain_for_lmtp(dialect: str) -> None:
    lmtp = block(render(settings(dialect)).main, "protocol lmtp")
    want = "%Lu" if dialect == "2.3" else "%{user | lower}"
    assert f"auth_username_format = {want}" in lmtp


@pytest.mark.parametrize("dialect", DIALECTS)
def test_postmaster_address(dialect: str) -> None:
    line = next(ln for ln in settings_lines(render(settings(dialect)).main) if ln.startswith("postmaster_address"))
    assert "postmaster@" in line and "mail.example.org" in line


@pytest.mark.parametrize("dialect", DIALECTS)
def test_remote_database_host_and_local_as_tcp(dialect: str) -> None:
    local = render(settings(dialect, database=Database(host="localhost", password=PASSWORD))).sql
    assert "127.0.0.1" in local and "localhost" not in settings_lines(local)[0]
    remote = render(settings(dialect, database=Database(host="db.example.net", port=3307,
                                                        password=PASSWORD))).sql
    assert "db.example.net" in remote and "3307" in remote


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("field,value", [("hostname", "mail example.org"), ("db_password", "pass#word1234"),
                                         ("db_password", ""), ("cert_file", "/etc/my cert.pem")])
def test_values_that_would_break_the_syntax_are_refused(dialect: str, field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        render(replace(settings(dialect), **{field: value}))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rendering_is_deterministic_and_tidy(dialect: str) -> None:
    s = settings(dialect, pop3=True, debug=True, log_to_file=True)
    files = render(s)
    assert files == render(s)
    for text in (files.main, files.sql):
        # every template placeholder was filled (2.3's $mail_plugins is Dovecot's own variable)
        assert "$" not in text.replace("$mail_plugins", "")
        assert "\n\n\n" not in text and text.endswith("\n") and not text.endswith("\n\n")
        assert text.count("{") == text.count("}")


# ---------------------------------------------------------------- Dovecot 2.3


def test_23_syntax() -> None:
    s = settings("2.3")
    files = render_23(s)
    main = files.main
    assert has(main, f"ssl_cert = <{paths.SELF_SIGNED_CERT}")
    assert has(main, f"ssl_key = <{paths.SELF_SIGNED_KEY}")
    assert has(main, f"ssl_dh = <{paths.DOVECOT_SHIPPED_DH}")
    assert has(main, "disable_plaintext_auth = yes")
    assert has(main, "mail_location = maildir:/var/mail/vhosts/%d/%n")
    assert re.search(r"passdb \{\s*driver = sql\s*args = /etc/dovecot/mailtui-sql.conf.ext\s*\}", main)
    assert re.search(r"userdb \{\s*driver = static\s*args = uid=vmail gid=vmail "
                     r"home=/var/mail/vhosts/%d/%n\s*\}", main)
    for newer in ("dovecot_config_version", "mail_driver", "ssl_server_", "auth_allow_cleartext", "%{user"):
        assert newer not in main


def test_23_sql_file() -> None:
    sql = settings_lines(render_23(settings("2.3")).sql)
    assert sql == [
        "driver = mysql",
        f"connect = host=127.0.0.1 port=3306 dbname=mailserver user=mailuser password={PASSWORD}",
        "default_pass_scheme = SHA512-CRYPT",
        "password_query = SELECT email AS user, password FROM virtual_users WHERE email='%u'",
    ]


def test_23_debug_and_generated_dh() -> None:
    main = render_23(settings("2.3", debug=True, dh=paths.GENERATED_DH)).main
    assert has(main, "verbose_ssl = yes")
    assert has(main, f"ssl_dh = <{paths.GENERATED_DH}")


# ---------------------------------------------------------------- Dovecot 2.4


def test_24_config_version_is_the_first_setting() -> None:
    lines = settings_lines(render_24(settings("2.4")).main)
    assert lines[0] == f"dovecot_config_version = {dovecot.CONFIG_VERSION_24}"
    assert lines[1] == f"dovecot_storage_version = {dovecot.STORAGE_VERSION_24}"


def test_24_syntax() -> None:
    main = render_24(settings("2.4")).main
    assert has(main, f"ssl_server_cert_file = {paths.SELF_SIGNED_CERT}")
    assert has(main, f"ssl_server_key_file = {paths.SELF_SIGNED_KEY}")
    assert has(main, "auth_allow_cleartext = no")
    assert has(main, "sql_driver = mysql")
    assert has(main, "!include mailtui-sql.conf.ext")  # relative: found next to dovecot.conf
    assert has(main, "mail_driver = maildir")
    assert has(main, "mail_path = /var/mail/vhosts/%{user | domain}/%{user | username}")
    passdb = block(main, "passdb sql")
    assert "default_password_scheme = SHA512-CRYPT" in passdb
    assert "query = SELECT email AS user, password FROM virtual_users WHERE email = '%{user}'" in passdb
    userdb = block(main, "userdb static")
    assert re.search(r"fields \{\s*uid = vmail\s*gid = vmail\s*"
                     r"home = /var/mail/vhosts/%\{user \| domain\}/%\{user \| username\}\s*\}", userdb)
    for older in ("ssl_cert", "ssl_key =", "ssl_dh", "disable_plaintext_auth", "mail_location",
                  "default_pass_scheme", "verbose_ssl", "driver = sql", "args ="):
        assert older not in " ".join(settings_lines(main)), older
    assert not re.search(r"%[a-zA-Z]", main)  # 2.3's %u/%d/%n are errors in 2.4


def test_24_sql_file_holds_only_the_connection() -> None:
    sql = settings_lines(render_24(settings("2.4")).sql)
    assert sql == ["mysql 127.0.0.1 {", "port = 3306", "dbname = mailserver", "user = mailuser",
                   f"password = {PASSWORD}", "}"]


def test_24_debug_uses_log_categories() -> None:
    main = render_24(settings("2.4", debug=True)).main
    assert has(main, "log_debug = category=ssl")
    assert "verbose_ssl" not in main


def test_24_optional_dh() -> None:
    assert "dh_file" not in render_24(settings("2.4")).main
    assert has(render_24(settings("2.4", dh="/usr/share/dovecot/dh.pem")).main,
               "ssl_server_dh_file = /usr/share/dovecot/dh.pem")


# ---------------------------------------------------------------- the step's declaration


def fake_ctx(dialect: str, **kw: Any) -> Any:
    return SimpleNamespace(answers=answers(**kw), platform=SimpleNamespace(dovecot_dialect=lambda: dialect),
                           facts={})


@pytest.mark.parametrize("dialect", DIALECTS)
def test_step_resources(dialect: str) -> None:
    step = DovecotStep(log_to_file=True, debug=False)
    res = list(step.resources(fake_ctx(dialect)))
    users = [r for r in res if isinstance(r, SystemUserResource)]
    assert [(u.name, u.uid, u.home) for u in users] == [("vmail", 5000, "/var/mail")]
    dirs = {r.path: r for r in res if isinstance(r, DirectoryResource)}
    assert (dirs["/var/mail/vhosts"].owner, dirs["/var/mail/vhosts"].group) == ("vmail", "vmail")
    assert dirs["/var/spool/postfix/private"].owner == "postfix"
    assert dirs["/var/spool/postfix/private"].mode == 0o700
    files = {r.path: r for r in res if isinstance(r, FileResource)}
    sql = files["/etc/dovecot/mailtui-sql.conf.ext"]
    assert (sql.owner, sql.group, sql.mode, sql.secret) == ("root", "root", 0o600, True)
    main = files["/etc/dovecot/dovecot.conf"]
    assert (main.owner, main.mode, main.secret) == ("root", 0o644, False)
    assert PASSWORD in sql.content and PASSWORD not in main.content
    # Users and directories come before the files; the SQL file before the file that names it.
    order = [getattr(r, "path", getattr(r, "name", "")) for r in res]
    assert order.index("/etc/dovecot/mailtui-sql.conf.ext") < order.index("/etc/dovecot/dovecot.conf")
    assert order.index("vmail") < order.index("/var/mail/vhosts")


def test_step_checks_before_writing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A configuration doveconf rejects is never written (check runs before FileResource.apply)."""
    from mailtui.errors import StepFailed

    use_state_dir(monkeypatch, tmp_path / "state")  # the debug switch is read from mailtui's state
    written: list[str] = []
    monkeypatch.setattr(dovecot, "check_files", lambda files, conf_dir: "line 3: Unknown setting: x")
    monkeypatch.setattr(FileResource, "apply", lambda self, ctx, out: written.append(self.path))
    res = DovecotStep(log_to_file=False).resources(fake_ctx("2.4"))
    sql = next(r for r in res if isinstance(r, FileResource))
    with pytest.raises(StepFailed, match="Unknown setting"):
        sql.apply(None, None)  # type: ignore[arg-type]
    assert written == []


def test_step_checks_once_per_rendering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_state_dir(monkeypatch, tmp_path / "state")
    calls: list[DovecotFiles] = []
    monkeypatch.setattr(dovecot, "check_files", lambda files, conf_dir: calls.append(files))
    monkeypatch.setattr(FileResource, "apply", lambda self, ctx, out: None)
    for r in DovecotStep(log_to_file=False).resources(fake_ctx("2.3")):
        if isinstance(r, FileResource):
            r.apply(None, None)  # type: ignore[arg-type]
    assert len(calls) == 1


def test_doveconf_message_names_the_real_path() -> None:
    out = ("# 2.4.1-4 (7d8c0e5759): /tmp/mailtui-dovecot-x/dovecot.conf\n"
           "doveconf: Fatal: Error in configuration file /tmp/mailtui-dovecot-x/dovecot.conf line 20: "
           "ssl_server_cert_file: open(/nope.pem) failed: No such file or directory\n")
    msg = dovecot._doveconf_message(out, "/tmp/mailtui-dovecot-x", "/etc/dovecot")
    assert msg.startswith("doveconf: Fatal: Error in configuration file /etc/dovecot/dovecot.conf line 20")
    assert "#" not in msg


def test_lmtp_accepts_as_many_deliveries_per_user_as_postfix_makes() -> None:
    """Dovecot 2.4's default of 10 per user deferred bursts from Postfix's 20 parallel deliveries."""
    for dialect in ("2.3", "2.4"):
        assert has(render(settings(dialect)).main, "lmtp_user_concurrency_limit = 20")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("spam_on", [False, True])
def test_user_sieve_with_the_webmail_listens_on_loopback_only_and_runs_at_delivery(dialect: str,
                                                                                    spam_on: bool) -> None:
    main = render(settings(dialect, webmail=Webmail(enabled=True), spam=Spam(enabled=spam_on))).main
    assert has(main, "protocols = imap lmtp sieve")
    listener = block(main, "service managesieve-login")
    address = "address" if dialect == "2.3" else "listen"
    assert re.search(rf"inet_listener sieve \{{\s*{address} = 127\.0\.0\.1\s*port = 4190\s*\}}", listener)
    lmtp = block(main, "protocol lmtp")
    if dialect == "2.3":
        assert has(main, "sieve = file:~/sieve;active=~/dovecot.sieve")
        assert "mail_plugins = $mail_plugins sieve" in lmtp
    else:
        personal = block(main, "sieve_script personal")
        assert "path = ~/sieve" in personal and "active_path = ~/dovecot.sieve" in personal
        assert re.search(r"mail_plugins \{\s*sieve = yes\s*\}", lmtp)
    # The spam filter's script still runs before the user's (and only with the filter on).
    assert ("mailtui-junk.sieve" in main) is spam_on


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_sieve_at_all_without_the_webmail_and_the_spam_filter(dialect: str) -> None:
    main = render(settings(dialect, spam=Spam(enabled=False))).main
    assert "sieve" not in main.replace("dovecot.sieve", "")  # not even the protocol
