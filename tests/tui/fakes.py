"""Scripted operations for the TUI tests: nothing here touches the machine.

Every fake implements the operations API (mailtui/api/operations.py) through `ScriptedOperations`, whose
every operation *refuses*: it records the call and raises `NotScripted`. A fake scripts only what its tests
use; a screen that wanders into anything else fails the test (tests/tui/conftest.py checks the record at
teardown, so a screen that catches the error does not hide it). tests/unit/test_operations_contract.py keeps
every fake's signatures equal to the API's.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from mailtui.api.operations import StepInfo, StepPlan
from mailtui.api.types import (
    AliasRow,
    CertificateStatus,
    CheckedAnswers,
    CheckResult,
    DkimKeyStatus,
    DnsReport,
    DomainRow,
    ImportReport,
    InstallState,
    MaildirStats,
    PortStatus,
    QueuedMessage,
    RemovalSummary,
    ServiceStatus,
    UserRow,
)
from mailtui.api.types import Preflight as RealPreflight
from mailtui.errors import MailtuiError, ValidationError
from mailtui.events import Event
from mailtui.install import plan as install_plan
from mailtui.model import defaults
from mailtui.model import dkim as dkim_model
from mailtui.model import problems as problems_mod
from mailtui.model.answers import Answers, Domain, User
from mailtui.ops import accounts_import, acme_dns, dns, dns_check, spam
from mailtui.ops.dns_check import Query
from mailtui.report import Change, Check
from mailtui.steps import firewall
from mailtui.steps.order import all_steps
from mailtui.system import dns_query
from tests.scripted import NotScripted, ScriptedOperations, take_unscripted  # noqa: F401  (tests import them)

T0 = 1_800_000_000.0
# Short `why` lines keep the snapshots stable; the names and titles are the engine's own (a step added to
# the engine without a line here fails at import).
SHORT_WHY = {
    "packages": "Installs Postfix, Dovecot and MariaDB.",
    "database": "Creates the mail database and its accounts.",
    "tls": "Every password travels encrypted.",
    "acme": "certbot orders a certificate from an ACME CA.",
    "resolver": "unbound answers the spam filter's DNS questions.",
    "spam": "rspamd scores every message; spam goes to Junk.",
    "dkim": "rspamd signs outgoing mail with DKIM.",
    "srs": "postsrsd rewrites the sender of forwarded mail.",
    "postfix": "Postfix receives mail on port 25 and accepts your users' mail on 587.",
    "dovecot": "Dovecot keeps the mailboxes.",
    "webmail": "Roundcube serves webmail over HTTPS.",
    "updates": "Security updates install themselves daily.",
    "firewall": "ufw lets in only SSH and the mail ports.",
    "fail2ban": "fail2ban bans addresses after failed logins.",
    "verify": "Proves the result.",
}
STEPS = [(step.name, step.title, SHORT_WHY[step.name]) for step in all_steps()]
assert [name for name, _, _ in STEPS] == list(SHORT_WHY)
ALL_STEP_NAMES = [n for n, _, _ in STEPS]  # what an install with [tls] mode = "acme" runs
STEP_NAMES = [n for n in ALL_STEP_NAMES if n != "acme"]  # what a default install (self-signed) runs


# ---------------------------------------------------------------- DNS, as the ACME pre-check asks it

FAKE_IPV4 = "192.0.2.10"  # this fake machine's public IPv4 (it has no public IPv6)
FAKE_DNS_SERVER = "192.0.2.53"


def dns_zone(zone: dict[tuple[str, str], list[str]]) -> Query:
    """A DNS server answering from `zone` ((name, type) -> values); fails closed: another name is NXDOMAIN."""

    def ask(name: str, rtype: str) -> dns_query.Answer:
        if not any(n == name for n, _ in zone):
            return dns_query.Answer("NXDOMAIN")
        return dns_query.Answer("NOERROR", [dns_query.Record(name, rtype, v) for v in zone.get((name, rtype), [])])

    return ask


def silent_dns(name: str, rtype: str) -> dns_query.Answer:
    """A DNS server that never answers."""
    raise dns_query.DnsUnreachable(f"the DNS server {FAKE_DNS_SERVER} did not answer within 3 s ({name} {rtype})")


# ---------------------------------------------------------------- the machine, the install


@dataclass
class Preflight(RealPreflight):
    """A real Preflight with every field defaulted (a fresh Debian 12 machine, port 993 taken)."""

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
        PortStatus(25, "SMTP", False, ""), PortStatus(587, "submission", False, ""),
        PortStatus(993, "IMAPS", True, "sshd-test")])
    ufw_installed: bool = False
    ufw_active: bool = False
    mail_log: str | None = None
    earlier_install: bool = False
    install_state: str = "idle"
    tutorial_database: bool = False
    problems: list[str] = field(default_factory=list)
    suggested: Answers | None = None  # what suggested_answers() gives (else a new install)

    def suggested_answers(self) -> Answers:
        if self.suggested is not None:
            return self.suggested
        return defaults.new_install(self.hostname)


@dataclass
class State(InstallState):
    """A real InstallState whose `alive` is scripted (the real one asks /proc)."""

    alive: bool = False  # type: ignore[assignment]


@dataclass
class Run:
    """What one start_worker() does: the events it writes and how it ends."""

    events: list[Event]
    final: State
    hold: threading.Event | None = None  # keep "running" until set
    after_hold: list[Event] = field(default_factory=list)  # written once hold is set


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


def default_plan() -> list[StepPlan]:
    return [
        StepPlan("packages", "Packages", [Change("package", "postfix-mysql", "install postfix-mysql")]),
        StepPlan("database", "Database", [Change("sql", "mailserver", "create database mailserver")]),
        StepPlan("tls", "SSL/TLS and DH parameters", []),
        StepPlan("postfix", "Postfix", [Change("postconf", "myhostname", "set myhostname = mail.example.org",
                                               "--- main.cf\n+++ main.cf\n-myhostname = old\n"
                                               "+myhostname = mail.example.org\n")]),
        StepPlan("dovecot", "Dovecot", [Change("file", "/etc/dovecot/conf.d/99-mailtui.conf",
                                               "write /etc/dovecot/conf.d/99-mailtui.conf")]),
        StepPlan("firewall", "Firewall", [Change("firewall", "25/tcp", "allow 25/tcp (SMTP)")]),
    ]


MASTER_CF_DIFF = """--- /etc/postfix/master.cf
+++ /etc/postfix/master.cf
@@ -14,6 +14,17 @@
 smtp      inet  n       -       y       -       -       smtpd
 #smtp      inet  n       -       y       -       1       postscreen
 #smtpd     pass  -       -       y       -       -       smtpd
+submission inet n       -       y       -       -       smtpd
+  -o syslog_name=postfix/submission
+  -o smtpd_tls_security_level=encrypt
+  -o smtpd_sasl_auth_enable=yes
+  -o smtpd_tls_auth_only=yes
+  -o smtpd_reject_unlisted_recipient=no
+  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
+  -o smtpd_sender_restrictions=reject_sender_login_mismatch
+  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
+  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
+  -o milter_macro_daemon_name=ORIGINATING
 #628       inet  n       -       y       -       -       qmqpd
 pickup    unix  n       -       y       60      1       pickup
 cleanup   unix  n       -       y       -       0       cleanup
"""

MAIN_CF_DIFF = """--- /etc/postfix/main.cf
+++ /etc/postfix/main.cf
@@ -1,4 +1,4 @@
-myhostname = debian
+myhostname = mail.example.org
 alias_maps = hash:/etc/aliases
 alias_database = hash:/etc/aliases
-mydestination = $myhostname, debian, localhost.localdomain, localhost
+mydestination = localhost
@@ -30,3 +30,9 @@
+virtual_mailbox_domains = proxy:mysql:/etc/postfix/mysql-virtual-mailbox-domains.cf
+virtual_mailbox_maps = proxy:mysql:/etc/postfix/mysql-virtual-mailbox-maps.cf
+virtual_alias_maps = proxy:mysql:/etc/postfix/mysql-virtual-alias-maps.cf, proxy:mysql:/etc/postfix/mysql-e2e.cf
+virtual_transport = lmtp:unix:private/dovecot-lmtp
+smtpd_tls_cert_file = /etc/ssl/certs/mailtui-mail.example.org.pem
+smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
"""


def long_plan() -> list[StepPlan]:
    """A plan with the real install's shape: many changes, diffs longer than a screen, lines wider than it."""
    dovecot = "\n".join(["--- /etc/dovecot/conf.d/99-mailtui.conf", "+++ /etc/dovecot/conf.d/99-mailtui.conf",
                          "@@ -0,0 +1,40 @@"]
                         + [f"+# line {i}: mail_location = maildir:/var/vmail/%d/%n/Maildir:LAYOUT=fs "
                            f"(setting number {i} of the mailtui profile)" for i in range(1, 41)]) + "\n"
    return [
        StepPlan("packages", "Packages", [Change("package", p, f"install {p}")
                                          for p in ("postfix", "postfix-mysql", "dovecot-imapd", "dovecot-lmtpd",
                                                    "dovecot-mysql", "mariadb-server")]),
        StepPlan("database", "Database", [Change("sql", "mailserver", "create database mailserver"),
                                          Change("sql", "mailuser", "create user mailuser (SELECT only)")]),
        StepPlan("tls", "SSL/TLS and DH parameters", [Change("file", "/etc/ssl/certs/mailtui-mail.example.org.pem",
                                                             "create a self-signed certificate for mail.example.org")]),
        StepPlan("postfix", "Postfix", [
            Change("postconf", "main.cf", "set 9 parameters of main.cf", MAIN_CF_DIFF),
            Change("master", "submission", "add the submission service (587) to master.cf", MASTER_CF_DIFF),
            Change("file", "/etc/mailname", "write /etc/mailname",
                   "--- /etc/mailname\n+++ /etc/mailname\n-debian\n+mail.example.org\n")]),
        StepPlan("dovecot", "Dovecot", [Change("file", "/etc/dovecot/conf.d/99-mailtui.conf",
                                               "write /etc/dovecot/conf.d/99-mailtui.conf", dovecot)]),
        StepPlan("firewall", "Firewall", [Change("firewall", f"{p}/tcp", f"allow {p}/tcp")
                                          for p in (22, 25, 587, 465, 993)]),
        StepPlan("fail2ban", "Brute-force protection", []),
    ]


class FakeEngine(ScriptedOperations):
    """The wizard's operations, scripted: a machine mailtui has not installed, plans and installs replayed."""

    SCRIPT_HELPERS = ()

    def __init__(self, *, root: bool = True, preflight: Preflight | None = None, state: State | None = None,
                 runs: list[Run] | None = None, pending: Answers | None = None,
                 plan: list[StepPlan] | None = None, pending_packages: Sequence[str] = (),
                 preflight_error: str = "", plan_refuses: dict[str, str] | None = None,
                 acme_dns: Query | None = None) -> None:
        self.root = root
        self.pf = preflight or Preflight()
        self.preflight_error = preflight_error
        self.state = state or State()
        self.runs = list(runs or [])
        self.pending = pending
        self._plan = plan if plan is not None else default_plan()
        self.plan_refuses = dict(plan_refuses or {})  # the first plan() raises ValidationError(these)
        self._pending_packages = list(pending_packages)
        self.started: list[tuple[Answers, list[str] | None]] = []
        self.saved: list[tuple[Answers, Path]] = []
        self.plans: list[Answers] = []
        self.disk = 0  # what plan_inputs() fingerprints: start_worker() changes it
        self.current: Run | None = None
        self.roundtrip_args: tuple[str, str] | None = None
        self.dns_written: list[tuple[DnsReport, Path]] = []
        self.acme_dns = acme_dns  # the DNS server the ACME pre-check asks (None: not scripted, refused)
        self.acme_dns_asked: list[Answers] = []
        self._n = 0

    # ------------------------------------------------------------ the machine

    def is_root(self) -> bool:
        return self.root

    def preflight(self) -> RealPreflight:
        if self.preflight_error:
            raise RuntimeError(self.preflight_error)
        return self.pf

    def suggested_answers(self, pf: RealPreflight) -> Answers:
        return pf.suggested_answers()

    def default_answers(self) -> Answers:
        return defaults.new_install(self.pf.hostname)

    def ssh_ports(self, answers: Answers) -> list[int]:
        return [2222]

    def mail_ports(self, answers: Answers) -> list[tuple[int, str]]:
        return firewall.mail_ports(answers)  # the real table: pure

    def generate_password(self) -> str:
        self._n += 1
        return f"Generated-Secret-{self._n:02d}"

    def steps(self) -> list[StepInfo]:
        return [StepInfo(*step) for step in STEPS]

    # ------------------------------------------------------------ answers (the real, pure checks)

    def problems(self, answers: Answers) -> dict[str, str]:
        return problems_mod.problems(problems_mod.canonical(answers), check_files=False)

    def canonical(self, answers: Answers) -> Answers:
        return problems_mod.canonical(answers)

    def save_answers(self, answers: Answers, path: Path) -> None:
        self.saved.append((answers, path))

    def saved_answers(self) -> Answers | None:
        return None  # not installed: the app starts in the wizard

    def pending_answers(self) -> Answers | None:
        return self.pending

    # ------------------------------------------------------------ plan and install

    def plan_inputs(self) -> str:
        return f"disk-{self.disk}"  # a run (or a test) changes the machine: plans made before are stale

    def prepare(self, answers: Answers) -> CheckedAnswers:
        return CheckedAnswers(problems_mod.canonical(answers))

    def plan(self, answers: CheckedAnswers, only: Sequence[str] | None = None) -> list[StepPlan]:
        self.plans.append(answers.answers)
        if self.plan_refuses:
            refused, self.plan_refuses = self.plan_refuses, {}
            raise ValidationError(refused)
        return self._plan

    def pending_packages(self, answers: CheckedAnswers) -> list[str]:
        pending, self._pending_packages = self._pending_packages, []
        return pending

    def start_worker(self, answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
        self.disk += 1
        self.started.append((answers.answers, list(steps) if steps is not None else None))
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
                yield from run.after_hold
            self.state = run.final
        while not stop():
            time.sleep(0.01)

    def read_state(self) -> InstallState:
        return self.state

    def resume_from(self, state: InstallState) -> list[str]:
        """The engine's own (pure) rule: the recorded steps not done, every step when none is recorded (the
        worker records every step the answers enable, so a self-signed install never lists acme)."""
        return install_plan.resume_from(state)

    def skippable(self) -> frozenset[str]:
        return frozenset({"firewall", "fail2ban", "verify"})

    # ------------------------------------------------------------ verify

    def checks(self, answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
        return [CheckResult("postfix", "Postfix", Check("service postfix running", True)),
                CheckResult("dovecot", "Dovecot", Check("port 993 (IMAPS) listening", False,
                                                        "nothing listens there"))]

    def roundtrip(self, email: str, password: str) -> list[Check]:
        self.roundtrip_args = (email, password)
        return [Check(f"sent a message to {email} on 587", True), Check("read it back over IMAPS", True)]

    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        """The real (pure) report for a machine whose public IPv4 is 192.0.2.10."""
        if answers is None:
            raise NotScripted("dns_report() of the installed server: a DashboardEngine scripts it")
        return dns.report(answers, "192.0.2.10", None)

    def acme_dns_check(self, answers: Answers, server: str | None = None) -> acme_dns.AcmeDnsCheck:
        """The real check (pure) against the scripted DNS, for a machine whose public IPv4 is 192.0.2.10 and
        which has no public IPv6. Not scripted: refused (a test that reaches it without scripting fails)."""
        if self.acme_dns is None:
            return ScriptedOperations.acme_dns_check(self, answers, server)  # type: ignore[no-any-return]
        self.acme_dns_asked.append(answers)
        return acme_dns.check(answers, FAKE_IPV4, None, FAKE_DNS_SERVER, ask=self.acme_dns)

    def write_dns_report(self, report: DnsReport, path: Path) -> Path:
        if not path.is_absolute():
            raise ValidationError({"path": f"{path} is not an absolute path (e.g. /root/mailtui-dns.txt)"})
        self.dns_written.append((report, path))
        return path


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
        from mailtui.ops.account_types import check_page

        check_page(filter, limit, offset)
        return rows[offset:offset + limit]

    def _users(self) -> list[str]:
        if self._sorted_users is None:
            self._sorted_users = sorted(self.users)
        return self._sorted_users

    @staticmethod
    def _order(order: str | None, allowed: Sequence[str]) -> tuple[str, bool]:
        """(column, descending) of a whitelisted order, refused like the engine refuses it."""
        from mailtui.ops.account_types import order_by_sql

        name = order or allowed[0]
        order_by_sql(name, {a: (a,) for a in allowed}, allowed[0])
        return name.removeprefix("-"), name.startswith("-")

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[Any]:
        from mailtui.ops.account_types import DomainRow

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
        from mailtui.ops.account_types import UserRow

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
        from mailtui.ops.account_types import AliasRow

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

    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        from mailtui.model.defaults import ROLE_ADDRESSES
        from mailtui.ops.account_types import AlreadyExists, checked_domain, checked_email

        name = checked_domain(name)
        if role_aliases_to is not None:
            role_aliases_to = checked_email(role_aliases_to, "role_aliases_to")
        with self.lock:
            self.calls.append(("add_domain", name, role_aliases_to))
            if name in self.domains:
                raise AlreadyExists({"name": f"the domain {name} already exists"})
            self.domains.add(name)
            if role_aliases_to is not None:
                self.aliases |= {(f"{role}@{name}", role_aliases_to) for role in ROLE_ADDRESSES}
        return name

    def add_user(self, email: str, password: str) -> str:
        from mailtui.errors import ValidationError
        from mailtui.ops.account_types import AlreadyExists, checked_mailbox

        email = checked_mailbox(email, password)
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
        from mailtui.ops.account_types import NotFound, checked_mailbox

        email = checked_mailbox(email, password)
        with self.lock:
            self.calls.append(("set_password", email))
            if email not in self.users:
                raise NotFound(f"the mailbox {email} does not exist", "email")
            self.passwords[email] = password

    def remove_user(self, email: str) -> Any:
        from mailtui.ops.account_types import NotFound, RemovalSummary

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
        from mailtui.ops.account_types import AliasRow, AlreadyExists, alias_fields

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
        from mailtui.ops.account_types import NotFound

        with self.lock:
            self.calls.append(("remove_alias", source, destination))
            gone = {a for a in self.aliases if a[0] == source and destination in (None, a[1])}
            if not gone:
                raise NotFound(f"the alias {source} does not exist", "source")
            self.aliases -= gone
            return len(gone)

    def _summary(self, name: str) -> Any:
        from mailtui.ops.account_types import NotFound, RemovalSummary

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


def sample_spam_stats() -> spam.SpamStats:
    """A day of a small server's spam filter, ending at T0's hour (deterministic for the snapshots)."""
    hour_end = T0 - T0 % 3600
    scanned = [12, 9, 7, 5, 4, 4, 6, 14, 30, 41, 38, 35, 33, 36, 40, 37, 31, 28, 22, 19, 17, 15, 13, 11]
    refused = [0, 1, 0, 0, 2, 0, 0, 1, 3, 2, 1, 0, 0, 4, 2, 1, 0, 0, 1, 0, 0, 2, 0, 1]
    greylisted = [1, 0, 2, 1, 0, 0, 1, 2, 4, 3, 2, 2, 1, 3, 5, 2, 1, 1, 0, 2, 1, 0, 1, 0]
    junked = [0, 1, 1, 0, 0, 1, 0, 2, 3, 4, 2, 1, 2, 3, 2, 1, 1, 2, 0, 1, 0, 1, 0, 1]
    limited = [0] * 20 + [0, 3, 5, 2]
    held = [
        spam.Scan(hour_end + 600, "soft reject", 0.0, 15.0, "carol@example.org", ("a@customer.test",
                  "b@customer.test"), "Invoice", "", "carol@example.org", (), "limited"),
        spam.Scan(hour_end - 1800, "reject", 1000.0, 15.0, "promo@bulk.test", ("admin@example.org",),
                  "You have won", "198.51.100.7", "", ("GTUBE(0)", "R_SPF_FAIL(1)"), "refused"),
        spam.Scan(hour_end - 5400, "soft reject", 4.8, 15.0, "news@list.test", ("admin@example.org",),
                  "Weekly digest", "203.0.113.9", "", ("MANY_INVISIBLE_PARTS(4)", "MIME_HTML_ONLY(0.2)"), "greylisted"),
    ]
    return spam.SpamStats(
        scanned=5123, actions={"no action": 4803, "greylist": 120, "add header": 98, "rewrite subject": 0,
                               "soft reject": 10, "reject": 92},
        learned=14, learned_spam=9, learned_ham=5, held=held,
        hourly={"scanned": scanned, "refused": refused, "greylisted": greylisted, "junked": junked,
                "limited": limited},
        hour_end=hour_end, limited=[spam.Limited("carol@example.org", 10, hour_end + 600)], refused_outbound=1)


class DashboardEngine(FakeEngine):
    """A FakeEngine on an installed machine: saved answers, and accounts in memory (FakeAccounts, which
    checks input with the engine's own validators)."""

    SCRIPT_HELPERS = ()

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
        # What the fake DNS holds beyond the report's own records: (name, type) -> values ([] for none).
        self.dns_changes: dict[tuple[str, str], list[str]] = {}
        self.dns_checked: list[str | None] = []  # the server each dns_check was asked for
        # DKIM as the engine's model keeps it (a signing and a standby key per installed domain).
        self.dkim = dkim_model.add_domain(dkim_model.DkimState(), "example.org", "2026-12-01")
        self.rotated: list[str] = []
        # The spam filter as rspamd would report it (spam_error: why it cannot be asked, when set).
        self.spam: spam.SpamStats = sample_spam_stats()
        self.spam_error = ""
        self.learned: list[tuple[str, str]] = []

    def saved_answers(self) -> Answers | None:
        if not self.installed:
            return None
        return Answers(hostname="mail.example.org", domains=[Domain("example.org")], users=[User("admin@example.org")])

    def installed_answers(self) -> Answers:
        answers = self.saved_answers()
        if answers is None:
            raise MailtuiError("mailtui has not installed this machine yet (its saved answers are missing)")
        return answers

    def _accounts(self) -> FakeAccounts:
        self.installed_answers()
        return self.accounts

    def dns_check(self, report: DnsReport, server: str | None = None) -> dns_check.DnsCheck:
        """The engine's own comparison, against a DNS that holds the report's records but for dns_changes."""
        self.dns_checked.append(server)
        zone: dict[tuple[str, str], list[str]] = {}
        for r in report.records:
            key = (ipaddress.ip_address(r.name).reverse_pointer, "PTR") if r.type == "PTR" else (r.name, r.type)
            zone.setdefault(key, []).append(r.value)
        zone.update(self.dns_changes)

        def ask(name: str, rtype: str) -> dns_query.Answer:
            return dns_query.Answer("NOERROR", [dns_query.Record(name, rtype, v) for v in zone.get((name, rtype), [])])

        return dns_check.check(report, server or "192.0.2.53", ask=ask)

    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        if answers is not None:
            return super().dns_report(answers)
        installed = self.installed_answers()
        return dns.report(installed, "192.0.2.10", None, [*installed.domain_names, *sorted(self._accounts().domains)],
                          dkim_keys=[k.published for k in self.dkim_status()])

    def dkim_status(self) -> list[DkimKeyStatus]:
        self.installed_answers()
        return [DkimKeyStatus(k.domain, k.selector, k.role, k.bits, k.created, 4, k.path, f"MIIBfake{k.selector}")
                for k in self.dkim.keys]

    def dkim_rotate(self, domain: str) -> str:
        self.installed_answers()
        before = self.dkim.signing(domain)
        self.dkim = dkim_model.rotate(self.dkim, domain, "2026-12-05")
        self.rotated.append(domain)
        now = self.dkim.signing(domain)
        assert before is not None and now is not None
        return (f"restarting rspamd\n{domain}: {now.selector} signs now; {before.selector} is retired\n"
                f"publish the new standby record before the next rotation")

    def spam_stats(self) -> spam.SpamStats:
        self.installed_answers()
        if self.spam_error:
            raise MailtuiError(self.spam_error)
        return self.spam

    def spam_learn(self, kind: str, path: Path) -> str:
        """The engine's own checks of kind and FILE (spam.read_message), then rspamd "learns" it."""
        self.installed_answers()
        spam.read_message(kind, path)
        self.learned.append((kind, str(path)))
        self.spam = replace(self.spam, learned=self.spam.learned + 1)
        return f"rspamd learned {path} as {kind}"

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[DomainRow]:
        return self._accounts().list_domains(filter, limit, offset, order)

    def count_domains(self, filter: str = "") -> int:
        return self._accounts().count_domains(filter)

    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0, order: str | None = None,
                   domain: str | None = None) -> list[UserRow]:
        return self._accounts().list_users(filter, limit, offset, order)

    def count_users(self, filter: str = "") -> int:
        return self._accounts().count_users(filter)

    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[AliasRow]:
        return self._accounts().list_aliases(filter, limit, offset, order)

    def count_aliases(self, filter: str = "") -> int:
        return self._accounts().count_aliases(filter)

    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        return self._accounts().add_domain(name, role_aliases_to)

    def add_user(self, email: str, password: str) -> str:
        return self._accounts().add_user(email, password)

    def set_password(self, email: str, password: str) -> None:
        self._accounts().set_password(email, password)

    def remove_user(self, email: str) -> RemovalSummary:
        return self._accounts().remove_user(email)

    def add_alias(self, source: str, destination: str) -> AliasRow:
        return self._accounts().add_alias(source, destination)

    def remove_alias(self, source: str, destination: str | None = None) -> int:
        return self._accounts().remove_alias(source, destination)

    def removal_preview(self, name: str) -> RemovalSummary:
        return self._accounts().removal_preview(name)

    def remove_domain(self, name: str) -> RemovalSummary:
        return self._accounts().remove_domain(name)

    def mailbox_stats(self, email: str) -> MaildirStats:
        self.stats_asked.append(email)
        return MaildirStats(len(email) % 7, 1536 * (len(email) % 5))

    def delete_maildir(self, email: str) -> Path | None:
        self.deleted_maildirs.append(email)
        return Path("/var/mail/vhosts") / email.split("@")[1] / email.split("@")[0]

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """The real CSV import (mailtui.ops.accounts_import) into the in-memory accounts."""
        if self.import_gate is not None:
            self.import_gate.wait(10)
        rows = accounts_import.read_file(path)
        return accounts_import.import_rows(self._accounts(), rows, dry_run=dry_run, progress=progress)

    def last_logins(self, emails: Sequence[str]) -> dict[str, datetime | None]:
        self.logins_asked.append(list(emails))
        if self.logins_gate is not None:
            self.logins_gate.wait(10)
        return {e: self.logins.get(e) for e in emails}

    # The other tabs refresh what they show (the Services tab's label tells Dovecot's debug switch):
    # a quiet machine here; fakes_ops.OpsEngine and fakes_log.LogEngine script them for their tabs.

    def service_statuses(self, name: str | None = None) -> list[ServiceStatus]:
        return []

    def config_problems(self) -> list[str]:
        return []

    def certificate_status(self) -> CertificateStatus:
        """A self-signed certificate with two years left (fakes_ops.OpsEngine scripts others)."""
        at = datetime.fromtimestamp(T0, timezone.utc)
        return CertificateStatus("mail.example.org", "self-signed", "/etc/ssl/mailtui/cert.pem",
                                 at + timedelta(days=800), checked_at=at)

    def dovecot_debug_enabled(self) -> bool:
        return False

    def queue_list(self) -> list[QueuedMessage]:
        return []

    def bans_available(self) -> str | None:
        return "fail2ban is not installed (this scripted engine has no bans; fakes_ops.OpsEngine has)"
