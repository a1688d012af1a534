"""Backups and `mailtui rollback` on a scratch tree: every path mailtui changes is recorded once before its
first change, and rollback puts back content, owner, group, mode and mtime byte for byte, removes what
mailtui created, keeps what it cannot remove, and restores from the backups whatever point a kill -9
stopped the writing at."""

from __future__ import annotations

import argparse
import grp
import hashlib
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from mailtui import faults, paths
from mailtui.api.live import LiveOperations
from mailtui.cli import rollback as cli_rollback
from mailtui.install import plan as install_plan
from mailtui.install import rollback
from mailtui.install import state as install_state
from mailtui.stack import services as safe_services
from mailtui.system import backups, commands, files, services
from tests import guard
from tests.state import use_state_dir

ROOT = Path(__file__).resolve().parents[2]
ME = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def tree(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything under root: type, content hash, mode, owner, mtime (files), target (symlinks)."""
    found: dict[str, tuple[Any, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            found[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        else:
            found[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(st.st_mode),
                          st.st_uid, st.st_gid, st.st_mtime_ns)
    return found


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mailtui's state (backups, install progress and lock) under tmp_path."""
    return use_state_dir(monkeypatch, tmp_path / "state")


@pytest.fixture
def etc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine's files before mailtui: a config file (0640, old mtime), a symlink, a directory (made
    "before mailtui started": files counts an empty directory made since then as mailtui's own)."""
    monkeypatch.setattr(backups, "_STARTED", time.time() + 1)
    etc = tmp_path / "etc"
    (etc / "postfix").mkdir(parents=True)
    main = etc / "postfix" / "main.cf"
    main.write_text("# stock main.cf\nmyhostname = old\n")
    os.chmod(main, 0o640)
    os.utime(main, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    (etc / "mailname").write_text("old.example\n")
    (etc / "alternatives").mkdir()
    os.chmod(etc / "alternatives", 0o755)
    (etc / "link.conf").symlink_to("postfix/main.cf")
    return etc


@pytest.fixture
def no_services(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(services, "is_running", lambda name: False)
    monkeypatch.setattr(safe_services, "start", lambda name, timeout=30: calls.append(f"start {name}"))
    monkeypatch.setattr(safe_services, "stop", lambda name, timeout=30: calls.append(f"stop {name}"))
    return calls


def append_edited(path: Path) -> list[str]:
    """A program that changes `path` (this Python: the unit tier runs no other program)."""
    return [sys.executable, "-c", f"open({str(path)!r}, 'a').write('edited\\n')"]


def install_like_mailtui(etc: Path) -> None:
    """What an install does to such a machine, through the same calls the steps make."""
    files.write_file(etc / "postfix" / "main.cf", "# mailtui\nmyhostname = new\n", owner=ME, group=GROUP)
    files.write_file(etc / "postfix" / "main.cf", "# mailtui, second run\n", owner=ME, group=GROUP, mode=0o600)
    files.write_file(etc / "postfix" / "mysql-maps.cf", "password = x\n", owner=ME, group=GROUP, mode=0o640)
    files.write_file(etc / "ssl" / "mailtui" / "deep" / "cert.pem", "cert\n", owner=ME, group=GROUP)
    files.write_file(etc / "link.conf", "not a link any more\n", owner=ME, group=GROUP)
    files.set_owner_mode(etc / "alternatives", owner=ME, group=GROUP, mode=0o700)
    files.make_directory(etc / "vhosts" / "example", owner=ME, group=GROUP, mode=0o770)
    # A command mailtui runs that changes a file it names (like postconf -e main.cf).
    commands.run(append_edited(etc / "mailname"), changes=[etc / "mailname"], env=guard.child_env())


def test_originals_are_recorded_once_before_the_first_change(state: Path, etc: Path) -> None:
    main = etc / "postfix" / "main.cf"
    install_like_mailtui(etc)
    index = backups.load_index()
    assert backups.original_copy(main).read_text() == "# stock main.cf\nmyhostname = old\n"
    entry = index["paths"][str(main)]
    assert (entry["was"], entry["mode"], entry["mtime_ns"]) == ("file", 0o640, 1_600_000_000_000_000_000)
    assert index["paths"][str(etc / "postfix" / "mysql-maps.cf")] == {"was": "absent"}
    # Missing parent directories are recorded as mailtui's, outermost first, before the file.
    keys = list(index["paths"])
    for new in ("ssl", "ssl/mailtui", "ssl/mailtui/deep", "ssl/mailtui/deep/cert.pem"):
        assert index["paths"][str(etc / new)] == {"was": "absent"}
    assert keys.index(str(etc / "ssl")) < keys.index(str(etc / "ssl/mailtui/deep/cert.pem"))
    assert index["paths"][str(etc / "link.conf")]["was"] == "symlink"
    assert index["paths"][str(etc / "alternatives")]["mode"] == 0o755
    assert index["paths"][str(etc / "vhosts")] == {"was": "absent"}
    assert backups.original_copy(etc / "mailname").read_text() == "old.example\n"
    assert oct(os.stat(backups.index_path()).st_mode & 0o777) == "0o600"


def test_rollback_puts_everything_back_byte_for_byte(state: Path, etc: Path, no_services: list[str]) -> None:
    before = tree(etc)
    install_like_mailtui(etc)
    assert tree(etc) != before
    actions = rollback.plan()
    kinds = {a.target.replace(str(etc), ""): a.kind for a in actions}
    assert kinds["/postfix/main.cf"] == "restore" and kinds["/postfix/mysql-maps.cf"] == "remove"
    assert kinds["/ssl"] == "remove-dir" and kinds["/link.conf"] == "relink" and kinds["/alternatives"] == "set-dir"
    result = rollback.apply(actions, lambda line: None)
    assert result.ok, result.problems
    assert tree(etc) == before
    # Nothing is lost: mailtui's versions are kept, and its state moved aside (the machine counts as fresh).
    assert result.archive is not None
    assert (result.archive / "replaced" / str(etc / "postfix" / "main.cf").lstrip("/")).read_text() == \
        "# mailtui, second run\n"
    assert (result.archive / "backups" / "index.json").exists()
    assert sorted(p.name for p in state.iterdir()) == ["rollbacks"]
    assert rollback.nothing_recorded()


def test_a_directory_holding_other_files_stays(state: Path, etc: Path, no_services: list[str]) -> None:
    files.make_directory(etc / "vhosts", owner=ME, group=GROUP, mode=0o770)
    (etc / "vhosts" / "mail-of-alice").write_text("a message\n")
    actions = rollback.plan()
    assert [(a.kind, "mail-of-alice" in a.summary) for a in actions] == [("keep", True)]
    rollback.apply(actions, lambda line: None)
    assert (etc / "vhosts" / "mail-of-alice").exists()


def test_a_file_changed_after_mailtui_is_restored_and_the_change_kept(state: Path, etc: Path,
                                                                      no_services: list[str]) -> None:
    files.write_file(etc / "mailname", "mailtui\n", owner=ME, group=GROUP)
    (etc / "mailname").write_text("the operator's edit\n")
    result = rollback.apply(rollback.plan(), lambda line: None)
    assert (etc / "mailname").read_text() == "old.example\n"
    assert (result.archive / "replaced" / str(etc / "mailname").lstrip("/")).read_text() == "the operator's edit\n"


def test_older_backups_are_honoured(state: Path, etc: Path, no_services: list[str]) -> None:
    """mailtui before the index: created.txt and bare copies; also a copy a kill left without its entry."""
    (etc / "new.cf").write_text("mailtui made this\n")
    store = state / "backups"
    store.mkdir(parents=True)
    (store / "created.txt").write_text(f"{etc / 'new.cf'}\n")
    copy = backups.original_copy(etc / "mailname")
    copy.parent.mkdir(parents=True)
    copy.write_text("older original\n")
    (etc / "mailname").write_text("mailtui's\n")
    actions = rollback.plan()
    assert {(a.kind, a.target) for a in actions} == {("remove", str(etc / "new.cf")),
                                                     ("restore", str(etc / "mailname"))}
    rollback.apply(actions, lambda line: None)
    assert not (etc / "new.cf").exists() and (etc / "mailname").read_text() == "older original\n"


def test_services_come_back_as_they_were_before_mailtui(state: Path, etc: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    backups.note_services_before({"postfix": True, "dovecot": False, "fail2ban": True, "rspamd": True,
                                  "postsrsd": False})
    backups.note_services_before({"postfix": False, "dovecot": True})  # a later install: the first record stays
    files.write_file(etc / "mailname", "mailtui\n", owner=ME, group=GROUP)
    calls: list[str] = []
    monkeypatch.setattr(services, "is_running", lambda name: True)
    monkeypatch.setattr(safe_services, "stop", lambda name, timeout=30: calls.append(f"stop {name}"))
    monkeypatch.setattr(safe_services, "start", lambda name, timeout=30: calls.append(f"start {name}"))
    rollback.apply(rollback.plan(), lambda line: None)
    # unbound and Redis: not running before mailtui (no record) -> stopped, not started again
    assert calls == ["stop postsrsd", "stop rspamd", "stop fail2ban", "stop dovecot", "stop postfix",
                     "stop redis-server", "stop unbound", "start postfix", "start fail2ban", "start rspamd"]


def test_a_service_that_does_not_start_again_is_a_problem(state: Path, etc: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.errors import MailtuiError

    backups.note_services_before({"postfix": True, "dovecot": False})
    files.write_file(etc / "mailname", "mailtui\n", owner=ME, group=GROUP)
    monkeypatch.setattr(services, "is_running", lambda name: False)

    def refuse(name: str, timeout: float = 30) -> None:
        raise MailtuiError("Postfix did not start: fatal: bad config")

    monkeypatch.setattr(safe_services, "start", refuse)
    result = rollback.apply(rollback.plan(), lambda line: None)
    assert (etc / "mailname").read_text() == "old.example\n"
    assert not result.ok and "postfix does not start on its restored configuration" in result.problems[0]


def test_accounts_mailtui_created(state: Path) -> None:
    assert backups.record_account("user", "no-such-user-mailtui-test")
    assert not backups.record_account("user", "root")  # exists already: never mailtui's
    assert backups.load_index()["accounts"]["users"] == ["no-such-user-mailtui-test"]
    assert [a.kind for a in rollback.plan()] == []  # not there (the command failed): nothing to delete
    backups.forget_account("user", "no-such-user-mailtui-test")
    assert backups.load_index()["accounts"]["users"] == []
    index = backups.load_index()
    index["accounts"]["users"] = ["nobody"]
    assert [(a.kind, a.target) for a in rollback.plan(index)] == [("delete-user", "nobody")]


def test_nothing_is_recorded_under_mailtuis_own_state_or_while_paused(state: Path, etc: Path) -> None:
    files.write_file(state / "answers.toml", "x = 1\n", owner=ME, group=GROUP, mode=0o600)
    with backups.paused():
        files.write_file(etc / "mailname", "paused\n", owner=ME, group=GROUP)
    assert rollback.nothing_recorded()


# ---------------------------------------------------------------- kill -9 at every point, then roll back

KILLED_INSTALL = textwrap.dedent("""
    import os, grp, pwd, sys
    from pathlib import Path
    from mailtui import faults
    from mailtui import paths
    from mailtui.system import commands, files
    for name, path in paths.state_paths(Path(sys.argv[1])).items():
        setattr(paths, name, path)
    etc = Path(sys.argv[2])
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    faults.arm()
    files.write_file(etc / "postfix" / "main.cf", "# mailtui\\n", owner=me, group=group)
    files.write_file(etc / "postfix" / "mysql-maps.cf", "password = x\\n", owner=me, group=group, mode=0o640)
    files.write_file(etc / "ssl" / "mailtui" / "cert.pem", "cert\\n", owner=me, group=group)
    files.set_owner_mode(etc / "alternatives", owner=me, group=group, mode=0o700)
    edit = f"open({str(etc / 'mailname')!r}, 'a').write('edited' + chr(10))"
    commands.run([sys.executable, "-c", edit], changes=[etc / "mailname"], env=dict(os.environ))
""")


def test_rollback_after_a_kill_at_every_point(tmp_path: Path, state: Path, etc: Path, no_services: list[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(etc)
    trace = tmp_path / "trace.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAILTUI_FAULT_TRACE": str(trace)}
    env.pop("MAILTUI_FAULT", None)
    pristine = tmp_path / "pristine"
    shutil.copytree(etc, pristine, symlinks=True)
    subprocess.run([sys.executable, "-c", KILLED_INSTALL, str(state), str(etc)], env=env, check=True, timeout=60)
    points = [json.loads(line) for line in trace.read_text().splitlines()]
    assert len(points) > 20
    for point in points:
        for directory in (etc, state):
            shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(pristine, etc, symlinks=True)
        result = subprocess.run([sys.executable, "-c", KILLED_INSTALL, str(state), str(etc)],
                                env={**env, "MAILTUI_FAULT": f"any:{point['n']}", "MAILTUI_FAULT_TRACE": ""},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == -signal.SIGKILL, (point, result.stderr)
        outcome = rollback.apply(rollback.plan(), lambda line: None)
        assert outcome.ok, (point, outcome.problems)
        assert tree(etc) == before, point  # temp files a kill left between write and rename too
    faults.disarm()


# ---------------------------------------------------------------- the command line


def test_cli_dry_run_lists_and_changes_nothing(state: Path, etc: Path, capsys: pytest.CaptureFixture[str],
                                               no_services: list[str]) -> None:
    install_like_mailtui(etc)
    after = tree(etc)
    assert cli_rollback.cmd_rollback(argparse.Namespace(dry_run=True, yes=False), LiveOperations()) == 0
    out = capsys.readouterr().out
    assert f"restore {etc / 'postfix' / 'main.cf'}" in out and f"remove {etc / 'postfix' / 'mysql-maps.cf'}" in out
    assert "Left alone: the installed packages" in out and "dry run: nothing was changed" in out
    assert tree(etc) == after and not no_services


def test_cli_yes_rolls_back_and_without_a_terminal_asks_for_yes(state: Path, etc: Path, no_services: list[str],
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.errors import MailtuiError

    before = tree(etc)
    install_like_mailtui(etc)
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    with pytest.raises(MailtuiError, match="--yes"):
        cli_rollback.cmd_rollback(argparse.Namespace(dry_run=False, yes=False), LiveOperations())
    assert cli_rollback.cmd_rollback(argparse.Namespace(dry_run=False, yes=True), LiveOperations()) == 0
    assert tree(etc) == before
    assert "rolled back" in capsys.readouterr().out
    assert cli_rollback.cmd_rollback(argparse.Namespace(dry_run=False, yes=True), LiveOperations()) == 0
    assert "nothing to roll back" in capsys.readouterr().out


def test_cli_parser() -> None:
    parser = argparse.ArgumentParser(prog="mailtui")
    cli_rollback.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["rollback", "--dry-run"])
    assert args.func is cli_rollback.cmd_rollback and args.dry_run and not args.yes


def test_a_new_install_after_rollback_keeps_the_database_passwords_and_hashes(
        state: Path, etc: Path, no_services: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Rollback leaves the database alone: a new install takes its passwords and the mailboxes' hashes from
    the answers of the install rolled back (new ones would not be what the database holds)."""
    from mailtui.model.answers import Answers, Database, Domain, User

    monkeypatch.setattr(paths, "ANSWERS_FILE", state / "answers.toml")
    first = install_plan.prepare(Answers(hostname="mail.example.test", domains=[Domain("example.test")],
                                         users=[User(email="a@example.test", password="Secret-Password-1")])).answers
    state.mkdir(parents=True, exist_ok=True)
    install_state.save_answers(first, state / "answers.toml")
    files.write_file(etc / "mailname", "mailtui\n", owner=ME, group=GROUP)
    rollback.apply(rollback.plan(), lambda line: None)
    assert install_state.load_saved_answers() is None  # the machine counts as not installed by mailtui
    left = rollback.answers_left_behind()
    assert left is not None and left.database.password == first.database.password
    again = install_plan.prepare(Answers(hostname="mail.example.test", domains=[Domain("example.test")],
                                         users=[User(email="a@example.test", password="Secret-Password-1")],
                                         database=Database())).answers
    assert again.database.password == first.database.password
    assert again.database.admin_password == first.database.admin_password
    assert again.users[0].password_hash == first.users[0].password_hash


def test_a_directory_an_earlier_killed_run_made_counts_as_mailtuis(state: Path, etc: Path, no_services: list[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Run 1 (killed) made the directory but never recorded it; run 2 (a later process) records it as new:
    it is empty and was made after mailtui's first install began."""
    backups.note_services_before({"postfix": False, "dovecot": False})  # the first install begins
    (etc / "ssl-made-by-run-1").mkdir()
    monkeypatch.setattr(backups, "_STARTED", time.time() + 1)  # run 2 started later
    files.set_owner_mode(etc / "ssl-made-by-run-1", owner=ME, group=GROUP, mode=0o755)
    assert backups.load_index()["paths"][str(etc / "ssl-made-by-run-1")] == {"was": "absent"}
    rollback.apply(rollback.plan(), lambda line: None)
    assert not (etc / "ssl-made-by-run-1").exists()


def test_units_mailtui_wrote_are_stopped_and_disabled_before_their_files_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """`systemctl enable` left a link in a .wants directory: without `disable --now` first, removing the unit
    file would leave it dangling and the unit running (found by tests/e2e/test_webmail.py's rollback)."""
    removed = [rollback.Action("remove", "/etc/systemd/system/mailtui-auth-flush.path", "remove …"),
               rollback.Action("remove", "/etc/systemd/system/mailtui-auth-flush.service", "remove …"),
               rollback.Action("remove", "/etc/systemd/system/other.d/x.service", "remove …"),
               rollback.Action("restore", "/etc/systemd/system/kept.service", "restore …")]
    states = {"mailtui-auth-flush.path": services.UnitState("enabled", "active"),
              "mailtui-auth-flush.service": services.UnitState("disabled", "inactive")}
    monkeypatch.setattr(rollback.services, "has_systemd", lambda: True)
    monkeypatch.setattr(rollback.services, "unit_state", lambda unit: states[unit])
    assert rollback._units_off(removed) == [
        rollback.Action("unit-off", "mailtui-auth-flush.path", "stop and disable mailtui-auth-flush.path (mailtui's "
                        "own unit)")]
    monkeypatch.setattr(rollback.services, "has_systemd", lambda: False)
    assert rollback._units_off(removed) == []  # no systemd: no unit was enabled (cron flushes there)
