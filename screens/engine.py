"""The engine calls the screens make — the only place the UI reaches into `mailtui`.

Screens never run commands: every action is one of these methods. `Engine` is the real thing
(each method imports its engine module lazily and looks the function up at call time, so tests can
monkeypatch module attributes too); tests hand `MailtuiApp(engine=FakeEngine(...))` a subclass that
replays scripted results and never touches the machine.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mailtui.events import Event
from mailtui.model.answers import Alias, Answers, Domain, User
from mailtui.steps.base import Change, Check, Step

DEFAULT_ANSWERS_PATH = "/root/mailtui-answers.toml"


class Engine:
    """Adapter over mailtui.preflight / install / selftest / answers."""

    # ------------------------------------------------------------ machine facts

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def preflight(self) -> Any:
        from mailtui.install import preflight

        return preflight.run_preflight()

    def suggested_answers(self, pf: Any) -> Answers:
        if pf is not None and hasattr(pf, "suggested_answers"):
            return pf.suggested_answers()
        return self.default_answers()

    def default_answers(self) -> Answers:
        """Sensible defaults when preflight cannot suggest any."""
        fqdn = socket.getfqdn()
        hostname = fqdn if fqdn.count(".") >= 2 else "mail.example.org"
        domain = hostname.split(".", 1)[1]
        return Answers(hostname=hostname, domains=[Domain(domain)],
                       users=[User(f"admin@{domain}")],
                       aliases=[Alias(f"postmaster@{domain}", f"admin@{domain}")])

    def ssh_ports(self, answers: Answers) -> list[int]:
        from mailtui.steps import firewall

        return firewall.ssh_ports(answers)

    def mail_ports(self, answers: Answers) -> list[tuple[int, str]]:
        """The mail ports the firewall step opens, as (port, label)."""
        from mailtui.steps import firewall

        return list(firewall.mail_ports(answers))

    def generate_password(self) -> str:
        from mailtui.model import passwords

        return passwords.generate_password()

    def step_titles(self) -> list[tuple[str, str, str]]:
        """(name, title, why) of every install step, in apply order."""
        from mailtui.install import run as install

        return [(s.name, s.title, s.why) for s in install.all_steps()]

    # ------------------------------------------------------------ answers

    def problems(self, answers: Answers) -> dict[str, str]:
        from mailtui.model import answers as answers_mod

        return answers_mod.problems(answers_mod.canonical(answers))

    def canonical(self, answers: Answers) -> Answers:
        from mailtui.model import answers as answers_mod

        return answers_mod.canonical(answers)

    def save_answers(self, answers: Answers, path: Path) -> None:
        from mailtui.model import answers as answers_mod

        answers_mod.save(answers, path)

    def pending_answers(self) -> Answers | None:
        """The answers of the install recorded on disk (to resume or re-attach)."""
        from mailtui.install import run as install
        from mailtui.model import answers as answers_mod

        if not install.PENDING_ANSWERS.exists():
            return None
        return answers_mod.load(install.PENDING_ANSWERS)

    # ------------------------------------------------------------ plan and install

    def prepare(self, answers: Answers) -> Answers:
        from mailtui.install import run as install

        return install.prepare(answers)

    def plan(self, answers: Answers) -> list[tuple[Step, list[Change]]]:
        from mailtui.install import run as install

        return install.plan(install.make_context(answers, dry_run=True))

    def pending_packages(self, answers: Answers) -> list[str]:
        from mailtui.install import run as install

        fn = getattr(install, "pending_packages", None)
        return list(fn(answers)) if fn else []

    def start_worker(self, answers: Answers, steps: Sequence[str] | None = None) -> int:
        from mailtui.install import run as install

        if steps is None:
            return install.start_worker(answers)
        return install.start_worker(answers, steps=list(steps))  # type: ignore[call-arg]

    def follow_events(self, stop: Callable[[], bool], *, from_start: bool = True) -> Iterator[Event]:
        from mailtui.install import run as install

        return install.follow_events(install.EVENTS_FILE, from_start=from_start, stop=stop)

    def read_state(self) -> Any:
        from mailtui.install import run as install

        return install.read_state()

    def resume_from(self, state: Any) -> list[str] | None:
        """Steps still to run for an interrupted/failed install (None: all of them)."""
        from mailtui.install import run as install

        fn = getattr(install, "resume_from", None)
        return list(fn(state)) if fn else None

    def skippable(self) -> frozenset[str]:
        from mailtui.install import run as install

        return frozenset(getattr(install, "SKIPPABLE", ()))

    # ------------------------------------------------------------ verify

    def checks(self, answers: Answers) -> list[tuple[str, Check]]:
        """`mailtui check`: every step's verify(), as (step title, check)."""
        from mailtui.install import run as install

        ctx = install.make_context(answers, dry_run=True)
        return [(step.title, c) for step in install.steps_for(ctx) for c in step.verify(ctx)]

    def roundtrip(self, email: str, password: str) -> list[Check]:
        from mailtui.ops import selftest

        return selftest.roundtrip(email, password)

    def public_addresses(self) -> tuple[str | None, str | None]:
        from mailtui.ops import selftest

        return selftest.public_addresses()

    def dns_records(self, answers: Answers, ipv4: str | None, ipv6: str | None) -> list[Any]:
        from mailtui.ops import selftest

        return selftest.dns_records(answers, ipv4, ipv6)

    def client_settings(self, answers: Answers) -> list[Any]:
        from mailtui.ops import selftest

        return selftest.client_settings(answers)

    # ------------------------------------------------------------ dashboard: accounts

    def saved_answers(self) -> Answers | None:
        """The answers of the finished install (None: mailtui has not installed this machine)."""
        from mailtui.install import run as install

        return install.load_saved_answers()

    def _accounts(self) -> Any:
        """This thread's Accounts (opened on first use: a PyMySQL connection is not thread-safe)."""
        local = self.__dict__.setdefault("_accounts_local", threading.local())
        accounts = getattr(local, "accounts", None)
        if accounts is None:
            from mailtui.errors import MailtuiError
            from mailtui.ops.accounts import Accounts

            answers = self.saved_answers()
            if answers is None:
                raise MailtuiError("mailtui has not installed this machine: no saved answers to log in with")
            accounts = local.accounts = Accounts.connect(answers)
        return accounts

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[Any]:
        return self._accounts().list_domains(filter=filter, limit=limit, offset=offset, order=order)

    def count_domains(self, filter: str = "") -> int:
        return self._accounts().count_domains(filter)

    def list_users(self, filter: str = "", limit: int = 100, offset: int = 0,
                   order: str | None = None) -> list[Any]:
        return self._accounts().list_users(filter=filter, limit=limit, offset=offset, order=order)

    def count_users(self, filter: str = "") -> int:
        return self._accounts().count_users(filter)

    def list_aliases(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[Any]:
        return self._accounts().list_aliases(filter=filter, limit=limit, offset=offset, order=order)

    def count_aliases(self, filter: str = "") -> int:
        return self._accounts().count_aliases(filter)

    def add_domain(self, name: str) -> str:
        return self._accounts().add_domain(name)

    def add_user(self, email: str, password: str) -> str:
        return self._accounts().add_user(email, password)

    def set_password(self, email: str, password: str) -> None:
        self._accounts().set_password(email, password)

    def remove_user(self, email: str) -> Any:
        return self._accounts().remove_user(email)

    def add_alias(self, source: str, destination: str) -> Any:
        return self._accounts().add_alias(source, destination)

    def remove_alias(self, source: str, destination: str | None = None) -> int:
        return self._accounts().remove_alias(source, destination)

    def removal_preview(self, name: str) -> Any:
        return self._accounts().removal_preview(name)

    def remove_domain(self, name: str) -> Any:
        return self._accounts().remove_domain(name)

    def mailbox_stats(self, email: str) -> Any:
        """(messages, bytes) of a mailbox's maildir."""
        from mailtui.ops import maildirs

        return maildirs.stats(email)

    def delete_maildir(self, email: str) -> Path | None:
        from mailtui.ops import maildirs

        return maildirs.delete_maildir(email)

    def import_users(self, path: str, *, dry_run: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> Any:
        """Mailboxes from a CSV file of email,password rows: an ImportReport (imported, rejected rows
        with line and reason). ImportFileError (a ValidationError keyed "file") when the file cannot be
        imported; progress(done, total) while the passwords are hashed."""
        from mailtui.ops import accounts_import

        return accounts_import.import_file(self._accounts(), path, dry_run=dry_run, progress=progress)

    def last_logins(self, emails: Sequence[str]) -> dict[str, Any]:
        """{email: datetime of its last IMAP/POP3 login, or None when not in the recent mail log}."""
        from mailtui.ops import last_login

        return last_login.last_logins(emails)

    # ------------------------------------------------------------ dashboard: services

    def service_statuses(self) -> list[Any]:
        """ServiceStatus (name, label, running, pid, uptime_seconds, ports) of Postfix, Dovecot, MariaDB."""
        from mailtui.ops import services as service_status

        return service_status.statuses()

    def control_service(self, name: str, verb: str) -> str:
        """start / stop / restart / reload; returns the command's output (MailtuiError on failure)."""
        from mailtui.ops import services as service_status

        return service_status.control(name, verb)

    def config_problems(self) -> list[str]:
        """Warnings and errors of `postfix check` and `doveconf -n`, one line each."""
        from mailtui.ops import services as service_status

        return service_status.config_problems()

    def dovecot_debug_enabled(self) -> bool:
        from mailtui.ops import services as service_status

        return service_status.dovecot_debug_enabled()

    def set_dovecot_debug(self, on: bool) -> str:
        from mailtui.ops import services as service_status

        return service_status.set_dovecot_debug(on)

    # ------------------------------------------------------------ dashboard: queue

    def queue_list(self) -> list[Any]:
        """QueuedMessage (queue_id, queue, arrival, age_seconds, size, sender, recipients, reason)."""
        from mailtui.system import postqueue as queue

        return queue.list_queue()

    def queue_action(self, action: str, queue_id: str | None = None) -> str:
        """flush (all when queue_id is None) / hold / release / delete one message; the tool's output."""
        from mailtui.system import postqueue as queue

        if action == "flush":
            return queue.flush_all() if queue_id is None else queue.flush(queue_id)
        if queue_id is None:
            raise ValueError(f"{action} needs a queue id")
        fn = {"hold": queue.hold, "release": queue.release, "delete": queue.delete}[action]
        return fn(queue_id)

    # ------------------------------------------------------------ dashboard: mail log

    def mail_log_source(self) -> str:
        """What the live log reads: the mail log's path, or "journal" where there is no mail log but
        systemd's journal."""
        from mailtui.stack import maillog

        path = maillog.mail_log_path()
        if not path.exists() and maillog.journal_available():
            return "journal"
        return str(path)

    def follow_log(self, stop: Callable[[], bool], from_end_lines: int = 500) -> Iterator[Any]:
        """The last `from_end_lines` mail-log events, then each new one until stop() is true (through
        rotation and truncation). Lines that are not syslog lines come as outcome "info" events."""
        from mailtui.stack import maillog

        source = self.mail_log_source()
        if source == "journal":
            yield from maillog.journal_lines(from_end_lines, follow=True, stop=stop)
            return
        for line in maillog.follow(source, from_end_lines=from_end_lines, stop=stop):
            event = maillog.parse_line(line)
            if event is None:
                event = maillog.LogEvent(None, "", "", None, None, "info", None, line, line)
            yield event

    def journey(self, events: Sequence[Any], queue_id: str) -> list[Any]:
        from mailtui.stack import maillog

        return maillog.journey(events, queue_id)

    def log_summary(self, events: Sequence[Any], minutes: int = 30) -> dict[str, list[int]]:
        """delivered / deferred / rejected / auth-failure counts per minute, oldest first, ending now."""
        from datetime import datetime

        from mailtui.stack import maillog

        return maillog.summary_per_minute(events, minutes=minutes, now=datetime.now().astimezone())

    # ------------------------------------------------------------ dashboard: bans (fail2ban)

    def bans_available(self) -> str | None:
        """None when fail2ban answers; else a sentence saying why the bans cannot be shown."""
        from mailtui.ops import bans

        return bans.available()

    def ban_jails(self) -> list[Any]:
        """JailStatus (name, currently_failed, total_failed, currently_banned, total_banned) of each jail."""
        from mailtui.ops import bans

        return bans.jails()

    def bans(self) -> list[Any]:
        """Ban (jail, address, banned_at, ends_at), newest first (MailtuiError when fail2ban is unavailable)."""
        from mailtui.ops import bans

        return bans.list_bans()

    def unban(self, address: str, jail: str | None = None) -> list[str]:
        """Lift a ban (from every jail when jail is None); the jails it was lifted from. MailtuiError for an
        invalid address or one not banned."""
        from mailtui.ops import bans

        return bans.unban(address, jail)
