"""Postfix configuration as resources: main.cf parameters and master.cf services.

Postfix is changed only through `postconf -e` / `-M` / `-P` (never by rewriting main.cf or
master.cf), in one batched call each, because Postfix waits for main.cf to "settle" after a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailtui.events import StepEmitter
from mailtui.report import Change
from mailtui.steps.base import Context, Resource
from mailtui.system.commands import run, which


def postfix_installed() -> bool:
    return which("postconf") is not None


def _normalize(value: str) -> str:
    value = re.sub(r"\s*,\s*", ", ", value.strip())
    return re.sub(r"\s+", " ", value)


def current_values(names: list[str]) -> dict[str, str]:
    """Effective values (main.cf or built-in default, unexpanded) of the given parameters."""
    result = run(["postconf", *names], check=False)
    values: dict[str, str] = {}
    for line in result.output.splitlines():
        if " = " in line:
            key, _, value = line.partition(" = ")
            values[key.strip()] = value
        elif line.endswith(" ="):
            values[line[:-2].strip()] = ""
    return values


@dataclass
class PostconfResource:
    """A set of main.cf parameters with the values mailtui wants."""

    params: dict[str, str]
    kind = "postconf"

    @property
    def target(self) -> str:
        return "/etc/postfix/main.cf"

    def describe(self) -> str:
        return f"main.cf: {len(self.params)} parameters"

    def differences(self) -> list[tuple[str, str | None, str]]:
        if not postfix_installed():
            return [(k, None, v) for k, v in self.params.items()]
        now = current_values(list(self.params))
        return [(k, now.get(k), v) for k, v in self.params.items() if _normalize(now.get(k, "")) != _normalize(v)]

    def pending(self, ctx: Context) -> Change | None:
        diffs = self.differences()
        if not diffs:
            return None
        lines = []
        for key, old, new in diffs:
            if old is None:
                lines.append(f"+ {key} = {new}")
            else:
                lines.append(f"- {key} = {old}\n+ {key} = {new}")
        note = "" if postfix_installed() else " (Postfix is not installed yet)"
        return Change("postconf", self.target, f"set {len(diffs)} Postfix parameters in main.cf{note}",
                      "\n".join(lines))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        diffs = self.differences()
        if diffs:
            run(["postconf", "-e", *[f"{k}={v}" for k, _old, v in diffs]], on_line=out.line)


@dataclass
class MasterService:
    """One master.cf service, e.g. submission/inet, with its -o overrides."""

    name: str
    type: str
    command: str
    private: str = "n"
    unpriv: str = "-"
    chroot: str = "y"
    wakeup: str = "-"
    maxproc: str = "-"
    options: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.name}/{self.type}"

    @property
    def entry(self) -> str:
        return " ".join([self.name, self.type, self.private, self.unpriv, self.chroot, self.wakeup,
                         self.maxproc, self.command])


def _current_master(key: str) -> tuple[str | None, dict[str, str]]:
    entry = run(["postconf", "-M", key], check=False).output.strip()
    options: dict[str, str] = {}
    for line in run(["postconf", "-P", key], check=False).output.splitlines():
        if " = " in line:
            name, _, value = line.partition(" = ")
            options[name.strip().rsplit("/", 1)[-1]] = value.strip()
    return _entry_without_options(entry), options


def _entry_without_options(entry: str) -> str | None:
    """`postconf -M` prints the entry with its `-o name=value` overrides: keep the entry itself."""
    tokens = entry.split()
    kept: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token == "-o":
            skip = True
        elif token.startswith("-o"):
            continue
        else:
            kept.append(token)
    return " ".join(kept) if kept else None


@dataclass
class MasterResource:
    service: MasterService
    kind = "master"

    @property
    def target(self) -> str:
        return f"master.cf {self.service.key}"

    def describe(self) -> str:
        return f"master.cf service {self.service.key}"

    def _differences(self) -> tuple[bool, dict[str, str]]:
        if not postfix_installed():
            return True, dict(self.service.options)
        entry, options = _current_master(self.service.key)
        entry_differs = entry != self.service.entry
        wrong = {k: v for k, v in self.service.options.items() if options.get(k) != v}
        return entry_differs, wrong

    def pending(self, ctx: Context) -> Change | None:
        entry_differs, wrong = self._differences()
        if not entry_differs and not wrong:
            return None
        lines = [f"+ {self.service.entry}"] if entry_differs else []
        lines += [f"+   -o {k}={v}" for k, v in wrong.items()]
        return Change("master", self.target, f"configure the {self.service.key} service in master.cf",
                      "\n".join(lines))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        entry_differs, wrong = self._differences()
        if entry_differs:
            run(["postconf", "-M", f"{self.service.key}={self.service.entry}"], on_line=out.line)
            _, wrong = self._differences()  # a rewritten entry may have lost its -o options
        if wrong:
            run(["postconf", "-P", *[f"{self.service.key}/{k}={v}" for k, v in wrong.items()]],
                on_line=out.line)


for _cls in (PostconfResource, MasterResource):
    Resource.register(_cls)
