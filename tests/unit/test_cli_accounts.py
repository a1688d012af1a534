"""`mailtui user add|passwd`: everything but the password is checked before the password is asked for."""

from __future__ import annotations

import io

import pytest

from mailtui.cli import common
from mailtui.cli import main as cli
from tests.unit.test_properties_cli import AccountsOps, FakeAccounts


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A terminal to ask on; every prompt is recorded (and answered with a good password)."""
    asked: list[str] = []
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr(common.getpass, "getpass", lambda prompt: asked.append(prompt) or "a good password")
    return asked


@pytest.mark.parametrize("argv,words", [
    (["user", "add", "notanemail"], "email: "),
    (["user", "add", "alice@nowhere.test"], "not served here"),
    (["user", "add", "alice@example.org"], "already exists"),
    (["user", "passwd", "nobody@example.org"], "does not exist"),
    (["user", "passwd", "not an address"], "email: "),
])
def test_a_bad_address_is_refused_before_any_password_prompt(argv: list[str], words: str, prompts: list[str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    ops = AccountsOps(FakeAccounts(domains={"example.org"}, users={"alice@example.org": "x"}))
    assert cli.main(argv, ops) == 2
    assert prompts == []  # nothing was asked
    assert words in capsys.readouterr().err


def test_a_good_address_is_then_asked_for_its_password_twice(prompts: list[str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    accounts = FakeAccounts(domains={"example.org"})
    assert cli.main(["user", "add", "bob@example.org"], AccountsOps(accounts)) == 0
    assert prompts == ["New password: ", "Repeat it: "] and "bob@example.org" in accounts.users
