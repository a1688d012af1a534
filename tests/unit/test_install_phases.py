"""A phased install: only some steps (in engine order), state that adds up across runs, resume, skip.

Runs the real worker code in-process with fake steps (install_plan.all_steps monkeypatched), state files
in a temporary directory.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from mailtui import paths
from mailtui.cli import main as cli
from mailtui.errors import MailtuiError, StepFailed
from mailtui.install import plan as install_plan
from mailtui.install import rollback
from mailtui.install import state as install_state
from mailtui.install import worker as install_worker
from mailtui.model import answers_file
from mailtui.model.answers import Answers, Domain
from mailtui.stack import lmtp_quiesce
from mailtui.steps.base import Context, Resource, Step
from mailtui.system import files
from tests.state import use_state_dir

ORDER = ["packages", "database", "tls", "acme", "resolver", "spam", "dkim", "srs", "postfix", "dovecot", "webmail",
         "updates", "firewall", "fail2ban", "verify"]
CALLS: list[str] = []


class FakeStep(Step):
    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake"
    why: ClassVar[str] = "for tests"
    fail: ClassVar[bool] = False
    disabled: ClassVar[bool] = False

    def resources(self, ctx: Context) -> Sequence[Resource]:
        return []

    def enabled(self, ctx: Context) -> bool:
        return not self.disabled

    def apply(self, ctx: Context) -> bool:
        CALLS.append(self.name)
        if self.fail:
            raise StepFailed(f"{self.name} broke: the reason an operator reads")
        return True


def fake(name: str, *, fail: bool = False, disabled: bool = False) -> type[FakeStep]:
    return type(f"Fake_{name}", (FakeStep,), {"name": name, "title": name.title(), "fail": fail,
                                              "disabled": disabled})


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debian12: object):  # type: ignore[no-untyped-def]
    """Fake steps in engine order, the install's files under tmp_path, on a Debian 12 machine where
    nothing runs. Returns a setter for failures."""
    use_state_dir(monkeypatch, tmp_path / "state")
    monkeypatch.setattr(lmtp_quiesce, "repair_leftover", lambda: "")  # no Postfix left deferring
    monkeypatch.setattr(rollback, "note_install_start", lambda: None)  # no services ran before
    CALLS.clear()
    failing: set[str] = set()
    disabled: set[str] = set()

    def all_steps() -> list[Step]:
        return [fake(n, fail=n in failing, disabled=n in disabled)() for n in ORDER]

    monkeypatch.setattr(install_plan, "all_steps", all_steps)
    return failing, disabled


def answers_text() -> str:
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")])
    return answers_file.dumps(answers.with_generated_secrets())


def events() -> list[dict[str, str]]:
    return [json.loads(line) for line in paths.INSTALL_EVENTS.read_text().splitlines()]


def test_steps_for_keeps_engine_order_whatever_order_they_are_asked_in(engine) -> None:  # type: ignore[no-untyped-def]
    ctx = install_plan.make_context(Answers())
    assert [s.name for s in install_plan.steps_for(ctx)] == ORDER
    assert [s.name for s in install_plan.steps_for(ctx, ["verify", "packages", "tls"])] == ["packages", "tls", "verify"]
    assert install_plan.ordered_steps(["dovecot", "database", "dovecot"]) == ["database", "dovecot"]
    with pytest.raises(MailtuiError, match="unknown install step.*nope.*the steps are: packages, database"):
        install_plan.ordered_steps(["nope"])


def test_the_real_engine_order_and_skippable_steps() -> None:
    assert install_plan.step_names() == ORDER
    assert {"firewall", "fail2ban", "verify"} == install_state.SKIPPABLE
    assert set(ORDER) >= install_state.SKIPPABLE


def test_run_steps_with_only_runs_just_those_and_records_every_step(engine) -> None:  # type: ignore[no-untyped-def]
    ctx = install_plan.make_context(Answers())
    state = install_state.InstallState(status="running")
    seen: list[dict[str, str]] = []
    ok = install_worker.run_steps(ctx, state, on_state=lambda s: seen.append(dict(s.steps)),
                           only=["database", "packages"])
    assert ok and CALLS == ["packages", "database"]
    assert state.steps == {"packages": "done", "database": "done", **{n: "todo" for n in ORDER[2:]}}
    assert seen[0]["packages"] == "running" and seen[0]["database"] == "todo"
    assert install_plan.resume_from(state) == ORDER[2:]


def test_a_failing_step_stops_the_run_and_resume_starts_there(engine) -> None:  # type: ignore[no-untyped-def]
    failing, _ = engine
    failing.add("postfix")
    ctx = install_plan.make_context(Answers())
    state = install_state.InstallState(status="running")
    ok = install_worker.run_steps(ctx, state, on_state=lambda s: None)
    assert not ok
    assert ORDER[:ORDER.index("postfix") + 1] == CALLS
    assert state.failed_step == "postfix" and "postfix broke: the reason an operator reads" in state.error
    assert state.steps["postfix"] == "failed" and state.steps["dovecot"] == "todo"
    assert install_plan.resume_from(state) == ["postfix", "dovecot", "webmail", "updates", "firewall", "fail2ban",
                                               "verify"]


def test_plan_with_only(engine) -> None:  # type: ignore[no-untyped-def]
    ctx = install_plan.make_context(Answers())
    assert [step.name for step, _ in install_plan.plan(ctx)] == ORDER
    assert [step.name for step, _ in install_plan.plan(ctx, ORDER[1:])] == ORDER[1:]


def test_resume_from_a_fresh_or_killed_install(engine) -> None:  # type: ignore[no-untyped-def]
    assert install_plan.resume_from(install_state.InstallState()) == ORDER
    killed = install_state.InstallState(status="running", steps={"packages": "done", "database": "running",
                                                           "tls": "todo", "verify": "todo"})
    assert install_plan.resume_from(killed) == ["database", "tls", "verify"]


def test_disabled_steps_are_neither_run_nor_recorded(engine) -> None:  # type: ignore[no-untyped-def]
    _, disabled = engine
    disabled.add("firewall")
    ctx = install_plan.make_context(Answers())
    state = install_state.InstallState(status="running", steps={"firewall": "failed"})
    assert install_worker.run_steps(ctx, state, on_state=lambda s: None, only=["firewall", "verify"])
    assert CALLS == ["verify"] and "firewall" not in state.steps


def test_phased_worker_runs_add_up_to_one_install(engine) -> None:  # type: ignore[no-untyped-def]
    text = answers_text()
    assert install_worker.worker_main(text, ["packages"]) == 0
    state = install_state.read_state()
    assert CALLS == ["packages"]
    assert state.status == "done" and state.steps_requested == ["packages"]
    assert state.steps["packages"] == "done" and state.steps["database"] == "todo"
    assert not paths.ANSWERS_FILE.exists(), "a partial install must not count as the machine's install"
    assert paths.PENDING_ANSWERS.exists()
    assert any(e["kind"] == "info" and "running packages" in e["message"] for e in events())

    remaining = install_plan.resume_from(state)
    assert remaining == ORDER[1:]
    assert install_worker.worker_main(text, remaining) == 0
    state = install_state.read_state()
    assert CALLS == ORDER
    assert all(v == "done" for v in state.steps.values()) and install_plan.resume_from(state) == []
    assert paths.ANSWERS_FILE.exists()


def test_worker_failure_then_skip_a_skippable_step(engine) -> None:  # type: ignore[no-untyped-def]
    failing, _ = engine
    failing.add("firewall")
    text = answers_text()
    assert install_worker.worker_main(text) == 1
    state = install_state.read_state()
    assert state.status == "failed" and state.failed_step == "firewall" and state.steps_requested == []
    assert [e["step"] for e in events() if e["kind"] == "failed"] == ["firewall"]
    remaining = install_plan.resume_from(state)
    assert remaining == ["firewall", "fail2ban", "verify"] and remaining[0] in install_state.SKIPPABLE
    CALLS.clear()
    # The operator skips the firewall: the rest runs, and the install counts as made.
    assert install_worker.worker_main(text, [s for s in remaining if s != "firewall"]) == 0
    state = install_state.read_state()
    assert CALLS == ["fail2ban", "verify"]
    assert state.steps["firewall"] == "failed" and state.status == "done"
    assert paths.ANSWERS_FILE.exists()


def test_a_full_worker_run_starts_from_a_fresh_state(engine) -> None:  # type: ignore[no-untyped-def]
    install_state.write_state(install_state.InstallState(status="failed", steps={n: "done" for n in ORDER}))
    assert install_worker.worker_main(answers_text()) == 0
    assert CALLS == ORDER


def test_cli_worker_only_flag(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers_text()))
    assert cli.main(["install", "--worker", "--only", "tls,database"]) == 0
    assert CALLS == ["database", "tls"]
    assert install_state.read_state().steps_requested == ["database", "tls"]


def test_cli_hides_the_worker_flags() -> None:
    text = cli.build_parser()._subparsers._group_actions[0].choices["install"].format_help()  # type: ignore[union-attr]
    assert "--only" not in text and "--worker" not in text


class FakeProc:
    def __init__(self, argv: list[str], **kw: object) -> None:
        self.argv = argv
        self.pid = 4242
        self.stdin = io.BytesIO()
        self.stdin.close = lambda: None  # type: ignore[method-assign]
        FakeProc.last = self
        install_state.write_state(install_state.InstallState(status="running", pid=self.pid))

    last: ClassVar[FakeProc]

    def poll(self) -> None:
        return None


def test_start_worker_passes_the_steps_in_engine_order(engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    monkeypatch.setattr(subprocess, "Popen", FakeProc)
    answers = answers_file.loads(answers_text())
    assert install_worker.start_worker(install_plan.CheckedAnswers(answers), ["verify", "packages"]) == 4242
    assert FakeProc.last.argv[-4:] == ["install", "--worker", "--only", "packages,verify"]
    assert b"hostname" in FakeProc.last.stdin.getvalue()
    install_state.write_state(install_state.InstallState(status="done"))
    install_worker.start_worker(install_plan.CheckedAnswers(answers))
    assert FakeProc.last.argv[-2:] == ["install", "--worker"]


def test_start_worker_refuses_unknown_or_no_steps(engine) -> None:  # type: ignore[no-untyped-def]
    answers = answers_file.loads(answers_text())
    with pytest.raises(MailtuiError, match="unknown install step"):
        install_worker.start_worker(install_plan.CheckedAnswers(answers), ["packages", "mystery"])
    with pytest.raises(MailtuiError, match="no install steps"):
        install_worker.start_worker(install_plan.CheckedAnswers(answers), [])


def test_old_state_files_without_steps_requested_still_read(engine) -> None:  # type: ignore[no-untyped-def]
    files.ensure_state_dir()
    paths.INSTALL_DIR.mkdir(exist_ok=True)
    paths.INSTALL_STATE.write_text(json.dumps({"status": "done", "pid": 1, "steps": {"packages": "done"}}))
    state = install_state.read_state()
    assert state.status == "done" and state.steps_requested == []


def test_pending_packages_lists_only_what_is_missing(monkeypatch: pytest.MonkeyPatch, debian12: object) -> None:
    from mailtui.steps import packages
    from mailtui.system import apt

    installed = {"postfix", "openssl", "ca-certificates"}
    monkeypatch.setattr(packages, "local_database_server_present", lambda: False)
    monkeypatch.setattr(packages.services, "has_systemd", lambda: True)  # (the webmail asks: cron without it)
    monkeypatch.setattr(apt, "is_installed", lambda p: p in installed)
    answers = Answers(hostname="mail.example.test", domains=[Domain("example.test")])
    pending = install_plan.pending_packages(answers)
    assert "postfix" not in pending and "openssl" not in pending
    assert {"postfix-mysql", "dovecot-core", "dovecot-imapd", "mariadb-server", "ufw"} <= set(pending)
    assert "dovecot-pop3d" not in pending
    installed.update(pending)
    assert install_plan.pending_packages(answers) == []


def test_a_killed_worker_left_as_a_zombie_is_not_alive() -> None:
    """The CLI that started the worker may not have reaped it yet: a zombie is not a running install."""
    import subprocess
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "mailtui", "install",
                              "--worker"])  # the worker's command line (the -c program ignores the rest)
    try:
        deadline = time.monotonic() + 30  # on a loaded machine the child may not have exec'd python yet
        while b"--worker" not in Path(f"/proc/{child.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert install_state.InstallState(status="running", pid=child.pid).alive
        child.kill()
        deadline = time.monotonic() + 5
        while install_state.worker_running(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Path(f"/proc/{child.pid}").exists()  # still a zombie: nobody called wait() yet
        assert not install_state.InstallState(status="running", pid=child.pid).alive
    finally:
        child.wait()


def test_a_reused_pid_is_not_the_worker() -> None:
    import subprocess

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not install_state.InstallState(status="running", pid=other.pid).alive
    finally:
        other.kill()
        other.wait()


def test_only_the_workers_command_line_counts_as_the_worker() -> None:
    """A process whose command line merely mentions mailtui (pytest run from a clone called mailtui) is not
    a running install."""
    assert install_state.is_worker_cmdline(b"/usr/bin/python3\0-m\0mailtui\0install\0--worker\0--only\0tls\0")
    assert install_state.is_worker_cmdline(b"/usr/local/lib/mailtui/venv/bin/mailtui\0install\0--worker\0")
    assert not install_state.is_worker_cmdline(b"/root/mailtui/.venv/bin/python\0-m\0pytest\0/root/mailtui/tests\0")
    assert not install_state.is_worker_cmdline(b"vim\0/root/mailtui/install.py\0")
    assert not install_state.is_worker_cmdline(b"/usr/bin/python3\0-m\0mailtui\0install\0")
