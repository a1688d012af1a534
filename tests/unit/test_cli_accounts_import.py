"""`mailtui user import FILE.csv` and `mailtui check --roundtrip EMAIL`: exit codes, report text, and no
password in any output. In process, on stand-ins for the database and the mail server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailtui.api.live import LiveOperations
from mailtui.api.operations import Operations
from mailtui.api.types import ImportReport
from mailtui.cli import common
from mailtui.cli import main as cli
from mailtui.model.answers import Answers
from mailtui.ops import accounts_import, check
from mailtui.report import Check
from mailtui.stack import roundtrip as roundtrip_probe
from tests.scripted import ScriptedOperations
from tests.unit.test_accounts_import import FakeTarget
from tests.unit.test_cli import assert_clean_error, mailtui

PASSWORD = "correct-horse-1"
OPS: list[Operations] = []  # the operations the next run() uses (set by the fixtures)


class ImportOps(ScriptedOperations):
    """`user import` through the real CSV import into a stand-in database."""

    def __init__(self, target: FakeTarget) -> None:
        self.target = target

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        rows = accounts_import.read_file(path)
        return accounts_import.import_rows(self.target, rows, dry_run=dry_run, progress=progress)


class InstalledOps(LiveOperations):
    """The real `check` composition (ops/check.py) on an installed machine; its probes are the fixture's."""

    def installed_answers(self) -> Answers:
        return Answers(hostname="mail.example.org")


@pytest.fixture
def target() -> FakeTarget:
    fake = FakeTarget()
    OPS[:] = [ImportOps(fake)]
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv), OPS[0] if OPS else ScriptedOperations())
    out, err = capsys.readouterr()
    return code, out, err


def csv_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "users.csv"
    path.write_text(text)
    return str(path)


def test_all_rows_imported_exits_0(target: FakeTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path, f"email,password\nalice@example.org,{PASSWORD}\nbob@example.net,{PASSWORD}-2\n")
    code, out, err = run(capsys, "user", "import", path)
    assert code == 0, err
    assert out == "imported 2, rejected 0\n"
    assert set(target.users) >= {"alice@example.org", "bob@example.net"}
    assert PASSWORD not in out + err


def test_a_rejected_row_exits_2_and_is_named(target: FakeTarget, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path, f"alice@example.org,{PASSWORD}\nbob@nowhere.test,{PASSWORD}\n"
                              f"carol@example.org,tiny\ntaken@example.org,{PASSWORD}\n")
    code, out, err = run(capsys, "user", "import", path)
    assert code == 2
    assert out.splitlines() == [
        "imported 1, rejected 3:",
        "  line 2 bob@nowhere.test: the domain nowhere.test is not served here; add it first",
        "  line 3 carol@example.org: password must be at least 8 characters",
        "  line 4 taken@example.org: the mailbox taken@example.org already exists"]
    assert "alice@example.org" in target.users
    assert PASSWORD not in out + err and "tiny" not in out + err


def test_dry_run_and_json(target: FakeTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path, f"alice@example.org,{PASSWORD}\nbob@nowhere.test,{PASSWORD}\n")
    code, out, _ = run(capsys, "user", "import", path, "--dry-run", "--json")
    assert code == 2
    report = json.loads(out)
    assert report["dry_run"] is True and report["imported"] == [] and report["would_import"] == ["alice@example.org"]
    assert report["rejected"] == [{"line": 2, "email": "bob@nowhere.test",
                                   "reason": "the domain nowhere.test is not served here; add it first"}]
    assert target.inserts == [] and "alice@example.org" not in target.users
    assert PASSWORD not in out

    code, out, _ = run(capsys, "user", "import", path, "--dry-run")
    assert code == 2 and out.splitlines()[0] == "would import 1, rejected 1:"
    assert out.rstrip().endswith("(dry run: nothing was changed)")


def test_a_bad_file_exits_2_naming_the_line_and_changes_nothing(target: FakeTarget, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path, f"alice@example.org,{PASSWORD}\nbob@example.org,{PASSWORD},oops\n")
    code, out, err = run(capsys, "user", "import", path)
    assert code == 2 and out == ""
    assert f"mailtui: {path}: line 2 has 3 columns" in err
    assert target.checked == [] and target.inserts == []
    assert PASSWORD not in err


def test_bad_files_are_refused_before_any_install_is_needed(tmp_path: Path) -> None:
    assert_clean_error(mailtui(tmp_path, "user", "import", "missing.csv"), 2, "missing.csv does not exist")
    (tmp_path / "bad.csv").write_bytes(b"alice@example.org,ok-password\n\xff\xfe\n")
    assert_clean_error(mailtui(tmp_path, "user", "import", "bad.csv"), 2, "line 2 is not UTF-8")
    (tmp_path / "good.csv").write_text("alice@example.org,ok-password\n")
    assert_clean_error(mailtui(tmp_path, "user", "import", "good.csv"), 1, "has not installed this machine yet")


def test_import_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["user", "import", "--help"])
    out = capsys.readouterr().out
    assert "--dry-run" in out and "--json" in out and "FILE.csv" in out


# ---------------------------------------------------------------- check --roundtrip


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """An installed machine whose every check passes; records the round trips asked for."""
    asked: list[tuple[str, str]] = []
    OPS[:] = [InstalledOps()]
    monkeypatch.setattr(check.install_plan, "make_context", lambda answers, *a, **k: None)
    monkeypatch.setattr(check.install_plan, "steps_for", lambda ctx, *a, **k: [])
    monkeypatch.setattr(check.probes, "port_checks", lambda answers: [Check("port 25 listening", True)])
    monkeypatch.setattr(check.probes, "tls_checks", lambda answers: [])
    monkeypatch.setattr(check, "answers_file_check", lambda: Check("answers root-only", True))

    def roundtrip(email: str, password: str) -> list[Check]:
        asked.append((email, password))
        if password != PASSWORD:
            return [Check(roundtrip_probe.ACCEPTED, True, "queued as 4F00"),
                    Check(roundtrip_probe.DELIVERED, False, f"IMAPS login as {email} refused: AUTHENTICATIONFAILED")]
        return [Check(roundtrip_probe.ACCEPTED, True, "queued as 4F00"),
                Check(f"{roundtrip_probe.DELIVERED} (1.2 s)", True)]

    monkeypatch.setattr(roundtrip_probe, "roundtrip", roundtrip)
    return asked


def test_roundtrip_with_password_on_stdin(installed: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, err = run(capsys, "check", "--roundtrip", "Alice@Example.org", "--password-stdin")
    assert code == 0, out + err
    assert installed == [("alice@example.org", PASSWORD)]
    assert "  pass [roundtrip] message accepted by Postfix" in out
    assert "  pass [roundtrip] message delivered and read back over IMAPS (1.2 s)" in out
    assert out.rstrip().endswith("4 passed, 0 failed")
    assert PASSWORD not in out + err


def test_a_failed_roundtrip_says_why_and_exits_1(installed: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong-password\n"))
    code, out, _ = run(capsys, "check", "--roundtrip", "alice@example.org", "--password-stdin", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert failed == [{"step": "roundtrip", "name": roundtrip_probe.DELIVERED, "ok": False,
                       "detail": "IMAPS login as alice@example.org refused: AUTHENTICATIONFAILED", "drift": ""}]
    assert "wrong-password" not in out


def test_roundtrip_and_login_check_of_the_same_mailbox_read_the_password_once(
        installed: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    logins: list[tuple[str, str]] = []
    monkeypatch.setattr(check.probes, "imap_login_check",
                        lambda email, password: logins.append((email, password)) or Check("IMAPS login", True))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run(capsys, "check", "--user", "alice@example.org", "--roundtrip", "alice@example.org",
                       "--password-stdin")
    assert code == 0, err
    assert logins == [("alice@example.org", PASSWORD)] and installed == [("alice@example.org", PASSWORD)]


def test_roundtrip_needs_a_password_source_and_a_valid_address(
        installed: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal to prompt on
    code, _, err = run(capsys, "check", "--roundtrip", "alice@example.org")
    assert code == 2 and "use --password-stdin" in err
    code, _, err = run(capsys, "check", "--roundtrip", "alice@example.org", "--password-stdin")
    assert code == 2 and "nothing was read from standard input" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = run(capsys, "check", "--roundtrip", "not-an-address", "--password-stdin")
    assert code == 2 and "--roundtrip" in err
    assert installed == []


def test_roundtrip_prompts_on_a_terminal(installed: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts: list[str] = []
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr(common.getpass, "getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    code, _, _ = run(capsys, "check", "--roundtrip", "alice@example.org")
    assert code == 0
    assert prompts == ["Password for alice@example.org: "]
    assert installed == [("alice@example.org", PASSWORD)]


@pytest.fixture(autouse=True)
def no_operations_left_over() -> Iterator[None]:
    OPS.clear()
    yield
    OPS.clear()
