"""Preflight: what the welcome screen shows, read from the machine without changing it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.install import preflight
from mailtui.install import state as install_state
from mailtui.install.preflight import PortStatus, Preflight
from mailtui.model import defaults
from mailtui.model import problems as problems_mod
from mailtui.model.answers import Answers, Database, Domain, User

TCP_HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
              "inode\n")


def tcp_line(n: int, port: int, state: str, inode: int) -> str:
    return (f"   {n}: 00000000:{port:04X} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000"
            f"     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n")


def fake_proc(tmp_path: Path) -> Path:
    """A /proc with master (Postfix) listening on 25 over IPv4 and IPv6, dovecot on 993, an
    established connection on 587 (not listening) and an unreadable process."""
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/tcp").write_text(TCP_HEADER + tcp_line(0, 25, "0A", 1001) + tcp_line(1, 993, "0A", 1002)
                                  + tcp_line(2, 587, "01", 1003))
    (proc / "net/tcp6").write_text(TCP_HEADER + tcp_line(0, 25, "0A", 1004))
    for pid, comm, inodes in ((100, "master", [1001, 1004]), (200, "dovecot", [1002]), (300, "sshd", [])):
        fd = proc / str(pid) / "fd"
        fd.mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        os.symlink("/dev/null", fd / "0")
        for i, inode in enumerate(inodes, start=3):
            os.symlink(f"socket:[{inode}]", fd / str(i))
    (proc / "400").mkdir()  # a process whose fd directory we may not read (here: missing)
    return proc


def test_ports_name_the_listening_process(tmp_path: Path) -> None:
    ports = preflight.port_statuses(proc=fake_proc(tmp_path))
    by_port = {p.port: p for p in ports}
    assert [p.port for p in ports] == [25, 587, 465, 993, 143, 110]
    assert by_port[25] == PortStatus(25, "SMTP", True, "master")
    assert by_port[993] == PortStatus(993, "IMAPS", True, "dovecot")
    assert by_port[587] == PortStatus(587, "submission", False, "")
    assert not by_port[143].in_use and by_port[143].label == "IMAP without TLS"


@pytest.mark.parametrize(("machine", "expected"), [
    ("mx1.mail.example.org", "mx1.mail.example.org"),
    ("MAIL.Example.ORG", "mail.example.org"),
    ("mail.example.org", "mail.example.org"),
    ("example.org", "mail.example.org"),  # only 2 labels: the domain itself is not a mail hostname
    ("vm", "mail.example.org"),
    ("localhost", "mail.example.org"),
    ("host.localdomain", "mail.example.org"),
    ("box.localhost.localdomain", "mail.example.org"),
    ("bad_name.example.org", "mail.example.org"),
])
def test_suggested_hostname(machine: str, expected: str) -> None:
    assert defaults.suggested_hostname(machine) == expected


def make(**kw: object) -> Preflight:
    values: dict[str, object] = dict(
        is_root=True, os_pretty="Debian GNU/Linux 12 (bookworm)", supported=True, systemd=False,
        postfix_version=None, dovecot_version=None, mariadb_version=None, hostname="mail.shop.example",
        mailname=None, ports=[], ufw_installed=False, ufw_active=False, mail_log=None, earlier_install=False,
        install_state="idle", tutorial_database=False, problems=[],
    )
    values.update(kw)
    return Preflight(**values)  # type: ignore[arg-type]


def test_suggested_answers_from_the_machine() -> None:
    a = make(hostname="mail.shop.example").suggested_answers()
    assert a.hostname == "mail.shop.example" and a.domain_names == ["shop.example"]
    assert len(a.database.password) >= 16 and len(a.database.admin_password) >= 16
    assert a.database.password != a.database.admin_password
    # The first mailbox and postmaster@ come from model/defaults.py (the one place that builds them); the
    # mailbox's password is the operator's to give.
    assert [u.email for u in a.users] == ["admin@shop.example"] and a.profile == "production"
    assert [(x.source, x.destination) for x in a.aliases] == [("postmaster@shop.example", "admin@shop.example")]
    assert set(problems_mod.problems(a)) == {"users[0].password"}
    fallback = make(hostname="vm").suggested_answers()
    assert fallback.hostname == "mail.example.org" and fallback.domain_names == ["example.org"]


def test_suggested_answers_start_from_an_earlier_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved_file = tmp_path / "answers.toml"
    monkeypatch.setattr(paths, "ANSWERS_FILE", saved_file)
    saved = Answers(hostname="mx.saved.example", domains=[Domain("saved.example"), Domain("two.example")],
                    users=[User("a@saved.example", "a-long-Password-1")],
                    database=Database(password="kept-db-password-1", admin_password="kept-admin-password-1"))
    install_state.save_answers(saved, saved_file)
    a = make(hostname="mail.shop.example", earlier_install=True).suggested_answers()
    assert a.hostname == "mx.saved.example" and a.domain_names == ["saved.example", "two.example"]
    assert a.database.password == "kept-db-password-1" and a.database.admin_password == "kept-admin-password-1"
    assert [u.email for u in a.users] == ["a@saved.example"] and "$6$" in a.users[0].password_hash
    assert a.users[0].password == ""
    # An unreadable saved file falls back to the machine.
    saved_file.write_text("this is not toml = = =")
    assert make(hostname="mail.shop.example", earlier_install=True).suggested_answers().hostname == "mail.shop.example"


def test_machine_hostname_prefers_a_dotted_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(socket, "getfqdn", lambda: "localhost")
    monkeypatch.setattr(socket, "gethostname", lambda: "mail.shop.example")
    assert preflight.machine_hostname(tmp_path / "missing") == "mail.shop.example"
    monkeypatch.setattr(socket, "gethostname", lambda: "vm")
    (tmp_path / "hostname").write_text("vm.shop.example\n")
    assert preflight.machine_hostname(tmp_path / "hostname") == "vm.shop.example"  # /etc/hostname's dotted name
    (tmp_path / "hostname").write_text("vm\n")
    assert preflight.machine_hostname(tmp_path / "hostname") == "vm"


def test_mailname(tmp_path: Path) -> None:
    assert preflight.read_mailname(tmp_path / "missing") is None
    (tmp_path / "mailname").write_text("\n")
    assert preflight.read_mailname(tmp_path / "mailname") is None
    (tmp_path / "mailname").write_text("mail.shop.example\n")
    assert preflight.read_mailname(tmp_path / "mailname") == "mail.shop.example"


def test_install_status_tells_an_interrupted_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "INSTALL_STATE", tmp_path / "state.json")
    assert preflight.install_status() == "idle"
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-m", "mailtui", "install",
                               "--worker"])  # the worker's command line
    try:
        (tmp_path / "state.json").write_text(f'{{"status": "running", "pid": {worker.pid}}}')
        deadline = time.monotonic() + 30  # on a loaded machine the child may not have exec'd python yet
        while preflight.install_status() != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert preflight.install_status() == "running"
        (tmp_path / "state.json").write_text(f'{{"status": "running", "pid": {os.getpid()}}}')
        assert preflight.install_status() == "interrupted"  # a live PID that is not a mailtui worker
    finally:
        worker.kill()
        worker.wait()
    (tmp_path / "state.json").write_text('{"status": "running", "pid": 999999999}')
    assert preflight.install_status() == "interrupted"
    (tmp_path / "state.json").write_text('{"status": "failed", "pid": 1}')
    assert preflight.install_status() == "failed"
    (tmp_path / "state.json").write_text('{"status": "done", "steps": {"packages": "done", "database": "todo"}}')
    assert preflight.install_status() == "interrupted"  # stopped between the phases of a phased install
    (tmp_path / "state.json").write_text('{"status": "done", "steps": {"packages": "done", "firewall": "failed"}}')
    assert preflight.install_status() == "done"  # the firewall was skipped


