"""`mailtui bans` and `mailtui bans unban` (mailtui/cli/bans.py) with a scripted engine: the listing, the JSON,
and bad input refused before anything runs."""

from __future__ import annotations

import argparse
import json

import pytest

from mailtui.api.operations import Operations
from mailtui.api.types import Ban, JailStatus
from mailtui.cli import bans as cli_bans
from mailtui.errors import MailtuiError, ValidationError
from tests.scripted import ScriptedOperations


class BansOps(ScriptedOperations):
    def __init__(self, why: str | None = None) -> None:
        self.why = why
        self.unbanned: list[tuple[str, str | None]] = []

    def bans_available(self) -> str | None:
        return self.why

    def ban_jails(self) -> list[JailStatus]:
        return [JailStatus("dovecot", 1, 7, 1, 3), JailStatus("postfix-sasl", 0, 2, 0, 0)]

    def bans(self) -> list[Ban]:
        return [Ban("dovecot", "198.19.5.1", 1000.0, 4600.0)]

    def unban(self, address: str, jail: str | None = None) -> list[str]:
        self.unbanned.append((address, jail))
        return ["dovecot"]


def run(ops: Operations, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mailtui")
    cli_bans.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args, ops)


@pytest.fixture
def ops() -> BansOps:
    return BansOps()


def test_listing(ops: BansOps, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ops, "bans") == 0
    out = capsys.readouterr().out
    assert "dovecot" in out and "postfix-sasl" in out and "198.19.5.1" in out


def test_json(ops: BansOps, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ops, "bans", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jails"][0] == {"name": "dovecot", "currently_failed": 1, "total_failed": 7, "currently_banned": 1,
                                "total_banned": 3}
    assert data["bans"][0]["address"] == "198.19.5.1" and data["bans"][0]["ends_at"] == 4600.0


def test_unban(ops: BansOps, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(ops, "bans", "unban", "2001:DB8::7", "--jail", "dovecot") == 0
    assert ops.unbanned == [("2001:DB8::7", "dovecot")]
    assert "lifted the ban of 2001:db8::7 in dovecot" in capsys.readouterr().out


@pytest.mark.parametrize("address", ["198.19.5.999", "mail.example.test", "198.19.5.0/24", "fe80::1%eth0"])
def test_bad_address_is_refused_before_anything_runs(ops: BansOps, address: str) -> None:
    with pytest.raises(ValidationError) as exc:
        run(ops, "bans", "unban", address)
    assert "address" in exc.value.problems and ops.unbanned == []


def test_not_available_is_said() -> None:
    ops = BansOps("fail2ban is not installed (…)")
    with pytest.raises(MailtuiError, match="cannot list the bans: fail2ban is not installed"):
        run(ops, "bans")
