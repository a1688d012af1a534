"""CSV import of mailboxes: parsing, row checks and the report (on an in-memory stand-in for Accounts)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from mailtui.errors import ValidationError
from mailtui.model import passwords
from mailtui.ops.accounts_import import (
    ImportFileError,
    ImportReport,
    Rejected,
    Row,
    import_file,
    import_rows,
    parse,
    read_file,
)


class FakeTarget:
    """What Accounts answers, in memory: served domains, existing mailboxes, alias sources."""

    def __init__(self, domains: Sequence[str] = ("example.org", "example.net"),
                 users: Sequence[str] = ("taken@example.org",), aliases: Sequence[str] = ("info@example.org",)) -> None:
        self.domains = set(domains)
        self.users: dict[str, str] = dict.fromkeys(users, "x")
        self.aliases = set(aliases)
        self.checked: list[list[str]] = []
        self.inserts: list[list[tuple[str, str]]] = []
        self.sneak_in: list[str] = []  # added by "someone else" between the check and the insert

    def _problems(self, emails: Sequence[str]) -> dict[str, str]:
        out = {}
        for e in emails:
            domain = e.rsplit("@", 1)[1]
            if domain not in self.domains:
                out[e] = f"the domain {domain} is not served here; add it first"
            elif e in self.users:
                out[e] = f"the mailbox {e} already exists"
            elif e in self.aliases:
                out[e] = f"{e} is an alias"
        return out

    def new_mailbox_problems(self, emails: Sequence[str]) -> dict[str, str]:
        self.checked.append(list(emails))
        return self._problems(emails)

    def add_user_hashes(self, rows: Sequence[tuple[str, str]]) -> dict[str, str]:
        self.inserts.append(list(rows))
        for e in self.sneak_in:
            self.users[e] = "x"
        refused = self._problems([e for e, _ in rows])
        for e, h in rows:
            if e not in refused:
                self.users[e] = h
        return refused


GOOD = "correct-horse-1"


# ---------------------------------------------------------------- parsing


def test_header_comments_blank_lines_bom_and_crlf() -> None:
    data = ("\ufeffEmail, Password\r\n# a comment\r\n\r\nalice@example.org,secret-one-1\r\n"
            '  bob@example.org , "pa,ss""word-2"\r\n   \r\n#x,y,z\r\n').encode()
    assert parse(data) == [Row(4, "alice@example.org", "secret-one-1"), Row(5, "bob@example.org", 'pa,ss"word-2')]


def test_a_header_only_counts_on_the_first_row() -> None:
    rows = parse("alice@example.org,secret-one-1\nemail,password\n")
    assert [r.line for r in rows] == [1, 2]
    assert rows[1].email == "email"  # rejected later as not an address, not skipped


@pytest.mark.parametrize(("data", "needle"), [
    (b"alice@example.org,secret-one-1\nbob@example.org,caf\xe9-secret\n", "line 2 is not UTF-8"),
    (b"alice@example.org,secret-one-1\n\nbob@example.org,a,b\n", "line 3 has 3 columns"),
    (b"alice@example.org\n", "line 1 has 1 column;"),
    (b"alice@example.org;secret-one-1\n", "line 1 has 1 column;"),
    (b"\n# only comments\n\n", "has no rows to import"),
    (b"email,password\n", "has no rows to import"),
    (b"", "has no rows to import"),
    (b'a@example.org,secret-one-1\na@example.org,"unterminated\n', "line 2 is not a CSV line"),
    (b'a@example.org,"secret"one\n', "line 1 is not a CSV line"),
])
def test_bad_files_name_the_line(data: bytes, needle: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        parse(data, "users.csv")
    assert needle in str(caught.value)
    assert str(caught.value).startswith("users.csv")
    assert isinstance(caught.value, ValidationError) and "file" in caught.value.problems
    assert "secret" not in str(caught.value)


def test_read_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="does not exist"):
        read_file(tmp_path / "missing.csv")
    with pytest.raises(ImportFileError, match="is a directory"):
        read_file(tmp_path)
    with pytest.raises(ImportFileError, match="give the path"):
        read_file("")
    path = tmp_path / "u.csv"
    path.write_text("alice@example.org,secret-one-1\n")
    assert read_file(path) == [Row(1, "alice@example.org", "secret-one-1")]


def test_row_repr_hides_the_password() -> None:
    assert "secret-one-1" not in repr(Row(1, "alice@example.org", "secret-one-1"))


# ---------------------------------------------------------------- checking and importing


def test_valid_rows_are_imported_and_bad_ones_reported_with_line_and_reason() -> None:
    target = FakeTarget()
    rows = parse("email,password\n"
                 f"Alice@Example.ORG,{GOOD}\n"          # 2: ok (canonicalised)
                 f"bob@nowhere.test,{GOOD}\n"           # 3: unknown domain
                 "carol@example.org,short\n"            # 4: password policy
                 f"not-an-address,{GOOD}\n"             # 5: syntax
                 f"alice@example.org,{GOOD}-again\n"    # 6: twice in the file
                 f"taken@example.org,{GOOD}\n"          # 7: exists
                 f"info@example.org,{GOOD}\n"           # 8: an alias
                 f"dave@example.net,{GOOD}\n"           # 9: ok
                 f"erin@example.org, {GOOD} \n")        # 10: trailing space in the password
    report = import_rows(target, rows)
    assert report.imported == ["alice@example.org", "dave@example.net"]
    assert [(r.line, r.email) for r in report.rejected] == [
        (3, "bob@nowhere.test"), (4, "carol@example.org"), (5, "not-an-address"), (6, "alice@example.org"),
        (7, "taken@example.org"), (8, "info@example.org"), (10, "erin@example.org")]
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons[3] == "the domain nowhere.test is not served here; add it first"
    assert reasons[4] == "password must be at least 8 characters"
    assert "is not an email address" in reasons[5]
    assert reasons[6] == "alice@example.org is listed twice (first on line 2)"
    assert reasons[7] == "the mailbox taken@example.org already exists"
    assert reasons[8].startswith("info@example.org is an alias")
    assert reasons[10] == "password must not start or end with whitespace"
    # one insert for every valid row, stored as hashes that verify
    assert len(target.inserts) == 1 and [e for e, _ in target.inserts[0]] == report.imported
    assert all(passwords.verify_password(GOOD, h) for _, h in target.inserts[0])
    # syntax-refused rows never reach the database check
    assert target.checked == [["alice@example.org", "bob@nowhere.test", "taken@example.org", "info@example.org",
                               "dave@example.net"]]


def test_report_text_and_json_never_hold_a_password() -> None:
    target = FakeTarget()
    rows = parse(f"alice@example.org,{GOOD}\nbob@nowhere.test,{GOOD}-2\ncarol@example.org,short7\n")
    report = import_rows(target, rows)
    text = report.text()
    assert text.splitlines() == [
        "imported 1, rejected 2:",
        "  line 2 bob@nowhere.test: the domain nowhere.test is not served here; add it first",
        "  line 3 carol@example.org: password must be at least 8 characters"]
    assert report.as_json() == {
        "dry_run": False, "imported": ["alice@example.org"], "would_import": [],
        "rejected": [{"line": 2, "email": "bob@nowhere.test",
                      "reason": "the domain nowhere.test is not served here; add it first"},
                     {"line": 3, "email": "carol@example.org", "reason": "password must be at least 8 characters"}]}
    for secret in (GOOD, "short7"):
        assert secret not in text and secret not in str(report.as_json()) and secret not in repr(report)
    assert not report.ok


def test_dry_run_checks_everything_and_changes_nothing() -> None:
    target = FakeTarget()
    report = import_rows(target, parse(f"alice@example.org,{GOOD}\ntaken@example.org,{GOOD}\n"), dry_run=True)
    assert report.imported == ["alice@example.org"] and report.dry_run
    assert [r.line for r in report.rejected] == [2]
    assert target.inserts == [] and "alice@example.org" not in target.users
    assert report.text().splitlines()[0] == "would import 1, rejected 1:"
    assert report.text().endswith("(dry run: nothing was changed)")
    assert report.as_json()["imported"] == [] and report.as_json()["would_import"] == ["alice@example.org"]


def test_all_good_is_ok_and_progress_is_reported() -> None:
    target = FakeTarget()
    seen: list[tuple[int, int]] = []
    text = "".join(f"user{i}@example.org,{GOOD}\n" for i in range(120))
    report = import_rows(target, parse(text), progress=lambda done, total: seen.append((done, total)))
    assert report.ok and len(report.imported) == 120
    assert report.text() == "imported 120, rejected 0"
    assert seen[0] == (0, 120) and seen[-1] == (120, 120) and len(seen) >= 3


def test_a_mailbox_added_meanwhile_is_reported_not_lost() -> None:
    target = FakeTarget()
    target.sneak_in = ["bob@example.org"]
    report = import_rows(target, parse(f"alice@example.org,{GOOD}\nbob@example.org,{GOOD}\n"))
    assert report.imported == ["alice@example.org"]
    assert report.rejected == [Rejected(2, "bob@example.org", "the mailbox bob@example.org already exists")]


def test_nothing_valid_means_no_insert() -> None:
    target = FakeTarget()
    report = import_rows(target, parse(f"taken@example.org,{GOOD}\n"))
    assert report.imported == [] and target.inserts == []


def test_import_file_reads_then_imports(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(b"\xef\xbb\xbfemail,password\nalice@example.org," + GOOD.encode() + b"\n")
    report = import_file(FakeTarget(), path)
    assert report == ImportReport(["alice@example.org"], [], False)


def test_rejected_row_without_an_address() -> None:
    report = import_rows(FakeTarget(), parse(f",{GOOD}\n"))
    assert str(report.rejected[0]) == "line 1: address is empty"
