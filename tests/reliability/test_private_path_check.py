"""mailtui.checks.private_path_check, the rule `mailtui check` applies to files holding secrets (no test host)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from mailtui.stack.probes import private_path_check

pytestmark = pytest.mark.reliability
ME = getpass.getuser()


@pytest.mark.parametrize(("mode", "group_may_read", "ok"), [
    (0o600, False, True), (0o400, False, True), (0o700, False, True),
    (0o604, False, False), (0o640, False, False), (0o620, False, False), (0o601, False, False),
    (0o640, True, True), (0o660, True, False), (0o644, True, False),
])  # fmt: skip
def test_modes(tmp_path: Path, mode: int, group_may_read: bool, ok: bool) -> None:
    path = tmp_path / "secret"
    path.write_text("x")
    path.chmod(mode)
    check = private_path_check(path, "a secret", owner=ME, group_may_read=group_may_read)
    assert check.ok is ok, check
    assert str(path) in check.name
    if not ok:
        assert str(path) in check.detail and f"{mode:04o}" in check.detail


def test_owner(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("x")
    path.chmod(0o600)
    check = private_path_check(path, "a secret", owner="nobody")
    assert not check.ok and f"owned by {ME}, not nobody" in check.detail
    assert private_path_check(path, "a secret", owner=None).ok


def test_a_directory_others_may_enter(tmp_path: Path) -> None:
    tmp_path.chmod(0o701)
    check = private_path_check(tmp_path, "state", owner=ME)
    assert not check.ok and "others may enter/execute" in check.detail
    tmp_path.chmod(0o700)
    assert private_path_check(tmp_path, "state", owner=ME).ok


def test_missing(tmp_path: Path) -> None:
    check = private_path_check(tmp_path / "gone", "a secret")
    assert not check.ok and "missing" in check.detail
