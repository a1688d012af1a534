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
    name: str
    ok: bool
    detail: str = ""
