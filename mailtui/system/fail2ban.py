"""fail2ban, as mailtui talks to it: its jails, the addresses they ban, and lifting a ban.

Everything goes through `fail2ban-client` (never a shell string): `status` for the jail list,
`status JAIL` for the counters, `get JAIL banip --with-time` for the banned addresses with their times
(the same format on fail2ban 1.0.2, Debian 12, and 1.1.0, Debian 13:
`198.18.7.9 \t2026-11-26 01:02:03 + 3600 = 2026-11-26 02:02:03`, local time of the server), and
`set JAIL unbanip ADDRESS` to lift one. The parsers are pure functions, unit-tested with captured output.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass

from mailtui.errors import MailtuiError
from mailtui.system import services
from mailtui.system.commands import Result, run, which

CLIENT = "fail2ban-client"
SERVER = "fail2ban-server"
SERVICE = services.info("fail2ban")
TIMEOUT = 30
# The jails mailtui configures (steps/fail2ban.py); others (sshd, …) are listed too when they run.
MAIL_JAILS = ("postfix-sasl", "dovecot")


@dataclass(frozen=True)
class Ban:
    jail: str
    address: str
    banned_at: float | None  # epoch seconds; None if unknown
    ends_at: float | None

    def to_json(self) -> dict[str, object]:
        return {"jail": self.jail, "address": self.address, "banned_at": self.banned_at, "ends_at": self.ends_at,
                "since": _iso(self.banned_at), "until": _iso(self.ends_at)}


@dataclass(frozen=True)
class JailStatus:
    name: str
    currently_failed: int
    total_failed: int
    currently_banned: int
    total_banned: int

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "currently_failed": self.currently_failed, "total_failed": self.total_failed,
                "currently_banned": self.currently_banned, "total_banned": self.total_banned}


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


# ---------------------------------------------------------------- parsers (pure)

_STATUS_FIELD = re.compile(r"^[\s|`-]*(?P<key>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.*?)\s*$")
_BAN_LINE = re.compile(
    r"^(?P<ip>\S+)\s+(?P<start>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*\+\s*(?P<seconds>-?\d+)\s*=\s*"
    r"(?P<end>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s*$"
)


def _fields(output: str) -> dict[str, str]:
    """`|- Currently failed:\t0` lines -> {"currently failed": "0"} (tree characters and case ignored)."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = _STATUS_FIELD.match(line)
        if match:
            found[match.group("key").strip().lower()] = match.group("value")
    return found


def parse_jail_list(output: str) -> list[str]:
    """The jail names from `fail2ban-client status` ("`- Jail list:\tdovecot, postfix-sasl")."""
    value = _fields(output).get("jail list", "")
    return [name.strip() for name in value.split(",") if name.strip()]


def _count(fields: dict[str, str], key: str) -> int:
    try:
        return int(fields.get(key, "0") or 0)
    except ValueError:
        return 0


def parse_jail_status(name: str, output: str) -> JailStatus:
    """The counters from `fail2ban-client status JAIL`."""
    fields = _fields(output)
    return JailStatus(name, _count(fields, "currently failed"), _count(fields, "total failed"),
                      _count(fields, "currently banned"), _count(fields, "total banned"))


def _local_epoch(text: str) -> float | None:
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
    except (ValueError, OverflowError):
        return None


def parse_bans(jail: str, output: str) -> list[Ban]:
    """The bans from `fail2ban-client get JAIL banip --with-time`; a line without times (an older
    fail2ban, or only the address) still gives the address, with times None."""
    bans: list[Ban] = []
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _BAN_LINE.match(line)
        if match:
            start = _local_epoch(match.group("start"))
            end = _local_epoch(match.group("end"))
            if int(match.group("seconds")) < 0:  # bantime = -1: permanent
                end = None
            bans.append(Ban(jail, match.group("ip"), start, end))
            continue
        for word in line.split():
            try:
                bans.append(Ban(jail, str(ipaddress.ip_address(word)), None, None))
            except ValueError:
                continue
    return bans


def newest_first(bans: list[Ban]) -> list[Ban]:
    return sorted(bans, key=lambda b: (b.banned_at is not None, b.banned_at or 0.0, b.jail, b.address),
                  reverse=True)


# ---------------------------------------------------------------- talking to fail2ban


def client(*args: str, check: bool = True) -> Result:
    result = run([CLIENT, *args], check=False, timeout=TIMEOUT)
    if check and not result.ok:
        raise MailtuiError(f"`{CLIENT} {' '.join(args)}` failed (exit {result.returncode}): "
                           f"{result.output.strip()[-500:]}")
    return result


def installed() -> bool:
    return which(CLIENT) is not None


def unavailable() -> str | None:
    """None when fail2ban is installed and its server answers; else a sentence saying why not."""
    if not installed():
        return "fail2ban is not installed (mailtui installs it when [security] fail2ban = true)"
    result = client("ping", check=False)
    if result.ok and "pong" in result.output:
        return None
    return "fail2ban is installed but not running (start it with `service fail2ban start`)"


def running_jails() -> list[str]:
    """The jails fail2ban runs (empty when it does not answer)."""
    result = client("status", check=False)
    return parse_jail_list(result.output) if result.ok else []


def jail_status(name: str) -> JailStatus:
    return parse_jail_status(name, client("status", name).output)


def bans_of(jail: str) -> list[Ban]:
    return parse_bans(jail, client("get", jail, "banip", "--with-time").output)


def lift(jail: str, address: str) -> None:
    client("set", jail, "unbanip", address)
