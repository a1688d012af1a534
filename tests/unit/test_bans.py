"""mailtui.bans: parsing fail2ban-client's real output (1.0.2 on Debian 12, 1.1.0 on Debian 13), availability,
and unban refusing bad input before anything runs."""

from __future__ import annotations

import time

import pytest

from mailtui.errors import MailtuiError, ValidationError
from mailtui.ops import bans
from mailtui.system import fail2ban
from mailtui.system.commands import Result

# Captured from the test hosts (fail2ban 1.1.0 on trixie; 1.0.2 on bookworm prints the same tree).
STATUS = "Status\n|- Number of jail:\t2\n`- Jail list:\tdovecot, postfix-sasl\n"
STATUS_ONE = "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n"
STATUS_NONE = "Status\n|- Number of jail:\t0\n`- Jail list:\t\n"
JAIL_SSHD = """Status for the jail: sshd
|- Filter
|  |- Currently failed:\t0
|  |- Total failed:\t0
|  `- Journal matches:\t_SYSTEMD_UNIT=ssh.service + _COMM=sshd
`- Actions
   |- Currently banned:\t0
   |- Total banned:\t0
   `- Banned IP list:\t
"""
JAIL_DOVECOT = """Status for the jail: dovecot
|- Filter
|  |- Currently failed:\t1
|  |- Total failed:\t7
|  `- File list:\t/var/log/mail.log
`- Actions
   |- Currently banned:\t2
   |- Total banned:\t3
   `- Banned IP list:\t198.19.5.1 2001:db8::7
"""
BANIP = ("198.19.5.1 \t2026-11-26 01:20:03 + 600 = 2026-11-26 01:30:03\n"
         "2001:db8::7 \t2026-11-26 01:22:10 + 600 = 2026-11-26 01:32:10\n")


def local(text: str) -> float:
    return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def test_jail_list() -> None:
    assert fail2ban.parse_jail_list(STATUS) == ["dovecot", "postfix-sasl"]
    assert fail2ban.parse_jail_list(STATUS_ONE) == ["sshd"]
    assert fail2ban.parse_jail_list(STATUS_NONE) == []
    assert fail2ban.parse_jail_list("ERROR   Failed to access socket path") == []


def test_jail_status_counters() -> None:
    assert fail2ban.parse_jail_status("sshd", JAIL_SSHD) == fail2ban.JailStatus("sshd", 0, 0, 0, 0)
    assert fail2ban.parse_jail_status("dovecot", JAIL_DOVECOT) == fail2ban.JailStatus("dovecot", 1, 7, 2, 3)


def test_bans_with_time() -> None:
    found = fail2ban.parse_bans("dovecot", BANIP)
    assert found == [
        fail2ban.Ban("dovecot", "198.19.5.1", local("2026-11-26 01:20:03"), local("2026-11-26 01:30:03")),
        fail2ban.Ban("dovecot", "2001:db8::7", local("2026-11-26 01:22:10"), local("2026-11-26 01:32:10")),
    ]
    assert found[0].ends_at - found[0].banned_at == 600  # type: ignore[operator]
    assert found[0].to_json()["since"] == "2026-11-26 01:20:03"


def test_bans_without_time_and_permanent_bans() -> None:
    assert fail2ban.parse_bans("x", "198.19.5.1 2001:DB8::7\n") == [
        fail2ban.Ban("x", "198.19.5.1", None, None), fail2ban.Ban("x", "2001:db8::7", None, None)]
    (ban,) = fail2ban.parse_bans("x", "198.19.5.1 \t2026-11-26 01:20:03 + -1 = 9999-12-31 23:59:59\n")
    assert ban.banned_at is not None and ban.ends_at is None
    assert fail2ban.parse_bans("x", "") == []
    assert fail2ban.parse_bans("x", "garbage here\n") == []


def test_newest_first() -> None:
    a = fail2ban.Ban("dovecot", "198.19.5.1", 100.0, 700.0)
    b = fail2ban.Ban("postfix-sasl", "198.19.5.2", 200.0, 800.0)
    c = fail2ban.Ban("dovecot", "198.19.5.3", None, None)
    assert fail2ban.newest_first([a, c, b]) == [b, a, c]


class FakeClient:
    """fail2ban-client as a table of answers; records every call."""

    def __init__(self, banned: dict[str, list[str]], ping: bool = True) -> None:
        self.banned = banned
        self.ping = ping
        self.calls: list[list[str]] = []

    def __call__(self, argv, **kw) -> Result:  # noqa: ANN001
        argv = list(argv)
        self.calls.append(argv)
        args = argv[1:]
        if args == ["ping"]:
            return Result(argv, 0 if self.ping else 255, "Server replied: pong" if self.ping else "ERROR")
        if args == ["status"]:
            return Result(argv, 0, f"Status\n|- Number of jail:\t{len(self.banned)}\n`- Jail list:\t"
                          + ", ".join(self.banned) + "\n")
        if args[:1] == ["status"]:
            return Result(argv, 0, JAIL_DOVECOT.replace("jail: dovecot", f"jail: {args[1]}"))
        if args[:1] == ["get"]:
            return Result(argv, 0, "".join(f"{ip} \t2026-11-26 01:20:03 + 600 = 2026-11-26 01:30:03\n"
                                           for ip in self.banned[args[1]]))
        if args[:1] == ["set"] and args[2] == "unbanip":
            self.banned[args[1]].remove(args[3])
            return Result(argv, 0, "1")
        raise AssertionError(argv)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    fake = FakeClient({"dovecot": ["198.19.5.1"], "postfix-sasl": ["198.19.5.1", "198.19.5.2"]})
    monkeypatch.setattr(fail2ban, "run", fake)
    monkeypatch.setattr(fail2ban, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(bans, "_disabled_in_answers", lambda: False)
    return fake


def test_list_and_jails(client: FakeClient) -> None:
    assert bans.available() is None
    assert [(b.jail, b.address) for b in bans.list_bans()] == [
        ("postfix-sasl", "198.19.5.2"), ("postfix-sasl", "198.19.5.1"), ("dovecot", "198.19.5.1")]
    assert [j.name for j in bans.jails()] == ["dovecot", "postfix-sasl"]
    assert bans.jails()[0] == fail2ban.JailStatus("dovecot", 1, 7, 2, 3)


def test_unban_lifts_every_jail_or_one(client: FakeClient) -> None:
    assert bans.unban("198.19.5.1", "postfix-sasl") == ["postfix-sasl"]
    assert client.banned == {"dovecot": ["198.19.5.1"], "postfix-sasl": ["198.19.5.2"]}
    assert bans.unban(" 198.19.5.1 ") == ["dovecot"]
    with pytest.raises(MailtuiError, match="not banned in any jail"):
        bans.unban("198.19.5.1")


@pytest.mark.parametrize("address", ["", "198.19.5.999", "198.19.5.0/24", "fe80::1%eth0", "x; rm -rf /", "-h"])
def test_unban_refuses_bad_addresses_before_anything_runs(client: FakeClient, address: str) -> None:
    with pytest.raises(ValidationError) as exc:
        bans.unban(address)
    assert "address" in exc.value.problems
    assert client.calls == []


def test_unban_refuses_bad_or_unknown_jails(client: FakeClient) -> None:
    with pytest.raises(ValidationError, match="jail"):
        bans.unban("198.19.5.1", "no;such jail")
    assert client.calls == []
    with pytest.raises(ValidationError, match="not a running jail"):
        bans.unban("198.19.5.1", "sshd")
    assert not any(c[1] == "set" for c in client.calls)


def test_unban_of_an_address_banned_elsewhere_changes_nothing(client: FakeClient) -> None:
    with pytest.raises(MailtuiError, match="198.19.5.2 is not banned in the jail dovecot"):
        bans.unban("198.19.5.2", "dovecot")
    assert not any(c[1] == "set" for c in client.calls)


def test_available_says_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bans, "_disabled_in_answers", lambda: False)
    monkeypatch.setattr(fail2ban, "which", lambda name: None)
    assert "not installed" in (bans.available() or "")
    with pytest.raises(MailtuiError, match="not installed"):
        bans.list_bans()
    monkeypatch.setattr(fail2ban, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fail2ban, "run", FakeClient({}, ping=False))
    assert "not running" in (bans.available() or "")
    monkeypatch.setattr(bans, "_disabled_in_answers", lambda: True)
    assert "switched off" in (bans.available() or "")


def test_fail2ban_is_known_to_the_service_layer() -> None:
    from mailtui.system import services

    assert services.info("fail2ban").pidfile == "/run/fail2ban/fail2ban.pid"
    assert services.info("fail2ban").process_names == ("fail2ban-server",)
