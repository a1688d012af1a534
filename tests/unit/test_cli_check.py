"""`mailtui check` prints what it checked and the result — pass, or FAIL with the reason — and, apart and
labelled as drift, what an install would change; a planned action is never printed as a result. Also the
step contract under it: verify() names each check by what it checks (Resource.describe), never by the
Change that would put it right."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from mailtui.api.types import CheckResult
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.report import Change, Check
from mailtui.steps import base
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import CommandResource
from mailtui.system.platform import Platform
from tests.scripted import ScriptedOperations
from tests.unit.test_properties_cli import run_cli

CERT = "/etc/ssl/mailtui/mail.example.org.crt"
RESULTS = [
    CheckResult("postfix", "Postfix", Check("file /etc/postfix/mysql-virtual-mailbox-domains.cf", True)),
    CheckResult("tls", "TLS", Check(f"self-signed certificate {CERT} for mail.example.org, unexpired, with its key",
                                    False, base.NOT_IN_PLACE,
                                    drift="create a self-signed certificate for mail.example.org (valid 825 days)")),
    CheckResult("dovecot", "Dovecot", Check("service dovecot running", False, "dovecot is not running",
                                            drift="start dovecot")),
    CheckResult("network", "Network", Check("port 993 (IMAPS) listening", False, "nothing listens there")),
]


class CheckOps(ScriptedOperations):
    def __init__(self, results: list[CheckResult]) -> None:
        self.results = results

    def installed_answers(self) -> Answers:
        return Answers(hostname="mail.example.org")

    def checks(self, answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
        return self.results


def test_results_and_drift_are_printed_apart() -> None:
    result = run_cli(["check"], ops=CheckOps(RESULTS))
    assert result.code == 1
    checked, drift, total = result.stdout.split("\n\n")
    assert checked.splitlines() == [
        "Checked:",
        "  pass [postfix] file /etc/postfix/mysql-virtual-mailbox-domains.cf",
        f"  FAIL [tls] self-signed certificate {CERT} for mail.example.org, unexpired, with its key — not as the "
        "install sets it up",
        "  FAIL [dovecot] service dovecot running — dovecot is not running",
        "  FAIL [network] port 993 (IMAPS) listening — nothing listens there",
    ]
    assert drift.splitlines() == [
        "Drift — what an install would change to put that right (`check` changes nothing):",
        "  [tls] create a self-signed certificate for mail.example.org (valid 825 days)",
        "  [dovecot] start dovecot",
    ]
    assert total == "1 passed, 3 failed; 2 changes an install would make\n"
    assert "create a" not in checked and "start dovecot" not in checked  # no action shown as a result


def test_all_passing_shows_no_drift_section() -> None:
    result = run_cli(["check"], ops=CheckOps(RESULTS[:1]))
    assert result.code == 0
    assert "Drift" not in result.stdout and result.stdout.endswith("\n1 passed, 0 failed\n")


def test_json_has_the_drift_apart() -> None:
    result = run_cli(["check", "--json"], ops=CheckOps(RESULTS))
    report = json.loads(result.stdout)
    assert result.code == 1 and report["ok"] is False
    assert report["checks"][1]["name"].startswith("self-signed certificate ") and report["checks"][1]["ok"] is False
    assert report["drift"] == [
        {"step": "tls", "check": RESULTS[1].check.name,
         "change": "create a self-signed certificate for mail.example.org (valid 825 days)"},
        {"step": "dovecot", "check": "service dovecot running", "change": "start dovecot"},
    ]


# ---------------------------------------------------------------- the step contract


@dataclass
class Toy:
    """A resource that is in place or not, as the test says."""

    name: str
    in_place: bool
    kind = "file"

    @property
    def target(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"file {self.name}"

    def pending(self, ctx: Context) -> Change | None:
        return None if self.in_place else Change("file", self.name, f"create {self.name} (root:root 0644)")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        raise AssertionError("verify never applies")


Resource.register(Toy)


class ToyStep(Step):
    name = "toy"
    title = "Toy"
    why = "a test"

    def __init__(self, resources: Sequence[Resource]) -> None:
        self._resources = resources

    def resources(self, ctx: Context) -> Sequence[Resource]:
        return self._resources


@pytest.fixture
def ctx() -> Context:
    return Context(Answers(hostname="mail.example.org"), Platform("debian", "12", "bookworm", "Debian 12",
                                                                  systemd=False))


def test_verify_names_what_it_checks_and_puts_the_change_in_drift(ctx: Context) -> None:
    done, missing = Toy("/etc/a", True), Toy("/etc/b", False)
    command = CommandResource(["openssl", "req"], "create a self-signed certificate for mail.example.org",
                              lambda: False, name=CERT, checks=f"self-signed certificate {CERT}")
    unnamed = CommandResource(["true"], "run something", lambda: True, name="/etc/c")
    checks = ToyStep([done, missing, command, unnamed]).verify(ctx)
    assert checks == [
        Check("file /etc/a", True),
        Check("file /etc/b", False, base.NOT_IN_PLACE, drift="create /etc/b (root:root 0644)"),
        Check(f"self-signed certificate {CERT}", False, base.NOT_IN_PLACE,
              drift="create a self-signed certificate for mail.example.org"),
        Check("/etc/c in place", True),
    ]
