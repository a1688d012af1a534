"""Many mailboxes at once from a CSV file: `mailtui user import FILE.csv` and the dashboard's import.

The file: one mailbox per line, `email,password` (UTF-8, a BOM is fine). An optional first row
`email,password` is a header and skipped; blank lines and lines starting with # are ignored. A
password holding a comma or a quote is quoted the CSV way: `bob@example.org,"pa,ss""word"`.

Each row is checked as `add_user` checks it (mailtui.validate: address syntax, password policy; the
database: the domain must be a virtual domain here, the mailbox must not exist yet, the address must
not be an alias), and an address may appear only once in the file. A refused row never stops the
others: the report lists it with its line number and the reason, and every valid row is added —
hashed (SHA512-CRYPT, a few ms each) before the database is touched, then inserted in one
transaction (Accounts.add_user_hashes), which flushes Dovecot's auth cache once.

A file that cannot be read as such a CSV (missing, not UTF-8, a line without exactly two columns, no
rows at all) raises ImportFileError naming the line, and nothing changes. Passwords never appear in a
report or an error.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mailtui.errors import ValidationError
from mailtui.model import passwords
from mailtui.ops.account_types import checked_mailbox

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000
HEADER = ("email", "password")
PROGRESS_EVERY = 50  # rows hashed between two progress calls

Progress = Callable[[int, int], None]  # (rows hashed so far, rows to hash)


class ImportFileError(ValidationError):
    """The file as a whole cannot be imported (`problems` = {"file": why, naming the line})."""

    def __init__(self, message: str) -> None:
        super().__init__({"file": message})
        self.message = message

    def __str__(self) -> str:
        return self.message


class Target(Protocol):
    """What the import needs of mailtui.accounts.Accounts."""

    def new_mailbox_problems(self, emails: Sequence[str]) -> dict[str, str]: ...

    def add_user_hashes(self, rows: Sequence[tuple[str, str]]) -> dict[str, str]: ...


@dataclass(frozen=True)
class Row:
    """One data line of the file: its line number, the address as written, the password."""

    line: int
    email: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Rejected:
    line: int
    email: str  # as written in the file (never the password)
    reason: str

    def __str__(self) -> str:
        return f"line {self.line} {self.email}: {self.reason}" if self.email else f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """imported: the canonical addresses added (on a dry run: those that would be added)."""

    imported: list[str]
    rejected: list[Rejected]
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected

    def summary(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return f"{verb} {len(self.imported):,}, rejected {len(self.rejected):,}"

    def text(self) -> str:
        """The summary, then one line per rejected row."""
        lines = [self.summary() + (":" if self.rejected else "")]
        lines += [f"  {r}" for r in self.rejected]
        if self.dry_run:
            lines.append("(dry run: nothing was changed)")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "imported": [] if self.dry_run else list(self.imported),
            "would_import": list(self.imported) if self.dry_run else [],
            "rejected": [{"line": r.line, "email": r.email, "reason": r.reason} for r in self.rejected],
        }


# ---------------------------------------------------------------- reading the file


def read_file(path: str | os.PathLike[str]) -> list[Row]:
    """The rows of the CSV file at `path` (ImportFileError when it cannot be imported)."""
    path = Path(path).expanduser()
    name = str(path)
    if not str(path).strip() or str(path) == ".":
        raise ImportFileError("give the path of a CSV file (email,password per line)")
    try:
        if path.is_dir():
            raise ImportFileError(f"{name} is a directory, not a CSV file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportFileError(f"{name} is {size / 1024 / 1024:.0f} MiB: more than the "
                                  f"{MAX_FILE_BYTES // 1024 // 1024} MiB imported at once; split it")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{name} does not exist") from None
    except OSError as exc:
        raise ImportFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    return parse(data, name)


def parse(data: bytes | str, name: str = "the file") -> list[Row]:
    """The data rows of a CSV text, each with its line number (1-based, counting every line)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise ImportFileError(f"{name}: line {line} is not UTF-8 text (save the file as UTF-8)") from None
    else:
        text = data.removeprefix("\ufeff")
    rows: list[Row] = []
    first = True
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            fields = next(csv.reader([line], skipinitialspace=True, strict=True))
        except (csv.Error, StopIteration) as exc:
            raise ImportFileError(f"{name}: line {number} is not a CSV line ({exc})") from None
        if first and [f.strip().lower() for f in fields] == list(HEADER):
            first = False
            continue
        first = False
        if len(fields) != 2:
            raise ImportFileError(
                f"{name}: line {number} has {len(fields)} column{'s' if len(fields) != 1 else ''}; each line "
                'needs 2: email,password (quote a password holding a comma: "pa,ss")')
        rows.append(Row(number, fields[0].strip(), fields[1]))
        if len(rows) > MAX_ROWS:
            raise ImportFileError(f"{name} has more than {MAX_ROWS:,} rows: split it")
    if not rows:
        raise ImportFileError(f"{name} has no rows to import (expected lines of email,password)")
    return rows


# ---------------------------------------------------------------- checking and importing


_LABELS = {"email": "address", "password": "password"}


def _syntax_reason(problems: dict[str, str]) -> str:
    """add_user's problems as one sentence: "password must be at least 8 characters"."""
    return "; ".join(f"{_LABELS.get(key, key)} {why}" if why.startswith(("is ", "must ")) else why
                     for key, why in problems.items())


def import_rows(accounts: Target, rows: Sequence[Row], *, dry_run: bool = False,
                progress: Progress | None = None) -> ImportReport:
    """Check every row, then add the valid ones (unless dry_run). See the module's docstring."""

    rejected: list[Rejected] = []
    valid: list[tuple[Row, str]] = []  # (row, canonical address)
    first_line: dict[str, int] = {}
    for row in rows:
        try:
            email = checked_mailbox(row.email, row.password)
        except ValidationError as exc:
            rejected.append(Rejected(row.line, row.email, _syntax_reason(exc.problems)))
            continue
        if email in first_line:
            rejected.append(Rejected(row.line, row.email, f"{email} is listed twice (first on line "
                                                          f"{first_line[email]})"))
            continue
        first_line[email] = row.line
        valid.append((row, email))

    refused = accounts.new_mailbox_problems([email for _, email in valid])
    if refused:
        rejected += [Rejected(row.line, row.email, refused[email]) for row, email in valid if email in refused]
        valid = [(row, email) for row, email in valid if email not in refused]

    if not dry_run and valid:
        hashed = []
        total = len(valid)
        for done, (row, email) in enumerate(valid):
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(done, total)
            hashed.append((email, passwords.hash_password(row.password)))
        if progress is not None:
            progress(total, total)
        # Checked again inside the insert's transaction: whatever changed meanwhile is reported, not lost.
        refused = accounts.add_user_hashes(hashed)
        if refused:
            rejected += [Rejected(row.line, row.email, refused[email]) for row, email in valid if email in refused]
            valid = [(row, email) for row, email in valid if email not in refused]

    rejected.sort(key=lambda r: r.line)
    return ImportReport([email for _, email in valid], rejected, dry_run)


def import_file(accounts: Target, path: str | os.PathLike[str], *, dry_run: bool = False,
                progress: Progress | None = None) -> ImportReport:
    """read_file(path), then import_rows(...)."""
    return import_rows(accounts, read_file(path), dry_run=dry_run, progress=progress)
