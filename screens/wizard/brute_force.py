"""The brute-force option ([security] in the answers) in words, as the Firewall form and the Review show it."""

from __future__ import annotations

from mailtui.format import duration_text
from mailtui.model.answers import Security


def protection_text(security: Security) -> str:
    """'5 failed logins within 10 min ban the address for 1 h (fail2ban)', or that it is off."""
    if not security.fail2ban:
        return "off: failed logins are not counted and no address is banned"
    tries = security.max_retry
    text = (f"{tries} failed login{'s' if tries != 1 else ''} within {duration_text(security.find_time)} "
            f"ban the address for {duration_text(security.ban_time)} (fail2ban; never 127.0.0.1")
    ignore = list(security.ignore)
    if ignore:
        text += f", {', '.join(ignore[:3])}" + (f" and {len(ignore) - 3} more" if len(ignore) > 3 else "")
    return text + ")"


def protection_line(security: Security) -> str:
    """The same in one short line, under the form's fields: '→ 5 failed logins in 10 min: banned for 1 h'."""
    if not security.fail2ban:
        return "→ off: no address is banned"
    tries = security.max_retry
    return (f"→ {tries} failed login{'s' if tries != 1 else ''} in {duration_text(security.find_time)}: "
            f"banned for {duration_text(security.ban_time)}")
