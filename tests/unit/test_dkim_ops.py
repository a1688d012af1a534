"""ops/dkim.py on a state directory of its own: status, rotation (and its put-back when rspamd cannot take the
new configuration), a domain added after the install, a removed domain's keys moved aside. The DKIM step
itself is replaced (the real one is the e2e test's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtui import paths
from mailtui.errors import MailtuiError, ValidationError
from mailtui.model import dkim
from mailtui.model.answers import Answers, Dkim, Domain
from mailtui.model.dkim import DkimState
from mailtui.ops import dkim as ops
from tests.state import use_state_dir

ANSWERS = Answers(hostname="mail.example.test", domains=[Domain("example.test")])


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A saved state with example.test's two keys; the DKIM step and the key reader replaced (calls recorded)."""
    use_state_dir(monkeypatch, tmp_path / "state")
    paths.STATE_DIR.mkdir(parents=True)
    paths.DKIM_STATE.write_text(dkim.add_domain(DkimState(), "example.test", "2026-12-01").to_json())
    applied: list[str] = []
    monkeypatch.setattr(ops, "_apply_dkim_step", lambda answers: applied.append("dkim step") or ["reloading rspamd"])
    monkeypatch.setattr(ops.dkim_step, "public_key", lambda path: f"KEY-{Path(path).name}")
    monkeypatch.setattr(ops.files, "write_file", lambda path, content, **kw: Path(path).write_text(content))
    return applied


def saved() -> DkimState:
    return DkimState.from_json(paths.DKIM_STATE.read_text())


def test_status_lists_signing_first_with_ages_and_records(state: list[str]) -> None:
    import datetime

    keys = ops.status(today=datetime.date(2026, 12, 11))
    assert [(k.selector, k.role, k.age_days) for k in keys] == [("202612a", "signing", 10), ("202612b", "standby", 10)]
    assert keys[0].to_json()["record"] == "202612a._domainkey.example.test"
    published = ops.published_keys(ANSWERS)
    assert published[0].record.value == "v=DKIM1; k=rsa; p=KEY-example.test.202612a.key"
    assert ops.published_keys(Answers(hostname="h", dkim=Dkim(enabled=False))) == []


def test_rotate_applies_the_step_and_names_the_new_standby(state: list[str]) -> None:
    said = ops.rotate(ANSWERS, "Example.Test", today="2027-01-02")
    assert state == ["dkim step"]
    roles = {k.selector: k.role for k in saved().keys}
    assert roles == {"202612a": "retired", "202612b": "signing", "202701a": "standby"}
    assert "example.test: 202612b signs now; 202612a is retired" in said[-2]
    assert "202701a._domainkey.example.test" in said[-1]


def test_a_rotation_rspamd_refuses_puts_the_state_back(state: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    before = paths.DKIM_STATE.read_text()

    def refuse(answers: Answers) -> list[str]:
        raise MailtuiError("rspamd does not accept its configuration")

    monkeypatch.setattr(ops, "_apply_dkim_step", refuse)
    with pytest.raises(MailtuiError, match="does not accept"):
        ops.rotate(ANSWERS, "example.test", today="2027-01-02")
    assert paths.DKIM_STATE.read_text() == before


def test_rotate_refuses_a_domain_without_keys_and_dkim_off(state: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ops.rotate(ANSWERS, "nowhere.test")
    assert "domain" in caught.value.problems and "example.test" in caught.value.problems["domain"]
    with pytest.raises(MailtuiError, match="DKIM is off"):
        ops.rotate(Answers(hostname="h", dkim=Dkim(enabled=False)), "example.test")
    assert state == []


def test_a_domain_added_later_gets_keys_and_a_removed_one_is_moved_aside(
        state: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ops.add_domain_keys(ANSWERS, "later.test")
    assert {(k.domain, k.role) for k in saved().of("later.test")} == {("later.test", "signing"),
                                                                       ("later.test", "standby")}
    assert ops.add_domain_keys(ANSWERS, "later.test") == []  # already there: nothing to do
    assert state == ["dkim step"]
    monkeypatch.setattr(dkim, "KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setattr(ops.files, "make_directory", lambda path, **kw: Path(path).mkdir(exist_ok=True))
    (tmp_path / "keys").mkdir()
    names = []
    for key in saved().of("later.test"):
        Path(key.path).write_text("PRIVATE " + key.selector)
        names.append(Path(key.path).name)
    said = ops.retire_domain(ANSWERS, "later.test")
    assert saved().of("later.test") == [] and saved().of("example.test")
    assert state == ["dkim step", "dkim step"]
    kept = sorted(p.name.rsplit(".", 1)[0] for p in ops.removed_keys_dir().iterdir())
    assert kept == sorted(names), kept
    assert not list((tmp_path / "keys").iterdir())  # moved, not copied; and never deleted
    assert sum("moved the DKIM key" in line for line in said) == 2
