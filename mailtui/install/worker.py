"""The detached install worker: applies the steps, records progress on disk, survives the terminal.

An install runs in a worker process detached from the terminal that started it (its own session: an SSH
drop cannot kill dpkg half-way). It owns the install lock, appends events and keeps the state current
(install/state.py). Steps are idempotent, so resuming an interrupted install simply runs it again:
finished steps find nothing to do.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from mailtui import faults, paths
from mailtui.errors import Busy, MailtuiError
from mailtui.events import Event
from mailtui.install import rollback, state
from mailtui.install.plan import CheckedAnswers, failed_advisories, make_context, ordered_steps, steps_for
from mailtui.install.state import InstallState
from mailtui.model import answers_file
from mailtui.stack import lmtp_quiesce
from mailtui.steps.base import Context

BUSY_EXIT = 3  # the worker's exit code when another install holds the lock (the command line's "busy")


def run_steps(ctx: Context, install_state: InstallState, *, on_state: Callable[[InstallState], None],
              only: Sequence[str] | None = None) -> bool:
    """Apply the steps in engine order (with `only`: just those). Returns True when all of them
    succeeded; records progress in `install_state`, which lists every enabled step (not requested ones
    keep the status they had)."""
    enabled = [step.name for step in steps_for(ctx)]
    install_state.steps = {name: install_state.steps.get(name, "todo") for name in enabled}
    steps = steps_for(ctx, only)
    for step in steps:
        install_state.steps[step.name] = "todo"
    for step in steps:
        install_state.steps[step.name] = "running"
        on_state(install_state)
        ctx.emit(Event("started", step.name, step.title))
        began = time.monotonic()
        try:
            changed = step.apply(ctx)
        except Exception as exc:  # any failure stops the install with its reason
            reason = str(exc) if isinstance(exc, MailtuiError) else f"{type(exc).__name__}: {exc}"
            install_state.steps[step.name] = "failed"
            install_state.failed_step = step.name
            install_state.error = reason
            ctx.emit(Event("failed", step.name, reason))
            on_state(install_state)
            return False
        install_state.steps[step.name] = "done"
        took = time.monotonic() - began
        ctx.emit(Event("done", step.name, f"{'changed' if changed else 'nothing to change'} ({took:.1f} s)"))
        on_state(install_state)
    return True


def worker_main(answers_text: str, only: Sequence[str] | None = None) -> int:
    """The detached install process: owns the lock, writes events and state, saves the answers.

    With `only`, it runs just those steps; the other steps keep the status the previous run recorded
    (a phased install — packages first, then the rest — adds up to one state)."""
    faults.arm()  # MAILTUI_FAULT: the reliability tests kill this process at a chosen point
    state.ensure_install_dir()
    lock = paths.INSTALL_LOCK.open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another install is running", file=sys.stderr)
        return BUSY_EXIT
    rollback.note_install_start()
    answers = answers_file.loads(answers_text)
    state.save_answers(answers, paths.PENDING_ANSWERS)
    requested = ordered_steps(only) if only is not None else []
    previous = state.read_state()
    paths.INSTALL_EVENTS.write_text("")
    log = state.EventLog(paths.INSTALL_EVENTS)
    current = InstallState(status="running", pid=os.getpid(), started=time.time(), steps_requested=requested)
    if only is not None:
        current.steps = {name: status for name, status in previous.steps.items() if name not in requested}
    state.write_state(current)
    ctx = make_context(answers, log)
    try:  # a mailtui killed while it restarted Dovecot left Postfix deferring its deliveries to Dovecot
        repaired = lmtp_quiesce.repair_leftover()
    except MailtuiError as exc:
        repaired = f"could not undo a deferral of deliveries to Dovecot left by an interrupted mailtui: {exc}"
    if repaired:
        log(Event("info", "install", repaired))
    if only is not None:
        log(Event("info", "install", f"running {', '.join(requested) or 'no steps'}"))
    ok = run_steps(ctx, current, on_state=state.write_state, only=requested if only is not None else None)
    if ok and state.installed_completely(current):
        state.save_answers(answers, paths.ANSWERS_FILE)
    if ok:
        current.warnings = failed_advisories(ctx)
        for warning in current.warnings:
            log(Event("info", "install", f"warning: {warning}"))
    current.status = "done" if ok else "failed"
    current.finished = time.time()
    state.write_state(current)
    log(Event("info", "install", "finished" if ok else f"failed in {current.failed_step}"))
    log.close()
    return 0 if ok else 1


def start_worker(answers: CheckedAnswers, steps: Sequence[str] | None = None) -> int:
    """Start the detached worker; return its PID. Plain-text passwords reach it only via a pipe.

    With `steps`, only those steps run (in engine order, whatever order they are given in)."""
    argv = [sys.executable, "-m", "mailtui", "install", "--worker"]
    if steps is not None:
        requested = ordered_steps(steps)
        if not requested:
            raise MailtuiError("no install steps were given to run")
        argv += ["--only", ",".join(requested)]
    state.ensure_install_dir()
    if state.read_state().alive:
        raise Busy("an install is already running: follow it with `mailtui install --attach`")
    with paths.WORKER_LOG.open("ab") as log:
        os.chmod(paths.WORKER_LOG, 0o600)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd="/",
        )
    assert proc.stdin is not None
    proc.stdin.write(answers_file.dumps(answers.answers, keep_passwords=True).encode())
    proc.stdin.close()
    # Wait until the worker has taken over the state file (or died trying).
    deadline = time.time() + 30
    while time.time() < deadline:
        current = state.read_state()
        if current.pid == proc.pid:
            return proc.pid
        code = proc.poll()
        if code is not None and code < 0:  # killed (power cut, kill -9) before it took over the state
            again = "`mailtui install --resume`" if paths.PENDING_ANSWERS.exists() else "the install"
            raise MailtuiError(f"the install was interrupted: its worker was killed (signal {-code}) as it "
                               f"started; run {again} again")
        if code == BUSY_EXIT:  # another worker took the lock between the check above and this start
            raise Busy("an install is already running: follow it with `mailtui install --attach`")
        if code is not None:
            raise MailtuiError(f"the install worker exited at once; see {paths.WORKER_LOG}:\n"
                               + paths.WORKER_LOG.read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    return proc.pid
