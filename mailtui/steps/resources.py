"""Generic resources every step can declare: files, directories, system users, one-off commands."""

from __future__ import annotations

import difflib
import grp
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailtui.errors import StepFailed
from mailtui.events import StepEmitter
from mailtui.report import Change
from mailtui.steps.base import Context, Resource
from mailtui.system import files
from mailtui.system.commands import run


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"{path} (now)", tofile=f"{path} (mailtui)",
        )
    )


@dataclass
class FileResource:
    """A whole file mailtui owns: content, owner, group, mode. Secrets are never shown in diffs."""

    path: str
    content: str
    owner: str = "root"
    group: str = "root"
    mode: int = 0o644
    secret: bool = False  # the diff is replaced by a note (the file holds a password)

    kind = "file"

    @property
    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"file {self.path}"

    def pending(self, ctx: Context) -> Change | None:
        state = files.inspect(Path(self.path))
        want = self.content.encode()
        if not state.exists:
            diff = "(holds a secret: content not shown)" if self.secret else unified_diff("", self.content, self.path)
            return Change("file", self.path, f"create {self.path} ({self.owner}:{self.group} {self.mode:04o})", diff)
        notes = []
        diff = ""
        if state.content != want:
            notes.append("content")
            diff = ("(holds a secret: content not shown)" if self.secret
                    else unified_diff(state.content.decode(errors="replace"), self.content, self.path))
        if (state.owner, state.group) != (self.owner, self.group):
            notes.append(f"owner {state.owner}:{state.group} -> {self.owner}:{self.group}")
        if state.mode != self.mode:
            notes.append(f"mode {state.mode:04o} -> {self.mode:04o}")
        if not notes:
            return None
        return Change("file", self.path, f"update {self.path} ({', '.join(notes)})", diff)

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        files.write_file(Path(self.path), self.content, owner=self.owner, group=self.group, mode=self.mode)


@dataclass
class AbsentFileResource:
    """A file mailtui wrote once and no longer wants (e.g. an option switched off): it must not exist."""

    path: str
    why: str  # shown in the preview: why the file goes

    kind = "file"

    @property
    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"no file {self.path}"

    def pending(self, ctx: Context) -> Change | None:
        if not os.path.lexists(self.path):
            return None
        try:
            data = Path(self.path).read_bytes()
        except OSError:
            data = b""
        # A compiled file (a Sieve binary) is named, not shown.
        diff = "(binary file)" if b"\0" in data else unified_diff(data.decode(errors="replace"), "", self.path)
        return Change("file", self.path, f"remove {self.path} ({self.why})", diff)

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        files.remove_file(Path(self.path))


@dataclass
class DirectoryResource:
    path: str
    owner: str = "root"
    group: str = "root"
    mode: int = 0o755

    kind = "directory"

    @property
    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"directory {self.path}"

    def pending(self, ctx: Context) -> Change | None:
        p = Path(self.path)
        if not p.is_dir():
            return Change("directory", self.path, f"create directory {self.path} "
                          f"({self.owner}:{self.group} {self.mode:04o})")
        state = files.inspect(p)
        if (state.owner, state.group, state.mode) != (self.owner, self.group, self.mode):
            return Change("directory", self.path, f"set {self.path} to {self.owner}:{self.group} {self.mode:04o} "
                          f"(now {state.owner}:{state.group} {state.mode:04o})")
        return None

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        p = Path(self.path)
        p.mkdir(parents=True, exist_ok=True)
        files.set_owner_mode(p, owner=self.owner, group=self.group, mode=self.mode)


@dataclass
class SystemUserResource:
    """A system group and user with a fixed uid/gid (the tutorial's vmail 5000:5000)."""

    name: str
    uid: int
    home: str

    kind = "user"

    @property
    def target(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"system user {self.name} ({self.uid})"

    def pending(self, ctx: Context) -> Change | None:
        try:
            group = grp.getgrnam(self.name)
        except KeyError:
            group = None
        try:
            user = pwd.getpwnam(self.name)
        except KeyError:
            user = None
        if user is None or group is None:
            return Change("user", self.name, f"create group and user {self.name} with uid/gid {self.uid}, "
                          f"home {self.home}")
        if user.pw_uid != self.uid or group.gr_gid != self.uid:
            return Change("user", self.name, f"{self.name} exists with uid {user.pw_uid} gid {group.gr_gid}; "
                          f"expected {self.uid}")
        return None

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        try:
            grp.getgrnam(self.name)
        except KeyError:
            run(["groupadd", "--system", "-g", str(self.uid), self.name])
        try:
            user = pwd.getpwnam(self.name)
        except KeyError:
            run(["useradd", "--system", "-u", str(self.uid), "-g", self.name, "-d", self.home,
                 "-M", "-s", "/usr/sbin/nologin", self.name])
            return
        if user.pw_uid != self.uid:
            raise StepFailed(
                f"the system user {self.name} already exists with uid {user.pw_uid}, not {self.uid}; "
                "mailtui does not renumber an existing user. Change it (usermod/groupmod) and run again."
            )


@dataclass
class CommandResource:
    """A command that creates something, run only while `is_done` says it is missing. `summary` is the
    action (the plan's line); `checks` what is in place once it ran (the line `mailtui check` prints)."""

    argv: list[str]
    summary: str
    is_done: Callable[[], bool]
    name: str = ""
    show_output: bool = True  # False: output shown only when the command fails (e.g. openssl's progress dots)
    checks: str = ""

    kind = "command"

    @property
    def target(self) -> str:
        return self.name or " ".join(self.argv)

    def describe(self) -> str:
        return self.checks or f"{self.name or self.target} in place"

    def pending(self, ctx: Context) -> Change | None:
        if self.is_done():
            return None
        return Change("command", self.target, self.summary, "$ " + " ".join(self.argv))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        run(self.argv, on_line=out.line if self.show_output else None)


def starts_with_line(path: str, line: str) -> bool:
    """The file's first line is `line` (how a step knows a file it wrote: its header), False when unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline() == line
    except OSError:
        return False


def path_exists(path: str) -> Callable[[], bool]:
    return lambda: os.path.exists(path)


# Resource is a Protocol-like ABC in base.py; these dataclasses implement it structurally.
for _cls in (FileResource, AbsentFileResource, DirectoryResource, SystemUserResource, CommandResource):
    Resource.register(_cls)
