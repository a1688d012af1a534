"""Pausing Postfix's LMTP deliveries to Dovecot while mailtui restarts or stops Dovecot (issue 5).

Why: Dovecot's LMTP, told to shut down in the middle of a delivery, answers the end of DATA with
"421 4.3.2 (Server) Shutting down" after it has already saved the message; Postfix takes the 421 as a
temporary failure and delivers the message again later (measured: 4-17 duplicates in 3,000 messages with
two restarts under load). So before Dovecot goes down, Postfix stops handing it mail, the documented way:

  1. `postconf -e defer_transports=lmtp` (added to whatever the operator has there) and `postfix reload`:
     the new queue manager defers LMTP mail ("deferred transport") instead of delivering it; deliveries
     already in flight finish;
  2. wait (bounded, WAIT_SECONDS) until none is in flight: the old queue manager and the old lmtp delivery
     agents have exited, and no connection is open on Dovecot's LMTP socket (/proc/net/unix, the server
     side of each session), for QUIET_SECONDS in a row. Measured under load (20 sessions open): the last
     agents exit ~1 s after the reload, the idle sessions Postfix keeps cached for
     `lmtp_connection_cache_time_limit` (2 s) close ~2 s later: ~3 s in all;
  3. restart (or stop) Dovecot;
  4. put `defer_transports` back exactly as it was (`postconf -X` when it was not set), `postfix reload`,
     and `postqueue -f`: the mail deferred meanwhile is delivered now, not at Postfix's next retry (5 min
     and more).

Each `postfix reload` right after a main.cf change waits ~1.5-2.5 s for the file to "settle" (DESIGN.md):
a quiesced restart took 4.9 s on an idle test host, 7.6-10.2 s under load (3-3.6 s of it the wait).
After mailtui starts Dovecot, deliver_after_start() reloads Postfix (whose queue manager may still count
Dovecot as down) and flushes, so mail queued while Dovecot was stopped is delivered at once.

Never left behind: step 4 runs in a `finally`, and a marker (paths.LMTP_MARKER, root 0600)
records the value before step 1 changes it. The whole sequence holds a lock (flock, released by the
kernel when the process dies), so a marker whose lock is free was left by a mailtui that was killed:
`repair_leftover()` (run by every `mailtui service` action) puts the value back, and `problems()` (in
`mailtui check`, through checks.state_checks) reports it until then.

Applies only where Postfix runs and hands virtual mail to Dovecot over LMTP on a unix socket, as mailtui
configures it (`virtual_transport = lmtp:unix:private/dovecot-lmtp`); anywhere else Dovecot is restarted
plainly. A `service dovecot restart` typed by hand is outside mailtui's control and still has the window.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailtui import paths
from mailtui.errors import Busy
from mailtui.system import atomic, files, services
from mailtui.system.commands import run

PARAM = "defer_transports"
DEFERRED_REASON = "deferred transport"  # what Postfix's queue manager says of mail it defers that way
WAIT_SECONDS = 30.0  # in-flight deliveries finish in ~1 s; cached idle sessions close ~2 s later
QUIET_SECONDS = 0.5  # nothing in flight for this long before Dovecot goes down
RESTORE_WAIT_SECONDS = 10.0
LOCK_WAIT_SECONDS = 120.0
POLL_SECONDS = 0.1
QUEUE_MANAGERS = ("qmgr", "nqmgr")
DELIVERY_AGENT = "lmtp"  # Postfix's LMTP client (Dovecot's own lmtp processes have Dovecot as parent)
PROC = Path("/proc")
UNIX_CONNECTED = "03"  # /proc/net/unix St column: SS_CONNECTED
UNIX_ACCEPTCON = 0x00010000  # Flags column: a listening socket

Sleep = Callable[[float], None]
Clock = Callable[[], float]
_sleep: Sleep = time.sleep  # module-level so that tests can replace them
_clock: Clock = time.monotonic


# ---------------------------------------------------------------- what Postfix is configured to do


@dataclass(frozen=True)
class LmtpRoute:
    """How Postfix hands virtual mail to Dovecot: the master.cf transport and Dovecot's listener."""

    transport: str  # "lmtp"
    socket: str  # "/var/spool/postfix/private/dovecot-lmtp"
    nexthop: str = ""  # as Postfix names it in its log and deferral reasons: "private/dovecot-lmtp"


def parse_route(virtual_transport: str, queue_directory: str) -> LmtpRoute | None:
    """`lmtp:unix:private/dovecot-lmtp` + `/var/spool/postfix` -> LmtpRoute("lmtp", the absolute socket
    path); None for anything that is not delivery over a unix socket (virtual, pipe, inet LMTP)."""
    transport, sep, nexthop = virtual_transport.strip().partition(":")
    kind, sep2, path = nexthop.partition(":")
    if not sep or not sep2 or kind != "unix" or not transport or not path or any(c.isspace() for c in transport):
        return None
    # Postfix's daemons run in the queue directory (chrooted or not): a relative path is relative to it.
    return LmtpRoute(transport, path if path.startswith("/") else f"{queue_directory.rstrip('/')}/{path}", path)


def lmtp_route() -> LmtpRoute | None:
    result = run(["postconf", "-h", "virtual_transport", "queue_directory"], check=False, timeout=60)
    lines = result.output.splitlines()
    if not result.ok or len(lines) < 2:
        return None
    return parse_route(lines[0], lines[1])


def split_list(value: str | None) -> list[str]:
    """A Postfix list parameter's items (separated by commas and/or whitespace)."""
    return [item for item in re.split(r"[\s,]+", value or "") if item]


def explicit_value(param: str = PARAM) -> str | None:
    """The value main.cf sets for `param`, or None when it is not set there (Postfix's default)."""
    result = run(["postconf", "-n", param], check=True, timeout=60)
    for line in result.output.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == param:
            return value.strip()
    return None


def deferring_value(before: str | None, transport: str) -> str | None:
    """The value that also defers `transport`; None when `before` defers it already."""
    items = split_list(before)
    if transport in items:
        return None
    return ", ".join([*items, transport])


def undo_value(current: str | None, before: str | None, transport: str) -> str | None:
    """What to set when putting things back: `before` exactly when only mailtui's `transport` was added
    since; otherwise (the operator edited it meanwhile) the current list without `transport`.
    None means: remove the parameter from main.cf."""
    remaining = [item for item in split_list(current) if item != transport]
    if remaining == split_list(before):
        return before
    return ", ".join(remaining) if remaining else None


def set_param(value: str | None) -> None:
    if value is None:
        run(["postconf", "-X", PARAM], timeout=60)
    else:
        run(["postconf", "-e", f"{PARAM}={value}"], timeout=60)


def show(value: str | None) -> str:
    return f"{PARAM} not set" if value is None else f"{PARAM} = {value}" if value else f"{PARAM} = (empty)"


# ---------------------------------------------------------------- what Postfix and Dovecot are doing


def unix_sockets(path: str, proc: Path | None = None) -> tuple[int, bool]:
    """(connected sessions, listening) of the unix socket bound at `path`, from /proc/net/unix: the
    server side of every accepted connection carries the listener's path."""
    proc = proc or PROC
    try:
        lines = (proc / "net" / "unix").read_text().splitlines()[1:]
    except OSError:
        return 0, False
    connected, listening = 0, False
    for line in lines:
        fields_ = line.split(None, 7)
        if len(fields_) < 8 or fields_[7] != path:
            continue
        try:
            flags = int(fields_[3], 16)
        except ValueError:
            continue
        if flags & UNIX_ACCEPTCON:
            listening = True
        elif fields_[5] == UNIX_CONNECTED:
            connected += 1
    return connected, listening


def _comm_and_ppid(pid: int, proc: Path) -> tuple[str, int] | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    head, _, tail = stat.rpartition(")")
    try:
        return head.split("(", 1)[1], int(tail.split()[1])
    except (IndexError, ValueError):
        return None


def children_named(parent: int, names: tuple[str, ...], proc: Path | None = None) -> set[int]:
    """PIDs of `parent`'s children whose process name is one of `names`."""
    proc = proc or PROC
    found: set[int] = set()
    try:
        entries = [e.name for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        return found
    for name in entries:
        info = _comm_and_ppid(int(name), proc)
        if info is not None and info[1] == parent and info[0] in names:
            found.add(int(name))
    return found


@dataclass(frozen=True)
class InFlight:
    """What may still deliver over LMTP: old-configuration Postfix processes and open sessions."""

    old_processes: int
    sessions: int

    @property
    def idle(self) -> bool:
        return self.old_processes == 0 and self.sessions == 0

    def describe(self) -> str:
        return (f"{self.sessions} LMTP session(s) open, {self.old_processes} Postfix queue manager/lmtp "
                "process(es) of the old configuration running")


def in_flight(master: int | None, old: set[int], socket: str, proc: Path | None = None) -> InFlight:
    alive = children_named(master, (*QUEUE_MANAGERS, DELIVERY_AGENT), proc) & old if master else set()
    return InFlight(len(alive), unix_sockets(socket, proc)[0])


def wait_until(done: Callable[[], bool], timeout: float, *, sleep: Sleep | None = None,
               clock: Clock | None = None) -> tuple[bool, float]:
    """Poll `done` until it holds or `timeout` passes: (held, seconds waited)."""
    sleep, clock = sleep or _sleep, clock or _clock
    began = clock()
    while True:
        if done():
            return True, clock() - began
        if clock() - began >= timeout:
            return False, clock() - began
        sleep(POLL_SECONDS)


# ---------------------------------------------------------------- Postfix actions


def _postfix_master() -> int | None:
    return services.main_pid("postfix")


def postfix_reload() -> None:
    run(["postfix", "reload"], timeout=120)


def deferred_ids(nexthop: str = "") -> list[str]:
    """Queue ids of deferred mail that waits for LMTP: deferred because its transport was ("deferred
    transport"), or, given Dovecot's `nexthop`, because Dovecot's socket was not there."""
    result = run(["postqueue", "-j"], check=False, timeout=300)
    ids = []
    for line in result.output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        reasons = [str(r.get("delay_reason", "")) for r in entry.get("recipients", [])]
        if entry.get("queue_name") == "deferred" and any(
                reason == DEFERRED_REASON or (nexthop and nexthop in reason) for reason in reasons):
            ids.append(str(entry.get("queue_id")))
    return ids


def deliver_deferred(nexthop: str = "") -> str:
    """`postqueue -f`: deliver now what waited (instead of at Postfix's next retry, 5 minutes or more
    away). A flush rather than `postqueue -i` per message because the first `postfix reload` also set
    aside, for 60 s, the messages whose delivery was in flight at that moment ("skipped, still being
    delivered"); a flush takes those too. Returns what was done, with the count deferred_ids() found."""
    waiting = len(deferred_ids(nexthop))
    run(["postqueue", "-f"], check=False, timeout=120)
    return f"postqueue -f ({waiting} deferred message(s) waited for Dovecot)"


def reload_then_deliver(master: int, nexthop: str = "") -> str:
    """`postfix reload`, then deliver_deferred() once the new queue manager has taken over: the old one
    would defer the mail again (it still defers the transport, or still counts Dovecot as down)."""
    old = children_named(master, QUEUE_MANAGERS)
    postfix_reload()
    wait_until(lambda: not (children_named(master, QUEUE_MANAGERS) & old), RESTORE_WAIT_SECONDS)
    return deliver_deferred(nexthop)


def deliver_after_start() -> tuple[str, bool]:
    """After mailtui started Dovecot: reload Postfix (its queue manager may still count Dovecot as down and
    defer new mail with "delivery temporarily suspended" for minutes) and ask for the mail that waits for
    Dovecot now. Returns (what was done, whether Postfix was reloaded)."""
    master = _postfix_master()
    route = lmtp_route() if master is not None else None
    if master is None or route is None:
        return "", False
    wait_until(lambda: unix_sockets(route.socket)[1], RESTORE_WAIT_SECONDS)
    return f"Postfix: postfix reload; {reload_then_deliver(master, route.nexthop)}", True


# ---------------------------------------------------------------- the marker and the lock


@dataclass(frozen=True)
class Marker:
    transport: str
    before: str | None  # defer_transports as main.cf had it (None: not set)
    action: str  # "restart" / "stop"
    pid: int
    since: str  # ISO 8601, UTC

    @classmethod
    def read(cls) -> Marker | None:
        try:
            data = json.loads(paths.LMTP_MARKER.read_text())
            return cls(str(data["transport"]), data["before"], str(data["action"]), int(data["pid"]),
                       str(data["since"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # Unreadable: assume mailtui added plain "lmtp" to an unset parameter (what it does on its install).
            return cls(DELIVERY_AGENT, None, "?", 0, "?")

    def write(self) -> None:
        files.ensure_state_dir()
        data = {"transport": self.transport, "before": self.before, "action": self.action, "pid": self.pid,
                "since": self.since}
        # Atomic and synced (temp file, rename, directory synced): a kill leaves the old state or this one.
        atomic.atomic_write_bytes(paths.LMTP_MARKER, (json.dumps(data) + "\n").encode(), os.getuid(), os.getgid(),
                                 0o600)

    @staticmethod
    def remove() -> None:
        path = paths.LMTP_MARKER
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@contextlib.contextmanager
def _locked(wait: float | None = LOCK_WAIT_SECONDS) -> Iterator[bool]:
    """Hold the quiesce lock. wait=None: do not wait (yields False when another process holds it)."""
    files.ensure_state_dir()
    fd = os.open(paths.LMTP_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        held, _ = wait_until(lambda: _try_lock(fd), wait or 0.0)
        if not held and wait is not None:
            raise Busy(f"another mailtui has been restarting or stopping Dovecot for over {wait:.0f} s "
                       f"(it holds {paths.LMTP_LOCK}): try again when it is done")
        yield held
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _restore(marker: Marker, notes: list[str]) -> bool:
    """Put defer_transports back as `marker` recorded it, reload Postfix, deliver what waited, drop the
    marker. Called with the lock held. True when Postfix was reloaded."""
    current = explicit_value()
    value = undo_value(current, marker.before, marker.transport)
    if value != current:
        set_param(value)
    master = _postfix_master()
    if master is None:
        notes.append(f"Postfix: put back as it was ({show(value)}); Postfix is not running")
        Marker.remove()
        return False
    old = children_named(master, QUEUE_MANAGERS)
    postfix_reload()
    Marker.remove()
    wait_until(lambda: not (children_named(master, QUEUE_MANAGERS) & old), RESTORE_WAIT_SECONDS)
    notes.append(f"Postfix: put back as it was ({show(value)}), postfix reload; {deliver_deferred()}")
    return True


def repair_leftover() -> str:
    """Undo a deferral a killed mailtui left behind (marker present, lock free); returns what was done,
    "" when there was nothing to do or a restart is in progress in another process."""
    if not paths.LMTP_MARKER.exists():
        return ""
    with _locked(None) as held:
        if not held:
            return ""
        marker = Marker.read()
        if marker is None:
            return ""
        notes = [f"mailtui was interrupted while Postfix deferred deliveries to Dovecot (since {marker.since}, "
                 f"{marker.action} of Dovecot): undoing it"]
        _restore(marker, notes)
        return "\n".join(notes)


def problems() -> list[str]:
    """What is wrong with Postfix's deliveries to Dovecot, in words an operator can act on: a deferral left
    behind by a killed mailtui, or `defer_transports` naming the LMTP transport for another reason."""
    marker = Marker.read()
    if marker is not None:
        with _locked(None) as held:
            if held and paths.LMTP_MARKER.exists():
                return [f"Postfix defers every delivery to Dovecot ({PARAM} has {marker.transport!r}): a mailtui "
                        f"{marker.action} of Dovecot was interrupted at {marker.since}. Mail for the mailboxes "
                        "waits in the queue; run `mailtui service restart dovecot` (any `mailtui service` "
                        "action) to undo it"]
        return []  # a restart is in progress right now
    route = lmtp_route()
    if route is None:
        return []
    current = explicit_value()
    if route.transport in split_list(current):
        return [f"Postfix defers every delivery to Dovecot ({PARAM} = {current} in main.cf): mail for the "
                f"mailboxes waits in the queue until that is removed (`postconf -X {PARAM}` or edit it, then "
                "`postfix reload` and `mailtui queue flush`)"]
    return []


# ---------------------------------------------------------------- the quiesce itself


@dataclass
class Quiesce:
    """What happened around one Dovecot restart/stop; `notes` is shown to the operator."""

    route: LmtpRoute | None = None  # None: plain (Postfix not running, or not LMTP over a unix socket)
    waited_seconds: float = 0.0
    sessions_before: int = 0  # LMTP sessions open on Dovecot's socket when the pause began
    drained: bool = True  # every in-flight delivery finished before Dovecot went down
    reloaded: bool = False  # Postfix was reloaded on the way out (after Dovecot was back, for a restart)
    listening: bool = True  # Dovecot listened on the LMTP socket when the pause would have begun
    notes: list[str] = field(default_factory=list)

    def wait_for_listener(self, timeout: float = RESTORE_WAIT_SECONDS) -> None:
        """After a restart: wait until Dovecot listens on the LMTP socket again (bounded)."""
        if self.route is not None:
            route = self.route
            ok, seconds = wait_until(lambda: unix_sockets(route.socket)[1], timeout)
            if not ok:
                self.notes.append(f"Dovecot does not listen on {route.socket} {seconds:.0f} s after the restart")


@contextlib.contextmanager
def quiesced(action: str, *, wait_seconds: float = WAIT_SECONDS) -> Iterator[Quiesce]:
    """Around `action` ("restart" / "stop" of Dovecot): Postfix's LMTP deliveries are paused and every
    one in flight has finished (or `wait_seconds` passed) on entry; on exit (also on error) Postfix's
    `defer_transports` is as it was and the mail deferred meanwhile is asked for again."""
    state = Quiesce()
    if not paths.LMTP_MARKER.exists() and _postfix_master() is None:
        yield state  # Postfix is not running: nothing delivers
        return
    with _locked():
        stale = Marker.read()
        if stale is not None:  # the lock was free: its mailtui died
            state.notes.append(f"undoing the deferral an interrupted mailtui left behind (since {stale.since})")
            _restore(stale, state.notes)
        route = lmtp_route() if _postfix_master() is not None else None
        if route is None:
            yield state
            return
        sessions, listening = unix_sockets(route.socket)
        if not listening:
            # Nobody listens on the LMTP socket (Dovecot's configuration does not have it yet: the first
            # install): no delivery can be in flight, nothing to pause. A restart still asks for the mail
            # that waited (services.restart: deliver_after_start).
            state.listening = False
            state.notes.append(f"Dovecot does not listen on {route.socket} yet: no delivery to pause")
            yield state
            return
        before = explicit_value()
        value = deferring_value(before, route.transport)
        if value is None:
            state.notes.append(f"Postfix defers {route.transport} already ({show(before)}): nothing to pause")
            yield state
            return
        state.route = route
        marker = Marker(route.transport, before, action, os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"))
        marker.write()  # first: a kill from here on is repaired from it
        try:
            master = _postfix_master()
            old = children_named(master, (*QUEUE_MANAGERS, DELIVERY_AGENT)) if master else set()
            state.sessions_before = sessions
            set_param(value)
            postfix_reload()
            last: list[InFlight] = []
            quiet_since: list[float] = []

            def idle() -> bool:
                # Idle, and for QUIET_SECONDS: an lmtp agent the old queue manager handed a job just before
                # it went (spawned after the snapshot) connects to Dovecot within that time.
                last[:] = [in_flight(master, old, route.socket)]
                if not last[0].idle:
                    quiet_since.clear()
                    return False
                quiet_since[:] = quiet_since or [_clock()]
                return _clock() - quiet_since[0] >= QUIET_SECONDS - 1e-9

            state.drained, state.waited_seconds = wait_until(idle, wait_seconds)
            if state.drained:
                state.notes.append(f"Postfix: deliveries to Dovecot paused ({PARAM} = {value}, postfix reload); "
                                   f"the {state.sessions_before} LMTP session(s) open before ended within "
                                   f"{state.waited_seconds:.1f} s")
            else:
                state.notes.append(f"Postfix: deliveries to Dovecot paused ({PARAM} = {value}), but after "
                                   f"{state.waited_seconds:.0f} s still {last[0].describe()}: going on anyway "
                                   "(a message in flight may be delivered twice)")
            yield state
        finally:
            state.reloaded = _restore(marker, state.notes)
