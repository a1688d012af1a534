"""CSV import of mailboxes and sorted lists, against the real local MariaDB (through the management account)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailtui.errors import ValidationError
from mailtui.model import answers_file, passwords
from mailtui.ops.accounts import Accounts, AliasRow, DomainRow
from mailtui.ops.accounts_import import ImportFileError, import_file
from mailtui.steps.database import DatabaseStep
from tests.integration.conftest import root_sql

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "import-password-1"


@pytest.fixture
def answers(make_answers, context):
    answers = make_answers()
    DatabaseStep().apply(context(answers))
    return answers


@pytest.fixture
def accounts(answers):
    with Accounts.connect(answers) as accounts:
        accounts._on_credentials_changed = None  # leave this machine's Dovecot (if any) alone
        yield accounts


def table_rows(names, table: str = "virtual_users") -> list[tuple]:
    return root_sql(f"SELECT * FROM `{names.database}`.`{table}` ORDER BY id")


def thousand_rows(path: Path) -> Path:
    """1,000 data rows: 997 good ones and 3 bad ones (lines 5, 502 and 1001)."""
    lines = ["email,password"]
    for i in range(1000):
        lines.append(f"user{i:04d}@example.org,{PASSWORD}-{i}")
    lines[4] = f"bob@nowhere.test,{PASSWORD}"         # line 5: not a domain here
    lines[501] = "short@example.org,short"            # line 502: password too short
    lines[1000] = f"user0000@example.org,{PASSWORD}"  # line 1001: the same address as line 2
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_thousand_rows_with_three_bad_ones(accounts: Accounts, names, tmp_path: Path) -> None:
    accounts.add_domain("example.org")
    seen: list[object] = []
    accounts._on_credentials_changed = seen.append
    report = import_file(accounts, thousand_rows(tmp_path / "users.csv"))
    assert len(report.imported) == 997
    assert [str(r) for r in report.rejected] == [
        "line 5 bob@nowhere.test: the domain nowhere.test is not served here; add it first",
        "line 502 short@example.org: password must be at least 8 characters",
        "line 1001 user0000@example.org: user0000@example.org is listed twice (first on line 2)",
    ]
    assert report.summary() == "imported 997, rejected 3"
    assert root_sql(f"SELECT COUNT(*) FROM `{names.database}`.virtual_users")[0][0] == 997
    assert accounts.count_users() == 997
    assert accounts.verify_password("user0007@example.org", f"{PASSWORD}-7")
    assert accounts.verify_password("user0000@example.org", f"{PASSWORD}-0")  # the first of the two rows
    stored = root_sql(f"SELECT password FROM `{names.database}`.virtual_users LIMIT 1")[0][0]
    assert stored.startswith("{SHA512-CRYPT}$6$")
    assert seen == [None]  # Dovecot's auth cache: one flush for the whole import

    # the same file again: every row is refused as existing (or bad, as before), nothing changes
    before = table_rows(names)
    again = import_file(accounts, tmp_path / "users.csv")
    assert again.imported == [] and len(again.rejected) == 1000
    reasons = {r.line: r.reason for r in again.rejected}
    assert reasons[2] == "the mailbox user0000@example.org already exists"
    assert reasons[5] == "the domain nowhere.test is not served here; add it first"
    assert sum("already exists" in r for r in reasons.values()) == 997
    assert table_rows(names) == before


def test_dry_run_changes_nothing(accounts: Accounts, names, tmp_path: Path) -> None:
    accounts.add_domain("example.org")
    accounts.add_user("user0004@example.org", "already-here-1")
    before = table_rows(names)
    report = import_file(accounts, thousand_rows(tmp_path / "users.csv"), dry_run=True)
    assert report.dry_run and len(report.imported) == 996
    assert [r.line for r in report.rejected] == [5, 6, 502, 1001]
    assert report.rejected[1].reason == "the mailbox user0004@example.org already exists"
    assert table_rows(names) == before


def test_an_alias_address_is_refused_like_add_user_does(accounts: Accounts, tmp_path: Path) -> None:
    accounts.add_domain("example.org")
    accounts.add_user("alice@example.org", "alice-password")
    accounts.add_alias("info@example.org", "alice@example.org")
    path = tmp_path / "u.csv"
    path.write_text(f"info@example.org,{PASSWORD}\nInfo2@Example.org,{PASSWORD}\n")
    report = import_file(accounts, path)
    assert report.imported == ["info2@example.org"]
    with pytest.raises(ValidationError) as single:
        accounts.add_user("info@example.org", PASSWORD)
    assert report.rejected[0].reason == single.value.problems["email"]


def test_add_user_hashes_checks_again_inside_its_transaction(accounts: Accounts, names) -> None:
    accounts.add_domain("example.org")
    stored = passwords.hash_password(PASSWORD)
    accounts.add_user("late@example.org", "added-meanwhile")  # between an import's check and its insert
    refused = accounts.add_user_hashes([("new@example.org", stored), ("late@example.org", stored),
                                        ("x@nowhere.test", stored), ("NEW@example.org", stored)])
    assert refused == {"late@example.org": "the mailbox late@example.org already exists",
                       "x@nowhere.test": "the domain nowhere.test is not served here; add it first",
                       "new@example.org": "new@example.org is listed more than once"}
    assert sorted(u.email for u in accounts.list_users()) == ["late@example.org", "new@example.org"]
    assert accounts.verify_password("new@example.org", PASSWORD)
    with pytest.raises(ValidationError):
        accounts.add_user_hashes([("ok@example.org", "not-a-hash")])


def test_a_bad_file_changes_nothing(accounts: Accounts, names, tmp_path: Path) -> None:
    accounts.add_domain("example.org")
    path = tmp_path / "u.csv"
    path.write_bytes(f"alice@example.org,{PASSWORD}\nbob@example.org,{PASSWORD},extra\n".encode())
    with pytest.raises(ImportFileError, match="line 2 has 3 columns"):
        import_file(accounts, path)
    assert table_rows(names) == []


# ---------------------------------------------------------------- the command line, for real


def run_cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILTUI_STATE_DIR": str(state)}
    return subprocess.run([sys.executable, "-m", "mailtui", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False, timeout=300)


def test_cli_user_import(accounts: Accounts, answers, names, tmp_path: Path) -> None:
    accounts.add_domain("example.org")
    state = tmp_path / "state"
    state.mkdir()
    (state / "answers.toml").write_text(answers_file.dumps(answers))
    (state / "answers.toml").chmod(0o600)
    path = tmp_path / "u.csv"
    path.write_text(f"email,password\nalice@example.org,{PASSWORD}\nbob@nowhere.test,{PASSWORD}-b\n")

    dry = run_cli(state, "user", "import", str(path), "--dry-run")
    assert dry.returncode == 2, dry.stderr
    assert dry.stdout.splitlines() == [
        "would import 1, rejected 1:",
        "  line 3 bob@nowhere.test: the domain nowhere.test is not served here; add it first",
        "(dry run: nothing was changed)"]
    assert accounts.count_users() == 0

    done = run_cli(state, "user", "import", str(path), "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] == ["alice@example.org"] and report["rejected"][0]["line"] == 3
    assert accounts.verify_password("alice@example.org", PASSWORD)
    assert PASSWORD not in done.stdout + done.stderr + dry.stdout + dry.stderr

    path.write_text(f"carol@example.org,{PASSWORD}\n")
    ok = run_cli(state, "user", "import", str(path))
    assert ok.returncode == 0 and ok.stdout.strip() == "imported 1, rejected 0", ok.stderr
    assert accounts.count_users() == 2


# ---------------------------------------------------------------- sorting in SQL


def test_lists_sort_in_sql_by_whitelisted_columns(accounts: Accounts) -> None:
    for name in ("b.example", "a.example", "c.example"):
        accounts.add_domain(name)
    for email in ("zed@a.example", "amy@b.example", "bea@b.example", "cat@b.example", "dan@c.example",
                  "eve@c.example"):
        accounts.add_user(email, "some-password")
    accounts.add_alias("info@a.example", "zed@a.example")
    accounts.add_alias("sales@c.example", "amy@b.example")
    accounts.add_alias("help@c.example", "dan@c.example")
    accounts.add_alias("help@c.example", "eve@c.example")

    def names(order: str | None, **page: int) -> list[str]:
        return [d.name for d in accounts.list_domains(order=order, **page)]

    assert names(None) == names("name") == ["a.example", "b.example", "c.example"]
    assert names("-name") == ["c.example", "b.example", "a.example"]
    assert accounts.list_domains(order="mailboxes") == [DomainRow("a.example", 1, 1), DomainRow("c.example", 2, 3),
                                                        DomainRow("b.example", 3, 0)]
    assert names("-mailboxes") == ["b.example", "c.example", "a.example"]
    assert names("aliases") == ["b.example", "a.example", "c.example"]
    assert names("-aliases", limit=1, offset=1) == ["a.example"]  # ORDER BY, then LIMIT/OFFSET

    users = [u.email for u in accounts.list_users(order="-email")]
    assert users == sorted(users, reverse=True) and len(users) == 6
    assert [u.email for u in accounts.list_users(order="-email", limit=2, offset=2)] == users[2:4]
    assert [u.email for u in accounts.list_users("b.example", order="-email")] == [
        "cat@b.example", "bea@b.example", "amy@b.example"]

    assert [a.source for a in accounts.list_aliases()] == [
        "help@c.example", "help@c.example", "info@a.example", "sales@c.example"]
    assert accounts.list_aliases(order="destination") == [
        AliasRow("sales@c.example", "amy@b.example"), AliasRow("help@c.example", "dan@c.example"),
        AliasRow("help@c.example", "eve@c.example"), AliasRow("info@a.example", "zed@a.example")]
    assert accounts.list_aliases(order="-source")[0] == AliasRow("sales@c.example", "amy@b.example")
    assert accounts.list_aliases(order="-source")[-1] == AliasRow("help@c.example", "dan@c.example")


@pytest.mark.parametrize(("call", "order"), [
    ("list_domains", "email"), ("list_domains", "name; DROP TABLE virtual_users"), ("list_users", "password"),
    ("list_users", "--email"), ("list_aliases", "id"), ("list_aliases", "-"),
])
def test_unknown_sort_columns_are_refused(accounts: Accounts, call: str, order: str) -> None:
    with pytest.raises(ValidationError) as caught:
        getattr(accounts, call)(order=order)
    assert "order" in caught.value.problems
