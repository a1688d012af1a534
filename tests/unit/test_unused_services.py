"""A feature switched off stops the daemon mailtui set up for it (steps/base.py unused_services): rspamd when
DKIM goes off, postsrsd when SRS does — stopped and kept from starting at boot, planned first, checked after;
a daemon mailtui never set up is left alone. Services are faked (fail closed: any call not scripted here
raises); the real switch-off is the e2e test's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.events import null_emit
from mailtui.model.answers import Answers, Dkim, Domain, Spam, Srs
from mailtui.steps import base, srs
from mailtui.steps import dkim as dkim_step
from mailtui.system import services
from mailtui.system.platform import Platform
from tests.state import use_state_dir

ON = Answers(hostname="mail.example.test", profile="test", domains=[Domain("example.test")])
OFF = replace(ON, dkim=Dkim(enabled=False), srs=Srs(enabled=False), spam=Spam(enabled=False))


class FakeServices:
    """Which services run and are enabled; stop and disable change that and are recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, running: set[str], enabled: set[str]) -> None:
        self.running, self.enabled, self.calls = set(running), set(enabled), []
        monkeypatch.setattr(services, "has_systemd", lambda: True)
        monkeypatch.setattr(services, "is_running", lambda name: name in self.running)
        monkeypatch.setattr(services, "unit_enabled", lambda name: "enabled" if name in self.enabled else "disabled")
        monkeypatch.setattr(services, "stop_and_wait", self.stop)
        monkeypatch.setattr(services, "disable_at_boot", self.disable)
        for name in ("control", "enable_at_boot", "restart_and_wait", "unit_state", "main_pid"):
            monkeypatch.setattr(services, name, self.refuse(name))

    def stop(self, name: str, timeout: float) -> None:
        self.calls.append(("stop", name))
        self.running.discard(name)

    def disable(self, name: str) -> None:
        self.calls.append(("disable", name))
        self.enabled.discard(name)

    @staticmethod
    def refuse(what: str):  # noqa: ANN205
        def call(*args: object, **kw: object) -> None:
            raise AssertionError(f"unexpected services.{what}{args}")
        return call


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(srs, "DEFAULTS_FILE", str(tmp_path / "default-postsrsd"))
    monkeypatch.setattr(dkim_step, "mailtui_files", lambda: [tmp_path / "no-such-rspamd-file"])
    return use_state_dir(monkeypatch, tmp_path / "state")


def context(answers: Answers) -> base.Context:
    return base.Context(answers=answers, platform=Platform("debian", "12", "bookworm", "Debian 12", systemd=True),
                        emit=null_emit)


def stopped_check(step: base.Step, ctx: base.Context) -> bool:
    return next(c.ok for c in step.verify(ctx) if c.name.startswith(f"service {step.services[0]} stopped"))


def test_dkim_switched_off_stops_rspamd_and_keeps_it_from_starting_at_boot(
        state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths.DKIM_STATE.parent.mkdir(parents=True, exist_ok=True)
    paths.DKIM_STATE.write_text("{}")  # mailtui set DKIM up once
    fake = FakeServices(monkeypatch, running={"rspamd"}, enabled={"rspamd"})
    step, ctx = dkim_step.DkimStep(), context(OFF)
    assert step.enabled(ctx) and step.services_for(ctx) == () and step.unused_services(ctx) == ("rspamd",)
    planned = [c.summary for c in step.service_changes(ctx, changed=False)]
    assert planned == ["stop rspamd and keep it from starting at boot (no longer used: switched off in the answers)"]
    assert stopped_check(step, ctx) is False
    step.ensure_services(ctx, ctx.out("dkim"), changed=False)
    assert fake.calls == [("stop", "rspamd"), ("disable", "rspamd")]
    assert stopped_check(step, ctx) is True and step.service_changes(ctx, changed=False) == []
    # Done: the next install has nothing left to do for DKIM (no file of mailtui's, rspamd neither runs nor starts).
    assert not step.enabled(ctx)


def test_an_rspamd_mailtui_never_set_up_is_left_alone(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServices(monkeypatch, running={"rspamd"}, enabled={"rspamd"})
    assert not dkim_step.DkimStep().enabled(context(OFF))


def test_dkim_on_keeps_rspamd(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeServices(monkeypatch, running={"rspamd"}, enabled={"rspamd"})
    step = dkim_step.DkimStep()
    assert step.unused_services(context(ON)) == () and step.services_for(context(ON)) == ("rspamd",)


def test_srs_switched_off_stops_postsrsd_and_leaves_its_settings(
        state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeServices(monkeypatch, running={"postsrsd"}, enabled={"postsrsd"})
    step, ctx = srs.SrsStep(), context(OFF)
    assert not step.enabled(ctx), "the package's own settings: mailtui never set postsrsd up"
    Path(srs.DEFAULTS_FILE).write_text(srs.render_defaults(ON))
    assert step.enabled(ctx) and step.resources(ctx) == [] and step.unused_services(ctx) == ("postsrsd",)
    step.ensure_services(ctx, ctx.out("srs"), changed=False)
    assert fake.calls == [("stop", "postsrsd"), ("disable", "postsrsd")]
    assert stopped_check(step, ctx) is True
    assert srs.SrsStep().unused_services(context(ON)) == ()
