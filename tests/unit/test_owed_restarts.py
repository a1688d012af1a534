"""A restart owed survives a kill: a step that changed its service's configuration and was stopped before the
restart restarts it on the next run, although every file is then in place ("nothing to change" would leave
the service on its old configuration — seen on systemd, where the stock services run from apt on), and
`mailtui check` fails naming it until then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailtui.events import StepEmitter
from mailtui.report import Change
from mailtui.steps import base
from mailtui.system import services
from tests.state import use_state_dir


class Killed(BaseException):
    """The kill, as the fault injection delivers it: not an Exception, nothing catches it."""


@dataclass
class Setting(base.Resource):
    kind = "setting"
    store: dict[str, str]
    key: str
    value: str

    @property
    def target(self) -> str:
        return self.key

    def pending(self, ctx: base.Context) -> Change | None:
        return None if self.store.get(self.key) == self.value else Change("setting", self.key, f"set {self.key}")

    def apply(self, ctx: base.Context, out: StepEmitter) -> None:
        self.store[self.key] = self.value


@dataclass
class ToyStep(base.Step):
    store: dict[str, str] = field(default_factory=dict)
    kill_after_writing: bool = False
    restarts: list[str] = field(default_factory=list)

    name = "toy"
    title = "Toy"
    why = "a step for this test"
    services = ("toyd",)

    def resources(self, ctx: base.Context) -> Sequence[base.Resource]:
        return [Setting(self.store, "a", "1"), Setting(self.store, "b", "2")]

    def ensure_services(self, ctx: base.Context, out: StepEmitter, changed: bool) -> None:
        if self.kill_after_writing:
            raise Killed
        if changed:
            self.restarts.append("toyd")


@pytest.fixture
def ctx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> base.Context:
    use_state_dir(monkeypatch, tmp_path / "state")
    monkeypatch.setattr(services, "is_running", lambda name: True)
    monkeypatch.setattr(services, "has_systemd", lambda: False)
    return base.Context(answers=None, platform=None)  # type: ignore[arg-type]


def test_a_run_killed_before_the_restart_restarts_on_the_next_run(ctx: base.Context) -> None:
    step = ToyStep(kill_after_writing=True)
    with pytest.raises(Killed):
        step.apply(ctx)
    assert step.store == {"a": "1", "b": "2"}  # every file in place, the service not restarted
    assert step.plan(ctx) == [Change("service", "toyd", "restart toyd to load the new configuration")]
    failing = [c for c in step.verify(ctx) if not c.ok]
    assert [c.name for c in failing] == ["Toy runs on the configuration mailtui wrote"], failing

    step.kill_after_writing = False
    assert step.apply(ctx) is True
    assert step.restarts == ["toyd"]
    # Settled: the next run has nothing to do and check passes.
    assert step.plan(ctx) == [] and all(c.ok for c in step.verify(ctx))
    assert step.apply(ctx) is False and step.restarts == ["toyd"]


def test_positive_control_an_uninterrupted_run_restarts_once_and_owes_nothing(ctx: base.Context) -> None:
    step = ToyStep()
    assert step.apply(ctx) is True and step.restarts == ["toyd"]
    assert step.plan(ctx) == [] and all(c.ok for c in step.verify(ctx))


def test_a_step_without_services_owes_no_restart(ctx: base.Context) -> None:
    step = ToyStep(kill_after_writing=True)
    step.services = ()  # type: ignore[misc]
    with pytest.raises(Killed):
        step.apply(ctx)
    assert step.plan(ctx) == [] and not step.restart_owed()
