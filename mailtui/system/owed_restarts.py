"""Restarts an install owes: a step that is about to change the configuration of a running service says so
on disk first, and forgets it once the service has loaded the new configuration.

Without it, an install killed after writing a file but before restarting the service that reads it leaves
the service running on the old configuration, and the next run finds every file in place ("nothing to
change") and restarts nothing. On systemd the services run from the moment apt installed them, so that is
the usual case, not a corner: Dovecot kept serving its stock configuration (143 open, no auth socket for
Postfix) after a kill between writing dovecot.conf and restarting it.

One empty file per step under STATE_DIR/restarts-owed/; it goes with mailtui's state on a rollback.
"""

from __future__ import annotations

from pathlib import Path

from mailtui import paths
from mailtui.system.files import ensure_state_dir, remove_file, write_private


def _marker(step: str) -> Path:
    return paths.STATE_DIR / "restarts-owed" / step


def owed(step: str) -> bool:
    """`step` changed the configuration and its services have not loaded it yet."""
    return _marker(step).exists()


def owe(step: str) -> None:
    """Before the first change of `step`: its services must load the configuration, even after a kill."""
    ensure_state_dir()
    _marker(step).parent.mkdir(mode=0o700, exist_ok=True)
    write_private(_marker(step), f"{step}\n")


def settle(step: str) -> None:
    """`step`'s services loaded the configuration (restarted, reloaded or started on it)."""
    remove_file(_marker(step))
