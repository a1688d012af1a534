"""The fault-injection switch (mailtui/faults.py): parsing, counting, tracing, and a real SIGKILL at the
chosen point of a real process — after a write, between a write's temp file and its rename, after a
command, and while a (fake) apt has dpkg unpack a package. Also: what commands change (backed up first),
and that the install worker gets the switch from its environment but the passwords only through a pipe."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mailtui import faults
from mailtui.install import plan as install_plan
from mailtui.install import state as install_state
from mailtui.install import worker as install_worker
from mailtui.model import answers_file
from mailtui.model.answers import Answers, Domain, User
from mailtui.system import atomic, backups, commands, files
from tests import guard
from tests.state import use_state_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _disarmed():  # type: ignore[no-untyped-def]
    faults.disarm()
    yield
    faults.disarm()


# ---------------------------------------------------------------- parsing and counting


@pytest.mark.parametrize(("spec", "plan"), [
    ("write:3", faults.Plan("write", index=3)),
    ("write-tmp:1", faults.Plan("write-tmp", index=1)),
    ("command:12", faults.Plan("command", index=12)),
    ("dpkg-unpack:7", faults.Plan("dpkg-unpack", index=7)),
    ("any:40", faults.Plan("any", index=40)),
    ("write:/etc/postfix/main.cf", faults.Plan("write", match="/etc/postfix/main.cf")),
    ("command:postconf -e", faults.Plan("command", match="postconf -e")),
    ("dpkg-unpack:=nginx", faults.Plan("dpkg-unpack", match="nginx", exact=True)),
])
def test_specs(spec: str, plan: faults.Plan) -> None:
    assert faults.parse(spec) == plan


@pytest.mark.parametrize("spec", ["write", "write:", "write:0", "explode:3", ":3", "dpkg-unpack:="])
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="MAILTUI_FAULT"):
        faults.parse(spec)


def test_points_do_nothing_unless_armed(tmp_path: Path) -> None:
    faults.point("write", "/etc/x")  # not armed: no count, no trace, no kill
    faults.arm({})
    assert not faults.armed()
    faults.point("write", "/etc/x")


def test_trace_records_every_point_with_its_files(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    target = tmp_path / "f"
    target.write_text("new")
    faults.arm({"MAILTUI_FAULT_TRACE": str(trace)})
    faults.point("command", "dpkg-query -W postfix", effect="none")
    faults.point("write", str(target), files=[str(target)])
    faults.point("command", "postconf -e a=b", files=[str(tmp_path / "missing")])
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [(r["n"], r["kind"], r["index"], r["effect"]) for r in records] == [
        (1, "command", 1, "none"), (2, "write", 1, "change"), (3, "command", 2, "change")]
    assert records[1]["files"] == {str(target): hashlib.sha256(b"new").hexdigest()}
    assert records[2]["files"] == {str(tmp_path / "missing"): None}


@pytest.mark.parametrize(("spec", "fires_at"), [("write:2", 2), ("any:3", 3), ("write:/b", 2), ("command:1", 4),
                                               ("write:=/a", 3)])
def test_the_chosen_point_fires(spec: str, fires_at: int, monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[int] = []
    monkeypatch.setattr(faults, "kill", lambda: killed.append(len(seen)))
    faults.arm({"MAILTUI_FAULT": spec})
    seen = []
    for kind, detail in (("write", "/a-common"), ("write", "/b"), ("write", "/a"), ("command", "true")):
        seen.append(detail)
        faults.point(kind, detail)
    assert killed == [fires_at]


# ---------------------------------------------------------------- real kills in a child process

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from mailtui import faults
    from mailtui import paths
    from mailtui.system import commands, files
    for name, path in paths.state_paths(Path(sys.argv[1]) / "state").items():
        setattr(paths, name, path)
    etc = Path(sys.argv[1]) / "etc"
    faults.arm()
    me = __import__("pwd").getpwuid(__import__("os").getuid()).pw_name
    grp = __import__("grp").getgrgid(__import__("os").getgid()).gr_name
    for name in ("a.conf", "b.conf", "c.conf"):
        files.write_file(etc / name, f"new {name}\\n", owner=me, group=grp, backup=False)
        commands.run(["true"])
    print("not killed")
""")


def run_child(tmp_path: Path, spec: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILTUI_FAULT": spec, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    d = tmp_path / "etc"
    d.mkdir()
    for name in ("a.conf", "b.conf", "c.conf"):
        (d / name).write_text(f"old {name}\n")
    return d


def test_killed_after_a_write(tmp_path: Path, etc: Path) -> None:
    result = run_child(tmp_path, "write:2")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert [(etc / n).read_text() for n in ("a.conf", "b.conf", "c.conf")] == [
        "new a.conf\n", "new b.conf\n", "old c.conf\n"]
    assert not list(etc.glob("*.mailtui-tmp"))


def test_killed_between_temp_file_and_rename_leaves_the_old_file(tmp_path: Path, etc: Path) -> None:
    result = run_child(tmp_path, "write-tmp:/b.conf")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert (etc / "b.conf").read_text() == "old b.conf\n"  # never half-written
    temps = [p for p in etc.iterdir() if p.name.endswith(atomic.TMP_SUFFIX)]
    assert len(temps) == 1 and temps[0].read_text() == "new b.conf\n"
    # The next write of that file removes what the killed one left.
    files.write_file(etc / "b.conf", "again\n", owner=_me(), group=_group(), backup=False)
    assert sorted(p.name for p in etc.iterdir()) == ["a.conf", "b.conf", "c.conf"]


def test_killed_after_a_command(tmp_path: Path, etc: Path) -> None:
    result = run_child(tmp_path, "command:2")
    assert result.returncode == -signal.SIGKILL
    assert [(etc / n).read_text().split()[0] for n in ("a.conf", "b.conf", "c.conf")] == ["new", "new", "old"]


def test_not_armed_without_the_variable(tmp_path: Path, etc: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILTUI_FAULT")}
    result = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env={**env, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "not killed" in result.stdout


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _group() -> str:
    import grp

    return grp.getgrgid(os.getgid()).gr_name


FAKE_APT = textwrap.dedent("""
    import os, sys, time
    fd = int(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("APT::Status-Fd=")))
    open(PIDFILE, "w").write(str(os.getpid()))
    for n, pkg in enumerate(["libfoo", "postfix", "dovecot-core"]):
        os.write(fd, f"pmstatus:{pkg}:{n * 10}:Preparing {pkg} (amd64)\\n".encode())
        time.sleep(0.3)
        os.write(fd, f"pmstatus:{pkg}:{n * 10 + 5}:Unpacking {pkg} (amd64)\\n".encode())
        os.write(fd, f"pmstatus:{pkg}:{n * 10 + 6}:Preparing to configure {pkg} (amd64)\\n".encode())
    time.sleep(30)
""")

APT_CHILD = textwrap.dedent("""
    import subprocess, sys
    from mailtui import faults
    from mailtui.system import apt
    real = subprocess.Popen
    apt.subprocess.Popen = lambda argv, **kw: real([sys.executable, sys.argv[1], *argv[1:]], **kw)
    faults.arm()
    apt.install(["postfix"], lambda line: None, lambda pct, msg: print("progress", msg, flush=True))
""")


def _dead(pid: int) -> bool:
    """The fake apt this test started (through its child) is gone. The guard is paused for this look at
    the test's own process tree: the process is the test's, not the machine's."""
    try:
        with guard.paused():
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_dpkg_unpack_point_kills_apt_mid_unpack_then_the_worker(tmp_path: Path) -> None:
    pidfile = tmp_path / "apt.pid"
    fake_apt = tmp_path / "apt.py"
    fake_apt.write_text(f"PIDFILE = {str(pidfile)!r}\n" + FAKE_APT)
    trace = tmp_path / "trace.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAILTUI_FAULT": "dpkg-unpack:2", "MAILTUI_FAULT_TRACE": str(trace)}
    result = subprocess.run([sys.executable, "-c", APT_CHILD, str(fake_apt)], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr
    # Killed on postfix's "Preparing" line (dpkg is unpacking it), before anything else was reported.
    assert "Preparing to configure libfoo" in result.stdout and "postfix" not in result.stdout
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [(r["kind"], r["index"], r["detail"]) for r in records] == [
        ("dpkg-unpack", 1, "libfoo"), ("dpkg-unpack", 2, "postfix")]
    apt_pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while not _dead(apt_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(apt_pid), "apt's process group should have been killed with the worker"


def test_unpack_start_is_the_preparing_line_only() -> None:
    from mailtui.system.apt import is_unpack_start, parse_status_line

    def status(message: str):  # type: ignore[no-untyped-def]
        parsed = parse_status_line(f"pmstatus:postfix:40:{message}")
        assert parsed is not None
        return parsed

    assert is_unpack_start(status("Preparing postfix (amd64)"))
    assert not is_unpack_start(status("Unpacking postfix (amd64)"))
    assert not is_unpack_start(status("Preparing to configure postfix (amd64)"))
    assert not is_unpack_start(status("Configuring postfix (amd64)"))


# ---------------------------------------------------------------- what commands change


@pytest.mark.parametrize(("argv", "effect"), [
    (["postconf", "-e", "a=b"], commands.Effect(files=("/etc/postfix/main.cf",))),
    (["postconf", "a=b"], commands.Effect(files=("/etc/postfix/main.cf",))),
    (["postconf", "-c", "/x", "-e", "a=b"], commands.Effect(files=("/x/main.cf",))),
    (["postconf", "-M", "submission/inet=submission inet n - y - - smtpd"],
     commands.Effect(files=("/etc/postfix/master.cf",))),
    (["postconf", "-P", "submission/inet/syslog_name=x"], commands.Effect(files=("/etc/postfix/master.cf",))),
    (["postconf", "-MX", "submission/inet"], commands.Effect(files=("/etc/postfix/master.cf",))),
    (["postconf", "-M", "submission/inet"], commands.READ_ONLY),
    (["postconf", "-h", "mail_version"], commands.READ_ONLY),
    (["postconf", "myhostname", "mydomain"], commands.READ_ONLY),
    (["openssl", "req", "-x509", "-keyout", "/k.pem", "-out", "/c.pem"], commands.Effect(files=("/k.pem", "/c.pem"))),
    (["openssl", "dhparam", "-out", "/dh.pem", "2048"], commands.Effect(files=("/dh.pem",))),
    (["openssl", "x509", "-noout", "-in", "/c.pem"], commands.READ_ONLY),
    (["chmod", "0600", "/k.pem"], commands.Effect(files=("/k.pem",))),
    (["useradd", "--system", "-u", "5000", "-g", "vmail", "-d", "/var/mail", "-M", "-s", "/usr/sbin/nologin",
      "vmail"], commands.Effect(users=("vmail",))),
    (["groupadd", "--system", "-g", "5000", "vmail"], commands.Effect(groups=("vmail",))),
    (["ufw", "allow", "25/tcp", "comment", "x"], commands.Effect(files=commands.UFW_RULES)),
    (["ufw", "--force", "enable"], commands.Effect(files=(commands.UFW_CONF,))),
    (["ufw", "status"], commands.READ_ONLY),
    (["ufw", "show", "added"], commands.READ_ONLY),
    (["dpkg-query", "-W", "postfix"], commands.READ_ONLY),
    (["dpkg", "--audit"], commands.READ_ONLY),
    (["dpkg", "--configure", "-a"], commands.Effect()),
    (["service", "postfix", "start"], commands.Effect()),
    (["doveconf", "-n"], commands.READ_ONLY),
    (["something-unknown", "--flag"], commands.Effect()),
])
def test_effect_of(argv: list[str], effect: commands.Effect) -> None:
    assert commands.effect_of(argv) == effect


def test_a_command_backs_up_what_it_changes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_state_dir(monkeypatch, tmp_path / "state")
    conf = tmp_path / "etc" / "main.cf"
    conf.parent.mkdir()
    conf.write_text("stock\n")
    write = f"open({str(conf)!r}, 'w').write('changed\\n')"
    result = commands.run([sys.executable, "-c", write], changes=[conf], env=guard.child_env())
    assert result.ok and conf.read_text() == "changed\n"
    assert backups.original_copy(conf).read_text() == "stock\n"
    entry = backups.load_index()["paths"][str(conf)]
    assert entry["was"] == "file" and entry["sha256"] == hashlib.sha256(b"stock\n").hexdigest()


# ---------------------------------------------------------------- the worker gets the switch, not the passwords


def test_worker_gets_the_fault_switch_from_its_environment_and_passwords_through_a_pipe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_state_dir(monkeypatch, tmp_path / "state")
    monkeypatch.setenv("MAILTUI_FAULT", "write:3")
    password = "Plain-Secret-Password-9"
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")],
                      users=[User(email="a@example.test", password=password)])
    started: dict[str, object] = {}

    class Pipe:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

        def close(self) -> None:  # the worker reads its answers, then takes over the state file
            started["stdin"] = self.data.decode()
            install_state.write_state(install_state.InstallState(status="running", pid=FakePopen.pid))

    class FakePopen:
        pid = 4242

        def __init__(self, argv, **kw):  # type: ignore[no-untyped-def]
            started["argv"], started["kw"] = argv, kw
            self.stdin = Pipe()

        def poll(self) -> None:
            return None

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    assert install_worker.start_worker(install_plan.CheckedAnswers(answers)) == 4242
    argv, kw = started["argv"], started["kw"]
    assert password not in " ".join(argv)  # type: ignore[arg-type]
    # No env= given: the worker inherits this environment, MAILTUI_FAULT included, and no password is in it.
    assert "env" not in kw  # type: ignore[operator]
    assert os.environ["MAILTUI_FAULT"] == "write:3"
    assert all(password not in value for value in os.environ.values())
    assert password in str(started["stdin"])
    assert answers_file.loads(str(started["stdin"])).users[0].password == password


# ---------------------------------------------------------------- repairing what a kill left in dpkg


def _repair_calls(monkeypatch: pytest.MonkeyPatch, listing: str | list[str], audits: list[str], *,
                  refuse_combined: bool = False) -> list[str]:
    """configure_pending's commands, dpkg --configure failing (a package it cannot configure). `listing`:
    dpkg-query's answer (a list: one per call, the last repeated); `refuse_combined`: apt refuses
    `install -f --reinstall P` as apt 3.0 does."""
    from mailtui.system import apt

    calls: list[str] = []
    left = iter(audits)
    listings = [listing] if isinstance(listing, str) else list(listing)

    def fake_run(argv, **kw):  # type: ignore[no-untyped-def]
        line = " ".join(argv)
        calls.append(line)
        if argv[:2] == ["dpkg", "--audit"]:
            return commands.Result(argv, 0, next(left))
        if argv[0] == "dpkg-query":
            return commands.Result(argv, 0, listings.pop(0) if len(listings) > 1 else listings[0])
        if "--configure" in argv:
            return commands.Result(argv, 1, "dpkg: error processing package perl-base (--configure)")
        if refuse_combined and "-f" in argv and "--reinstall" in argv:
            if kw.get("check", True):
                raise AssertionError("the combined command must not raise: its failure is handled")
            return commands.Result(argv, 100, "E: Unmet dependencies. Try 'apt --fix-broken install' with no "
                                   "packages (or specify a solution).")
        return commands.Result(argv, 0, "")

    monkeypatch.setattr(apt, "run", fake_run)
    monkeypatch.setattr(apt, "DPKG_UPDATES", Path("/nonexistent"))
    apt.configure_pending(lambda line: None)
    return calls


def test_repair_reinstalls_a_package_killed_mid_unpack(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measured on Debian 12: killed while unpacking perl-base, `dpkg --configure -a` and `apt-get install -f`
    # both stop at "package is in a very bad inconsistent state; you should reinstall it".
    listing = "ii \tadduser\niHR\tperl-base\niU \tpostfix\n"
    calls = _repair_calls(monkeypatch, listing, ["", ""])  # reinstalled: dpkg reports nothing more
    assert calls[0].startswith("dpkg --force-confdef --force-confold --configure -a")
    apt_calls = [c for c in calls if c.startswith("apt-get")]
    assert len(apt_calls) == 1 and apt_calls[0].endswith("install -f --reinstall perl-base")
    assert calls[-1] == "dpkg --audit"


def test_repair_when_apt_3_refuses_the_combined_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measured on Debian 13: killed while unpacking liblua5.4-0 with dovecot-sieve unpacked and dovecot-core
    # not: `apt-get install -f --reinstall liblua5.4-0:amd64` exits 100 (unmet dependencies), while
    # `apt-get install -f` alone installs dovecot-core and reinstalls liblua5.4-0 as well.
    broken = "iHR\tliblua5.4-0:amd64\niU \tdovecot-sieve\n"
    calls = _repair_calls(monkeypatch, [broken, "ii \tdovecot-sieve\n"], ["", ""], refuse_combined=True)
    apt_calls = [c.split(" install ", 1)[1] for c in calls if c.startswith("apt-get")]
    assert apt_calls == ["-f --reinstall liblua5.4-0:amd64", "-f"]
    # apt 3 settled the rest but left the package half-installed: reinstalled on its own afterwards.
    calls = _repair_calls(monkeypatch, [broken, "iHR\tliblua5.4-0:amd64\n", ""], ["", ""], refuse_combined=True)
    apt_calls = [c.split(" install ", 1)[1] for c in calls if c.startswith("apt-get")]
    assert apt_calls == ["-f --reinstall liblua5.4-0:amd64", "-f", "--reinstall liblua5.4-0:amd64"]


def test_repair_lets_apt_finish_when_nothing_needs_reinstalling(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _repair_calls(monkeypatch, "ii \tadduser\niU \tpostfix\n", ["postfix unpacked", ""])
    apt_calls = [c for c in calls if c.startswith("apt-get")]
    assert len(apt_calls) == 1 and apt_calls[0].endswith("install -f")


def test_repair_fails_naming_what_dpkg_still_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.errors import CommandFailed

    with pytest.raises(CommandFailed, match="perl-base"):
        _repair_calls(monkeypatch, "iHR\tperl-base\n", ["x", "perl-base half-installed", "perl-base half-installed"])


def test_broken_packages_are_the_half_installed_and_reinst_required() -> None:
    from mailtui.system import apt

    listing = "ii \tok\niHR\thalf\nrHR\tremove-half\niFR\tfailed-reinst\niU \tunpacked\nihR\tflagged\n\n"
    assert apt.parse_broken(listing) == ["half", "remove-half", "failed-reinst", "flagged"]


def test_interrupted_dpkg_is_seen_in_its_journal_or_its_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.system import apt

    audit = {"text": ""}
    monkeypatch.setattr(apt, "run", lambda argv, **kw: commands.Result(argv, 0, audit["text"]))
    monkeypatch.setattr(apt, "DPKG_UPDATES", tmp_path)
    assert not apt.dpkg_interrupted()
    audit["text"] = "The following packages are only half configured"
    assert apt.dpkg_interrupted()
    audit["text"] = ""
    (tmp_path / "0001").write_text("")
    assert apt.dpkg_interrupted()
