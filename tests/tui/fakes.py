"""A scripted engine for the TUI tests: nothing here touches the machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtui.screens.engine import Engine

from mailtui import answers as answers_mod
from mailtui.answers import Alias, Answers, Domain, User
from mailtui.events import Event
from mailtui.steps.base import Change, Check

T0 = 1_800_000_000.0
STEPS = [
    ("packages", "Packages", "Installs Postfix, Dovecot and MariaDB."),
    ("database", "Database", "Creates the mail database and its accounts."),
    ("tls", "SSL/TLS and DH parameters", "Every password travels encrypted."),
    ("postfix", "Postfix", "Postfix receives mail on port 25 and accepts your users' mail on 587."),
    ("dovecot", "Dovecot", "Dovecot keeps the mailboxes."),
    ("firewall", "Firewall", "ufw lets in only SSH and the mail ports."),
    ("verify", "Verify", "Proves the result."),
]
STEP_NAMES = [n for n, _, _ in STEPS]


@dataclass
class PortStatus:
    port: int
    label: str
    in_use: bool = False
    by: str = ""


@dataclass
class Preflight:
    is_root: bool = True
    os_pretty: str = "Debian GNU/Linux 12 (bookworm)"
    supported: bool = True
    systemd: bool = False
    postfix_version: str | None = None
    dovecot_version: str | None = None
    mariadb_version: str | None = None
    hostname: str = "mail.example.org"
    mailname: str | None = None
    ports: list[PortStatus] = field(default_factory=lambda: [
        PortStatus(25, "SMTP"), PortStatus(587, "submission"), PortStatus(993, "IMAPS", True, "sshd-test")])
    ufw_installed: bool = False
    ufw_active: bool = False
    mail_log: str | None = None
    earlier_install: bool = False
    install_state: str = "idle"
    tutorial_database: bool = False
    problems: list[str] = field(default_factory=list)
    suggested: Answers | None = None

    def suggested_answers(self) -> Answers:
        if self.suggested is not None:
            return self.suggested
        return Answers(hostname=self.hostname, domains=[Domain("example.org")], users=[User("admin@example.org")],
                       aliases=[Alias("postmaster@example.org", "admin@example.org")])


@dataclass
class State:
    status: str = "idle"
    pid: int = 0
    started: float = 0.0
    finished: float = 0.0
    steps: dict[str, str] = field(default_factory=dict)
    error: str = ""
    failed_step: str = ""
    alive: bool = False


@dataclass
class Run:
    """What one start_worker() does: the events it writes and how it ends."""

    events: list[Event]
    final: State
    hold: threading.Event | None = None  # keep "running" until set


def ok_run(steps: Sequence[str] = STEP_NAMES) -> Run:
    events: list[Event] = []
    t = T0
    for name in steps:
        title = dict((n, ti) for n, ti, _ in STEPS)[name]
        events += [Event("started", name, title, ts=t), Event("output", name, f"{name}: working", ts=t + 1),
                   Event("progress", name, "", percent=50.0, ts=t + 2),
                   Event("done", name, "changed (2.0 s)", ts=t + 3)]
        t += 3
    return Run(events, State("done", 4242, T0, t, {n: "done" for n in steps}))


def failing_run(steps: Sequence[str], fail: str, reason: str) -> Run:
    before = list(steps)[: list(steps).index(fail)]
    run = ok_run(before)
    run.events += [Event("started", fail, fail, ts=T0 + 50),
                   Event("output", fail, "E: Unable to locate package postfix-mysql", ts=T0 + 51),
                   Event("failed", fail, reason, ts=T0 + 52)]
    run.final = State("failed", 4242, T0, T0 + 52, {**{n: "done" for n in before}, fail: "failed"}, reason, fail)
    return run


@dataclass
class FakeStep:
    name: str
    title: str


def default_plan() -> list[tuple[Any, list[Change]]]:
    return [
        (FakeStep("packages", "Packages"), [Change("package", "postfix-mysql", "install postfix-mysql")]),
        (FakeStep("database", "Database"), [Change("sql", "mailserver", "create database mailserver")]),
        (FakeStep("tls", "SSL/TLS and DH parameters"), []),
        (FakeStep("postfix", "Postfix"), [Change("postconf", "myhostname", "set myhostname = mail.example.org",
                                                 "--- main.cf\n+++ main.cf\n-myhostname = old\n"
                                                 "+myhostname = mail.example.org\n")]),
        (FakeStep("dovecot", "Dovecot"), [Change("file", "/etc/dovecot/conf.d/99-mailtui.conf",
                                                 "write /etc/dovecot/conf.d/99-mailtui.conf")]),
        (FakeStep("firewall", "Firewall"), [Change("firewall", "25/tcp", "allow 25/tcp (SMTP)")]),
    ]


@dataclass
class DnsRecord:
    name: str
    type: str
    value: str
    note: str = ""


@dataclass
class ClientSetting:
    label: str
    value: str


class FakeEngine(Engine):
    def __init__(self, *, root: bool = True, preflight: Preflight | None = None, state: State | None = None,
                 runs: list[Run] | None = None, pending: Answers | None = None,
                 plan: list[tuple[Any, list[Change]]] | None = None, pending_packages: Sequence[str] = (),
                 preflight_error: str = "") -> None:
        self.root = root
        self.pf = preflight or Preflight()
        self.preflight_error = preflight_error
        self.state = state or State()
        self.runs = list(runs or [])
        self.pending = pending
        self._plan = plan if plan is not None else default_plan()
        self._pending_packages = list(pending_packages)
        self.started: list[tuple[Answers, list[str] | None]] = []
        self.saved: list[tuple[Answers, Path]] = []
        self.plans: list[Answers] = []
        self.current: Run | None = None
        self._n = 0

    def is_root(self) -> bool:
        return self.root

    def preflight(self) -> Any:
        if self.preflight_error:
            raise RuntimeError(self.preflight_error)
        return self.pf

    def ssh_ports(self, answers: Answers) -> list[int]:
        return [2222]

    def generate_password(self) -> str:
        self._n += 1
        return f"Generated-Secret-{self._n:02d}"

    def step_titles(self) -> list[tuple[str, str, str]]:
        return STEPS

    def save_answers(self, answers: Answers, path: Path) -> None:
        self.saved.append((answers, path))

    def pending_answers(self) -> Answers | None:
        return self.pending

    def prepare(self, answers: Answers) -> Answers:
        return answers_mod.canonical(answers)

    def plan(self, answers: Answers) -> list[tuple[Any, list[Change]]]:
        self.plans.append(answers)
        return self._plan

    def pending_packages(self, answers: Answers) -> list[str]:
        pending, self._pending_packages = self._pending_packages, []
        return pending

    def start_worker(self, answers: Answers, steps: Sequence[str] | None = None) -> int:
        self.started.append((answers, list(steps) if steps is not None else None))
        self.current = self.runs.pop(0)
        self.state = State("running", 4242, T0, alive=True)
        return 4242

    def follow_events(self, stop: Callable[[], bool], *, from_start: bool = True) -> Iterator[Event]:
        run = self.current
        if run is not None:
            yield from run.events
            if run.hold is not None:
                while not run.hold.is_set() and not stop():
                    time.sleep(0.01)
            self.state = run.final
        while not stop():
            time.sleep(0.01)

    def read_state(self) -> Any:
        return self.state

    def resume_from(self, state: Any) -> list[str] | None:
        return [n for n in STEP_NAMES if state.steps.get(n) != "done"]

    def skippable(self) -> frozenset[str]:
        return frozenset({"firewall", "verify"})

    def checks(self, answers: Answers) -> list[tuple[str, Check]]:
        return [("Postfix", Check("service postfix running", True)),
                ("Dovecot", Check("port 993 (IMAPS) listening", False, "nothing listens there"))]

    def roundtrip(self, email: str, password: str) -> list[Check]:
        self.roundtrip_args = (email, password)
        return [Check(f"sent a message to {email} on 587", True), Check("read it back over IMAPS", True)]

    def public_addresses(self) -> tuple[str | None, str | None]:
        return ("192.0.2.10", None)

    def dns_records(self, answers: Answers, ipv4: str | None, ipv6: str | None) -> list[Any]:
        return [DnsRecord("example.org.", "MX", "10 mail.example.org."),
                DnsRecord("mail.example.org.", "A", ipv4 or "?", "PTR for 192.0.2.10 should name it")]

    def client_settings(self, answers: Answers) -> list[Any]:
        return [ClientSetting("IMAP", "mail.example.org, port 993, SSL/TLS"),
                ClientSetting("SMTP", "mail.example.org, port 587, STARTTLS")]
