"""The answers file has a version: an older file (or the state an older mailtui saved) is migrated on load, a
newer one is refused, and a feature section a file does not name stays off."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtui import paths
from mailtui.errors import ValidationError
from mailtui.install import plan as install_plan
from mailtui.install import state as install_state
from mailtui.model import answers_file
from mailtui.model.answers import Answers
from tests.state import use_state_dir

SAVED_V1 = Path(__file__).with_name("data") / "saved-answers-v1.toml"


def test_every_old_version_has_a_migration() -> None:
    assert answers_file.VERSION >= 2
    assert sorted(answers_file.MIGRATIONS) == list(range(1, answers_file.VERSION))


def test_a_file_without_a_version_is_version_1_and_is_saved_as_the_current_one() -> None:
    old = answers_file.load(SAVED_V1)
    assert old.hostname == "mail.example.test" and old.profile == "test"
    assert old.database.password == "lookup-Password-1234" and old.security.ignore == ("192.0.2.7",)
    assert [u.email for u in old.users] == ["alice@example.test", "bob@example.org"]
    assert all(u.password_hash.startswith("{SHA512-CRYPT}$6$") for u in old.users)
    text = answers_file.dumps(old)
    assert text.splitlines()[0] == f"version = {answers_file.VERSION}"
    assert answers_file.loads(text) == old


def test_the_state_saved_by_the_release_before_versions_replays_unchanged(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-install from /var/lib/mailtui/answers.toml as mailtui 0.1.0 saved it: the same database passwords
    and password hashes (a replay changes nothing), and the state is saved back in the current version."""
    use_state_dir(monkeypatch, tmp_path / "state")
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    paths.STATE_DIR.mkdir(parents=True)
    paths.ANSWERS_FILE.write_text(SAVED_V1.read_text())
    saved = install_state.load_saved_answers()
    assert saved is not None
    checked = install_plan.prepare(saved).answers
    assert checked.database == saved.database
    assert [u.password_hash for u in checked.users] == [u.password_hash for u in saved.users]
    install_state.save_answers(checked, paths.ANSWERS_FILE)
    assert paths.ANSWERS_FILE.read_text().startswith(f"version = {answers_file.VERSION}\n")
    assert install_state.load_saved_answers() == checked


@pytest.mark.parametrize("version,words", [
    (answers_file.VERSION + 1, "written by a newer mailtui"),
    (0, "whole number"), ("2", "whole number"), (True, "whole number"),
])
def test_an_unknown_version_is_refused_naming_it(version: object, words: str) -> None:
    value = f'"{version}"' if isinstance(version, str) else str(version).lower()
    with pytest.raises(ValidationError) as exc:
        answers_file.loads(f"version = {value}\nhostname = \"mail.example.test\"\n")
    assert words in exc.value.problems["version"]


def test_a_feature_section_a_file_does_not_name_stays_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule for the features to come (FEATURES), shown with [security] registered as one."""
    monkeypatch.setitem(answers_file.FEATURES, "security", ("fail2ban", 2))
    base = 'version = 2\nhostname = "mail.example.test"\n'
    assert answers_file.loads(base).security.fail2ban is False  # not named: off
    assert answers_file.loads(base + "[security]\nfail2ban = true\n").security.fail2ban is True
    assert answers_file.loads(base + "[security]\nmax_retry = 3\n").security.fail2ban is True  # named: its default
    assert Answers().security.fail2ban is True  # what the wizard offers a new install
    monkeypatch.delitem(answers_file.FEATURES, "security")
    assert answers_file.loads(base).security.fail2ban is True  # [security] itself predates the rule
