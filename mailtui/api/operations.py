"""The operations API: every action the command line and the terminal UI offer, typed, in one place.

`Operations` is the contract (subiquity's idea: one typed boundary between the front ends and the engine).
`LiveOperations` (api/live.py) does each operation on this machine; the TUI tests hand the screens a
scripted implementation that refuses every call a test did not script. A unit test keeps the
implementations' signatures equal to this contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mailtui.events import Event
from mailtui.install.plan import CheckedAnswers
from mailtui.install.preflight import Preflight
from mailtui.install.rollback import Action as RollbackAction
from mailtui.install.rollback import Result as RollbackResult
from mailtui.install.state import InstallState
from mailtui.model.answers import Answers
from mailtui.ops.account_types import AliasRow, DomainRow, RemovalSummary, UserRow
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
from mailtui.report import Change, Check
from mailtui.stack.logparse import LogEvent
from mailtui.system.fail2ban import Ban, JailStatus
from mailtui.system.postqueue import QueuedMessage


@dataclass(frozen=True)
class StepPlan:
    """What one install step would change (empty: nothing)."""

    name: str
    title: str
    changes: list[Change]


@dataclass(frozen=True)
class StepInfo:
    name: str
    title: str
    why: str  # one plain-language line: what the step does and why


class Operations(ABC):
    """Every operation the front ends may ask for. Errors: ValidationError (bad input, naming the field),
    MailtuiError (anything else an operator can act on)."""

    # ------------------------------------------------------------ the machine

    @abstractmethod
    def is_root(self) -> bool: ...

    @abstractmethod
    def preflight(self) -> Preflight:
        """What the machine looks like before an install (changes nothing)."""

    @abstractmethod
    def suggested_answers(self, pf: Preflight) -> Answers:
        """An earlier install's answers to adopt, else a new install for this machine's name."""

    @abstractmethod
    def default_answers(self) -> Answers:
        """A new install, when the machine could not be surveyed."""

    @abstractmethod
    def ssh_ports(self, answers: Answers) -> list[int]:
        """The SSH ports the firewall keeps open."""

    @abstractmethod
    def mail_ports(self, answers: Answers) -> list[tuple[int, str]]:
        """The mail ports the firewall opens, as (port, label)."""

    @abstractmethod
    def generate_password(self) -> str: ...

    @abstractmethod
    def steps(self) -> list[StepInfo]:
        """Every install step, in the order the engine applies them."""

    # ------------------------------------------------------------ answers

    @abstractmethod
    def problems(self, answers: Answers) -> dict[str, str]:
        """Every problem of the answers, keyed by field (empty: valid)."""

    @abstractmethod
    def canonical(self, answers: Answers) -> Answers: ...

    @abstractmethod
    def save_answers(self, answers: Answers, path: Path) -> None:
        """Write the answers file (root 0600; mailbox passwords only as hashes)."""

    @abstractmethod
    def saved_answers(self) -> Answers | None:
        """The answers of the finished install (None: mailtui has not installed this machine)."""

    @abstractmethod
    def installed_answers(self) -> Answers:
        """The saved answers; MailtuiError when mailtui has not installed this machine."""

    @abstractmethod
    def pending_answers(self) -> Answers | None:
        """The answers of the install under way or interrupted (None: there is none)."""

    # ------------------------------------------------------------ plan and install

    @abstractmethod
    def plan_inputs(self) -> str:
        """A fingerprint of the files a plan reads: while it and the answers stay the same, a plan made
        earlier is still current (the database is not part of it)."""

    @abstractmethod
    def prepare(self, answers: Answers) -> CheckedAnswers:
        """Validated answers with their secrets: ValidationError names every problem."""

    @abstractmethod
    def install_problems(self, answers: CheckedAnswers) -> list[str]:
        """What stops the install before anything changes (root, release, each step's own)."""

    @abstractmethod
    def plan(self, answers: CheckedAnswers, only: Sequence[str] | None = None) -> list[StepPlan]:
        """What each step would change (with `only`: just those steps). Changes nothing."""

    @abstractmethod
    def pending_packages(self, answers: CheckedAnswers) -> list[str]:
        """The packages the packages step would install now."""

    @abstractmethod
    def start_worker(self, answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
        """Start the detached install worker (with `steps`: just those); its PID."""

    @abstractmethod
    def worker_main(self, answers_text: str, only: Sequence[str] | None = None) -> int:
        """The body of the detached worker process (`mailtui install --worker`): its exit code."""

    @abstractmethod
    def follow_events(self, stop: Callable[[], bool], *, from_start: bool = True) -> Iterator[Event]:
        """The install's events as the worker writes them, until stop() is true."""

    @abstractmethod
    def read_state(self) -> InstallState: ...

    @abstractmethod
    def resume_from(self, state: InstallState) -> list[str]:
        """The steps an interrupted or failed install still has to run, in engine order."""

    @abstractmethod
    def skippable(self) -> frozenset[str]:
        """Steps a UI may offer to skip after they failed: nothing later depends on them."""

    # ------------------------------------------------------------ checks, DNS, clients

    @abstractmethod
    def checks(self, answers: Answers, *, login: tuple[str, str] | None = None,
               roundtrip: tuple[str, str] | None = None) -> list[CheckResult]:
        """`mailtui check`: every step's checks, the network, the files; optionally (email, password) an
        IMAPS login and a round trip."""

    @abstractmethod
    def roundtrip(self, email: str, password: str) -> list[Check]:
        """A real message sent over SMTP to `email` and read back over IMAPS, then deleted."""

    @abstractmethod
    def dns_report(self, answers: Answers | None = None) -> DnsReport:
        """The DNS records to publish and the mail client settings, with this machine's public addresses
        (from its own interfaces): for `answers` (the Verify screen), else for the installed server and
        every domain in its database."""

    @abstractmethod
    def write_dns_report(self, report: DnsReport, path: Path) -> Path:
        """Save the report as `mailtui dns` prints it; ValidationError names `path` when it cannot be."""

    @abstractmethod
    def dns_check(self, report: DnsReport, server: str | None = None) -> DnsCheck:
        """Ask DNS for every record of `report` (`server`, else the first nameserver of /etc/resolv.conf) and
        compare; ValidationError names `server` when it is not an IP address or there is none to ask."""

    @abstractmethod
    def acme_dns_check(self, answers: Answers, server: str | None = None) -> AcmeDnsCheck:
        """Before an ACME order ([tls] mode = "acme"): whether DNS (`server`, else the first nameserver of
        /etc/resolv.conf) gives the answers' hostname A/AAAA records of this machine's public addresses, so
        that the CA's HTTP-01 challenge reaches it; a DNS server that does not answer fails. ValidationError
        names `server` when it is not an IP address or there is none to ask."""

    @abstractmethod
    def dkim_status(self) -> list[KeyStatus]:
        """Every DKIM key of the installed server: domain, selector, role (signing, standby, retired), size,
        age, and whether its file can be read (none when DKIM is off)."""

    @abstractmethod
    def dkim_rotate(self, domain: str) -> str:
        """Rotate `domain`'s DKIM keys (the standby signs, the signing key is retired, a new standby is made);
        returns what was done. ValidationError names `domain` when it has no keys here."""

    @abstractmethod
    def spam_stats(self) -> SpamStats:
        """The spam filter as rspamd reports it: messages scanned by action, learned, the last refused or
        deferred with scores and rules. MailtuiError when the filter is off or rspamd does not answer."""

    @abstractmethod
    def spam_learn(self, kind: str, path: Path) -> str:
        """Teach rspamd that the message in `path` is `kind` ("spam" or "ham"); returns what it said.
        ValidationError names `kind` or `FILE`."""

    # ------------------------------------------------------------ accounts

    @abstractmethod
    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[DomainRow]: ...

    @abstractmethod
    def count_domains(self, filter: str = "") -> int: ...

    @abstractmethod
    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0, order: str | None = None,
                   domain: str | None = None) -> list[UserRow]: ...

    @abstractmethod
    def count_users(self, filter: str = "") -> int: ...

    @abstractmethod
    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[AliasRow]: ...

    @abstractmethod
    def count_aliases(self, filter: str = "") -> int: ...

    @abstractmethod
    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        """Add a domain; its canonical name. With role_aliases_to, its postmaster@ and abuse@ (RFC 2142) become
        aliases of that address in the same transaction (ValidationError names `role_aliases_to`)."""

    @abstractmethod
    def add_user(self, email: str, password: str) -> str:
        """Add a mailbox; its canonical address."""

    @abstractmethod
    def mailbox_problem(self, email: str, *, new: bool) -> dict[str, str]:
        """Checked before a password is asked for: {} when a new mailbox could be added (new=True) or the
        mailbox exists (new=False); else {"email": why}. ValidationError for an address that is not one."""

    @abstractmethod
    def set_password(self, email: str, password: str) -> None: ...

    @abstractmethod
    def remove_user(self, email: str) -> RemovalSummary: ...

    @abstractmethod
    def add_alias(self, source: str, destination: str) -> AliasRow: ...

    @abstractmethod
    def remove_alias(self, source: str, destination: str | None = None) -> int:
        """Remove the alias (every destination of it when None); how many rows went."""

    @abstractmethod
    def removal_preview(self, name: str) -> RemovalSummary:
        """What removing the domain takes with it."""

    @abstractmethod
    def remove_domain(self, name: str) -> RemovalSummary: ...

    @abstractmethod
    def mailbox_stats(self, email: str) -> MaildirStats: ...

    @abstractmethod
    def maildir_path(self, email: str) -> Path: ...

    @abstractmethod
    def delete_maildir(self, email: str) -> Path | None:
        """Delete a mailbox's mail on disk; the directory removed (None: there was none)."""

    @abstractmethod
    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """Mailboxes from a CSV file of email,password rows, in one transaction; the rejected rows with
        their line and reason. progress(done, total) while the passwords are hashed."""

    @abstractmethod
    def last_logins(self, emails: Sequence[str]) -> dict[str, datetime | None]:
        """{email: its last IMAP/POP3 login, or None when not in the recent mail log}."""

    # ------------------------------------------------------------ services

    @abstractmethod
    def service_statuses(self, name: str | None = None) -> list[ServiceStatus]:
        """The stack's services (or just `name`): running, PID, uptime, listening ports."""

    @abstractmethod
    def control_service(self, name: str, verb: str, max_wait: float | None = None) -> str:
        """start / stop / restart / reload; the command's output. `max_wait`: how long a restart or stop of
        Dovecot waits for the deliveries in flight to finish (default 30 s)."""

    @abstractmethod
    def config_problems(self) -> list[str]:
        """Warnings and errors of `postfix check` and `doveconf -n`, one line each."""

    @abstractmethod
    def certificate_status(self) -> CertificateStatus:
        """The certificate the mail ports serve (the installed answers' TLS mode): where it comes from, its
        expiry, the day certbot starts renewing it (ACME) and what is wrong with it (a failed order, under 14
        days left)."""

    @abstractmethod
    def dovecot_debug_enabled(self) -> bool: ...

    @abstractmethod
    def set_dovecot_debug(self, on: bool) -> str: ...

    # ------------------------------------------------------------ queue

    @abstractmethod
    def queue_list(self) -> list[QueuedMessage]: ...

    @abstractmethod
    def queue_action(self, action: QueueAction, queue_id: str | None = None) -> str:
        """flush (all when queue_id is None) / hold / release / delete one / delete-deferred; the tool's output."""

    # ------------------------------------------------------------ mail log

    @abstractmethod
    def mail_log_source(self) -> LogSource: ...

    @abstractmethod
    def read_log(self, query: LogQuery) -> list[LogEvent]:
        """The last matching lines of the mail log (a file searched backwards, or the journal)."""

    @abstractmethod
    def follow_log(self, query: LogQuery, stop: Callable[[], bool]) -> Iterator[LogEvent]:
        """The last matching lines, then each new one until stop() is true (through rotation)."""

    @abstractmethod
    def journey(self, events: Sequence[LogEvent], queue_id: str) -> list[LogEvent]:
        """One message's lines: Postfix's and Dovecot's LMTP delivery."""

    @abstractmethod
    def log_summary(self, events: Sequence[LogEvent], minutes: int = 30) -> dict[str, list[int]]:
        """delivered / deferred / rejected / auth-failure counts per minute, oldest first, ending now."""

    # ------------------------------------------------------------ bans (fail2ban)

    @abstractmethod
    def bans_available(self) -> str | None:
        """None when fail2ban answers; else a sentence saying why the bans cannot be shown."""

    @abstractmethod
    def ban_jails(self) -> list[JailStatus]: ...

    @abstractmethod
    def bans(self) -> list[Ban]:
        """Every banned address, newest first."""

    @abstractmethod
    def unban(self, address: str, jail: str | None = None) -> list[str]:
        """Lift a ban (from every jail when jail is None); the jails it was lifted from."""

    # ------------------------------------------------------------ rollback

    @abstractmethod
    def rollback_plan(self) -> list[RollbackAction]:
        """What `mailtui rollback` would undo (empty: nothing recorded)."""

    @abstractmethod
    def rollback(self, actions: list[RollbackAction], out: Callable[[str], None]) -> RollbackResult:
        """Undo the install: every recorded file back, services as before (under the install lock)."""
