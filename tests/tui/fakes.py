"""A scripted engine for the TUI tests: nothing here touches the machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtui.screens.engine import Engine

from mailtui.events import Event
from mailtui.model import answers as answers_mod
from mailtui.model.answers import Alias, Answers, Domain, User
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

    def saved_answers(self) -> Answers | None:
        return None  # not installed: the app starts in the wizard

    def _accounts(self) -> Any:
        if getattr(self, "_fake_accounts", None) is None:
            self._fake_accounts = FakeAccounts()
        return self._fake_accounts

    def mailbox_stats(self, email: str) -> Any:
        return FakeStats(0, 0)

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


# ---------------------------------------------------------------- dashboard: an in-memory Accounts

class FakeAccounts:
    """mailtui.accounts.Accounts in memory, validating with the same checks. Every call is recorded in
    `calls`, so a test can prove the screen only ever asked for pages."""

    def __init__(self, domains: Sequence[str] = ("example.org", "example.net"),
                 users: Sequence[str] = ("admin@example.org", "bob@example.org", "carol@example.net"),
                 aliases: Sequence[tuple[str, str]] = (("postmaster@example.org", "admin@example.org"),),
                 generated: int = 0, generated_domain: str = "big.example") -> None:
        self.domains = set(domains)
        self.users = set(users)
        if generated:
            self.domains.add(generated_domain)
            self.users.update(f"user{i:06d}@{generated_domain}" for i in range(generated))
        self.aliases = set(aliases)
        self.passwords: dict[str, str] = {u: "x" for u in self.users}
        self.calls: list[tuple[Any, ...]] = []
        self.orders: list[tuple[str, str | None]] = []  # (list_*, order) of every list call
        self.lock = threading.Lock()
        self._sorted_users: list[str] | None = None

    # ------------------------------------------------------------ reads

    def _page(self, rows: list, filter: str, limit: int, offset: int) -> list:
        from mailtui.ops.accounts import _page

        _page(filter, limit, offset)
        return rows[offset:offset + limit]

    def _users(self) -> list[str]:
        if self._sorted_users is None:
            self._sorted_users = sorted(self.users)
        return self._sorted_users

    @staticmethod
    def _order(order: str | None, allowed: Sequence[str]) -> tuple[str, bool]:
        """(column, descending) of a whitelisted order, refused like the engine refuses it."""
        from mailtui.ops.accounts import _order

        name = order or allowed[0]
        _order(name, {a: (a,) for a in allowed}, allowed[0])
        return name.removeprefix("-"), name.startswith("-")

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[Any]:
        from mailtui.ops.accounts import DomainRow

        with self.lock:
            self.calls.append(("list_domains", filter, limit, offset))
            self.orders.append(("list_domains", order))
            column, descending = self._order(order, ("name", "mailboxes", "aliases"))
            rows = [DomainRow(d, sum(u.endswith("@" + d) for u in self.users),
                              sum(s.split("@")[1] == d for s, _ in self.aliases))
                    for d in self.domains if filter.lower() in d]
            key = {"name": lambda r: (r.name,), "mailboxes": lambda r: (r.users, r.name),
                   "aliases": lambda r: (r.aliases, r.name)}[column]
            return self._page(sorted(rows, key=key, reverse=descending), filter, limit, offset)

    def count_domains(self, filter: str = "") -> int:
        with self.lock:
            self.calls.append(("count_domains", filter))
            return sum(filter.lower() in d for d in self.domains)

    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0,
                   order: str | None = None) -> list[Any]:
        from mailtui.ops.accounts import UserRow

        with self.lock:
            self.calls.append(("list_users", filter, limit, offset))
            self.orders.append(("list_users", order))
            _, descending = self._order(order, ("email",))
            users = [u for u in self._users() if filter.lower() in u] if filter else self._users()
            if descending:
                users = users[::-1]
            return [UserRow(u, u.split("@")[1]) for u in self._page(users, filter, limit, offset)]

    def count_users(self, filter: str = "") -> int:
        with self.lock:
            self.calls.append(("count_users", filter))
            return sum(filter.lower() in u for u in self._users()) if filter else len(self.users)

    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[Any]:
        from mailtui.ops.accounts import AliasRow

        with self.lock:
            self.calls.append(("list_aliases", filter, limit, offset))
            self.orders.append(("list_aliases", order))
            column, descending = self._order(order, ("source", "destination"))
            rows = [a for a in self.aliases if filter.lower() in a[0] or filter.lower() in a[1]]
            key = (lambda a: a) if column == "source" else (lambda a: (a[1], a[0]))
            rows.sort(key=key, reverse=descending)
            return [AliasRow(s, d) for s, d in self._page(rows, filter, limit, offset)]

    def count_aliases(self, filter: str = "") -> int:
        with self.lock:
            self.calls.append(("count_aliases", filter))
            return sum(filter.lower() in s or filter.lower() in d for s, d in self.aliases)

    # ------------------------------------------------------------ writes (validated like the engine)

    def add_domain(self, name: str) -> str:
        from mailtui.ops.accounts import AlreadyExists, _domain

        name = _domain(name)
        with self.lock:
            self.calls.append(("add_domain", name))
            if name in self.domains:
                raise AlreadyExists({"name": f"the domain {name} already exists"})
            self.domains.add(name)
        return name

    def add_user(self, email: str, password: str) -> str:
        from mailtui.errors import ValidationError
        from mailtui.ops.accounts import AlreadyExists, _email_and_password

        email = _email_and_password(email, password)
        with self.lock:
            self.calls.append(("add_user", email))
            if email.split("@")[1] not in self.domains:
                raise ValidationError({"email": f"the domain {email.split('@')[1]} is not served here; add it first"})
            if email in self.users:
                raise AlreadyExists({"email": f"the mailbox {email} already exists"})
            self.users.add(email)
            self.passwords[email] = password
            self._sorted_users = None
        return email

    def _new_mailbox_problem(self, email: str) -> str | None:
        domain = email.split("@")[1]
        if domain not in self.domains:
            return f"the domain {domain} is not served here; add it first"
        if email in self.users:
            return f"the mailbox {email} already exists"
        if any(s == email for s, _ in self.aliases):
            return f"{email} is an alias; remove the alias first"
        return None

    def new_mailbox_problems(self, emails: Sequence[str]) -> dict[str, str]:
        with self.lock:
            self.calls.append(("new_mailbox_problems", len(emails)))
            return {e: p for e in emails if (p := self._new_mailbox_problem(e))}

    def add_user_hashes(self, rows: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Like Accounts.add_user_hashes: the rows that would be refused come back, the others are added
        (`passwords` then holds the stored hash)."""
        with self.lock:
            self.calls.append(("add_user_hashes", len(rows)))
            refused = {}
            for email, stored_hash in rows:
                problem = self._new_mailbox_problem(email)
                if problem:
                    refused[email] = problem
                else:
                    self.users.add(email)
                    self.passwords[email] = stored_hash
            self._sorted_users = None
            return refused

    def set_password(self, email: str, password: str) -> None:
        from mailtui.ops.accounts import NotFound, _email_and_password

        email = _email_and_password(email, password)
        with self.lock:
            self.calls.append(("set_password", email))
            if email not in self.users:
                raise NotFound(f"the mailbox {email} does not exist", "email")
            self.passwords[email] = password

    def remove_user(self, email: str) -> Any:
        from mailtui.ops.accounts import NotFound, RemovalSummary

        with self.lock:
            self.calls.append(("remove_user", email))
            if email not in self.users:
                raise NotFound(f"the mailbox {email} does not exist", "email")
            self.users.discard(email)
            self._sorted_users = None
            gone = {a for a in self.aliases if a[1] == email}
            self.aliases -= gone
            return RemovalSummary(email, 1, len(gone), (email,))

    def add_alias(self, source: str, destination: str) -> Any:
        from mailtui.errors import ValidationError
        from mailtui.ops.accounts import AliasRow, AlreadyExists, alias_fields

        source, destination = alias_fields(source, destination)  # the engine's own field checks
        with self.lock:
            self.calls.append(("add_alias", source, destination))
            if source.split("@")[1] not in self.domains:
                raise ValidationError({"source": f"the domain {source.split('@')[1]} is not served here; add it "
                                                 "first"})
            if (source, destination) in self.aliases:
                raise AlreadyExists({"source": f"the alias {source} -> {destination} already exists"})
            self.aliases.add((source, destination))
        return AliasRow(source, destination)

    def remove_alias(self, source: str, destination: str | None = None) -> int:
        from mailtui.ops.accounts import NotFound

        with self.lock:
            self.calls.append(("remove_alias", source, destination))
            gone = {a for a in self.aliases if a[0] == source and destination in (None, a[1])}
            if not gone:
                raise NotFound(f"the alias {source} does not exist", "source")
            self.aliases -= gone
            return len(gone)

    def _summary(self, name: str) -> Any:
        from mailtui.ops.accounts import NotFound, RemovalSummary

        if name not in self.domains:
            raise NotFound(f"the domain {name} does not exist", "name")
        users = sorted(u for u in self.users if u.endswith("@" + name))
        aliases = [a for a in self.aliases if a[0].split("@")[1] == name]
        return RemovalSummary(name, len(users), len(aliases), tuple(users[:10]))

    def removal_preview(self, name: str) -> Any:
        with self.lock:
            self.calls.append(("removal_preview", name))
            return self._summary(name)

    def remove_domain(self, name: str) -> Any:
        with self.lock:
            self.calls.append(("remove_domain", name))
            summary = self._summary(name)
            self.domains.discard(name)
            self.users = {u for u in self.users if not u.endswith("@" + name)}
            self._sorted_users = None
            self.aliases = {a for a in self.aliases if a[0].split("@")[1] != name}
            return summary


@dataclass(frozen=True)
class FakeStats:
    messages: int
    bytes: int


class DashboardEngine(FakeEngine):
    """A FakeEngine on an installed machine: saved answers, and accounts in memory."""

    def __init__(self, accounts: FakeAccounts | None = None, *, installed: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.accounts = accounts or FakeAccounts()
        self.installed = installed
        self.deleted_maildirs: list[str] = []
        self.stats_asked: list[str] = []
        self.logins: dict[str, Any] = {}  # email -> datetime of its last login (the others: None)
        self.logins_asked: list[list[str]] = []
        self.logins_gate: threading.Event | None = None  # last_logins waits for it when set
        self.import_gate: threading.Event | None = None  # import_users waits for it when set

    def saved_answers(self) -> Answers | None:
        if not self.installed:
            return None
        return Answers(hostname="mail.example.org", domains=[Domain("example.org")], users=[User("admin@example.org")])

    def _accounts(self) -> Any:
        return self.accounts

    def mailbox_stats(self, email: str) -> Any:
        self.stats_asked.append(email)
        return FakeStats(len(email) % 7, 1536 * (len(email) % 5))

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> Any:
        """The real CSV import (mailtui.accounts_import) into the in-memory accounts."""
        if self.import_gate is not None:
            self.import_gate.wait(10)
        return super().import_users(path, dry_run=dry_run, progress=progress)

    def last_logins(self, emails: Sequence[str]) -> dict[str, Any]:
        self.logins_asked.append(list(emails))
        if self.logins_gate is not None:
            self.logins_gate.wait(10)
        return {e: self.logins.get(e) for e in emails}

    def bans_available(self) -> str | None:
        return "fail2ban is not installed (this scripted engine has no bans; fakes_ops.OpsEngine has)"

    def delete_maildir(self, email: str) -> Path | None:
        self.deleted_maildirs.append(email)
        return Path("/var/mail/vhosts") / email.split("@")[1] / email.split("@")[0]
