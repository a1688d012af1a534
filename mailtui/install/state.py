"""Install state on disk: what the running or last install did, and the answers it was given.

The worker appends events to paths.INSTALL_EVENTS and keeps paths.INSTALL_STATE current, so any UI can
follow it, re-attach to it, or see how it ended. paths.PENDING_ANSWERS holds the answers of the install
under way (hashed), paths.ANSWERS_FILE those of the last finished one (`mailtui check`, the dashboard and
the next install read them). Everything here is root-only (0600 in a 0700 directory).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError
from mailtui.events import Emit, Event
from mailtui.model import answers_file
from mailtui.model.answers import Answers
from mailtui.system import files

# Steps a UI may offer to skip after they failed: nothing later depends on them.
SKIPPABLE = frozenset({"firewall", "fail2ban", "verify"})


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
    # A finished install's advisories that failed (steps/base.py Step.advisories): "name: detail".
    warnings: list[str] = field(default_factory=list)

    @property
    def packages_only(self) -> bool:
        """The run that installs the packages alone, before the review of the real diffs (the rest follows)."""
        return list(self.steps_requested) == ["packages"]

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
    return state not in ("Z", "X") and is_worker_cmdline(cmdline)


def is_worker_cmdline(cmdline: bytes) -> bool:
    """`python3 -m mailtui install --worker …` (worker.start_worker's argv), not just any process whose
    command line mentions mailtui (a test run from a clone called mailtui, an editor)."""
    args = cmdline.split(b"\0")
    return b"--worker" in args and b"install" in args and any(
        a == b"mailtui" or a.endswith(b"/mailtui") for a in args)


def installed_completely(state: InstallState) -> bool:
    """Every step is done (the skippable ones may have been skipped): the install counts as made,
    its answers become the machine's saved answers."""
    return bool(state.steps) and all(status == "done" or name in SKIPPABLE for name, status in state.steps.items())


def read_state() -> InstallState:
    try:
        return InstallState(**json.loads(paths.INSTALL_STATE.read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return InstallState()


def write_state(state: InstallState) -> None:
    files.write_private(paths.INSTALL_STATE, json.dumps(asdict(state), indent=1))


def ensure_install_dir() -> None:
    files.ensure_state_dir()
    paths.INSTALL_DIR.mkdir(mode=0o700, exist_ok=True)


# ---------------------------------------------------------------- saved answers


def load_saved_answers() -> Answers | None:
    """The answers of the last finished install (None: mailtui has not installed this machine)."""
    if not paths.ANSWERS_FILE.exists():
        return None
    return answers_file.load(paths.ANSWERS_FILE)


def require_saved_answers() -> Answers:
    """The saved answers; MailtuiError when mailtui has not installed this machine."""
    saved = load_saved_answers()
    if saved is None:
        raise MailtuiError(f"mailtui has not installed this machine yet ({paths.ANSWERS_FILE} is missing)")
    return saved


def load_pending_answers() -> Answers | None:
    """The answers of the install under way or interrupted (None: there is none to resume)."""
    if not paths.PENDING_ANSWERS.exists():
        return None
    return answers_file.load(paths.PENDING_ANSWERS)


def save_answers(answers: Answers, path: Path) -> None:
    """Save root-only (0600): the file holds the database passwords (mailbox passwords only as hashes)."""
    files.write_private(path, answers_file.dumps(answers))


# ---------------------------------------------------------------- events


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
