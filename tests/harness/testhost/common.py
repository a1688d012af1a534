"""What every part of the test-host harness shares: constants, errors, logging, the cache dir, running
commands on this machine, locks and careful file writes."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
RELEASES: dict[str, str] = {"bookworm": "12", "trixie": "13"}
DEFAULT_HOSTNAME = "mail.example.test"
DEPS_MOUNT = "/opt/mailtui/deps"
APP_MOUNT = "/opt/mailtui/app"
MAILTUI_PYTHONPATH = f"{APP_MOUNT}:{DEPS_MOUNT}"
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Machine-wide (not per cache dir): what the test networks claim on this machine, so that test runs with
# different caches (a developer's, a clean clone's) never hand out the same subnet twice.
RUN_DIR = Path("/run/mailtui-testnet")


class TestHostError(RuntimeError):
    """Building, starting or tearing down a test host or network failed."""

    __test__ = False


class CommandFailed(subprocess.CalledProcessError):
    """A command inside a test host exited non-zero; str() shows its output."""

    def __str__(self) -> str:
        text = f"{super().__str__()}"
        for name, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if data:
                text += f"\n--- {name} (last 3000 chars) ---\n{data[-3000:]}"
        return text


def log(message: str) -> None:
    print(f"[testhost] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(what: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    log(f"{what}: {time.monotonic() - start:.1f} s")


def cache_dir() -> Path:
    path = Path(os.environ.get("MAILTUI_TESTHOST_CACHE", "/var/cache/mailtui-testhosts")).resolve()
    if re.search(r"[,:\s]", str(path)):
        raise TestHostError(f"cache dir {path} must not contain ',', ':' or spaces (overlayfs options)")
    return path


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise TestHostError(f"'{name}' not found: test hosts need util-linux, iproute2 and debootstrap")
    return found


def cmd(argv: Sequence[str | Path], *, what: str, log_file: Path | None = None, **kw: Any) -> str:
    """Run a command on this machine; return stdout, or raise TestHostError naming `what` and the output."""
    args = [str(a) for a in argv]
    if log_file is None:
        proc = subprocess.run(args, capture_output=True, text=True, **kw)
        output = proc.stdout + proc.stderr
    else:
        with log_file.open("a") as fh:
            fh.write(f"\n$ {' '.join(args)}\n")
            fh.flush()
            proc = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, text=True, **kw)
        output = log_file.read_text(errors="replace")[-4000:]
    if proc.returncode != 0:
        where = f" (full log: {log_file})" if log_file else ""
        raise TestHostError(f"{what} failed (exit {proc.returncode}){where}:\n{output[-4000:]}")
    return proc.stdout if log_file is None else ""


def require_root() -> None:
    if os.geteuid() != 0:
        uid = os.geteuid()
        raise TestHostError(f"test hosts need root (namespaces, mounts, debootstrap); running as uid {uid}")


@contextlib.contextmanager
def file_lock(path: Path, *, exclusive: bool, blocking: bool = True) -> Iterator[bool]:
    """flock on `path` (created if missing). Yields whether it is held (always True when blocking)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        flags = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def cache_lock(*, exclusive: bool, blocking: bool = True) -> contextlib.AbstractContextManager[bool]:
    """The cache-wide lock: shared while a host mounts a base or layer, exclusive (briefly) while something
    switches or deletes one. Builds take their own per-item locks and never hold this one for long."""
    return file_lock(cache_dir() / ".lock", exclusive=exclusive, blocking=blocking)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(3)}")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def write_in_root(root: Path, inside_path: str, text: str, mode: int = 0o644) -> None:
    """Write a file into a root dir from outside without following symlinks the root may contain."""
    target = root / inside_path.lstrip("/")
    if target.parent.is_symlink() or not target.parent.resolve().is_relative_to(root.resolve()):
        raise TestHostError(f"refusing to write {inside_path}: its directory leaves {root}")
    tmp = target.with_name(f".{target.name}.testhost-{secrets.token_hex(3)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, target)  # replaces a symlink itself, never what it points at


def dir_size(path: Path) -> int:
    out = subprocess.run(["du", "-sxb", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


def short_hash(items: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def tree_hash(root: Path, pattern: str = "*.py") -> str:
    """A hash of every file matching `pattern` below `root` (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


_SIGTERM_INSTALLED = False


def install_sigterm_handler() -> None:
    """Turn SIGTERM into SystemExit so finalizers and atexit tear hosts down (unless SIGTERM is handled)."""
    global _SIGTERM_INSTALLED
    if _SIGTERM_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    _SIGTERM_INSTALLED = True
