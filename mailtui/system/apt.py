"""apt/dpkg: installed packages, preseeding, and installs with a real progress figure.

Progress comes from apt's status file descriptor (APT::Status-Fd): lines such as
``dlstatus:1:12.5:Retrieving file 1 of 8`` and ``pmstatus:postfix:42.8571:Configuring postfix``.
Downloads count for the first 30 %, unpacking/configuring for the rest. Another apt/dpkg holding
the lock is waited for (apt says so in its output, which is shown). Existing conffiles are kept.

An install killed half-way (power cut, kill -9 of the worker and dpkg) leaves dpkg's journal in
/var/lib/dpkg/updates or packages half-installed / unpacked: dpkg_interrupted() sees either, and
configure_pending() finishes what can be finished (`dpkg --configure -a`) and lets apt reinstall
what cannot (`apt-get install -f`), before the next install of the missing packages.

Fault injection (faults.py): each package dpkg starts to unpack ("Preparing <pkg>" on apt's status
fd, dpkg has marked it half-installed) is a `dpkg-unpack` point, where apt's whole process group is
killed first, mid-unpack.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import faults
from mailtui.errors import CommandFailed
from mailtui.system.commands import child_env, run

LOCK_TIMEOUT_S = 900
DOWNLOAD_SHARE = 30.0
LISTS_DIR = Path("/var/lib/apt/lists")
DPKG_UPDATES = Path("/var/lib/dpkg/updates")


@dataclass(frozen=True)
class StatusLine:
    kind: str  # dlstatus, pmstatus, pmerror, pmconffile, …
    package: str
    percent: float
    message: str


def parse_status_line(line: str) -> StatusLine | None:
    parts = line.rstrip("\n").split(":", 3)
    if len(parts) < 4:
        return None
    kind, package, percent, message = parts
    try:
        value = float(percent)
    except ValueError:
        return None
    return StatusLine(kind, package, value, message)


def is_unpack_start(status: StatusLine) -> bool:
    """apt's "Preparing <pkg>": dpkg has marked the package half-installed and is unpacking it (not
    "Preparing to configure <pkg>", which follows the unpack)."""
    return status.message.startswith("Preparing ") and not status.message.startswith("Preparing to configure")


def overall_percent(status: StatusLine) -> float:
    if status.kind == "dlstatus":
        return status.percent * DOWNLOAD_SHARE / 100.0
    return DOWNLOAD_SHARE + status.percent * (100.0 - DOWNLOAD_SHARE) / 100.0


def is_installed(package: str) -> bool:
    result = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return result.ok and result.output.strip() == "install ok installed"


def missing(packages: Sequence[str]) -> list[str]:
    return [p for p in packages if not is_installed(p)]


def dpkg_interrupted() -> bool:
    """dpkg was interrupted (e.g. the machine or an SSH session died mid-install): its journal holds
    updates, or `dpkg --audit` lists packages left half-installed, unpacked or half-configured."""
    try:
        if any(DPKG_UPDATES.iterdir()):
            return True
    except FileNotFoundError:
        pass
    audit = run(["dpkg", "--audit"], check=False)
    return bool(audit.output.strip())


def lists_missing() -> bool:
    return not any("_Packages" in p.name for p in LISTS_DIR.glob("*"))


def preseed(selections: str) -> None:
    """debconf-set-selections with the given lines (stdin, never argv)."""
    run(["debconf-set-selections"], input=selections)


def _apt_options() -> list[str]:
    return [
        "-y", "-q",
        "-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT_S}",
        "-o", "Dpkg::Options::=--force-confdef",
        "-o", "Dpkg::Options::=--force-confold",
        "-o", "Dpkg::Use-Pty=0",
        "--no-install-recommends",
    ]


def update(on_line: Callable[[str], None]) -> None:
    run(["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={LOCK_TIMEOUT_S}", "update"], on_line=on_line,
        timeout=1800)


def parse_broken(listing: str) -> list[str]:
    """Packages dpkg can only reinstall, from `dpkg-query -W -f='${db:Status-Abbrev}\t${binary:Package}\n'`:
    half-installed (status h: killed mid-unpack) or flagged reinst-required (error flag R). dpkg refuses to
    configure them ("package is in a very bad inconsistent state; you should reinstall it") and
    `apt-get install -f` leaves them so."""
    broken = []
    for line in listing.splitlines():
        abbrev, _, package = line.partition("\t")
        if len(abbrev) >= 2 and package.strip() and (abbrev[1] == "h" or abbrev[2:3] == "R"):
            broken.append(package.strip())
    return broken


def needs_reinstall() -> list[str]:
    result = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${binary:Package}\n"], check=False)
    return parse_broken(result.output)


def configure_pending(on_line: Callable[[str], None]) -> None:
    """Finish an interrupted dpkg run. `dpkg --configure -a` configures what was unpacked; a package
    killed mid-unpack (half-installed, reinst-required) cannot be configured: apt reinstalls it from its
    cached archive (`apt-get install -f --reinstall`: with -f, apt also settles what the
    packages unpacked before it need), then `apt-get install -f` settles the rest.

    apt 3.0 (Debian 13) refuses that combined command when a package unpacked before the kill depends on
    one not unpacked yet ("Unmet dependencies. Try 'apt --fix-broken install' with no packages"); its
    `apt-get install -f` alone reinstalls the half-installed package too. apt 2.6 (Debian 12) leaves a
    half-installed package to dpkg, which refuses it ("very bad inconsistent state"). So: the combined
    command; if apt refuses it, `apt-get install -f`, then `--reinstall` of whatever is still broken.
    Raises CommandFailed when dpkg still reports problems afterwards."""
    result = run(["dpkg", "--force-confdef", "--force-confold", "--configure", "-a"], on_line=on_line,
                 timeout=3600, check=False)
    if result.ok and not dpkg_interrupted():
        return
    broken = needs_reinstall()
    if broken:
        on_line(f"dpkg was killed while unpacking {', '.join(broken)}: reinstalling "
                f"{'it' if len(broken) == 1 else 'them'} (apt-get install -f --reinstall)")
        both = run(["apt-get", *_apt_options(), "install", "-f", "--reinstall", *broken], on_line=on_line,
                   timeout=3600, check=False)
        if not both.ok:
            on_line("apt would not reinstall and settle the other packages in one go: settling them first "
                    "(apt-get install -f)")
            run(["apt-get", *_apt_options(), "install", "-f"], on_line=on_line, timeout=3600, check=False)
            still = needs_reinstall()
            if still:
                run(["apt-get", *_apt_options(), "install", "--reinstall", *still], on_line=on_line, timeout=3600)
    if dpkg_interrupted():
        on_line("some packages could not be configured as they are: letting apt finish them (apt-get install -f)")
        run(["apt-get", *_apt_options(), "install", "-f"], on_line=on_line, timeout=3600)
    audit = run(["dpkg", "--audit"], check=False)
    if audit.output.strip():
        raise CommandFailed(["dpkg", "--audit"], 1, audit.output)


def install(packages: Sequence[str], on_line: Callable[[str], None],
            on_percent: Callable[[float, str], None]) -> None:
    """apt-get install with progress. Output lines go to on_line, progress to on_percent."""
    read_fd, write_fd = os.pipe()
    argv = ["apt-get", *_apt_options(), "-o", f"APT::Status-Fd={write_fd}", "install", *packages]
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=child_env(), pass_fds=(write_fd,), start_new_session=True,
    )
    os.close(write_fd)
    assert proc.stdout is not None

    def kill_apt() -> None:  # fault injection: apt, dpkg and the maintainer scripts die mid-unpack
        os.killpg(proc.pid, signal.SIGKILL)

    output: list[str] = []
    buffers = {proc.stdout.fileno(): b"", read_fd: b""}
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
    sel.register(read_fd, selectors.EVENT_READ)
    open_fds = set(buffers)
    while open_fds:
        for key, _ in sel.select(timeout=1.0):
            fd = key.fd
            chunk = os.read(fd, 65536)
            if not chunk:
                sel.unregister(fd)
                open_fds.discard(fd)
                continue
            buffers[fd] += chunk
            *lines, buffers[fd] = buffers[fd].split(b"\n")
            for raw in lines:
                text = raw.decode("utf-8", errors="replace")
                if fd == read_fd:
                    status = parse_status_line(text)
                    if status is not None and status.kind == "pmstatus" and is_unpack_start(status):
                        faults.point("dpkg-unpack", status.package, before_kill=kill_apt)
                    if status is not None and status.kind in ("dlstatus", "pmstatus"):
                        on_percent(overall_percent(status), status.message)
                    elif status is not None and status.kind == "pmerror":
                        on_line(f"dpkg error: {status.package}: {status.message}")
                else:
                    output.append(text)
                    on_line(text)
    os.close(read_fd)
    code = proc.wait()
    faults.point("command", " ".join(argv), effect="change")
    if code != 0:
        raise CommandFailed(argv[:1] + ["install", *packages], code, "\n".join(output))
    on_percent(100.0, "done")
