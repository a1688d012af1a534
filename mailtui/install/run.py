"""Running an install: step order, preflight, plan, apply with progress, state on disk.

The engine applies in dependency order (packages, database, tls, postfix, dovecot, firewall,
verify) so a certificate exists before a service that needs it starts. An install runs in a worker
process detached from the terminal that started it (its own session: an SSH drop cannot kill dpkg
half-way). The worker appends events to STATE/install/events.jsonl and keeps STATE/install/state.json
current, so any UI can follow it, re-attach to it, or see how it ended. Steps are idempotent, so
resuming an interrupted install simply runs it again: finished steps find nothing to do.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError
from mailtui.events import Emit, Event
from mailtui.model import answers as answers_mod
from mailtui.model.answers import Answers
from mailtui.steps.base import Change, Context, Step
from mailtui.system import files
from mailtui.system.platform import Platform

INSTALL_DIR = files.STATE_DIR / "install"
STATE_FILE = INSTALL_DIR / "state.json"
EVENTS_FILE = INSTALL_DIR / "events.jsonl"
PENDING_ANSWERS = INSTALL_DIR / "answers.toml"  # hashed; lets an interrupted install resume
LOCK_FILE = INSTALL_DIR / "lock"
WORKER_LOG = INSTALL_DIR / "worker.log"
# Steps a UI may offer to skip after they failed: nothing later depends on them.
SKIPPABLE = frozenset({"firewall", "fail2ban", "verify"})


def all_steps() -> list[Step]:
    from mailtui.steps import all_steps as engine_steps

    return engine_steps()


def steps_for(ctx: Context, only: Sequence[str] | None = None) -> list[Step]:
    """The enabled steps in engine order; with `only`, just those of them (still in engine order)."""
    steps = [s for s in all_steps() if s.enabled(ctx)]
    if only is not None:
        wanted = set(only)
        steps = [s for s in steps if s.name in wanted]
    return steps


def step_names() -> list[str]:
    """Every step's name, in engine order."""
    return [s.name for s in all_steps()]


def ordered_steps(steps: Sequence[str]) -> list[str]:
    """The given step names in engine order, without duplicates; unknown names raise MailtuiError."""
    known = step_names()
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise MailtuiError(f"unknown install step(s): {', '.join(unknown)} (the steps are: {', '.join(known)})")
    wanted = set(steps)
    return [s for s in known if s in wanted]


def resume_from(state: InstallState) -> list[str]:
    """The steps of that install not done yet, in engine order: what a resume runs.

    A step counts when the install recorded it (state.steps lists every enabled step, also those a
    phased run did not reach yet); a fresh state (no steps recorded) means everything."""
    if not state.steps:
        return step_names()
    order = {name: i for i, name in enumerate(step_names())}
    todo = [name for name, status in state.steps.items() if status != "done"]
    return sorted(todo, key=lambda name: order.get(name, len(order)))


def pending_packages(answers: Answers) -> list[str]:
    """The packages the packages step would install now (empty: everything is in place, so the
    other steps can be planned against the real stock files)."""
    from mailtui.steps.packages import PackagesResource, PackagesStep
    from mailtui.system import apt

    ctx = make_context(answers)
    missing: list[str] = []
    for resource in PackagesStep().resources(ctx):
        if isinstance(resource, PackagesResource):
            missing += [p for p in apt.missing(resource.packages) if p not in missing]
    return missing


def make_context(answers: Answers, emit: Emit | None = None, *, dry_run: bool = False) -> Context:
    ctx = Context(answers=answers, platform=Platform.detect(), dry_run=dry_run)
    if emit is not None:
        ctx.emit = emit
    return ctx


def load_saved_answers() -> Answers | None:
    if not paths.ANSWERS_FILE.exists():
        return None
    return answers_mod.load(paths.ANSWERS_FILE)


def prepare(answers: Answers) -> Answers:
    """Validated answers with database secrets filled: from the last install if there was one (so a
    second install changes nothing), else generated."""
    answers = answers_mod.check(answers)
    saved = load_saved_answers()
    if saved is None:  # after `mailtui rollback`: the database it left alone still has these passwords
        from mailtui.install import rollback

        saved = rollback.answers_left_behind()
    if saved is not None and not answers.database.password and saved.database.user == answers.database.user:
        answers = replace(answers, database=replace(answers.database, password=saved.database.password))
    if saved is not None and not answers.database.admin_password \
            and saved.database.admin_user == answers.database.admin_user:
        answers = replace(answers, database=replace(answers.database, admin_password=saved.database.admin_password))
    if answers.firewall.enable and answers.firewall.ssh_port is None:
        # Remember the port this SSH session came in on, so later checks and runs (from cron, from
        # another session) keep allowing it.
        from mailtui.steps.firewall import session_ssh_port

        port = session_ssh_port(os.environ) or (saved.firewall.ssh_port if saved else None)
        if port is not None:
            answers = replace(answers, firewall=replace(answers.firewall, ssh_port=port))
    return with_stable_hashes(answers, saved).with_generated_secrets()


def with_stable_hashes(answers: Answers, saved: Answers | None) -> Answers:
    """Give every plain-text password its hash now, reusing the saved hash where it still verifies: the
    database, the saved answers and `mailtui check` then agree on one hash (a new salt on every run
    would make each re-install rewrite them). The plain text stays, in memory only, for the verify step."""
    from mailtui.model import passwords

    old = {u.email: u.password_hash for u in saved.users} if saved else {}
    users = []
    for u in answers.users:
        if u.password and not u.password_hash:
            previous = old.get(u.email, "")
            keep = previous and passwords.verify_password(u.password, previous)
            u = replace(u, password_hash=previous if keep else passwords.hash_password(u.password))
        users.append(u)
    return replace(answers, users=users)


def preflight(ctx: Context) -> list[str]:
    problems = []
    if os.geteuid() != 0:
        problems.append("mailtui must run as root to install (try: sudo mailtui install …)")
    if not ctx.platform.supported:
        problems.append(f"{ctx.platform.pretty_name} is not a supported release "
                        "(Debian 12/13, Ubuntu 22.04/24.04/26.04)")
    for step in steps_for(ctx):
        problems += [f"{step.title}: {p}" for p in step.preflight(ctx)]
    return problems


def plan(ctx: Context, only: Sequence[str] | None = None) -> list[tuple[Step, list[Change]]]:
    """What each step would change; with `only`, just those steps (e.g. the rest after the packages
    are in, planned against the real stock files)."""
    return [(step, step.plan(ctx)) for step in steps_for(ctx, only)]


# ---------------------------------------------------------------- state on disk


@dataclass
class InstallState:
    status: str = "idle"  # running, done, failed
    pid: int = 0
    started: float = 0.0
    finished: float = 0.0
    steps: dict[str, str] = field(default_factory=dict)  # name -> todo, running, done, failed
    error: str = ""
    failed_step: str = ""
    # The steps this run was asked to do (in engine order); empty = all of them.
    steps_requested: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        """The worker that wrote this state is still running (not a zombie, not a reused PID)."""
        if self.status != "running" or self.pid <= 0:
            return False
        return worker_running(self.pid)


def worker_running(pid: int) -> bool:
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        return False
    # A killed worker stays a zombie until its parent (the CLI that started it) reaps it.
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and b"mailtui" in cmdline


def read_state() -> InstallState:
    try:
        return InstallState(**json.loads(STATE_FILE.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return InstallState()


def write_state(state: InstallState) -> None:
    files.write_file(STATE_FILE, json.dumps(asdict(state), indent=1), mode=0o600, backup=False)


def ensure_install_dir() -> None:
    files.ensure_state_dir()
    INSTALL_DIR.mkdir(mode=0o700, exist_ok=True)


class EventLog:
    """Appends events to the events file (one JSON object a line) and passes them on."""

    def __init__(self, path: Path, also: Emit | None = None) -> None:
        self.path = path
        self.also = also
        self._fh = path.open("a", encoding="utf-8")
        os.chmod(path, 0o600)

    def __call__(self, event: Event) -> None:
        self._fh.write(event.to_json() + "\n")
        self._fh.flush()
        if self.also is not None:
            self.also(event)

    def close(self) -> None:
        self._fh.close()


def follow_events(path: Path, *, from_start: bool = True, stop: Callable[[], bool],
                  poll: float = 0.2) -> Iterator[Event]:
    """Yield events as the worker writes them, until stop() is true and the file is drained."""
    while not path.exists():
        if stop():
            return
        time.sleep(poll)
    with path.open(encoding="utf-8") as fh:
        if not from_start:
            fh.seek(0, os.SEEK_END)
        buffer = ""
        while True:
            chunk = fh.readline()
            if chunk:
                buffer += chunk
                if buffer.endswith("\n"):
                    event = _parse_event(buffer)
                    buffer = ""
                    if event is not None:
                        yield event
                continue
            if stop():
                return
            time.sleep(poll)


def _parse_event(line: str) -> Event | None:
    try:
        return Event.from_json(line)
    except (json.JSONDecodeError, TypeError):
        return None


# ---------------------------------------------------------------- running


def run_steps(ctx: Context, state: InstallState, *, on_state: Callable[[InstallState], None],
              only: Sequence[str] | None = None) -> bool:
    """Apply the steps in engine order (with `only`: just those). Returns True when all of them
    succeeded; records progress in `state`, which lists every enabled step (not requested ones keep
    the status they had)."""
    enabled = [step.name for step in steps_for(ctx)]
    state.steps = {name: state.steps.get(name, "todo") for name in enabled}
    steps = steps_for(ctx, only)
    for step in steps:
        state.steps[step.name] = "todo"
    for step in steps:
        state.steps[step.name] = "running"
        on_state(state)
        ctx.emit(Event("started", step.name, step.title))
        began = time.monotonic()
        try:
            changed = step.apply(ctx)
        except Exception as exc:  # any failure stops the install with its reason
            reason = str(exc) if isinstance(exc, MailtuiError) else f"{type(exc).__name__}: {exc}"
            state.steps[step.name] = "failed"
            state.failed_step = step.name
            state.error = reason
            ctx.emit(Event("failed", step.name, reason))
            on_state(state)
            return False
        state.steps[step.name] = "done"
        took = time.monotonic() - began
        ctx.emit(Event("done", step.name, f"{'changed' if changed else 'nothing to change'} ({took:.1f} s)"))
        on_state(state)
    return True


def installed_completely(state: InstallState) -> bool:
    """Every step is done (the skippable ones may have been skipped): the install counts as made,
    its answers become the machine's saved answers."""
    return bool(state.steps) and all(status == "done" or name in SKIPPABLE for name, status in state.steps.items())


def worker_main(answers_text: str, only: Sequence[str] | None = None) -> int:
    """The detached install process: owns the lock, writes events and state, saves the answers.

    With `only`, it runs just those steps; the other steps keep the status the previous run recorded
    (a phased install — packages first, then the rest — adds up to one state)."""
    from mailtui import faults
    from mailtui.install import rollback

    faults.arm()  # MAILTUI_FAULT: the reliability tests kill this process at a chosen point
    ensure_install_dir()
    lock = LOCK_FILE.open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("another install is running", file=sys.stderr)
        return 3
    rollback.note_install_start()
    answers = answers_mod.loads(answers_text)
    answers_mod.save(answers, PENDING_ANSWERS)
    requested = ordered_steps(only) if only is not None else []
    previous = read_state()
    EVENTS_FILE.write_text("")
    log = EventLog(EVENTS_FILE)
    state = InstallState(status="running", pid=os.getpid(), started=time.time(), steps_requested=requested)
    if only is not None:
        state.steps = {name: status for name, status in previous.steps.items() if name not in requested}
    write_state(state)
    ctx = make_context(answers, log)
    from mailtui.stack import lmtp_quiesce

    try:  # a mailtui killed while it restarted Dovecot left Postfix deferring its deliveries to Dovecot
        repaired = lmtp_quiesce.repair_leftover()
    except MailtuiError as exc:
        repaired = f"could not undo a deferral of deliveries to Dovecot left by an interrupted mailtui: {exc}"
    if repaired:
        log(Event("info", "install", repaired))
    if only is not None:
        log(Event("info", "install", f"running {', '.join(requested) or 'no steps'}"))
    ok = run_steps(ctx, state, on_state=write_state, only=requested if only is not None else None)
    if ok and installed_completely(state):
        answers_mod.save(answers, paths.ANSWERS_FILE)
    state.status = "done" if ok else "failed"
    state.finished = time.time()
    write_state(state)
    log(Event("info", "install", "finished" if ok else f"failed in {state.failed_step}"))
    log.close()
    return 0 if ok else 1


def start_worker(answers: Answers, steps: Sequence[str] | None = None) -> int:
    """Start the detached worker; return its PID. Plain-text passwords reach it only via a pipe.

    With `steps`, only those steps run (in engine order, whatever order they are given in)."""
    import subprocess

    argv = [sys.executable, "-m", "mailtui", "install", "--worker"]
    if steps is not None:
        requested = ordered_steps(steps)
        if not requested:
            raise MailtuiError("no install steps were given to run")
        argv += ["--only", ",".join(requested)]
    ensure_install_dir()
    if read_state().alive:
        raise MailtuiError("an install is already running: follow it with `mailtui install --attach`")
    with WORKER_LOG.open("ab") as log:
        os.chmod(WORKER_LOG, 0o600)
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd="/",
        )
    assert proc.stdin is not None
    proc.stdin.write(answers_mod.dumps(answers, keep_passwords=True).encode())
    proc.stdin.close()
    # Wait until the worker has taken over the state file (or died trying).
    deadline = time.time() + 30
    while time.time() < deadline:
        state = read_state()
        if state.pid == proc.pid:
            return proc.pid
        code = proc.poll()
        if code is not None and code < 0:  # killed (power cut, kill -9) before it took over the state
            again = "`mailtui install --resume`" if PENDING_ANSWERS.exists() else "the install"
            raise MailtuiError(f"the install was interrupted: its worker was killed (signal {-code}) as it "
                               f"started; run {again} again")
        if code is not None:
            raise MailtuiError(f"the install worker exited at once; see {WORKER_LOG}:\n"
                               + WORKER_LOG.read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    return proc.pid
