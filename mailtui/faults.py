"""Fault injection for the reliability tests: kill the install at a chosen point, hard.

Every file write (system/files.py), every command (system/commands.py, system/apt.py) and every package
dpkg starts to unpack (system/apt.py) calls `point(kind, detail)`. Points count only in the install worker
(install.worker_main calls `arm()`): the CLI in front of it, the TUI and `mailtui check` never stop.

MAILTUI_FAULT (read once, by arm()) chooses the point; the process then kills itself with SIGKILL, as a
power cut would (no cleanup, no `finally`, no state written):

  write:N          after the Nth file write is in place (temp file synced, renamed, directory synced)
  write-tmp:N      the Nth file write has its temp file written and synced, but not yet renamed
  command:N        after the Nth command returned (whatever its exit code)
  dpkg-unpack:N    while dpkg unpacks the Nth package of an apt run: apt's process group (apt, dpkg, the
                   maintainer scripts) is killed first, then the worker
  any:N            the Nth point of any kind
  KIND:TEXT        the first point of that kind whose detail (a path, a command line, a package name)
                   contains TEXT, e.g. write:/etc/postfix/main.cf or command:postconf -e
  KIND:=TEXT       the first point of that kind whose detail is TEXT, e.g. dpkg-unpack:=nginx (not
                   nginx-common)

N counts from 1, per kind (`any` counts all kinds together).

MAILTUI_FAULT_TRACE=/path appends every point to that file as one JSON object a line:
  {"n": overall index, "kind", "index": index within its kind, "detail",
   "effect": "change" (changes the machine) | "state" (only mailtui's own progress files) | "none" (reads),
   "files": {path: sha256 or null (missing)} — the files the point wrote, as they are right after it}
so a test can enumerate the points of a run and then kill each one in turn. The trace and a fault can be
combined; the trace line of the fatal point is written before the kill.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

ENV = "MAILTUI_FAULT"
TRACE_ENV = "MAILTUI_FAULT_TRACE"
KINDS = ("write", "write-tmp", "command", "dpkg-unpack")
EFFECTS = ("change", "state", "none")


@dataclass(frozen=True)
class Plan:
    """Where to kill: the `index`th point of `kind`, or the first one whose detail contains `match` (with
    `exact`: is `match`)."""

    kind: str  # one of KINDS, or "any"
    index: int | None = None
    match: str | None = None
    exact: bool = False

    def _matches(self, detail: str) -> bool:
        if not self.match:
            return False
        return detail == self.match if self.exact else self.match in detail

    def hits(self, kind: str, index: int, overall: int, detail: str) -> bool:
        if self.kind == "any":
            return overall == self.index if self.index is not None else self._matches(detail)
        if kind != self.kind:
            return False
        if self.index is not None:
            return index == self.index
        return self._matches(detail)


def parse(spec: str) -> Plan:
    """MAILTUI_FAULT's value as a Plan; ValueError names what is wrong."""
    kind, sep, arg = spec.strip().partition(":")
    if not sep or not arg:
        raise ValueError(f"{ENV}={spec!r}: expected KIND:N or KIND:TEXT")
    if kind not in (*KINDS, "any"):
        raise ValueError(f"{ENV}={spec!r}: unknown kind {kind!r} (known: {', '.join((*KINDS, 'any'))})")
    if arg.isdigit():
        if int(arg) < 1:
            raise ValueError(f"{ENV}={spec!r}: points count from 1")
        return Plan(kind, index=int(arg))
    if arg.startswith("="):
        if len(arg) == 1:
            raise ValueError(f"{ENV}={spec!r}: expected text after '='")
        return Plan(kind, match=arg[1:], exact=True)
    return Plan(kind, match=arg)


@dataclass
class _Switch:
    plan: Plan | None
    trace: str | None
    counts: dict[str, int] = field(default_factory=dict)
    overall: int = 0


_armed: _Switch | None = None


def arm(environ: Mapping[str, str] | None = None) -> None:
    """Read MAILTUI_FAULT / MAILTUI_FAULT_TRACE once; from now on point() counts (and may kill)."""
    global _armed
    env = os.environ if environ is None else environ
    spec = env.get(ENV, "").strip()
    trace = env.get(TRACE_ENV, "").strip() or None
    _armed = _Switch(parse(spec) if spec else None, trace) if (spec or trace) else None


def disarm() -> None:
    global _armed
    _armed = None


def armed() -> bool:
    return _armed is not None


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def point(kind: str, detail: str, *, effect: str = "change", files: Iterable[str] = (),
          before_kill: Callable[[], None] | None = None) -> None:
    """One place the install may be interrupted. A no-op unless armed (the install worker, under test)."""
    switch = _armed
    if switch is None:
        return
    switch.overall += 1
    index = switch.counts[kind] = switch.counts.get(kind, 0) + 1
    if switch.trace:
        record = {"n": switch.overall, "kind": kind, "index": index, "detail": detail, "effect": effect,
                  "files": {str(p): _sha256(str(p)) for p in files}}
        with open(switch.trace, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    if switch.plan is not None and switch.plan.hits(kind, index, switch.overall, detail):
        if before_kill is not None:
            before_kill()
        kill()


def kill() -> None:
    """Die at once, as in a power cut: SIGKILL runs no handler, no finally, no atexit."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os.kill(os.getpid(), signal.SIGKILL)
