"""`mailtui bans` and `mailtui bans unban` (mailtui/cli/bans.py) with a scripted engine: the listing, the JSON,
and bad input refused before anything runs."""

from __future__ import annotations

import argparse
import json

import pytest

from mailtui.cli import bans as cli_bans
from mailtui.errors import MailtuiError, ValidationError
from mailtui.ops import bans


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="mailtui")
    cli_bans.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    unbanned: list[tuple[str, str | None]] = []
    monkeypatch.setattr(bans, "available", lambda: None)
    monkeypatch.setattr(bans, "jails", lambda: [bans.JailStatus("dovecot", 1, 7, 1, 3),
                                                bans.JailStatus("postfix-sasl", 0, 2, 0, 0)])
    monkeypatch.setattr(bans, "list_bans", lambda: [bans.Ban("dovecot", "198.19.5.1", 1000.0, 4600.0)])

    def unban(address: str, jail: str | None = None) -> list[str]:
        unbanned.append((address, jail))
        return ["dovecot"]

    monkeypatch.setattr(bans, "unban", unban)
    return unbanned


def test_listing(engine: list, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("bans") == 0
    out = capsys.readouterr().out
    assert "dovecot" in out and "postfix-sasl" in out and "198.19.5.1" in out


def test_json(engine: list, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("bans", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["jails"][0] == {"name": "dovecot", "currently_failed": 1, "total_failed": 7, "currently_banned": 1,
                                "total_banned": 3}
    assert data["bans"][0]["address"] == "198.19.5.1" and data["bans"][0]["ends_at"] == 4600.0


def test_unban(engine: list, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("bans", "unban", "2001:DB8::7", "--jail", "dovecot") == 0
    assert engine == [("2001:DB8::7", "dovecot")]
    assert "lifted the ban of 2001:db8::7 in dovecot" in capsys.readouterr().out


@pytest.mark.parametrize("address", ["198.19.5.999", "mail.example.test", "198.19.5.0/24", "fe80::1%eth0"])
def test_bad_address_is_refused_before_anything_runs(engine: list, address: str) -> None:
    with pytest.raises(ValidationError) as exc:
        run("bans", "unban", address)
    assert "address" in exc.value.problems and engine == []


def test_not_available_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bans, "available", lambda: "fail2ban is not installed (…)")
    with pytest.raises(MailtuiError, match="cannot list the bans: fail2ban is not installed"):
        run("bans")
