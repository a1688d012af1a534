"""Every command of `mailtui` against the exit-code table (cli/common.py, README "The command line"):

  0 success · 1 a failure (a failed step, check or action; declined) · 2 invalid input or usage, the message
  naming the field (a bad value, or a name that does not exist) · 3 busy (another install holds the lock)

The commands are enumerated from the real argument parser, so a new command or subcommand fails this test
until it has cases here: at least one success and one invalid input each. They run in-process on scripted
operations (an installed machine, in memory): nothing on this machine is read or changed."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailtui.api.operations import Operations, StepPlan
from mailtui.api.types import (
    Ban,
    CheckedAnswers,
    CheckResult,
    DkimKeyStatus,
    DnsReport,
    ImportReport,
    InstallState,
    JailStatus,
    LogEvent,
    LogQuery,
    QueueAction,
    QueuedMessage,
    RollbackAction,
    RollbackResult,
    ServiceStatus,
    SpamStats,
)
from mailtui.cli import common
from mailtui.cli import main as cli
from mailtui.errors import Busy, MailtuiError, NotFound, ValidationError
from mailtui.model.answers import Answers
from mailtui.ops import accounts_import
from mailtui.report import Check
from tests.unit.test_accounts_import import FakeTarget
from tests.unit.test_properties_cli import AccountsOps, FakeAccounts, Result, run_cli

PASSWORD = "a good password"
QID = "4F00A1B2C3"  # in the scripted queue
GONE_QID = "ABCDEF1234"  # a well-formed queue id that is not in the queue
BANNED = "198.19.5.1"
CODES = {common.EXIT_OK: "success", common.EXIT_FAIL: "failure", common.EXIT_INVALID: "invalid input",
         common.EXIT_BUSY: "busy"}


class TableOps(AccountsOps):
    """An installed machine in memory: the account operations over FakeAccounts (test_properties_cli), and
    every other operation a command asks for, scripted. `busy`: the install lock is held; `failing`: a check
    fails, a service is stopped, fail2ban does not answer."""

    def __init__(self, *, busy: bool = False, failing: bool = False, refused: bool = False) -> None:
        super().__init__(FakeAccounts(domains={"example.org"}, users={"alice@example.org": PASSWORD},
                                      aliases={("info@example.org", "alice@example.org")}))
        self.busy = busy
        self.failing = failing
        self.refused = refused  # the install's preflight refuses (e.g. not root)

    # install
    def prepare(self, answers: Answers) -> CheckedAnswers:
        return answers  # type: ignore[return-value]  (only handed back to the scripted operations)

    def install_problems(self, answers: CheckedAnswers) -> list[str]:
        return ["mailtui must run as root (it installs packages and writes /etc)"] if self.refused else []

    def plan(self, answers: CheckedAnswers, only: Sequence[str] | None = None) -> list[StepPlan]:
        return []

    def pending_answers(self) -> Answers | None:
        return None

    def start_worker(self, answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
        if self.busy:
            raise Busy("an install is already running: follow it with `mailtui install --attach`")
        return 4242

    def read_state(self) -> InstallState:
        return InstallState(status="done")

    def follow_events(self, stop: Callable[[], bool], *, from_start: bool = True) -> Iterator[Any]:
        return iter(())

    # check, dns
    def checks(self, answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
        return [CheckResult("postfix", "Postfix", Check("service postfix running", not self.failing,
                                                        "postfix is not running" if self.failing else ""))]

    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        return DnsReport("mail.example.org", None, None, ["example.org"], [], [])

    def dkim_status(self) -> list[DkimKeyStatus]:
        return [DkimKeyStatus("example.org", "202612a", "signing", 2048, "2026-12-01", 4,
                              "/var/lib/rspamd/dkim/example.org.202612a.key", None if self.failing else "MIIB")]

    def dkim_rotate(self, domain: str) -> str:
        if domain != "example.org":
            raise ValidationError({"domain": f"{domain!r} has no DKIM signing and standby key here"})
        return "example.org: 202612b signs now"

    # the spam filter (failing: rspamd does not answer)
    def spam_stats(self) -> SpamStats:
        if self.failing:
            raise MailtuiError("rspamd's controller does not answer on 127.0.0.1:11334")
        return SpamStats(3, {"no action": 2, "reject": 1}, 0, 0, 0)

    def spam_learn(self, kind: str, path: Path) -> str:
        if kind not in ("spam", "ham"):
            raise ValidationError({"kind": f"must be spam or ham, not {kind!r}"})
        if not path.is_file():
            raise ValidationError({"FILE": f"cannot read {path}"})
        if self.failing:
            raise MailtuiError("rspamd's controller does not answer on 127.0.0.1:11334")
        return f"rspamd learned {path} as {kind}"

    # accounts
    def generate_password(self) -> str:
        return "generated-password-1"

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        return accounts_import.import_rows(FakeTarget(), accounts_import.read_file(path), dry_run=dry_run)

    # queue
    def queue_list(self) -> list[QueuedMessage]:
        return []

    def queue_action(self, action: QueueAction, queue_id: str | None = None) -> str:
        if action in ("hold", "release", "delete") and queue_id != QID:
            raise NotFound(f"could not {action} {queue_id}: no such message in the queue", "queue id")
        return ""

    # services
    def service_statuses(self, name: str | None = None) -> list[ServiceStatus]:
        return [ServiceStatus("postfix", "Postfix", not self.failing, 12, 3.0, [25])]

    def config_problems(self) -> list[str]:
        return []

    def dovecot_debug_enabled(self) -> bool:
        return False

    def set_dovecot_debug(self, on: bool) -> str:
        return ""

    def control_service(self, name: str, verb: str, max_wait: float | None = None) -> str:
        return ""

    # mail log
    def read_log(self, query: LogQuery) -> list[LogEvent]:
        return []

    # bans
    def bans_available(self) -> str | None:
        return "fail2ban is not running" if self.failing else None

    def ban_jails(self) -> list[JailStatus]:
        return [JailStatus("dovecot", 0, 3, 1, 1)]

    def bans(self) -> list[Ban]:
        return [Ban("dovecot", BANNED, 1000.0, None)]

    def unban(self, address: str, jail: str | None = None) -> list[str]:
        if address != BANNED:
            raise NotFound(f"{address} is not banned in any jail", "address")
        return ["dovecot"]

    # rollback
    def rollback_plan(self) -> list[RollbackAction]:
        return [RollbackAction("restore", "/etc/postfix/main.cf", "restore /etc/postfix/main.cf")] if self.busy else []

    def rollback(self, actions: list[RollbackAction], out: Callable[[str], None]) -> RollbackResult:
        raise Busy("an install is running: let it finish (mailtui install --attach) before rolling back")


@dataclass
class Case:
    argv: list[str]
    code: int
    names: str = ""  # for code 2: the field (option, argument) the message must name
    stdin: str = ""
    ops: Callable[[], Operations] = field(default=TableOps)


def failing() -> Operations:
    return TableOps(failing=True)


def busy() -> Operations:
    return TableOps(busy=True)


def refused() -> Operations:
    return TableOps(refused=True)


def cases(tmp: Path) -> dict[tuple[str, ...], list[Case]]:
    answers = tmp / "mail.toml"
    answers.write_text('hostname = "mail.example.org"\n')
    good_csv = tmp / "users.csv"
    good_csv.write_text(f"new@example.org,{PASSWORD}\n")
    eml = tmp / "message.eml"
    eml.write_text("From: a@example.net\nSubject: x\n\nbody\n")
    pw = PASSWORD + "\n"
    service_verbs = {("service", verb): [Case(["service", verb, "postfix"], 0),
                                         Case(["service", verb, "exim"], 2, "name")]
                     for verb in ("start", "stop", "restart", "reload")}
    return {
        ("install",): [
            Case(["install", "--answers", str(answers), "--dry-run"], 0),
            Case(["install", "--attach"], 0),
            Case(["install"], 2, "--answers"),
            Case(["install", "--answers", str(tmp / "missing.toml")], 2, "file"),
            Case(["install", "--answers", str(answers), "--dry-run"], 2, "cannot install", ops=refused),
            Case(["install", "--resume"], 1),  # nothing to resume: the machine is not ready for it
            Case(["install", "--answers", str(answers), "--yes"], 3, ops=busy),
        ],
        ("check",): [
            Case(["check"], 0),
            Case(["check", "--roundtrip", "not-an-address", "--password-stdin"], 2, "--roundtrip", pw),
            Case(["check"], 1, ops=failing),
        ],
        ("domain", "list"): [Case(["domain", "list"], 0), Case(["domain", "list", "--limit", "0"], 2, "--limit")],
        ("domain", "add"): [Case(["domain", "add", "new.example"], 0),
                            Case(["domain", "add", "roles.example", "--role-aliases-to", "admin@example.org"], 0),
                            Case(["domain", "add", "--", "-bad-.example"], 2, "name"),
                            Case(["domain", "add", "x.example", "--role-aliases-to", "nobody"], 2,
                                 "role_aliases_to")],
        ("domain", "remove"): [
            Case(["domain", "remove", "example.org", "--yes"], 0),
            Case(["domain", "remove", "nonexistent.test", "--yes"], 2, "name"),  # the case
            Case(["domain", "remove", "example.org"], 1),  # no terminal to confirm on, no --yes: declined
        ],
        ("user", "list"): [Case(["user", "list"], 0), Case(["user", "list", "--limit", "x"], 2, "--limit")],
        ("user", "add"): [Case(["user", "add", "bob@example.org", "--password-stdin"], 0, stdin=pw),
                          Case(["user", "add", "bob@example.org", "--generate"], 0),
                          Case(["user", "add", "notanemail", "--password-stdin"], 2, "email", pw)],
        ("user", "passwd"): [Case(["user", "passwd", "alice@example.org", "--password-stdin"], 0, stdin=pw),
                             Case(["user", "passwd", "nobody@example.org", "--password-stdin"], 2, "email", pw)],
        ("user", "remove"): [Case(["user", "remove", "alice@example.org", "--yes"], 0),
                             Case(["user", "remove", "nobody@example.org", "--yes"], 2, "email")],
        ("user", "import"): [Case(["user", "import", str(good_csv)], 0),
                             Case(["user", "import", str(tmp / "missing.csv")], 2, "missing.csv")],
        ("alias", "list"): [Case(["alias", "list"], 0), Case(["alias", "list", "--limit", "1001"], 2, "--limit")],
        ("alias", "add"): [Case(["alias", "add", "sales@example.org", "alice@example.org"], 0),
                           Case(["alias", "add", "--", "x\n@example.org", "y@example.net"], 2, "source")],
        ("alias", "remove"): [Case(["alias", "remove", "info@example.org", "--yes"], 0),
                              Case(["alias", "remove", "nothere@example.org", "--yes"], 2, "source")],
        ("logs",): [Case(["logs", "-n", "5"], 0), Case(["logs", "-n", "-1"], 2, "-n")],
        ("queue", "list"): [Case(["queue", "list"], 0), Case(["queue", "list", "--bogus"], 2, "--bogus")],
        ("queue", "flush"): [Case(["queue", "flush"], 0), Case(["queue", "flush", QID], 0),
                             Case(["queue", "flush", "x;reboot"], 2, "queue id")],
        ("queue", "hold"): [Case(["queue", "hold", QID], 0), Case(["queue", "hold", "x;reboot"], 2, "queue id"),
                            Case(["queue", "hold", GONE_QID], 2, "queue id")],
        ("queue", "release"): [Case(["queue", "release", QID], 0),
                               Case(["queue", "release", "$(id)"], 2, "queue id"),
                               Case(["queue", "release", GONE_QID], 2, "queue id")],
        ("queue", "delete"): [Case(["queue", "delete", QID, "--yes"], 0),
                              Case(["queue", "delete", "--yes"], 2, "delete"),
                              Case(["queue", "delete", GONE_QID, "--yes"], 2, "queue id"),
                              Case(["queue", "delete", QID], 1)],  # no terminal to confirm on: declined
        ("service", "status"): [Case(["service", "status"], 0), Case(["service", "status", "exim"], 2, "name"),
                                Case(["service", "status"], 1, ops=failing)],
        **service_verbs,
        ("debug", "on"): [Case(["debug", "on"], 0), Case(["debug", "on", "--bogus"], 2, "--bogus")],
        ("debug", "off"): [Case(["debug", "off"], 0), Case(["debug", "off", "now"], 2, "now")],
        ("debug", "status"): [Case(["debug", "status"], 0), Case(["debug", "status", "--bogus"], 2, "--bogus")],
        ("bans",): [Case(["bans"], 0), Case(["bans", "--json"], 0), Case(["bans", "--bogus"], 2, "--bogus"),
                    Case(["bans"], 1, ops=failing)],
        ("bans", "unban"): [Case(["bans", "unban", BANNED], 0),
                            Case(["bans", "unban", "198.19.5.999"], 2, "address"),
                            Case(["bans", "unban", "198.19.5.2"], 2, "address")],  # banned nowhere: no such ban
        ("rollback",): [Case(["rollback", "--dry-run"], 0), Case(["rollback", "--bogus"], 2, "--bogus"),
                        Case(["rollback", "--yes"], 3, ops=busy)],
        ("dkim", "status"): [Case(["dkim", "status"], 0), Case(["dkim", "status", "--json"], 0),
                             Case(["dkim", "status", "--bogus"], 2, "--bogus"),
                             Case(["dkim", "status"], 1, ops=failing)],  # a key file cannot be read
        ("spam", "stats"): [Case(["spam", "stats"], 0), Case(["spam", "stats", "--json"], 0),
                            Case(["spam", "stats", "--bogus"], 2, "--bogus"), Case(["spam", "stats"], 1, ops=failing)],
        ("spam", "learn"): [Case(["spam", "learn", "spam", str(eml)], 0),
                            Case(["spam", "learn", "junk", str(eml)], 2, "kind"),
                            Case(["spam", "learn", "ham", str(tmp / "missing.eml")], 2, "FILE"),
                            Case(["spam", "learn", "spam", str(eml)], 1, ops=failing)],
        ("dkim", "rotate"): [Case(["dkim", "rotate", "example.org", "--yes"], 0),
                             Case(["dkim", "rotate", "nowhere.test", "--yes"], 2, "domain"),
                             Case(["dkim", "rotate", "example.org"], 1)],  # no terminal to confirm on: declined
        ("dns",): [Case(["dns"], 0), Case(["dns", "--json"], 0),
                   Case(["dns", "--output", str(tmp / "dns.txt"), "--json"], 2, "--output")],
    }


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand the parser knows (a command whose subcommand is optional counts too)."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None:
        return [path]
    found = [path] if not sub.required else []
    for name, child in sub.choices.items():
        found += commands(child, (*path, name))
    return found


ALL_COMMANDS = [c for c in commands(cli.build_parser()) if c]  # () is `mailtui` alone: the terminal UI


def test_every_command_has_a_success_and_an_invalid_input_case(tmp_path: Path) -> None:
    table = cases(tmp_path)
    assert sorted(table) == sorted(ALL_COMMANDS), "a command without exit-code cases (or cases of none)"
    for command, its in table.items():
        codes = {c.code for c in its}
        assert {0, 2} <= codes, f"{' '.join(command)}: needs a success and an invalid-input case, has {codes}"
        assert codes <= set(CODES), command


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_exit_codes_follow_the_table(command: tuple[str, ...], tmp_path: Path) -> None:
    for case in cases(tmp_path)[command]:  # run_cli's stdin is never a terminal: a confirmation is declined
        result = run_cli(case.argv, stdin=case.stdin, ops=case.ops())
        said = f"{case.argv}: {result}"
        assert result.code == case.code, f"expected {CODES[case.code]} ({case.code}): {said}"
        assert "Traceback" not in result.stdout + result.stderr and "internal error" not in result.stderr, said
        if case.code == common.EXIT_INVALID:
            assert case.names in result.stderr, f"the message does not name {case.names!r}: {said}"
        if case.code in (common.EXIT_INVALID, common.EXIT_BUSY):
            assert result.stderr.startswith(("mailtui: ", "usage: ")), f"says why on stderr: {said}"


def test_a_name_that_does_not_exist_is_invalid_input_named_like_any_other() -> None:
    result: Result = run_cli(["domain", "remove", "nonexistent.test", "--yes"], ops=TableOps())
    assert result.code == 2
    assert result.stderr == "mailtui: invalid input:\n  name: the domain nonexistent.test does not exist\n"


def test_busy_says_what_holds_the_lock() -> None:
    result = run_cli(["rollback", "--yes"], ops=TableOps(busy=True))
    assert result.code == 3
    assert result.stderr == ("mailtui: an install is running: let it finish (mailtui install --attach) before "
                             "rolling back\n")
