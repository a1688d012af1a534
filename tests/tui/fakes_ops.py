"""A scripted engine for the dashboard's Services, Queue and Bans tabs: services, configuration problems,
Dovecot's debug switch, the mail queue and fail2ban's bans, all in memory. Nothing here touches the machine.

Failures are scripted per operation (`engine.fail[("control", "postfix", "start")] = "why"`), never
"the next call", so a periodic refresh running in between cannot eat them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from mailtui.api.types import CertificateStatus, QueueAction
from mailtui.errors import MailtuiError, ValidationError
from mailtui.model import validate
from mailtui.ops.services import STACK, VERBS, ServiceStatus
from mailtui.system.fail2ban import Ban, JailStatus
from mailtui.system.postqueue import QueuedMessage, check_queue_id
from tests.tui.fakes import T0, DashboardEngine

LABELS = {"postfix": "Postfix", "dovecot": "Dovecot", "mariadb": "MariaDB"}
PORTS = {"postfix": [25, 465, 587], "dovecot": [143, 993], "mariadb": [3306]}
OUTPUT = {
    ("postfix", "start"): "Starting Postfix Mail Transport Agent: postfix.",
    ("postfix", "stop"): "Stopping Postfix Mail Transport Agent: postfix.",
    ("postfix", "restart"): "Restarting Postfix Mail Transport Agent: postfix.",
    ("postfix", "reload"): "Reloading Postfix configuration...done.",
    ("dovecot", "start"): "Starting IMAP/POP3 mail server: dovecot.",
    ("dovecot", "stop"): "Stopping IMAP/POP3 mail server: dovecot.",
    ("dovecot", "restart"): "Restarting IMAP/POP3 mail server: dovecot.",
    ("dovecot", "reload"): "Reloading IMAP/POP3 mail server: dovecot.",
    ("mariadb", "start"): "Starting MariaDB database server: mariadbd.",
    ("mariadb", "stop"): "Stopping MariaDB database server: mariadbd.",
    ("mariadb", "restart"): "Stopping MariaDB database server: mariadbd.\nStarting MariaDB database server: mariadbd.",
    ("mariadb", "reload"): "Reloading MariaDB database server: mariadbd.",
}


@dataclass
class FakeService:
    name: str
    running: bool = True
    pid: int | None = None
    uptime: float | None = None
    ports: list[int] = field(default_factory=list)

    def status(self) -> ServiceStatus:
        if not self.running:
            return ServiceStatus(self.name, LABELS[self.name], False, None, None, [])
        return ServiceStatus(self.name, LABELS[self.name], True, self.pid, self.uptime, list(self.ports))


def default_services() -> dict[str, FakeService]:
    return {
        "postfix": FakeService("postfix", True, 812, 3 * 86400 + 4 * 3600 + 7, PORTS["postfix"]),
        "dovecot": FakeService("dovecot", True, 640, 2 * 3600 + 15 * 60, PORTS["dovecot"]),
        "mariadb": FakeService("mariadb", True, 455, 3 * 86400 + 4 * 3600 + 60, PORTS["mariadb"]),
    }


def message(queue_id: str, queue: str = "deferred", *, age: float = 3600, size: int = 2048,
            sender: str = "alice@example.org", recipients: Sequence[str] = ("bob@example.net",),
            reason: str = "") -> QueuedMessage:
    arrival = datetime.fromtimestamp(T0 - age, timezone.utc)
    return QueuedMessage(queue_id, queue, arrival, age, size, sender, list(recipients), reason)


REFUSED = "connect to mx.example.net[192.0.2.25]:25: Connection refused"


def default_queue() -> list[QueuedMessage]:
    return [
        message("3F2A1B4C5D", "deferred", age=2 * 86400 + 3 * 3600, size=4812, sender="alice@example.org",
                recipients=("bob@example.net", "carol@example.net", "dave@example.net"), reason=REFUSED),
        message("4B7C9D0E1F", "hold", age=5 * 3600 + 20 * 60, size=1_234_567, sender="",
                recipients=("postmaster@example.org",)),
        message("5C8D0E1F2A", "deferred", age=95, size=640, sender="newsletter@lists.example.com",
                recipients=("admin@example.org",),
                reason="host mx.example.com[198.51.100.7] said: 451 4.7.1 Greylisted, please try again later "
                       "(in reply to RCPT TO command)"),
    ]


def default_jails() -> list[JailStatus]:
    return [JailStatus("postfix-sasl", 3, 41, 2, 9), JailStatus("dovecot", 1, 12, 1, 4)]


def default_bans() -> list[Ban]:
    """Newest first, as mailtui.bans.list_bans() gives them (times relative to the tests' clock, T0)."""
    return [
        Ban("postfix-sasl", "198.51.100.23", T0 - 300, T0 - 300 + 3600),
        Ban("dovecot", "203.0.113.77", T0 - 1800, T0 - 1800 + 3600),
        Ban("postfix-sasl", "2001:db8::bad", T0 - 3000, T0 - 3000 + 3600),
    ]


class OpsEngine(DashboardEngine):
    SCRIPT_HELPERS = ("calls_of",)

    """A DashboardEngine whose services, configuration checks, debug switch and mail queue live in memory.

    - `services`: name -> FakeService (start/stop/restart change them the way the machine would)
    - `queue`: the QueuedMessages, oldest first; `deliverable`: ids a flush delivers (they leave the queue)
    - `problems`: what config_problems() says; `debug`: Dovecot's debug switch; `certificate`: what
      certificate_status() says (None: DashboardEngine's self-signed one)
    - `bans_why`: what bans_available() says (None: fail2ban answers); `jails`: JailStatus of each jail;
      `banned`: the Bans, newest first (unban removes them and counts them in the jail)
    - `fail`: scripted failures, key -> message (raised as MailtuiError):
        ("control", NAME, VERB), ("statuses",), ("problems",), ("certificate",), ("debug",), ("queue_list",),
        ("queue", ACTION, ID) with ID None for flush all, ("bans",), ("unban", ADDRESS)
    - `calls`: every engine call made, in order
    - `gate`: when set to a threading.Event, control_service/queue_action/set_dovecot_debug/unban wait for it
      (to see the screen while an action runs)
    """

    def __init__(self, *, services: dict[str, FakeService] | None = None,
                 queue: list[QueuedMessage] | None = None, problems: Sequence[str] = (), debug: bool = False,
                 deliverable: Sequence[str] = (), bans_why: str | None = None,
                 jails: Sequence[JailStatus] | None = None, banned: Sequence[Ban] | None = None,
                 certificate: CertificateStatus | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services if services is not None else default_services()
        self.queue = list(queue) if queue is not None else default_queue()
        self.problems = list(problems)
        self.debug = debug
        self.deliverable = set(deliverable)
        self.bans_why = bans_why
        self.jails = list(jails) if jails is not None else default_jails()
        self.banned = list(banned) if banned is not None else default_bans()
        self.certificate = certificate
        self.fail: dict[tuple[Any, ...], str] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.gate: threading.Event | None = None
        self.lock = threading.Lock()
        self._next_pid = 2000

    def _record(self, *call: Any) -> None:
        with self.lock:
            self.calls.append(call)

    def _maybe_fail(self, *key: Any) -> None:
        if key in self.fail:
            raise MailtuiError(self.fail[key])

    def _wait_gate(self) -> None:
        gate = self.gate
        if gate is not None:
            gate.wait(20)

    def calls_of(self, name: str) -> list[tuple[Any, ...]]:
        with self.lock:
            return [c for c in self.calls if c[0] == name]

    # ------------------------------------------------------------ services

    def service_statuses(self, name: str | None = None) -> list[ServiceStatus]:
        self._record("service_statuses")
        self._maybe_fail("statuses")
        with self.lock:
            return [self.services[name].status() for name in STACK if name in self.services]

    def control_service(self, name: str, verb: str, max_wait: float | None = None) -> str:
        self._record("control_service", name, verb)
        if name not in STACK:
            raise ValidationError({"service": f"{name!r} is not one of {', '.join(STACK)}"})
        if verb not in VERBS:
            raise ValidationError({"action": f"{verb!r} is not one of {', '.join(VERBS)}"})
        self._wait_gate()
        self._maybe_fail("control", name, verb)
        with self.lock:
            svc = self.services[name]
            if verb == "reload" and not svc.running:
                raise MailtuiError(f"{LABELS[name]} is not running: start it instead of reloading it")
            if verb == "stop":
                svc.running, svc.pid, svc.uptime, svc.ports = False, None, None, []
            elif verb == "restart" or (verb == "start" and not svc.running):
                self._next_pid += 1
                svc.running, svc.pid, svc.uptime, svc.ports = True, self._next_pid, 1.0, list(PORTS[name])
        return OUTPUT[(name, verb)]

    def config_problems(self) -> list[str]:
        self._record("config_problems")
        self._maybe_fail("problems")
        return list(self.problems)

    def certificate_status(self) -> CertificateStatus:
        self._record("certificate_status")
        self._maybe_fail("certificate")
        return self.certificate if self.certificate is not None else super().certificate_status()

    def dovecot_debug_enabled(self) -> bool:
        self._record("dovecot_debug_enabled")
        return self.debug

    def set_dovecot_debug(self, on: bool) -> str:
        self._record("set_dovecot_debug", on)
        self._wait_gate()
        self._maybe_fail("debug")
        was, self.debug = self.debug, on
        if was == on:
            return "the Dovecot configuration already had debug logging " + ("on" if on else "off")
        return (f"set auth_debug = {'yes' if on else 'no'} in /etc/dovecot/dovecot.conf\n"
                "doveadm reload")

    # ------------------------------------------------------------ queue

    def queue_list(self) -> list[QueuedMessage]:
        self._record("queue_list")
        self._maybe_fail("queue_list")
        with self.lock:
            return sorted(self.queue, key=lambda m: m.arrival)

    def _find(self, queue_id: str, what: str) -> int:
        for i, m in enumerate(self.queue):
            if m.queue_id == queue_id:
                return i
        raise MailtuiError(f"could not {what} {queue_id}: no such message in the queue")

    def queue_action(self, action: QueueAction, queue_id: str | None = None) -> str:
        self._record("queue_action", action, queue_id)
        if queue_id is not None:
            check_queue_id(queue_id)
        elif action != "flush":
            raise ValueError(f"{action} needs a queue id")
        self._wait_gate()
        self._maybe_fail("queue", action, queue_id)
        with self.lock:
            if action == "flush":
                if queue_id is None:
                    self.queue = [m for m in self.queue if m.queue == "hold" or m.queue_id not in self.deliverable]
                    return ""
                i = self._find(queue_id, "flush")
                if self.queue[i].queue != "hold" and queue_id in self.deliverable:
                    del self.queue[i]
                return ""
            if action == "hold":
                i = self._find(queue_id, "put on hold")  # type: ignore[arg-type]
                self.queue[i] = replace(self.queue[i], queue="hold")
                return f"postsuper: {queue_id}: placed on hold\npostsuper: Placed on hold: 1 message"
            if action == "release":
                i = self._find(queue_id, "release")  # type: ignore[arg-type]
                if self.queue[i].queue != "hold":
                    raise MailtuiError(f"could not release {queue_id}: no such message in the queue on hold")
                self.queue[i] = replace(self.queue[i], queue="deferred")
                return f"postsuper: {queue_id}: released from hold\npostsuper: Released from hold: 1 message"
            if action == "delete":
                i = self._find(queue_id, "delete")  # type: ignore[arg-type]
                del self.queue[i]
                return f"postsuper: {queue_id}: removed\npostsuper: Deleted: 1 message"
        raise ValueError(f"unknown queue action {action!r}")

    # ------------------------------------------------------------ bans (fail2ban)

    def bans_available(self) -> str | None:
        self._record("bans_available")
        return self.bans_why

    def _require_fail2ban(self) -> None:
        self._maybe_fail("bans")
        if self.bans_why:
            raise MailtuiError(f"cannot read the bans: {self.bans_why}")

    def ban_jails(self) -> list[JailStatus]:
        self._record("ban_jails")
        self._require_fail2ban()
        with self.lock:
            return list(self.jails)

    def bans(self) -> list[Ban]:
        self._record("bans")
        self._require_fail2ban()
        with self.lock:
            return list(self.banned)

    def unban(self, address: str, jail: str | None = None) -> list[str]:
        """Like mailtui.bans.unban: the address is checked first; not banned there is an error."""
        self._record("unban", address, jail)
        problem = validate.ip_address_problem(address)
        if problem:
            raise ValidationError({"address": problem})
        self._require_fail2ban()
        self._wait_gate()
        self._maybe_fail("unban", address)
        with self.lock:
            lifted = [b.jail for b in self.banned if b.address == address and jail in (None, b.jail)]
            if not lifted:
                raise MailtuiError(f"{address} is not banned " + (f"in the jail {jail}" if jail else "in any jail"))
            self.banned = [b for b in self.banned if not (b.address == address and b.jail in lifted)]
            self.jails = [replace(j, currently_banned=j.currently_banned - lifted.count(j.name)) for j in self.jails]
        return lifted
