"""LiveOperations: each operation of the API done on this machine, by the engine's own modules.

Thin on purpose: every method hands over to one function of install/, ops/ or stack/, where the work
and its tests live.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from mailtui import paths
from mailtui.api.operations import Operations, StepInfo, StepPlan
from mailtui.errors import MailtuiError
from mailtui.events import Event
from mailtui.install import plan as install_plan
from mailtui.install import plan_inputs
from mailtui.install import preflight as install_preflight
from mailtui.install import rollback as install_rollback
from mailtui.install import state as install_state
from mailtui.install import worker as install_worker
from mailtui.install.plan import CheckedAnswers
from mailtui.install.preflight import Preflight
from mailtui.install.rollback import Action as RollbackAction
from mailtui.install.rollback import Result as RollbackResult
from mailtui.install.state import InstallState
from mailtui.model import defaults, passwords, validate
from mailtui.model import problems as answer_problems
from mailtui.model.answers import Answers
from mailtui.ops import (
    accounts_import,
    acme_dns,
    bans,
    certificate,
    check,
    dkim,
    dns,
    dns_check,
    last_login,
    logs,
    maildirs,
    queue,
    services,
    spam,
)
from mailtui.ops.account_types import AliasRow, DomainRow, RemovalSummary, UserRow
from mailtui.ops.accounts import Accounts
from mailtui.ops.accounts_import import ImportReport
from mailtui.ops.acme_dns import AcmeDnsCheck
from mailtui.ops.certificate import CertificateStatus
from mailtui.ops.check import CheckResult
from mailtui.ops.dkim import KeyStatus
from mailtui.ops.dns import DnsReport
from mailtui.ops.dns_check import DnsCheck
from mailtui.ops.logs import LogQuery, LogSource
from mailtui.ops.maildirs import MaildirStats
from mailtui.ops.queue import QueueAction
from mailtui.ops.services import ServiceStatus
from mailtui.ops.spam import SpamStats
from mailtui.report import Check
from mailtui.stack import roundtrip as roundtrip_probe
from mailtui.stack.logparse import LogEvent
from mailtui.steps import firewall
from mailtui.system import backups
from mailtui.system.fail2ban import Ban, JailStatus
from mailtui.system.postqueue import QueuedMessage


class LiveOperations(Operations):
    def __init__(self) -> None:
        self._local = threading.local()  # one database connection per thread (PyMySQL's are not thread-safe)

    # ------------------------------------------------------------ the machine

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def preflight(self) -> Preflight:
        return install_preflight.run_preflight()

    def suggested_answers(self, pf: Preflight) -> Answers:
        return pf.suggested_answers()

    def default_answers(self) -> Answers:
        return defaults.new_install(install_preflight.machine_hostname())

    def ssh_ports(self, answers: Answers) -> list[int]:
        return firewall.ssh_ports(answers)

    def mail_ports(self, answers: Answers) -> list[tuple[int, str]]:
        return list(firewall.mail_ports(answers))

    def generate_password(self) -> str:
        return passwords.generate_password()

    def steps(self) -> list[StepInfo]:
        return [StepInfo(s.name, s.title, s.why) for s in install_plan.all_steps()]

    # ------------------------------------------------------------ answers

    def problems(self, answers: Answers) -> dict[str, str]:
        return answer_problems.problems(answer_problems.canonical(answers))

    def canonical(self, answers: Answers) -> Answers:
        return answer_problems.canonical(answers)

    def save_answers(self, answers: Answers, path: Path) -> None:
        install_state.save_answers(answers, path)

    def saved_answers(self) -> Answers | None:
        return install_state.load_saved_answers()

    def installed_answers(self) -> Answers:
        return install_state.require_saved_answers()

    def pending_answers(self) -> Answers | None:
        return install_state.load_pending_answers()

    # ------------------------------------------------------------ plan and install

    def prepare(self, answers: Answers) -> CheckedAnswers:
        return install_plan.prepare(answers)

    def install_problems(self, answers: CheckedAnswers) -> list[str]:
        return install_plan.preflight(install_plan.make_context(answers, dry_run=True))

    def plan_inputs(self) -> str:
        return plan_inputs.fingerprint()

    def plan(self, answers: CheckedAnswers, only: Sequence[str] | None = None) -> list[StepPlan]:
        ctx = install_plan.make_context(answers, dry_run=True)
        return [StepPlan(step.name, step.title, changes) for step, changes in install_plan.plan(ctx, only)]

    def pending_packages(self, answers: CheckedAnswers) -> list[str]:
        return install_plan.pending_packages(answers)

    def start_worker(self, answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
        return install_worker.start_worker(answers, None if steps is None else list(steps))

    def worker_main(self, answers_text: str, only: Sequence[str] | None = None) -> int:
        return install_worker.worker_main(answers_text, only)

    def follow_events(self, stop: Callable[[], bool], *, from_start: bool = True) -> Iterator[Event]:
        return install_state.follow_events(paths.INSTALL_EVENTS, from_start=from_start, stop=stop)

    def read_state(self) -> InstallState:
        return install_state.read_state()

    def resume_from(self, state: InstallState) -> list[str]:
        return install_plan.resume_from(state)

    def skippable(self) -> frozenset[str]:
        return install_state.SKIPPABLE

    # ------------------------------------------------------------ checks, DNS, clients

    def checks(self, answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
        return check.run_checks(answers, login=login, roundtrip=roundtrip)

    def roundtrip(self, email: str, password: str) -> list[Check]:
        return roundtrip_probe.roundtrip(email, password)

    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        ipv4, ipv6 = dns.public_addresses()
        if answers is not None:
            return dns.report(answers, ipv4, ipv6, dkim_keys=dkim.published_keys(answers))
        installed = self.installed_answers()
        return dns.report(installed, ipv4, ipv6, [*installed.domain_names, *self._accounts().domain_names()],
                          dkim_keys=dkim.published_keys(installed))

    def write_dns_report(self, report: DnsReport, path: Path) -> Path:
        return dns.write_report(report, path)

    def dns_check(self, report: DnsReport, server: str | None = None) -> DnsCheck:
        return dns_check.check(report, dns_check.server_to_ask(server))

    def acme_dns_check(self, answers: Answers, server: str | None = None) -> AcmeDnsCheck:
        ipv4, ipv6 = dns.public_addresses()
        return acme_dns.check(answers, ipv4, ipv6, dns_check.server_to_ask(server))

    def dkim_status(self) -> list[KeyStatus]:
        return dkim.status() if self.installed_answers().dkim.enabled else []

    def dkim_rotate(self, domain: str) -> str:
        return "\n".join(dkim.rotate(self.installed_answers(), domain))

    def _spam_on(self) -> None:
        if not self.installed_answers().spam.enabled:
            raise MailtuiError("the spam filter is off on this server ([spam] enabled = false in the answers)")

    def spam_stats(self) -> SpamStats:
        self._spam_on()
        return spam.stats()

    def spam_learn(self, kind: str, path: Path) -> str:
        self._spam_on()
        return spam.learn(kind, path)

    # ------------------------------------------------------------ accounts

    def _accounts(self) -> Accounts:
        accounts: Accounts | None = getattr(self._local, "accounts", None)
        if accounts is None:
            accounts = self._local.accounts = Accounts.connect(self.installed_answers())
        return accounts

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[DomainRow]:
        return self._accounts().list_domains(filter=filter, limit=limit, offset=offset, order=order)

    def count_domains(self, filter: str = "") -> int:
        return self._accounts().count_domains(filter)

    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0, order: str | None = None,
                   domain: str | None = None) -> list[UserRow]:
        return self._accounts().list_users(filter=filter, domain=domain, limit=limit, offset=offset, order=order)

    def count_users(self, filter: str = "") -> int:
        return self._accounts().count_users(filter)

    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[AliasRow]:
        return self._accounts().list_aliases(filter=filter, limit=limit, offset=offset, order=order)

    def count_aliases(self, filter: str = "") -> int:
        return self._accounts().count_aliases(filter)

    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        added = self._accounts().add_domain(name, role_aliases_to)
        dkim.add_domain_keys(self.installed_answers(), added)  # DKIM on: its keys, and it is signed from now on
        return added

    def add_user(self, email: str, password: str) -> str:
        return self._accounts().add_user(email, password)

    def mailbox_problem(self, email: str, *, new: bool) -> dict[str, str]:
        return self._accounts().mailbox_problem(email, new=new)

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
        removed = self._accounts().remove_domain(name)
        dkim.retire_domain(self.installed_answers(), validate.canonical_domain(name))  # keys moved aside
        return removed

    def mailbox_stats(self, email: str) -> MaildirStats:
        return maildirs.stats(email)

    def maildir_path(self, email: str) -> Path:
        return maildirs.maildir_path(email)

    def delete_maildir(self, email: str) -> Path | None:
        return maildirs.delete_maildir(email)

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        rows = accounts_import.read_file(path)  # a file that cannot be imported is refused before the database
        return accounts_import.import_rows(self._accounts(), rows, dry_run=dry_run, progress=progress)

    def last_logins(self, emails: Sequence[str]) -> dict[str, datetime | None]:
        return last_login.last_logins(emails)

    # ------------------------------------------------------------ services

    def service_statuses(self, name: str | None = None) -> list[ServiceStatus]:
        return [services.status(name)] if name else services.statuses()

    def control_service(self, name: str, verb: str, max_wait: float | None = None) -> str:
        return services.control(name, verb, max_wait)

    def config_problems(self) -> list[str]:
        return services.config_problems()

    def certificate_status(self) -> CertificateStatus:
        return certificate.certificate_status(self.installed_answers())

    def dovecot_debug_enabled(self) -> bool:
        return services.dovecot_debug_enabled()

    def set_dovecot_debug(self, on: bool) -> str:
        return services.set_dovecot_debug(on)

    # ------------------------------------------------------------ queue

    def queue_list(self) -> list[QueuedMessage]:
        return queue.list_queue()

    def queue_action(self, action: QueueAction, queue_id: str | None = None) -> str:
        return queue.act(action, queue_id)

    # ------------------------------------------------------------ mail log

    def mail_log_source(self) -> LogSource:
        return logs.source()

    def read_log(self, query: LogQuery) -> list[LogEvent]:
        return logs.read(query)

    def follow_log(self, query: LogQuery, stop: Callable[[], bool]) -> Iterator[LogEvent]:
        return logs.follow(query, stop)

    def journey(self, events: Sequence[LogEvent], queue_id: str) -> list[LogEvent]:
        return logs.journey(events, queue_id)

    def log_summary(self, events: Sequence[LogEvent], minutes: int = 30) -> dict[str, list[int]]:
        return logs.summary(events, minutes)

    # ------------------------------------------------------------ bans (fail2ban)

    def bans_available(self) -> str | None:
        return bans.available()

    def ban_jails(self) -> list[JailStatus]:
        return bans.jails()

    def bans(self) -> list[Ban]:
        return bans.list_bans()

    def unban(self, address: str, jail: str | None = None) -> list[str]:
        return bans.unban(address, jail)

    # ------------------------------------------------------------ rollback

    def rollback_plan(self) -> list[RollbackAction]:
        index = backups.load_index()
        return [] if install_rollback.nothing_recorded(index) else install_rollback.plan(index)

    def rollback(self, actions: list[RollbackAction], out: Callable[[str], None]) -> RollbackResult:
        return install_rollback.run(actions, out)
