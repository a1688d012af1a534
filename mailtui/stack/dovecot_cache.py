"""Dovecot's auth cache: flushed after account changes so logins see the database as it is now."""

from __future__ import annotations

from collections.abc import Sequence

from mailtui.system import services
from mailtui.system.commands import run, which


def flush_auth_cache(users: Sequence[str] | None = None) -> bool:
    """`doveadm auth cache flush [USER…]`; None flushes everything. False when Dovecot is not running."""
    if not which("doveadm") or not services.is_running("dovecot"):
        return False
    return run(["doveadm", "auth", "cache", "flush", *(users or [])], check=False).ok
