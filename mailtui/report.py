"""What the engine reports back to whoever asked: a Change it would make, a Check it ran.

A foundation module: it imports nothing of mailtui.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One thing a step would change, in words an operator reads in the preview."""

    kind: str  # file, postconf, master, package, sql, command, service, firewall, directory, user
    target: str  # a path, a parameter, a package, a table, …
    summary: str
    diff: str = ""


@dataclass(frozen=True)
class Check:
    """One thing checked: `name` says what (never what would be done about it), `ok` the result, `detail`
    the reason when it fails (or a note when it passes). `drift`: what an install would change to put it
    right — a planned action, reported apart from the result and labelled as such (empty: none)."""

    name: str
    ok: bool
    detail: str = ""
    drift: str = ""
