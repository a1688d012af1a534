"""Brute-force bans for the operator: can they be shown, which addresses are banned, lifting a ban.

fail2ban itself is reached through system/fail2ban.py; here are the operator's checks (an address or jail
that is not one is refused before anything runs) and the answers-aware reason when fail2ban is absent.
"""

from __future__ import annotations

import re

from mailtui.errors import MailtuiError, NotFound, ValidationError
from mailtui.install import state as install_state
from mailtui.model import validate
from mailtui.system import fail2ban
from mailtui.system.fail2ban import Ban, JailStatus, newest_first

SWITCHED_OFF = "brute-force protection is switched off ([security] fail2ban = false in the answers)"


def _disabled_in_answers() -> bool:
    try:
        saved = install_state.load_saved_answers()
    except MailtuiError:  # a damaged answers file: judge by fail2ban itself
        return False
    return saved is not None and not saved.security.fail2ban


def available() -> str | None:
    """None when fail2ban is installed and its server answers; else a sentence saying why not."""
    why = fail2ban.unavailable()
    if why is not None and _disabled_in_answers():
        return SWITCHED_OFF
    return why


def _require() -> None:
    why = available()
    if why is not None:
        raise MailtuiError(f"cannot read the bans: {why}")


def jail_names() -> list[str]:
    _require()
    return fail2ban.parse_jail_list(fail2ban.client("status").output)


def jails() -> list[JailStatus]:
    """Every running jail with its counters."""
    return [fail2ban.jail_status(name) for name in jail_names()]


def list_bans() -> list[Ban]:
    """Every banned address of every jail, newest first."""
    return newest_first([ban for name in jail_names() for ban in fail2ban.bans_of(name)])


def unban(address: str, jail: str | None = None) -> list[str]:
    """Lift the ban of `address` (in `jail`, or in every jail that bans it); return those jails.

    The address (and jail) are checked before anything runs: ValidationError naming the field. An address
    banned nowhere (or not in that jail) is NotFound (the ban named does not exist) and nothing is changed."""
    problem = validate.ip_address_problem(address)
    if problem:
        raise ValidationError({"address": problem})
    address = validate.canonical_ip_address(address)
    if jail is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", jail):
        raise ValidationError({"jail": f"{jail!r} is not a jail name (letters, digits, . _ -)"})
    names = jail_names()
    if jail is not None and jail not in names:
        raise ValidationError({"jail": f"{jail!r} is not a running jail (running: {', '.join(names) or 'none'})"})
    lifted = []
    for name in [jail] if jail is not None else names:
        if any(b.address == address for b in fail2ban.bans_of(name)):
            fail2ban.lift(name, address)
            lifted.append(name)
    if not lifted:
        where = f"in the jail {jail}" if jail is not None else "in any jail"
        raise NotFound(f"{address} is not banned {where}", "address")
    return lifted
