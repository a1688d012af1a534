"""The install steps, one module each, and the order the engine applies them in.

Dependency order: packages, database, tls (a certificate exists before a service needs it), postfix,
dovecot, firewall, fail2ban (its jails read the mail log Postfix and Dovecot write; its bans sit in
front of the firewall's rules), verify.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailtui.steps.base import Step

ENGINE_ORDER = ("packages", "database", "tls", "postfix", "dovecot", "firewall", "fail2ban", "verify")


def all_steps() -> list[Step]:
    """Every step, in ENGINE_ORDER (imported here, lazily: each step module imports steps.base)."""
    from mailtui.steps.database import DatabaseStep
    from mailtui.steps.dovecot import DovecotStep
    from mailtui.steps.fail2ban import Fail2banStep
    from mailtui.steps.firewall import FirewallStep
    from mailtui.steps.packages import PackagesStep
    from mailtui.steps.postfix import PostfixStep
    from mailtui.steps.tls import TlsStep
    from mailtui.steps.verify import VerifyStep

    steps: list[Step] = [PackagesStep(), DatabaseStep(), TlsStep(), PostfixStep(), DovecotStep(), FirewallStep(),
                         Fail2banStep(), VerifyStep()]
    assert tuple(s.name for s in steps) == ENGINE_ORDER
    return steps
