"""mailtui.system.lmtp_quiesce and its use by services: Postfix's LMTP deliveries paused around a Dovecot
restart or stop, `defer_transports` put back exactly, never left behind (a real SIGKILL mid-restart, then
repair and report), and the /proc readers, against a fake Postfix (the real one: tests/reliability/test_load.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailtui import paths
from mailtui.errors import CommandFailed
from mailtui.stack import lmtp_quiesce
from mailtui.stack import probes as checks
from mailtui.stack import services as safe_services
from mailtui.system import services
from mailtui.system.commands import Result
from tests import guard
from tests.state import use_state_dir

ROOT = Path(__file__).resolve().parents[2]
MASTER = 100
SOCKET = "/var/spool/postfix/private/dovecot-lmtp"


class FakePostfix:
    """Postfix as lmtp_quiesce sees it through `run`, /proc and the clock. Its state lives in a JSON file,
    so that a child process (the kill test) and the test share it. `calls` records every command, with
    whether the marker existed at that moment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            self.save({"main": {}, "loaded": {}, "virtual_transport": "lmtp:unix:private/dovecot-lmtp",
                       "queue": [], "calls": [], "generation": 1, "busy_polls": 0, "running": True,
                       "listening": True})

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def save(self, state: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(state))

    def update(self, **changes: Any) -> None:
        state = self.load()
        state.update(changes)
        self.save(state)

    @property
    def calls(self) -> list[str]:
        return [c for c, _ in self.load()["calls"]]

    def calls_with_marker(self) -> list[tuple[str, bool]]:
        return [(c, m) for c, m in self.load()["calls"]]

    def record(self, what: str) -> None:
        state = self.load()
        state["calls"].append([what, paths.LMTP_MARKER.exists()])
        self.save(state)

    # -- the command line
    def run(self, argv: list[str], *, check: bool = True, **_kw: Any) -> Result:
        argv = [str(a) for a in argv]
        self.record(" ".join(argv))
        state = self.load()
        out = ""
        if argv[:2] == ["postconf", "-h"]:
            out = f"{state['virtual_transport']}\n/var/spool/postfix\n"
        elif argv[:2] == ["postconf", "-n"]:
            value = state["main"].get(argv[2])
            out = "" if value is None else f"{argv[2]} = {value}\n"
        elif argv[:2] == ["postconf", "-e"]:
            name, _, value = argv[2].partition("=")
            state["main"][name] = value
        elif argv[:2] == ["postconf", "-X"]:
            state["main"].pop(argv[2], None)
        elif argv == ["postfix", "reload"]:
            state["loaded"] = dict(state["main"])
            state["generation"] += 1
        elif argv[:2] == ["postqueue", "-j"]:
            out = "".join(json.dumps(entry) + "\n" for entry in state["queue"])
        self.save(state)
        return Result(argv, 0, out)

    # -- /proc
    def children_named(self, parent: int, names: tuple[str, ...], proc: Path | None = None) -> set[int]:
        generation = self.load()["generation"]
        found = {generation * 10 + 1: "qmgr", generation * 10 + 2: "lmtp"}  # this generation's processes
        return {pid for pid, name in found.items() if name in names and parent == MASTER}

    def unix_sockets(self, path: str, proc: Path | None = None) -> tuple[int, bool]:
        state = self.load()
        if state.get("sessions"):  # a scripted sequence of session counts, one per look
            count = state["sessions"].pop(0)
            self.save(state)
            return count, state["listening"]
        busy = state["busy_polls"]
        if busy:
            state["busy_polls"] = busy - 1
            self.save(state)
        return (3 if busy else 0), state["listening"]

    def master(self) -> int | None:
        return MASTER if self.load()["running"] else None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def use_fake(monkeypatch: pytest.MonkeyPatch, fake: FakePostfix, state_dir: Path, clock: Clock | None = None) -> None:
    clock = clock or Clock()
    use_state_dir(monkeypatch, state_dir)
    monkeypatch.setattr(lmtp_quiesce, "run", fake.run)
    monkeypatch.setattr(lmtp_quiesce, "children_named", fake.children_named)
    monkeypatch.setattr(lmtp_quiesce, "unix_sockets", fake.unix_sockets)
    monkeypatch.setattr(lmtp_quiesce, "_postfix_master", fake.master)
    monkeypatch.setattr(lmtp_quiesce, "_sleep", clock.sleep)
    monkeypatch.setattr(lmtp_quiesce, "_clock", clock)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePostfix]:
    postfix = FakePostfix(tmp_path / "postfix.json")
    use_fake(monkeypatch, postfix, tmp_path / "state")
    yield postfix


def deferred(queue_id: str, reason: str) -> dict[str, Any]:
    return {"queue_name": "deferred", "queue_id": queue_id, "recipients": [{"address": "a@x.test",
                                                                             "delay_reason": reason}]}


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(("virtual_transport", "expected"), [
    ("lmtp:unix:private/dovecot-lmtp", ("lmtp", SOCKET, "private/dovecot-lmtp")),
    ("dovecot:unix:/run/dovecot/lmtp", ("dovecot", "/run/dovecot/lmtp", "/run/dovecot/lmtp")),
    ("virtual", None),
    ("lmtp:inet:127.0.0.1:24", None),
    ("lmtp:[127.0.0.1]:24", None),
    ("", None),
    (":unix:private/x", None),
])
def test_only_lmtp_over_a_unix_socket_is_quiesced(virtual_transport: str,
                                                  expected: tuple[str, str, str] | None) -> None:
    route = lmtp_quiesce.parse_route(virtual_transport, "/var/spool/postfix/")
    assert (route and (route.transport, route.socket, route.nexthop)) == expected


@pytest.mark.parametrize(("before", "during"), [
    (None, "lmtp"), ("", "lmtp"), ("smtp", "smtp, lmtp"), ("smtp,relay", "smtp, relay, lmtp"),
    ("lmtp", None), ("smtp lmtp", None),
])
def test_the_deferring_value_adds_the_transport_once(before: str | None, during: str | None) -> None:
    assert lmtp_quiesce.deferring_value(before, "lmtp") == during


@pytest.mark.parametrize(("current", "before", "restored"), [
    ("lmtp", None, None),  # was not set: removed again
    ("lmtp", "", ""),  # was set to empty: exactly that
    ("smtp, lmtp", "smtp", "smtp"),
    ("smtp,  lmtp", "smtp", "smtp"),
    ("relay,smtp, lmtp", "relay,smtp", "relay,smtp"),  # the operator's own spelling comes back
    (None, None, None),  # a kill before postconf -e ran: nothing to undo
    ("smtp, lmtp, error", None, "smtp, error"),  # edited meanwhile: only mailtui's item goes
])
def test_the_undo_restores_exactly(current: str | None, before: str | None, restored: str | None) -> None:
    assert lmtp_quiesce.undo_value(current, before, "lmtp") == restored


# ---------------------------------------------------------------- /proc


def test_unix_sockets_counts_the_sessions_of_one_listener(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "unix").write_text(
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        f"0000000000000001: 00000002 00000000 00010000 0001 01 100 {SOCKET}\n"
        f"0000000000000002: 00000003 00000000 00000000 0001 03 101 {SOCKET}\n"
        f"0000000000000003: 00000003 00000000 00000000 0001 03 102 {SOCKET}\n"
        "0000000000000004: 00000003 00000000 00000000 0001 03 103\n"  # a client end: no path
        f"0000000000000007: 00000002 00000000 00000000 0001 04 106 {SOCKET}\n"  # being closed
        "0000000000000005: 00000003 00000000 00000000 0001 03 104 /run/dovecot/lmtp\n"
        f"0000000000000006: 00000002 00000000 00010000 0001 01 105 {SOCKET}-other\n")
    assert lmtp_quiesce.unix_sockets(SOCKET, tmp_path) == (2, True)
    assert lmtp_quiesce.unix_sockets("/run/dovecot/lmtp", tmp_path) == (1, False)
    assert lmtp_quiesce.unix_sockets(SOCKET, tmp_path / "missing") == (0, False)


def test_children_named_are_the_postfix_masters_own(tmp_path: Path) -> None:
    for pid, ppid, comm in ((100, 1, "master"), (101, 100, "qmgr"), (102, 100, "lmtp"), (103, 100, "smtpd"),
                            (200, 1, "dovecot"), (201, 200, "lmtp")):  # Dovecot's lmtp has another parent
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 0\n")
    assert lmtp_quiesce.children_named(100, ("qmgr", "lmtp"), tmp_path) == {101, 102}
    assert lmtp_quiesce.children_named(100, ("lmtp",), tmp_path) == {102}


# ---------------------------------------------------------------- the quiesce


def test_deliveries_are_paused_until_idle_and_put_back_exactly(fake: FakePostfix) -> None:
    fake.update(busy_polls=4, queue=[deferred("AAAAAA1", "deferred transport"),
                                     deferred("AAAAAA2", "connect to x[private/dovecot-lmtp]: refused"),
                                     deferred("AAAAAA3", "connect to remote.test: timed out")])
    seen: dict[str, Any] = {}
    with lmtp_quiesce.quiesced("restart") as q:
        state = fake.load()
        seen.update(loaded=state["loaded"], marker=json.loads(paths.LMTP_MARKER.read_text()),
                    mode=paths.LMTP_MARKER.stat().st_mode & 0o777)
    # Inside: Postfix runs with lmtp deferred; the marker records the value before (not set) and is private.
    assert seen["loaded"] == {"defer_transports": "lmtp"}
    assert seen["marker"]["before"] is None and seen["marker"]["transport"] == "lmtp"
    assert seen["marker"]["action"] == "restart" and seen["marker"]["pid"] == os.getpid()
    assert seen["mode"] == 0o600
    assert q.drained and q.route is not None and q.reloaded
    assert q.sessions_before == 3  # then 3 polls busy, then quiet for QUIET_SECONDS
    assert q.waited_seconds == pytest.approx(3 * lmtp_quiesce.POLL_SECONDS + lmtp_quiesce.QUIET_SECONDS)
    # After: removed again (not set before), reloaded, only the mail deferred by the pause asked for.
    state = fake.load()
    assert state["main"] == {} and state["loaded"] == {}
    assert not paths.LMTP_MARKER.exists()
    calls = fake.calls_with_marker()
    edits = [(c, m) for c, m in calls if c.startswith(("postconf -e", "postconf -X", "postfix reload",
                                                         "postqueue -f"))]
    assert edits == [("postconf -e defer_transports=lmtp", True), ("postfix reload", True),
                     ("postconf -X defer_transports", True), ("postfix reload", True),
                     ("postqueue -f", False)]
    assert "the 3 LMTP session(s) open before ended within 0.8 s" in q.notes[0]
    assert "(1 deferred message(s) waited" in q.notes[-1]


def test_a_session_during_the_quiet_time_starts_it_again(fake: FakePostfix) -> None:
    # Looks: before the pause, then busy, quiet for 0.2 s, a late agent connects, then quiet for good.
    fake.update(sessions=[4, 2, 0, 0, 0, 1, 0])
    with lmtp_quiesce.quiesced("restart") as q:
        pass
    # Quiet from the look at 0.5 s on: done at 1.0 s (not at 0.6 s, when the first quiet spell would have ended).
    assert q.drained and q.waited_seconds == pytest.approx(0.5 + lmtp_quiesce.QUIET_SECONDS)


def test_an_operators_value_comes_back_as_it_was(fake: FakePostfix) -> None:
    fake.update(main={"defer_transports": "smtp,relay"}, loaded={"defer_transports": "smtp,relay"})
    with lmtp_quiesce.quiesced("stop"):
        assert fake.load()["loaded"] == {"defer_transports": "smtp, relay, lmtp"}
    assert fake.load()["main"] == {"defer_transports": "smtp,relay"}
    assert fake.load()["loaded"] == {"defer_transports": "smtp,relay"}


def test_lmtp_deferred_already_changes_nothing(fake: FakePostfix) -> None:
    fake.update(main={"defer_transports": "lmtp"})
    with lmtp_quiesce.quiesced("restart") as q:
        pass
    assert q.route is None and not q.reloaded and "already" in q.notes[0]
    assert not any(c.startswith(("postconf -e", "postconf -X", "postfix reload")) for c in fake.calls)
    assert fake.load()["main"] == {"defer_transports": "lmtp"}


@pytest.mark.parametrize("why", ["postfix stopped", "not lmtp"])
def test_plain_when_postfix_is_down_or_does_not_deliver_over_lmtp(fake: FakePostfix, why: str) -> None:
    fake.update(**({"running": False} if why == "postfix stopped" else {"virtual_transport": "virtual"}))
    with lmtp_quiesce.quiesced("restart") as q:
        pass
    assert q.route is None and not q.notes
    assert not any(c.startswith(("postconf -e", "postconf -X", "postfix")) for c in fake.calls)
    assert not paths.LMTP_MARKER.exists()


def test_an_error_inside_still_puts_everything_back(fake: FakePostfix) -> None:
    with pytest.raises(RuntimeError, match="dovecot would not stop"), lmtp_quiesce.quiesced("stop"):
        raise RuntimeError("dovecot would not stop")
    assert fake.load()["main"] == {} and fake.load()["loaded"] == {}
    assert not paths.LMTP_MARKER.exists()


def test_the_wait_is_bounded(fake: FakePostfix) -> None:
    fake.update(busy_polls=10_000)  # a session that never ends
    with lmtp_quiesce.quiesced("restart", wait_seconds=5) as q:
        assert fake.load()["loaded"] == {"defer_transports": "lmtp"}
    assert not q.drained and 5 <= q.waited_seconds < 5.2
    assert "going on anyway" in q.notes[0] and "3 LMTP session(s) open" in q.notes[0]
    assert fake.load()["main"] == {} and not paths.LMTP_MARKER.exists()


def test_a_failed_reload_on_the_way_out_keeps_the_marker(fake: FakePostfix, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = fake.run
    reloads = []

    def run(argv: list[str], **kw: Any) -> Result:
        if list(argv) == ["postfix", "reload"]:
            reloads.append(1)
            if len(reloads) == 2:
                raise CommandFailed(list(argv), 1, "postfix/postfix-script: fatal: the Postfix mail system is down")
        return real_run(argv, **kw)

    monkeypatch.setattr(lmtp_quiesce, "run", run)
    with pytest.raises(CommandFailed), lmtp_quiesce.quiesced("restart"):
        pass
    # main.cf is put back, but the running Postfix may still defer: the marker stays for the repair.
    assert fake.load()["main"] == {}
    assert paths.LMTP_MARKER.exists()
    assert lmtp_quiesce.problems()
    assert "undoing it" in lmtp_quiesce.repair_leftover()
    assert fake.load()["loaded"] == {} and not paths.LMTP_MARKER.exists()


def test_the_mail_waiting_for_dovecot_is_counted_and_flushed(fake: FakePostfix) -> None:
    fake.update(queue=[deferred("AAAAAA1", "deferred transport"),
                       deferred("AAAAAA2", "connect to x[private/dovecot-lmtp]: Connection refused"),
                       deferred("AAAAAA3", "connect to remote.test[192.0.2.1]:25: timed out"),
                       {"queue_name": "active", "queue_id": "AAAAAA4", "recipients": []}])
    assert lmtp_quiesce.deferred_ids() == ["AAAAAA1"]
    assert lmtp_quiesce.deferred_ids("private/dovecot-lmtp") == ["AAAAAA1", "AAAAAA2"]
    done = lmtp_quiesce.deliver_deferred("private/dovecot-lmtp")
    assert done == "postqueue -f (2 deferred message(s) waited for Dovecot)"
    assert fake.calls[-1] == "postqueue -f"


def test_after_a_start_the_mail_waiting_for_dovecot_is_asked_for(fake: FakePostfix) -> None:
    text, reloaded = lmtp_quiesce.deliver_after_start()
    assert reloaded and "(0 deferred message(s) waited" in text
    fake.update(queue=[deferred("DDDDDD1", "connect to mail.x.test[private/dovecot-lmtp]: Connection refused"),
                       deferred("DDDDDD2", "connect to relay.test[1.2.3.4]:25: Connection refused")])
    text, reloaded = lmtp_quiesce.deliver_after_start()
    assert reloaded and "(1 deferred message(s) waited" in text
    # After the reload (the old queue manager would defer the mail again), then flushed.
    assert fake.calls[-3:] == ["postfix reload", "postqueue -j", "postqueue -f"]
    fake.update(running=False)
    assert lmtp_quiesce.deliver_after_start() == ("", False)


# ---------------------------------------------------------------- left behind: repair and report


def test_a_marker_with_a_free_lock_is_repaired_and_reported_until_then(fake: FakePostfix) -> None:
    fake.update(main={"defer_transports": "lmtp"}, loaded={"defer_transports": "lmtp"})
    lmtp_quiesce.Marker("lmtp", None, "restart", 4242, "2026-11-26T01:00:00+00:00").write()
    found = lmtp_quiesce.problems()
    assert len(found) == 1 and "interrupted at 2026-11-26T01:00:00+00:00" in found[0]
    assert "mailtui service restart dovecot" in found[0]
    check = checks.lmtp_deferral_check()
    assert not check.ok and "interrupted" in check.detail
    assert check in checks.state_checks()  # what `mailtui check` runs (through the database step)
    assert "undoing it" in lmtp_quiesce.repair_leftover()
    assert fake.load()["main"] == {} and fake.load()["loaded"] == {}
    assert lmtp_quiesce.problems() == [] and checks.lmtp_deferral_check().ok
    assert checks.lmtp_deferral_check().name not in [c.name for c in checks.state_checks()]
    assert lmtp_quiesce.repair_leftover() == ""


def test_a_restart_in_progress_is_neither_repaired_nor_reported(fake: FakePostfix) -> None:
    fake.update(main={"defer_transports": "lmtp"})
    lmtp_quiesce.Marker("lmtp", None, "restart", 4242, "now").write()
    fd = os.open(paths.LMTP_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another open file: conflicts like another process would
        assert lmtp_quiesce.problems() == []
        assert lmtp_quiesce.repair_leftover() == ""
        assert fake.load()["main"] == {"defer_transports": "lmtp"}
    finally:
        os.close(fd)


def test_defer_transports_set_by_hand_is_reported(fake: FakePostfix) -> None:
    assert lmtp_quiesce.problems() == []
    fake.update(main={"defer_transports": "smtp lmtp"})
    found = lmtp_quiesce.problems()
    assert len(found) == 1 and "defer_transports = smtp lmtp in main.cf" in found[0]
    fake.update(main={"defer_transports": "smtp"})
    assert lmtp_quiesce.problems() == []


def child_main(postfix_json: str, state_dir: str) -> None:
    """In a child process: a quiesced restart that is killed (SIGKILL) while Dovecot would restart."""
    from mailtui import faults

    mp = pytest.MonkeyPatch()
    use_fake(mp, FakePostfix(Path(postfix_json)), Path(state_dir))
    with lmtp_quiesce.quiesced("restart"):
        faults.kill()


def test_killed_mid_restart_the_next_service_action_repairs(tmp_path: Path, fake: FakePostfix,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import sys; from tests.unit.test_lmtp_quiesce import child_main; "
         "child_main(sys.argv[1], sys.argv[2])", str(fake.path), str(tmp_path / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env=guard.child_env())
    assert child.returncode == -9, child.stderr
    # What the kill left: Postfix deferring LMTP, the marker, the lock free again.
    assert fake.load()["loaded"] == {"defer_transports": "lmtp"}
    assert paths.LMTP_MARKER.exists()
    assert not checks.lmtp_deferral_check().ok
    # The next `mailtui service …` action (here: start of MariaDB) undoes it first.
    monkeypatch.setattr(services, "control", lambda name, verb, check=True: Result(["service", name, verb], 0, ""))
    monkeypatch.setattr(services, "is_running", lambda name: True)
    result = safe_services.start("mariadb")
    assert "interrupted" in result.output and "put back as it was (defer_transports not set)" in result.output
    assert fake.load()["main"] == {} and fake.load()["loaded"] == {}
    assert not paths.LMTP_MARKER.exists() and checks.lmtp_deferral_check().ok


# ---------------------------------------------------------------- services


@pytest.fixture
def fake_dovecot(fake: FakePostfix, monkeypatch: pytest.MonkeyPatch) -> FakePostfix:
    """services.control recorded into the fake's calls; Dovecot's PID changes on restart."""
    pid = {"dovecot": 500}

    def control(name: str, verb: str, check: bool = True) -> Result:
        fake.record(f"service {name} {verb}")
        if name == "dovecot":
            pid["dovecot"] = {"restart": pid["dovecot"] + 1, "start": 600, "stop": None}.get(verb, pid["dovecot"])
        return Result(["service", name, verb], 0, f"{verb} {name}.\n")

    monkeypatch.setattr(services, "control", control)
    monkeypatch.setattr(services, "main_pid", lambda name: pid[name] if name == "dovecot" else MASTER)
    monkeypatch.setattr(safe_services, "_postfix_reloaded_for", None)
    return fake


def test_restart_dovecot_happens_while_lmtp_is_deferred(fake_dovecot: FakePostfix) -> None:
    result = safe_services.restart("dovecot")
    calls = [c for c in fake_dovecot.calls if not c.startswith(("postconf -h", "postconf -n", "postqueue -j"))]
    assert calls == ["postconf -e defer_transports=lmtp", "postfix reload", "service dovecot restart",
                     "postconf -X defer_transports", "postfix reload", "postqueue -f"]
    assert result.output.startswith("restart dovecot.\n") and "paused" in result.output
    # Postfix was reloaded after Dovecot came back: no second reload for the smtpd processes.
    assert "reloaded once Dovecot was back" in safe_services.reconnect_postfix_to_dovecot()
    assert fake_dovecot.calls.count("postfix reload") == 2


def test_restart_while_dovecot_does_not_listen_on_the_socket_pauses_nothing(fake_dovecot: FakePostfix,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The first install: Postfix hands mail to an LMTP socket Dovecot's stock configuration does not have,
    so no delivery can be in flight — no pause (its reload and quiet wait), but what waited is asked for."""
    fake_dovecot.update(listening=False)
    control = services.control

    def restart_and_listen(name: str, verb: str, check: bool = True) -> Result:
        fake_dovecot.update(listening=True)  # the new configuration has the socket
        return control(name, verb, check)

    monkeypatch.setattr(services, "control", restart_and_listen)
    result = safe_services.restart("dovecot")
    calls = [c for c in fake_dovecot.calls if not c.startswith(("postconf -h", "postconf -n", "postqueue -j"))]
    assert calls == ["service dovecot restart", "postfix reload", "postqueue -f"]
    assert "does not listen on" in result.output and "no delivery to pause" in result.output
    assert "reloaded once Dovecot was back" in safe_services.reconnect_postfix_to_dovecot()
    # Control: listening, the same restart pauses deliveries first.
    fake_dovecot.update(calls=[])
    safe_services.restart("dovecot")
    assert ("postconf -e defer_transports=lmtp", True) in fake_dovecot.calls_with_marker()


def test_stop_dovecot_puts_defer_transports_back_once_it_is_down(fake_dovecot: FakePostfix) -> None:
    safe_services.stop("dovecot")
    calls = [c for c in fake_dovecot.calls if c.startswith(("postconf -e", "postconf -X", "service"))]
    assert calls == ["postconf -e defer_transports=lmtp", "service dovecot stop", "postconf -X defer_transports"]
    assert fake_dovecot.load()["loaded"] == {}


def test_other_services_restart_plainly(fake_dovecot: FakePostfix, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = iter([1, 2, 2])
    monkeypatch.setattr(services, "main_pid", lambda name: next(pids))
    safe_services.restart("mariadb")
    assert fake_dovecot.calls == ["service mariadb restart"]


def test_start_dovecot_reloads_postfix_once_and_flushes(fake_dovecot: FakePostfix,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "wait_until", lambda name, running, timeout: True)
    result = safe_services.start("dovecot")
    assert "postfix reload; postqueue -f" in result.output
    assert fake_dovecot.calls[-2:] == ["postqueue -j", "postqueue -f"]
    assert "reloaded once Dovecot was back" in safe_services.reconnect_postfix_to_dovecot()
    assert fake_dovecot.calls.count("postfix reload") == 1
    # Without that, reconnecting reloads Postfix itself.
    monkeypatch.setattr(safe_services, "reload", lambda name: Result(["service", name, "reload"], 0, ""))
    assert "postfix reload (its smtpd" in safe_services.reconnect_postfix_to_dovecot()


def test_max_wait_bounds_the_wait_of_a_restart_and_is_checked(fake_dovecot: FakePostfix,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from mailtui.errors import ValidationError
    from mailtui.ops import services as ops_services

    monkeypatch.setattr(ops_services, "_known", lambda name: name)
    monkeypatch.setattr(safe_services, "reconnect_postfix_to_dovecot", lambda: "")
    fake_dovecot.update(busy_polls=10_000)  # a session that never ends
    output = ops_services.control("dovecot", "restart", max_wait=2)
    assert "after 2 s still" in output and "going on anyway" in output
    assert fake_dovecot.load()["main"] == {}  # put back
    for verb, wait, says in [("restart", -1, "between 0 and"), ("stop", 601, "between 0 and"),
                             ("start", 5, "only a restart or stop")]:
        calls = len(fake_dovecot.calls)
        with pytest.raises(ValidationError) as bad:
            ops_services.control("dovecot", verb, max_wait=wait)
        assert says in bad.value.problems["max wait"]
        assert len(fake_dovecot.calls) == calls  # refused before anything was done
