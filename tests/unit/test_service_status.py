"""mailtui.service_status: ports from a fake /proc, status, control and configuration problems."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.errors import MailtuiError, ValidationError
from mailtui.install import state as install_state
from mailtui.ops import services as ss
from mailtui.system.commands import Result

TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
              "inode\n")


def tcp_line(n: int, addr: str, port: int, state: str, inode: int) -> str:
    return (f"   {n}: {addr}:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000     0"
            f"        0 {inode} 1 0000000000000000 100 0 0 10 0\n")


def fake_proc(tmp_path: Path) -> Path:
    """A /proc with: Postfix master 100 (listens on 25, 587, 465; child smtpd 101 holds a copy of 25's
    socket), Dovecot 200 -> imap-login 201 (993, IPv6), MariaDB 300 (127.0.0.1:3306), and an unrelated
    sshd 400 (22). Socket 9999 is an established connection, not a listener."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net" / "tcp").write_text(TCP_HEADER
                                      + tcp_line(0, "00000000", 25, "0A", 1025)
                                      + tcp_line(1, "00000000", 587, "0A", 1587)
                                      + tcp_line(2, "00000000", 465, "0A", 1465)
                                      + tcp_line(3, "0100007F", 3306, "0A", 3306)
                                      + tcp_line(4, "00000000", 22, "0A", 2222)
                                      + tcp_line(5, "0100007F", 40000, "01", 9999))
    (proc / "net" / "tcp6").write_text(TCP_HEADER + tcp_line(0, "0" * 32, 993, "0A", 1993))
    procs = {
        100: (1, "master", [1025, 1587, 1465]),
        101: (100, "smtpd", [1025, 9999]),
        200: (1, "dovecot", []),
        201: (200, "imap-login", [1993]),
        300: (1, "mariadbd", [3306]),
        400: (1, "sshd", [2222]),
    }
    for pid, (ppid, comm, inodes) in procs.items():
        d = proc / str(pid)
        (d / "fd").mkdir(parents=True)
        (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 "
                                "500 0 0\n")
        os.symlink("/dev/null", d / "fd" / "0")
        for i, inode in enumerate(inodes, start=3):
            os.symlink(f"socket:[{inode}]", d / "fd" / str(i))
        os.symlink("pipe:[77]", d / "fd" / "99")
    return proc


@pytest.fixture(autouse=True)
def no_fail2ban(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whether fail2ban is installed is the machine's business: here it is not (a test says otherwise)."""
    monkeypatch.setattr(ss, "which", lambda name: None)


def test_listening_sockets_ipv4_and_ipv6(tmp_path: Path) -> None:
    assert ss.listening_sockets(fake_proc(tmp_path)) == {1025: 25, 1587: 587, 1465: 465, 3306: 3306,
                                                         2222: 22, 1993: 993}


def test_process_tree(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    assert ss.process_tree(100, proc) == {100, 101}
    assert ss.process_tree(200, proc) == {200, 201}
    assert ss.process_tree(12345, proc) == {12345}


def test_ports_of_each_service_tree(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path)
    assert ss.listening_ports_of(100, proc) == [25, 465, 587]
    assert ss.listening_ports_of(200, proc) == [993]  # held by a child (imap-login), over IPv6
    assert ss.listening_ports_of(300, proc) == [3306]  # bound to 127.0.0.1 only
    assert ss.listening_ports_of(12345, proc) == []  # gone: no fd directory


def test_missing_tables_mean_no_ports(tmp_path: Path) -> None:
    assert ss.listening_sockets(tmp_path) == {}


def test_statuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = fake_proc(tmp_path)
    pids = {"postfix": 100, "dovecot": 200, "mariadb": None}
    monkeypatch.setattr(ss.services, "main_pid", lambda name: pids[name])
    monkeypatch.setattr(ss.services, "uptime_seconds", lambda name: 42.0)
    postfix, dovecot, mariadb = ss.statuses(proc)
    assert postfix == ss.ServiceStatus("postfix", "Postfix", True, 100, 42.0, [25, 465, 587])
    assert dovecot.ports == [993] and dovecot.label == "Dovecot"
    assert mariadb == ss.ServiceStatus("mariadb", "MariaDB", False, None, None, [])
    assert postfix.to_json()["ports"] == [25, 465, 587]


def test_control_refuses_unknown_services_and_verbs(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    monkeypatch.setattr(ss.safe_services, "start", lambda name: called.append(name))
    with pytest.raises(ValidationError):
        ss.control("sshd", "start")
    with pytest.raises(ValidationError):
        ss.control("postfix", "kill")
    with pytest.raises(ValidationError):
        ss.control("postfix; reboot", "start")
    assert called == []


def test_control_returns_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ss.services, "is_running", lambda name: False)
    restarted = Result(["service", "dovecot", "restart"], 0, "Restarting\n")
    waits: list[float] = []
    monkeypatch.setattr(ss.safe_services, "restart", lambda name, drain_wait: waits.append(drain_wait) or restarted)
    assert ss.control("dovecot", "restart") == "Restarting\n"
    assert ss.control("dovecot", "restart", max_wait=4) == "Restarting\n"
    assert waits == [ss.lmtp_quiesce.WAIT_SECONDS, 4]  # the default 30 s, or the operator's
    with pytest.raises(MailtuiError, match="not running"):
        ss.control("postfix", "reload")


def test_dovecot_back_up_makes_postfix_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle smtpd processes hold a dead auth connection after Dovecot restarts: postfix reload."""
    calls: list[tuple[str, str]] = []

    def fake(verb: str):  # type: ignore[no-untyped-def]
        return lambda name, **_wait: calls.append((verb, name)) or Result(["service", name, verb], 0, "")

    monkeypatch.setattr(ss.services, "is_running", lambda name: True)
    for verb in ("start", "stop", "restart", "reload"):
        monkeypatch.setattr(ss.safe_services, verb, fake(verb))
    for verb in ("start", "stop", "restart", "reload"):
        calls.clear()
        out = ss.control("dovecot", verb)
        if verb == "stop":
            assert calls == [("stop", "dovecot")]
        else:
            assert calls == [(verb, "dovecot"), ("reload", "postfix")] and "postfix reload" in out
    calls.clear()
    ss.control("postfix", "restart")
    assert calls == [("restart", "postfix")]


def test_config_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {
        "postfix": Result(["postfix", "check"], 0,
                          "postfix/postfix-script: warning: symlink leaves directory: /etc/postfix/./makedefs.out\n"),
        "doveconf": Result(["doveconf", "-n"], 0, "# 2.3.19.1: /etc/dovecot/dovecot.conf\nprotocols = imap lmtp\n"
                           "doveconf: Warning: please set ssl_dh=</etc/dovecot/dh.pem\n"),
    }
    from mailtui.stack import lmtp_quiesce

    monkeypatch.setattr(ss, "which", lambda name: f"/usr/sbin/{name}")
    monkeypatch.setattr(ss, "run", lambda argv, **kw: outputs[argv[0]])
    monkeypatch.setattr(lmtp_quiesce, "problems", lambda: [])
    assert ss.config_problems() == [
        "postfix check: warning: symlink leaves directory: /etc/postfix/./makedefs.out",
        "doveconf -n: Warning: please set ssl_dh=</etc/dovecot/dh.pem",
    ]
    outputs["postfix"] = Result(["postfix", "check"], 0, "")
    outputs["doveconf"] = Result(["doveconf", "-n"], 89, "doveconf: Fatal: Error in configuration file "
                                 "/etc/dovecot/dovecot.conf line 3: Unknown setting: bogus\n")
    assert ss.config_problems() == ["doveconf -n: Fatal: Error in configuration file /etc/dovecot/dovecot.conf "
                                    "line 3: Unknown setting: bogus"]
    monkeypatch.setattr(ss, "which", lambda name: None)
    assert len(ss.config_problems()) == 2


def test_debug_flag_is_read_by_the_dovecot_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.steps import dovecot

    flag = tmp_path / "debug"
    monkeypatch.setattr(paths, "DEBUG_FLAG", flag)
    assert not ss.dovecot_debug_enabled()
    flag.write_text("on\n")
    assert ss.dovecot_debug_enabled() and dovecot.DovecotStep().debug is None
    flag.write_text("off\n")
    assert not ss.dovecot_debug_enabled()


def test_debug_switch_needs_an_installed_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pass

    monkeypatch.setattr(paths, "DEBUG_FLAG", tmp_path / "debug")
    monkeypatch.setattr(install_state, "load_saved_answers", lambda: None)
    with pytest.raises(MailtuiError, match="not installed"):
        ss.set_dovecot_debug(True)
    assert not (tmp_path / "debug").exists()


@pytest.mark.parametrize("dialect", ["2.3", "2.4"])
def test_the_stored_switch_is_what_an_install_renders(dialect: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A later `mailtui install` (DovecotStep() without an explicit debug) keeps the switch."""
    from mailtui.steps import dovecot
    from tests.unit.test_dovecot_render import fake_ctx

    flag = tmp_path / "debug"
    monkeypatch.setattr(paths, "DEBUG_FLAG", flag)

    def main_conf(step: dovecot.DovecotStep) -> str:
        return dovecot.render(step.settings(fake_ctx(dialect))).main

    assert "auth_debug = yes" not in main_conf(dovecot.DovecotStep(log_to_file=True))
    flag.write_text("on\n")
    loud = main_conf(dovecot.DovecotStep(log_to_file=True))
    assert "auth_debug = yes" in loud and "mail_debug = yes" in loud and "_passwords" not in loud
    assert "auth_debug = yes" not in main_conf(dovecot.DovecotStep(log_to_file=True, debug=False))
