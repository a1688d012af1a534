"""The command line: clear errors, exit codes, nothing changed on bad input, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mailtui(tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAILTUI_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "mailtui", *args], input=input, capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=False, timeout=120)


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_version(tmp_path: Path) -> None:
    result = mailtui(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("mailtui 0.")


def test_install_needs_an_answers_file(tmp_path: Path) -> None:
    assert_clean_error(mailtui(tmp_path, "install"), 2, "--answers")
    assert_clean_error(mailtui(tmp_path, "install", "--answers", "missing.toml"), 2, "missing.toml does not exist")


def test_invalid_answers_name_every_field_and_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        'hostname = "localhost"\n[database]\nport = 0\n[[domains]]\nname = "-bad-.test"\n'
        '[[users]]\nemail = "x@y.test"\npassword = "short"\n'
    )
    result = mailtui(tmp_path, "install", "--answers", "a.toml", "--dry-run")
    assert_clean_error(result, 2, "hostname:", "database.port:", "domains[0].name:", "users[0].email:",
                       "users[0].password:")
    assert not (tmp_path / "state").exists()


def test_malformed_toml(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("hostname = [unclosed\n")
    assert_clean_error(mailtui(tmp_path, "install", "--answers", "a.toml"), 2, "not valid TOML")


def test_accounts_before_any_install(tmp_path: Path) -> None:
    assert_clean_error(mailtui(tmp_path, "user", "list"), 1, "has not installed this machine yet")


def test_password_is_never_an_argument(tmp_path: Path) -> None:
    result = mailtui(tmp_path, "user", "add", "a@example.test", "secret-password")
    assert result.returncode == 2  # argparse: no such positional argument
    assert "unrecognized arguments" in result.stderr


@pytest.mark.parametrize("args", [["attach-nothing"], ["domain"], ["user", "frobnicate"]])
def test_usage_errors(tmp_path: Path, args: list[str]) -> None:
    result = mailtui(tmp_path, *args)
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.parametrize(("args", "field", "says"), [
    (["dns", "check", "--server", "dns.example.test"], "--server:", "is not an IP address"),
    (["dns", "--server", "192.0.2.53"], "--server:", "only `mailtui dns check` asks"),
    (["dns", "check", "a.test", "b.test"], "domain:", "one domain at most"),
    (["dns", "check", "--output", "/tmp/x"], "--output:", "dns check prints its result"),
])
def test_dns_check_refuses_bad_arguments_before_reading_anything(tmp_path: Path, args: list[str], field: str,
                                                                 says: str) -> None:
    assert_clean_error(mailtui(tmp_path, *args), 2, field, says)
    assert not (tmp_path / "state").exists()
