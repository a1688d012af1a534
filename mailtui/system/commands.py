"""Running programs. The only place (with files/services) that executes anything on the machine.

Ordinary commands go through `sh` with a plain (non-tty) output (see run() for how, and why). Daemon starts go through
`run_detached`, whose output is captured in a file: an init script that leaves the daemon holding
its stdout would otherwise keep a pipe open forever (DESIGN.md: `service dovecot start`).

Before a command runs, what it is going to change is backed up for `mailtui rollback` (files.py): the
files `effect_of(argv)` names for the commands mailtui uses (`postconf -e` main.cf, `postconf -M/-P`
master.cf, `openssl … -out F`, `chmod M F`, `ufw allow` its rules files, …) plus any a caller names
with `changes=`, and the system accounts `useradd`/`groupadd` create. After it returns it is a fault
point (faults.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import sh

from mailtui import faults
from mailtui.errors import CommandFailed
from mailtui.system import backups

LineCallback = Callable[[str], None]

# A predictable, non-interactive environment for every child: no pagers, no colours, no debconf dialogs.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "DEBCONF_NONINTERACTIVE_SEEN": "true",
    "APT_LISTCHANGES_FRONTEND": "none",
    "NEEDRESTART_MODE": "a",
    "PAGER": "cat",
    "SYSTEMD_PAGER": "",
    "TERM": "dumb",
}


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    output: str  # stdout and stderr interleaved

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(BASE_ENV)
    for key in ("http_proxy", "https_proxy", "no_proxy", "SSH_CONNECTION"):
        if key in os.environ:
            env[key] = os.environ[key]
    if extra:
        env.update(extra)
    return env


def which(program: str) -> str | None:
    return shutil.which(program, path=BASE_ENV["PATH"])


# ---------------------------------------------------------------- what a command changes


@dataclass(frozen=True)
class Effect:
    """What a command changes, as far as mailtui knows: files (backed up before it runs), system
    accounts it creates, and whether it changes anything at all (False: it only reads)."""

    files: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    mutates: bool = True


READ_ONLY = Effect(mutates=False)
UFW_RULES = ("/etc/ufw/user.rules", "/etc/ufw/user6.rules")
UFW_CONF = "/etc/ufw/ufw.conf"
UFW_DEFAULTS = "/etc/default/ufw"
_READERS = {"dpkg-query", "apt-cache", "doveconf", "getent", "id", "hostname", "uname", "true", "ss"}


def _operands(args: Sequence[str]) -> list[str]:
    return [a for a in args if not a.startswith("-")]


def _postconf(args: list[str]) -> Effect:
    conf_dir = "/etc/postfix"
    if "-c" in args and args.index("-c") + 1 < len(args):
        conf_dir = args[args.index("-c") + 1]
    flags = {c for a in args if a.startswith("-") and not a.startswith("--") for c in a[1:]}
    assigns = any("=" in a for a in _operands(args))
    edits = assigns or bool(flags & {"e", "X", "#"})
    if not edits:
        return READ_ONLY
    target = "master.cf" if flags & {"M", "P", "F"} else "main.cf"
    return Effect(files=(f"{conf_dir}/{target}",))


def _ufw(args: list[str]) -> Effect:
    words = _operands(args)
    verb = words[0] if words else ""
    if verb in ("status", "show", "version", "app", ""):
        return READ_ONLY
    if verb in ("enable", "disable", "logging"):
        return Effect(files=(UFW_CONF,))
    if verb == "default":
        return Effect(files=(UFW_DEFAULTS, *UFW_RULES))
    if verb == "reload":
        return Effect()
    return Effect(files=UFW_RULES)  # allow, deny, reject, limit, delete, insert, prepend, route, reset…


def effect_of(argv: Sequence[str]) -> Effect:
    """What running argv changes (the commands mailtui uses; anything unknown counts as a change
    with no file named: the caller names its files with `changes=`)."""
    if not argv:
        return READ_ONLY
    program, args = os.path.basename(str(argv[0])), [str(a) for a in argv[1:]]
    if program in _READERS:
        return READ_ONLY
    if program == "postconf":
        return _postconf(args)
    if program == "openssl":
        outs = tuple(args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-out", "-keyout"))
        return Effect(files=outs) if outs else READ_ONLY
    if program in ("chmod", "chown", "chgrp"):
        operands = _operands(args)
        return Effect(files=tuple(operands[1:]))
    if program in ("useradd", "adduser"):
        return Effect(users=tuple(_operands(args)[-1:]))
    if program in ("groupadd", "addgroup"):
        return Effect(groups=tuple(_operands(args)[-1:]))
    if program == "ufw":
        return _ufw(args)
    if program == "postqueue" and any(a in ("-j", "-p") for a in args):
        return READ_ONLY
    if program == "postmap":
        return READ_ONLY if "-q" in args else Effect()
    if program == "sshd" and "-T" in args:
        return READ_ONLY
    if program == "dovecot" and ("--version" in args or "--help" in args):
        return READ_ONLY
    if program == "doveadm" and args[:1] == ["pw"]:
        return READ_ONLY
    if program == "dpkg" and any(a in ("--audit", "-C", "-l", "--list", "-s", "--status", "--get-selections")
                                 for a in args):
        return READ_ONLY
    if program == "ip" and "show" in args:
        return READ_ONLY
    if program in ("service", "systemctl") and any(
            a in ("status", "is-active", "is-enabled", "is-failed", "is-system-running", "show", "--failed")
            for a in args):
        return READ_ONLY
    return Effect()


def _prepare(argv: Sequence[str], changes: Sequence[str | Path]) -> tuple[Effect, list[tuple[str, str]]]:
    """Record the originals of what the command is about to change; return the accounts noted."""
    effect = effect_of(argv)
    if changes:
        effect = Effect(files=(*effect.files, *(str(c) for c in changes)), users=effect.users,
                        groups=effect.groups, mutates=True)
    for path in effect.files:
        backups.record_original(Path(path))
    noted = [(kind, name) for kind, names in (("group", effect.groups), ("user", effect.users))
             for name in names if backups.record_account(kind, name)]
    return effect, noted


# How far settle_main_cf() moves main.cf's mtime back: Postfix waits while the mtime is >= (now - 1 s).
MAIN_CF_SETTLE_SECONDS = 2


def settle_main_cf(path: Path) -> bool:
    """Move a main.cf that a finished `postconf -e/-X` just replaced 2 s into the past.

    Every Postfix program reads main.cf with dict_load_file(), which re-reads the file, sleeping 0.3 s each
    time, for as long as its mtime is within a second of the clock ("pausing to let main.cf cool down",
    logged at verbose level only): a guard against a file still being written by an editor. postconf
    writes main.cf whole and renames it into place, so the file is complete when postconf returns, and the
    wait only delays the next `postconf -M`, `postfix check` or `postfix reload` by ~2 s (measured on a test
    host: `postconf -M` right after `postconf -e` 2.42 s, after this 0.03 s). Returns False when there is no
    such file (a fake in unit tests, or postconf failed before writing)."""
    try:
        st = path.stat()
    except OSError:
        return False
    past = time.time_ns() - MAIN_CF_SETTLE_SECONDS * 1_000_000_000
    if st.st_mtime_ns > past:  # a file postconf left alone keeps its older time
        os.utime(path, ns=(st.st_atime_ns, past))
    return True


def _finish(argv: Sequence[str], effect: Effect, noted: list[tuple[str, str]], code: int) -> None:
    if code != 0:
        for kind, name in noted:
            backups.forget_account(kind, name)
    elif os.path.basename(str(argv[0])) == "postconf":
        for path in effect.files:
            if os.path.basename(path) == "main.cf":
                settle_main_cf(Path(path))
    faults.point("command", " ".join(argv), effect="change" if effect.mutates else "none", files=effect.files)


class _Lines:
    """Where sh writes a command's output (bytes, as they come): kept whole, and each complete line handed to
    `on_line` as it arrives (the apt step's live log)."""

    def __init__(self, on_line: LineCallback | None) -> None:
        self._on_line = on_line
        self._data = bytearray()
        self._sent = 0  # bytes already handed to on_line

    def write(self, chunk: bytes) -> None:
        self._data += chunk
        if self._on_line is None:
            return
        end = self._data.rfind(b"\n") + 1
        if end > self._sent:
            for line in bytes(self._data[self._sent:end]).decode("utf-8", "replace").splitlines():
                self._on_line(line)
            self._sent = end

    def text(self) -> str:
        if self._on_line is not None and len(self._data) > self._sent:  # a last line without a newline
            self._on_line(bytes(self._data[self._sent:]).decode("utf-8", "replace"))
            self._sent = len(self._data)
        return bytes(self._data).decode("utf-8", "replace")


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = 600,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
    changes: Sequence[str | Path] = (),
) -> Result:
    """Run a program to completion and return its combined output.

    Secrets go through `input` (stdin), never through argv: argv is visible in `ps`. `changes` names
    files the command changes that effect_of() does not know about (backed up first).
    """
    argv = [str(a) for a in argv]
    program = which(argv[0]) if "/" not in argv[0] else argv[0]
    if program is None:
        if check:
            raise CommandFailed(argv, 127, f"{argv[0]}: command not found")
        return Result(argv, 127, f"{argv[0]}: command not found")
    effect, noted = _prepare(argv, changes)
    out = _Lines(on_line)
    # Output to a file-like object, waited for without a timeout, the timeout kept by a timer of our own: with an
    # _out callback, sh's _timeout or wait(timeout=), sh polls every 0.1 s, and each command took >= 100 ms
    # (measured: `sh -c 'sleep 0.01'` 108 ms against 17 ms; `mailtui check` runs 53 commands, an install ~150).
    proc = sh.Command(program)(
        *argv[1:],
        _in=input,
        _out=out,
        _err_to_out=True,
        _tty_out=False,
        _env=child_env(env),
        _ok_code=list(range(256)),
        _bg=True,
        _bg_exc=False,
        _return_cmd=True,
    )
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        with contextlib.suppress(OSError):
            proc.kill()

    timer = threading.Timer(timeout, expire) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        proc.wait()
        code = proc.exit_code
    except sh.ErrorReturnCode as exc:  # killed by a signal (sh.SignalException): no exit code of its own
        code = exc.exit_code
    finally:
        if timer is not None:
            timer.cancel()
    if timed_out.is_set():
        output = out.text() + f"\n(timed out after {timeout} s and was killed)"
        raise CommandFailed(argv, -9, output)
    _finish(argv, effect, noted, code)
    result = Result(argv, code, out.text())
    if check and code != 0:
        raise CommandFailed(argv, code, result.output)
    return result


def run_detached(argv: Sequence[str], *, check: bool = True, timeout: float = 120) -> Result:
    """Run a command that starts a daemon (init script, `service`, `postfix start`).

    Output goes to a temporary file rather than a pipe, and the child gets its own session, so a
    daemon that inherits the descriptors can neither hang us nor die with our terminal.
    """
    argv = [str(a) for a in argv]
    effect, noted = _prepare(argv, ())
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
        try:
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                start_new_session=True,
                timeout=timeout,
                check=False,
            )
            code = proc.returncode
        except FileNotFoundError:
            code = 127
            out.write(f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            code = -9
            out.write(f"\n(timed out after {timeout} s)")
        out.seek(0)
        output = out.read()
    _finish(argv, effect, noted, code)
    result = Result(argv, code, output)
    if check and code != 0:
        raise CommandFailed(argv, code, output)
    return result
