"""The fail2ban step: the jail file it renders, the Dovecot filter against real log lines of Dovecot 2.3 and
2.4, and what it does about Debian's stock sshd jail (miniature copies of Debian's files, same structure
as fail2ban 1.0.2 on Debian 12 and 1.1.0 on Debian 13)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from mailtui.model import answers
from mailtui.steps import fail2ban as f2b
from mailtui.steps.order import ENGINE_ORDER, all_steps
from mailtui.steps.packages_list import FAIL2BAN, all_possible_packages
from tests.state import use_state_dir

# Real lines from the test hosts' /var/log/mail.log.
D23_FAILED = ("Nov 26 00:59:41 mail dovecot: imap-login: Info: Disconnected: Aborted login by logging out (auth "
              "failed, 1 attempts in 2 secs): user=<alice@example.test>, method=PLAIN, rip=198.18.20.1, "
              "lip=198.18.20.2, TLS, session=<IO5LdSNhppHGEhQB>")
D24_FAILED = ("Nov 26 00:58:26 mail dovecot: imap-login: Info: Login aborted: Logged out (auth failed, 1 attempts in "
              "2 secs) (auth_failed): user=<alice@example.test>, method=PLAIN, rip=198.18.65.1, lip=198.18.65.2, TLS, "
              "session=<0vXRcCNhALzGEkEB>")
NOT_FAILURES = [
    # The auth process's lines for the same logins (and for Postfix's SASL): counted by the postfix-sasl
    # jail or already by the login line, never twice.
    "Nov 26 00:59:45 mail dovecot: auth: Info: sql(alice@example.test,198.18.20.1,<2CpjdSNhqpHGEhQB>): "
    "Password mismatch",
    "Nov 26 00:58:24 mail dovecot: auth-worker(alice@example.test,198.18.65.1)<4913><0vXRcCNhALzGEkEB>: "
    "request [2]: Info: sql: Password mismatch",
    "Nov 26 00:58:24 mail dovecot: imap-login: Info: Login aborted: Connection closed (no auth attempts in 0 secs) "
    "(no_auth_attempts): user=<>, rip=127.0.0.1, lip=127.0.0.1, TLS: Connection closed, session=<apPMcCNhpud/AAAB>",
    "Nov 26 00:58:24 mail dovecot: imap-login: Info: Logged in: user=<alice@example.test>, method=PLAIN, "
    "rip=127.0.0.1, lip=127.0.0.1, mpid=4914, TLS, session=<saHNcCNhtud/AAAB>",
]
# Debian's dovecot filter's pieces the mailtui filter uses (fail2ban's filter.d/dovecot.conf, common.conf).
BYPASS = r"(?:: (?:\w+\([^\):]*\) \w+|[^\(]+))*"
PREFIX = r"^\w{3} +\d+ [\d:]+ \S+ dovecot: (?:(?:pop3|imap|managesieve|submission)-login: )?(?:Info: )?"


def failregex() -> re.Pattern[str]:
    text = f2b.DOVECOT_FAILREGEX.replace("%(_bypass_reject_reason)s", BYPASS)
    text = text.replace("<HOST>", r"(?P<host>[\d.:a-f]+)")
    text = re.sub(r"</?F-USER>", "", text)
    return re.compile(PREFIX + text.removeprefix("^"))


@pytest.mark.parametrize(("line", "host"), [(D23_FAILED, "198.18.20.1"), (D24_FAILED, "198.18.65.1")])
def test_dovecot_filter_counts_a_failed_login_of_both_dialects_once(line: str, host: str) -> None:
    match = failregex().search(line)
    assert match and match.group("host") == host


@pytest.mark.parametrize("line", NOT_FAILURES)
def test_dovecot_filter_ignores_auth_process_lines_and_successes(line: str) -> None:
    assert failregex().search(line) is None


def test_filter_file_builds_on_debians_filter() -> None:
    text = f2b.DOVECOT_FILTER_TEXT
    assert "before = dovecot.conf" in text and f"failregex = {f2b.DOVECOT_FAILREGEX}\n" in text


def base_answers(**security: object) -> answers.Answers:
    return replace(answers.Answers(hostname="mail.example.test"), security=answers.Security(**security))  # type: ignore[arg-type]


def test_jail_file_holds_the_answers() -> None:
    a = base_answers(max_retry=3, find_time=120, ban_time=900, ignore=("192.0.2.7", "2001:db8::/32"))
    text = f2b.render_jails(a)
    assert text.count("[postfix-sasl]") == 1 and text.count("[dovecot]") == 1 and "[sshd]" not in text
    for line in ("port = 25,465,587,993", "logpath = /var/log/mail.log", "backend = auto", "maxretry = 3",
                 "findtime = 120", "bantime = 900", "ignoreip = 127.0.0.1/8 ::1 192.0.2.7 2001:db8::/32",
                 "banaction = nftables-multiport", "filter = mailtui-dovecot"):
        assert line in text.splitlines(), line
    pop3 = replace(a, services=replace(a.services, pop3=True))
    assert "port = 25,465,587,993,995" in f2b.render_jails(pop3).splitlines()


def test_jail_file_explains_an_sshd_change() -> None:
    text = f2b.render_jails(base_answers(), ("the reason", ["enabled = false"]))
    assert text.endswith("\n# the reason.\n[sshd]\nenabled = false\n")


def debian_files(root: Path, *, release: str, admin: str = "") -> Path:
    """The parts of Debian's /etc/fail2ban that decide the sshd jail."""
    root.mkdir()
    (root / "jail.d").mkdir()
    (root / "jail.conf").write_text(
        "[INCLUDES]\nbefore = paths-debian.conf\n[DEFAULT]\nenabled = false\nbackend = auto\n"
        "[sshd]\nport = ssh\nlogpath = %(sshd_log)s\nbackend = %(sshd_backend)s\n"
        "[dovecot]\nlogpath = %(dovecot_log)s\nbackend = %(dovecot_backend)s\n")
    (root / "paths-common.conf").write_text(
        "[DEFAULT]\ndefault_backend = %(default/backend)s\nsyslog_authpriv = /var/log/auth.log\n"
        "sshd_log = %(syslog_authpriv)s\nsshd_backend = %(default_backend)s\n")
    (root / "paths-fedora.conf").write_text("[DEFAULT]\nsshd_backend = nonsense\n")  # other distributions: unread
    if release == "bookworm":
        (root / "paths-debian.conf").write_text("[INCLUDES]\nbefore = paths-common.conf\n[DEFAULT]\n"
                                                "syslog_mail = /var/log/mail.log\n")
        (root / "jail.d" / "defaults-debian.conf").write_text("[sshd]\nenabled = true\n")
    else:
        (root / "paths-debian.conf").write_text("[DEFAULT]\nsyslog_backend = systemd\nsshd_backend = systemd\n")
        (root / "jail.d" / "defaults-debian.conf").write_text(
            "[DEFAULT]\nbanaction = nftables\n[sshd]\nbackend = systemd\n"
            "journalmatch = _SYSTEMD_UNIT=ssh.service + _COMM=sshd\nenabled = true\n")
    (root / "jail.d" / "mailtui.local").write_text("[sshd]\nenabled = false\n")  # mailtui's own: not read
    if admin:
        (root / "jail.d" / "admin.local").write_text(admin)
    return root


def test_stock_sshd_jail_of_debian_12_and_13(tmp_path: Path) -> None:
    assert f2b.stock_sshd_jail(tmp_path / "nothing") is None
    assert f2b.stock_sshd_jail(debian_files(tmp_path / "12", release="bookworm")) == \
        f2b.SshdJail(True, "auto", "/var/log/auth.log", True)
    assert f2b.stock_sshd_jail(debian_files(tmp_path / "13", release="trixie")) == \
        f2b.SshdJail(True, "systemd", "/var/log/auth.log", True)
    admin = f2b.stock_sshd_jail(debian_files(tmp_path / "a", release="bookworm", admin="[sshd]\nenabled = false\n"))
    assert admin == f2b.SshdJail(False, "auto", "/var/log/auth.log", False)


def test_sshd_jail_is_left_alone_where_it_can_start(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    readable = f2b.SshdJail(True, "auto", str(log), True)
    assert f2b.sshd_override(readable, systemd=False, systemd_backend=False) == ("", [])
    journal = f2b.SshdJail(True, "systemd", str(tmp_path / "missing.log"), True)
    assert f2b.sshd_override(journal, systemd=False, systemd_backend=True) == ("", [])  # Debian 13 here
    assert f2b.sshd_override(None, systemd=False, systemd_backend=False) == ("", [])
    assert f2b.sshd_override(f2b.SshdJail(False, "auto", "/nonexistent", True), systemd=False,
                             systemd_backend=False) == ("", [])


def test_sshd_jail_without_a_readable_log_is_fixed_only_when_stock(tmp_path: Path) -> None:
    missing = str(tmp_path / "auth.log")
    why, settings = f2b.sshd_override(f2b.SshdJail(True, "auto", missing, True), systemd=False, systemd_backend=False)
    assert settings == ["enabled = false"] and "refuse to start" in why and missing in why  # Debian 12 here
    why, settings = f2b.sshd_override(f2b.SshdJail(True, "auto", missing, True), systemd=True, systemd_backend=True)
    assert settings == ["backend = systemd"] and "journal" in why  # Debian 12 with systemd, no rsyslog
    why, settings = f2b.sshd_override(f2b.SshdJail(True, "systemd", missing, True), systemd=True,
                                      systemd_backend=False)
    assert settings == ["enabled = false"]
    # The administrator's own sshd jail is never changed, even when it cannot start.
    assert f2b.sshd_override(f2b.SshdJail(True, "auto", missing, False), systemd=False,
                             systemd_backend=False) == ("", [])


def test_step_order_and_packages() -> None:
    assert [s.name for s in all_steps()] == list(ENGINE_ORDER)
    assert ENGINE_ORDER.index("fail2ban") == ENGINE_ORDER.index("firewall") + 1
    assert set(FAIL2BAN) <= set(all_possible_packages())
    assert "nftables" in FAIL2BAN


def test_step_runs_when_on_or_when_fail2ban_is_there_to_clean_up(monkeypatch: pytest.MonkeyPatch,
                                                                   debian12: object) -> None:
    from mailtui.steps.base import Context
    from mailtui.system.platform import Platform

    step = f2b.Fail2banStep()
    platform = Platform.detect()
    monkeypatch.setattr(f2b, "which", lambda name: None)
    assert step.enabled(Context(base_answers(), platform))
    assert not step.enabled(Context(base_answers(fail2ban=False), platform))
    # Switched off where fail2ban is installed: the step runs, to remove mailtui's files and jails.
    monkeypatch.setattr(f2b, "which", lambda name: f"/usr/bin/{name}")
    assert step.enabled(Context(base_answers(fail2ban=False), platform))


def test_switched_off_the_step_removes_its_files_and_reloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           debian12: object) -> None:
    from mailtui.steps.base import Context
    from mailtui.steps.resources import AbsentFileResource
    from mailtui.system import backups
    from mailtui.system.platform import Platform

    use_state_dir(monkeypatch, tmp_path / "state")
    jail, filt = tmp_path / "jail.d" / "mailtui.local", tmp_path / "filter.d" / "mailtui-dovecot.conf"
    monkeypatch.setattr(f2b, "JAIL_FILE", jail)
    monkeypatch.setattr(f2b, "DOVECOT_FILTER", filt)
    running = {"yes": True}
    monkeypatch.setattr(f2b.services, "is_running", lambda name: running["yes"])
    monkeypatch.setattr(f2b, "stale_jails", lambda: [])
    ctx = Context(base_answers(fail2ban=False), Platform.detect())
    step = f2b.Fail2banStep()
    resources = step.resources(ctx)
    assert [type(r) for r in resources] == [AbsentFileResource, AbsentFileResource]
    assert [r.target for r in resources] == [str(jail), str(filt)]  # the jail file (naming the filter) first
    assert step.plan(ctx) == []  # nothing of mailtui's there: nothing to do
    jail.parent.mkdir()
    jail.write_text("[dovecot]\nenabled = true\n")
    changes = step.plan(ctx)
    assert [(c.kind, c.target) for c in changes] == [("file", str(jail)), ("service", "fail2ban")]
    assert "fail2ban = false" in changes[0].summary and "-enabled = true" in changes[0].diff
    assert "reload fail2ban" in changes[1].summary
    running["yes"] = False
    assert [c.kind for c in step.plan(ctx)] == ["file"]  # not running: nothing to reload
    resources[0].apply(ctx, ctx.out("fail2ban"))
    assert not jail.exists() and step.plan(ctx) == []
    # Recorded before the removal (here the file was not mailtui's): rollback can put it back.
    assert backups.load_index()["paths"][str(jail)]["was"] == "file"
    assert backups.original_copy(jail).read_text() == "[dovecot]\nenabled = true\n"


def test_enabled_on_disk_ignores_mailtuis_own_file(tmp_path: Path) -> None:
    root = debian_files(tmp_path / "12", release="bookworm")
    (root / "jail.d" / "mailtui.local").write_text("[dovecot]\nenabled = true\n")
    assert not f2b.enabled_on_disk("dovecot", root)  # only mailtui's file switches it on
    assert f2b.enabled_on_disk("sshd", root)  # Debian's defaults-debian.conf
    (root / "jail.d" / "admin.local").write_text("[dovecot]\nenabled = true\n")
    assert f2b.enabled_on_disk("dovecot", root)
    assert not f2b.enabled_on_disk("postfix-sasl", root)  # no such section at all
