"""Property tests of the command line: whatever an operator types into `mailtui domain|user|alias …` or puts
in the answers file of `mailtui install --dry-run`, the answer is a clear message and exit code (2 for
invalid input, naming the field), never a traceback or an "internal error".

The account commands run in-process against an in-memory Accounts stand-in that validates through the
same functions as mailtui.accounts (mailtui.validate and accounts.alias_fields). `install --dry-run`
runs the real loading, validation and install_plan.prepare(); the machine-facing parts (the saved answers,
preflight, plan, the worker) are replaced, so nothing on this machine is read for the plan or changed."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mailtui import paths
from mailtui.api.live import LiveOperations
from mailtui.api.operations import Operations, StepPlan
from mailtui.api.types import CheckedAnswers
from mailtui.cli import main as cli
from mailtui.errors import ValidationError
from mailtui.model import answers_file, validate
from mailtui.model.answers import Answers
from mailtui.ops.account_types import (
    AliasRow,
    AlreadyExists,
    DomainRow,
    NotFound,
    RemovalSummary,
    UserRow,
    alias_fields,
)
from tests.scripted import ScriptedOperations
from tests.unit.test_properties_answers import damaged_file, plausible_structure, toml_document, valid_answers
from tests.unit.test_properties_validate import address_base, anything, domain_base, password_base, source_base

ROOT = Path(__file__).resolve().parents[2]
HOSTNAME = "mail.example.org"


@dataclass
class FakeAccounts:
    """Domains, mailboxes and aliases in memory, refusing input as mailtui.accounts.Accounts does."""

    domains: set[str] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)
    aliases: set[tuple[str, str]] = field(default_factory=set)

    def _email_and_password(self, email: Any, password: Any) -> str:
        problems = {}
        try:
            email = validate.check_address(email, "email")
        except ValidationError as exc:
            problems.update(exc.problems)
        try:
            validate.check_mailbox_password(password, "password")
        except ValidationError as exc:
            problems.update(exc.problems)
        if problems:
            raise ValidationError(problems)
        return email

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0, **_: Any) -> list[DomainRow]:
        return [DomainRow(d, 0, 0) for d in sorted(self.domains) if filter in d][offset:offset + limit]

    def add_domain(self, name: Any, role_aliases_to: Any = None) -> str:
        name = validate.check_domain(name, "name")
        if role_aliases_to is not None:
            role_aliases_to = validate.check_address(role_aliases_to, "role_aliases_to")
        if name in validate.LOCAL_NAMES or name == HOSTNAME:
            raise ValidationError({"name": f"{name} is a name Postfix treats as its own"})
        if name in self.domains:
            raise AlreadyExists({"name": f"the domain {name} already exists"})
        self.domains.add(name)
        if role_aliases_to is not None:
            self.aliases.update((f"{role}@{name}", role_aliases_to) for role in ("postmaster", "abuse"))
        return name

    def removal_preview(self, name: Any) -> RemovalSummary:
        name = validate.check_domain(name, "name")
        if name not in self.domains:
            raise NotFound(f"the domain {name} does not exist", "name")
        users = [u for u in self.users if u.endswith("@" + name)]
        aliases = [a for a in self.aliases if a[0].endswith("@" + name)]
        return RemovalSummary(name, len(users), len(aliases), tuple(sorted(users)[:10]))

    def remove_domain(self, name: Any) -> RemovalSummary:
        summary = self.removal_preview(name)
        self.domains.discard(summary.name)
        self.users = {u: h for u, h in self.users.items() if not u.endswith("@" + summary.name)}
        self.aliases = {a for a in self.aliases if not a[0].endswith("@" + summary.name)}
        return summary

    def list_users(self, filter: str = "", domain: str | None = None, limit: int = 100, offset: int = 0,
                   **_: Any) -> list[UserRow]:
        return [UserRow(u, u.split("@")[1]) for u in sorted(self.users) if filter in u][offset:offset + limit]

    def add_user(self, email: Any, password: Any) -> str:
        email = self._email_and_password(email, password)
        if email.split("@")[1] not in self.domains:
            raise ValidationError({"email": "the domain is not served here; add it first"})
        if email in self.users:
            raise AlreadyExists({"email": f"the mailbox {email} already exists"})
        if any(s == email for s, _ in self.aliases):
            raise ValidationError({"email": f"{email} is an alias"})
        self.users[email] = password
        return email

    def set_password(self, email: Any, password: Any) -> None:
        email = self._email_and_password(email, password)
        if email not in self.users:
            raise NotFound(f"the mailbox {email} does not exist", "email")
        self.users[email] = password

    def remove_user(self, email: Any) -> RemovalSummary:
        email = validate.check_address(email, "email")
        if email not in self.users:
            raise NotFound(f"the mailbox {email} does not exist", "email")
        del self.users[email]
        gone = {a for a in self.aliases if a[1] == email}
        self.aliases -= gone
        return RemovalSummary(email, 1, len(gone), (email,))

    def list_aliases(self, filter: str = "", domain: str | None = None, limit: int = 100, offset: int = 0,
                     **_: Any) -> list[AliasRow]:
        rows = [AliasRow(s, d) for s, d in sorted(self.aliases) if filter in s or filter in d]
        return rows[offset:offset + limit]

    def add_alias(self, source: Any, destination: Any) -> AliasRow:
        source, destination = alias_fields(source, destination)
        if source.rsplit("@", 1)[1] not in self.domains:
            raise ValidationError({"source": "the domain is not served here; add it first"})
        if source in self.users:
            raise ValidationError({"source": f"{source} is a mailbox"})
        if (source, destination) in self.aliases:
            raise AlreadyExists({"source": "the alias already exists"})
        self.aliases.add((source, destination))
        return AliasRow(source, destination)

    def remove_alias(self, source: Any, destination: Any = None) -> int:
        source = validate.check_alias_source(source, "source")
        if destination is not None:
            destination = validate.check_destination(destination, "destination")
        gone = {a for a in self.aliases if a[0] == source and destination in (None, a[1])}
        if not gone:
            raise NotFound(f"the alias {source} does not exist", "source")
        self.aliases -= gone
        return len(gone)


class AccountsOps(ScriptedOperations):
    """The account operations over FakeAccounts (an installed machine)."""

    def __init__(self, accounts: FakeAccounts) -> None:
        self.accounts = accounts

    def installed_answers(self) -> Answers:
        return Answers(hostname=HOSTNAME)

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[DomainRow]:
        return self.accounts.list_domains(filter, limit, offset)

    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        return self.accounts.add_domain(name, role_aliases_to)

    def removal_preview(self, name: str) -> RemovalSummary:
        return self.accounts.removal_preview(name)

    def remove_domain(self, name: str) -> RemovalSummary:
        return self.accounts.remove_domain(name)

    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0, order: str | None = None,
                   domain: str | None = None) -> list[UserRow]:
        return self.accounts.list_users(filter, domain, limit, offset)

    def add_user(self, email: str, password: str) -> str:
        return self.accounts.add_user(email, password)

    def mailbox_problem(self, email: str, *, new: bool) -> dict[str, str]:
        email = validate.check_address(email, "email")
        if not new:
            return {} if email in self.accounts.users else {"email": f"the mailbox {email} does not exist"}
        if email.split("@")[1] not in self.accounts.domains:
            return {"email": "the domain is not served here; add it first"}
        if email in self.accounts.users:
            return {"email": f"the mailbox {email} already exists"}
        return {}

    def set_password(self, email: str, password: str) -> None:
        self.accounts.set_password(email, password)

    def remove_user(self, email: str) -> RemovalSummary:
        return self.accounts.remove_user(email)

    def maildir_path(self, email: str) -> Path:
        return Path("/var/mail/vhosts") / email.split("@")[1] / email.split("@")[0]

    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[AliasRow]:
        return self.accounts.list_aliases(filter, None, limit, offset)

    def add_alias(self, source: str, destination: str) -> AliasRow:
        return self.accounts.add_alias(source, destination)

    def remove_alias(self, source: str, destination: str | None = None) -> int:
        return self.accounts.remove_alias(source, destination)


class DryRunOps(LiveOperations):
    """install --dry-run: the real loading, validation and prepare(); the machine's parts replaced (no
    preflight problems, an empty plan, and no worker ever)."""

    def install_problems(self, answers: CheckedAnswers) -> list[str]:
        return []

    def plan(self, answers: CheckedAnswers, only: Sequence[str] | None = None) -> list[StepPlan]:
        return []

    def start_worker(self, answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
        raise AssertionError("a dry run must not start the install worker")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str], stdin: str = "", accounts: FakeAccounts | None = None,
            ops: Operations | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    operations = ops or AccountsOps(accounts or FakeAccounts())
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(sys, "stdin", io.StringIO(stdin)))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        try:
            code = cli.main(argv, operations)
        except SystemExit as exc:  # argparse: usage error (exit 2) or --help (0)
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())


def assert_clean(result: Result) -> None:
    both = result.stdout + result.stderr
    assert "Traceback" not in both and "internal error" not in both, result
    assert result.code in (0, 1, 2), result
    if result.code == 2:
        assert result.stderr.startswith(("mailtui: invalid input:\n", "usage: ", "mailtui: cannot install")), result
    if result.stderr.startswith("mailtui: invalid input:\n"):
        lines = result.stderr.splitlines()[1:]
        assert lines and all(line.startswith("  ") and ": " in line for line in lines), result.stderr


# ---------------------------------------------------------------- account commands

domains = st.one_of(st.sampled_from(["example.org", "Example.ORG", "bücher.example", "xn--bcher-kva.example",
                                     HOSTNAME]), anything(domain_base))
emails = st.one_of(st.sampled_from(["alice@example.org", "Bob@Example.org", "info@bücher.example"]),
                   anything(address_base))
sources = st.one_of(st.sampled_from(["@example.org", "info@example.org"]), anything(source_base))
passwords = st.one_of(st.just("a good password"), anything(password_base))


commands = st.one_of(
    st.tuples(st.just("domain add"), st.tuples(domains), st.just("")),
    st.tuples(st.just("domain remove"), st.tuples(domains), st.just("")),
    st.tuples(st.just("user add"), st.tuples(emails), passwords),
    st.tuples(st.just("user passwd"), st.tuples(emails), passwords),
    st.tuples(st.just("user remove"), st.tuples(emails), st.just("")),
    st.tuples(st.just("alias add"), st.tuples(sources, emails), st.just("")),
    st.tuples(st.just("alias remove"), st.one_of(st.tuples(sources), st.tuples(sources, emails)), st.just("")),
    st.tuples(st.sampled_from(["domain list", "user list", "alias list"]), st.just(()), st.just("")),
)


def command_argv(action: str, values: tuple[str, ...], separator: bool) -> list[str]:
    """`mailtui <command> <sub> [options] [--] values…` (without "--" a value starting with - is a usage error)."""
    options = ["--password-stdin"] if action in ("user add", "user passwd") else []
    options += ["--yes"] if action.endswith("remove") else []
    return [*action.split(), *options, *(["--"] if separator and values else []), *values]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(st.tuples(commands, st.booleans()), min_size=1, max_size=6))
def test_account_commands_never_crash(steps: list[tuple[tuple[str, tuple[str, ...], str], bool]]) -> None:
    accounts = FakeAccounts(domains={"example.org", "xn--bcher-kva.example"},
                            users={"alice@example.org": "alice password"},
                            aliases={("info@example.org", "alice@example.org")})
    for (action, values, password), separator in steps:
        before = (set(accounts.domains), dict(accounts.users), set(accounts.aliases))
        result = run_cli(command_argv(action, values, separator), stdin=password + "\n", accounts=accounts)
        event(f"{action}: exit {result.code}")
        assert_clean(result)
        if result.code != 0:
            assert (accounts.domains, accounts.users, accounts.aliases) == before, "a refused command changed things"
        if action == "domain add" and result.code == 0:
            assert validate.check_domain(values[0]) in accounts.domains
        if action == "user add" and result.code == 0:
            assert accounts.users[validate.check_address(values[0])] == password


def test_a_domain_typed_as_idn_or_a_label_is_one_domain() -> None:
    accounts = FakeAccounts()
    assert run_cli(["domain", "add", "Bücher.Example"], accounts=accounts).code == 0
    again = run_cli(["domain", "add", "xn--bcher-kva.example"], accounts=accounts)
    assert again.code == 2 and "already exists" in again.stderr
    assert accounts.domains == {"xn--bcher-kva.example"}


@pytest.mark.parametrize("argv,field", [
    (["domain", "add", "--", "a\n.org"], "name"),
    (["domain", "add", "--", "faß.de"], "name"),
    (["domain", "add", "--", "'; DROP TABLE virtual_domains; --"], "name"),
    (["domain", "add", "--", "\udcff.org"], "name"),
    (["alias", "add", "--", "x\n@example.org", "y@example.net"], "source"),
    (["alias", "add", "--", "@", "@"], "destination"),
])
def test_bad_names_are_refused_by_field(argv: list[str], field: str) -> None:
    result = run_cli(argv, accounts=FakeAccounts(domains={"example.org"}))
    assert_clean(result)
    assert result.code == 2 and f"\n  {field}: " in result.stderr, result


@pytest.mark.parametrize("argv,stored", [
    (["domain", "add", " Bücher.Example "], "added domain xn--bcher-kva.example"),
    (["user", "add", "Bob@Example.ORG", "--password-stdin"], "added mailbox bob@example.org"),
    (["alias", "add", "@Example.ORG", "alice@example.org"], "added alias @example.org -> alice@example.org"),
])
def test_the_cli_reports_the_name_it_stored(argv: list[str], stored: str) -> None:
    accounts = FakeAccounts(domains={"example.org"}, users={"alice@example.org": "x"})
    result = run_cli(argv, stdin="a good password\n", accounts=accounts)
    assert result.code == 0, result
    assert stored in result.stdout, result.stdout


# ---------------------------------------------------------------- install --answers FILE --dry-run


answers_files = st.one_of(
    valid_answers().map(lambda a: answers_file.dumps(a, keep_passwords=True).encode()),
    damaged_file().map(str.encode),
    plausible_structure().map(lambda d: toml_document(d).encode()),
    st.text().map(str.encode),
    st.binary(max_size=100),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=answers_files)
def test_install_dry_run_never_crashes(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as state, \
            mock.patch.multiple(paths, **paths.state_paths(Path(state))):  # no saved answers: a fresh machine
        path = Path(tmp) / "mail.toml"
        path.write_bytes(content)
        result = run_cli(["install", "--answers", str(path), "--dry-run"], ops=DryRunOps())
        event(f"install --dry-run: exit {result.code}")
        assert_clean(result)
        assert path.read_bytes() == content and os.listdir(tmp) == ["mail.toml"]
        if result.code == 0:
            assert "dry run: nothing was changed" in result.stdout


# ---------------------------------------------------------------- a real process: argv and output encodings


@pytest.mark.parametrize("args", [
    [b"install", b"--answers", b"\xff\xfe.toml", b"--dry-run"],
    [b"install", b"--answers", "bücher\n.toml".encode(), b"--dry-run"],
    [b"domain", b"add", b"--", b"\xff.org"],
    [b"user", b"list", b"--filter", b"\xff'; --"],
])
def test_undecodable_argv_in_a_real_process(tmp_path: Path, args: list[bytes]) -> None:
    env = {**os.environ, "MAILTUI_STATE_DIR": str(tmp_path / "state"), "LC_ALL": "C"}
    result = subprocess.run([sys.executable.encode(), b"-m", b"mailtui", *args], capture_output=True, env=env,
                            cwd=tmp_path, check=False, timeout=120)
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert result.returncode in (1, 2), stderr
    assert not (tmp_path / "state").exists()
