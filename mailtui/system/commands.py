"""Running programs. The only place (with files/services) that executes anything on the machine.

Ordinary commands go through `sh` with a plain (non-tty) output. Daemon starts go through
`run_detached`, whose output is captured in a file: an init script that leaves the daemon holding
its stdout would otherwise keep a pipe open forever (DESIGN.md: `service dovecot start`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sh

from mailtui.errors import CommandFailed

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


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    timeout: float | None = 600,
    env: Mapping[str, str] | None = None,
    on_line: LineCallback | None = None,
) -> Result:
    """Run a program to completion and return its combined output.

    Secrets go through `input` (stdin), never through argv: argv is visible in `ps`.
    """
    argv = [str(a) for a in argv]
    program = which(argv[0]) if "/" not in argv[0] else argv[0]
    if program is None:
        if check:
            raise CommandFailed(argv, 127, f"{argv[0]}: command not found")
        return Result(argv, 127, f"{argv[0]}: command not found")
    lines: list[str] = []

    def collect(line: str) -> None:
        lines.append(line)
        if on_line is not None:
            on_line(line.rstrip("\n"))

    try:
        proc = sh.Command(program)(
            *argv[1:],
            _in=input,
            _out=collect,
            _err_to_out=True,
            _tty_out=False,
            _env=child_env(env),
            _timeout=timeout,
            _ok_code=list(range(256)),
            _return_cmd=True,
        )
        code = proc.exit_code
    except sh.TimeoutException:
        output = "".join(lines) + f"\n(timed out after {timeout} s and was killed)"
        raise CommandFailed(argv, -9, output) from None
    result = Result(argv, code, "".join(lines))
    if check and code != 0:
        raise CommandFailed(argv, code, result.output)
    return result


def run_detached(argv: Sequence[str], *, check: bool = True, timeout: float = 120) -> Result:
    """Run a command that starts a daemon (init script, `service`, `postfix start`).

    Output goes to a temporary file rather than a pipe, and the child gets its own session, so a
    daemon that inherits the descriptors can neither hang us nor die with our terminal.
    """
    argv = [str(a) for a in argv]
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
    result = Result(argv, code, output)
    if check and code != 0:
        raise CommandFailed(argv, code, output)
    return result
