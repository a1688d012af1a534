"""The machine guard of the unit and TUI tiers: a test there never touches the machine it runs on.

Developers and CI run the tests as root, on machines that may carry a real mail stack. A unit or TUI
test that wandered into the real engine would restart the machine's Dovecot, flush its queue or read
its /var/lib/mailtui — and pass or fail by what happens to be installed. This module installs a
`sys.addaudithook` hook (PEP 578) that refuses, for the whole test process:

* opening, listing or stat-ing (os.stat/lstat/access, hence os.path.exists and shutil.which: see
  STAT_EVENT) anything under the machine's state: /etc, /var, /run, /srv, /proc and /sys
  (but this process's own /proc/self), /dev (but the few device files below), and the programs of the
  stack (/usr/sbin, /sbin, /usr/bin, /bin, /usr/local/…) — `shutil.which("postconf")` asks "is Postfix
  installed?", which is machine state too;
* writing anywhere but the temp directory and this repository;
* running any program, except this Python itself with the guard switched on in the child too (the
  guard puts the switch into this process's environment, so every child Python inherits it unless it is
  given an environment of its own — then `child_env()`: the child installs the same hook through
  tests/guard_site/sitecustomize.py and reports what it refused to the parent);
* connecting anywhere but to a loopback port or a UNIX socket that this process bound itself (a server
  the test runs), and any name lookup but localhost.

A refused access raises `MachineAccess` where it happens *and* is recorded: the test fails at teardown
even if the code under test swallowed the exception (fails closed). The allow-list below is explicit and
says why each entry is harmless.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
import traceback
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV_SWITCH = "MAILTUI_TEST_GUARD"  # "1" in a child process: install the guard there too
ENV_REPORT = "MAILTUI_TEST_GUARD_REPORT"  # where a child appends what it refused (JSON lines)
SITE_DIR = Path(__file__).with_name("guard_site")
PID_MAX_LIMIT = 4 * 1024 * 1024  # the kernel's ceiling for pid_max (PID_MAX_LIMIT on 64-bit)

# Machine state: nothing under these is read, listed, stat-ed or written.
DENIED = ("/etc", "/var", "/run", "/srv", "/proc", "/sys", "/dev", "/boot", "/mnt", "/media",
          "/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/lib/systemd",
          "/lib/systemd", "/home")

# The allow-list, each entry with its reason.
ALLOWED_READ: dict[str, str] = {
    "/dev/null": "the null device: no machine state",
    "/dev/urandom": "randomness (secrets, passlib salts)",
    "/dev/random": "randomness",
    "/etc/localtime": "the time zone, for rendering log times (not the mail stack's state)",
    "/usr/share/zoneinfo": "time zone data (zoneinfo)",
    "/etc/mime.types": "mimetypes.init() reads it when a library guesses a content type",
    "/etc/mime/types": "mimetypes.init()",
    "/etc/httpd/mime.types": "mimetypes.init()",
    "/etc/httpd/conf/mime.types": "mimetypes.init()",
    "/etc/apache/mime.types": "mimetypes.init()",
    "/etc/apache2/mime.types": "mimetypes.init()",
    "/usr/local/etc/httpd/conf/mime.types": "mimetypes.init()",
    "/usr/local/lib/netscape/mime.types": "mimetypes.init()",
    "/usr/local/etc/mime.types": "mimetypes.init()",
    "/proc/self": "this process's own state (open file descriptors, its own limits)",
    "/dev/fd": "this process's own descriptors (sh lists them to close them before it runs a program)",
    "/proc/thread-self": "this thread's own state",
}
ALLOWED_WRITE: dict[str, str] = {
    "/dev/null": "the null device: what is written there goes nowhere",
}
# The interpreter itself (and the directory of its venv's scripts): Python and pytest look at it.
_SELF_PATHS = {os.path.realpath(sys.executable), sys.executable, os.path.dirname(sys.executable)}


class MachineAccess(PermissionError):
    """A unit/TUI test reached for the machine. A PermissionError so that code written for real
    permission problems reports it the usual way; the guard records it too, so swallowing it does not help."""


_lock = threading.Lock()
_refused: list[str] = []
_active = False
_in_hook = threading.local()
_bound: weakref.WeakSet[socket.socket] = weakref.WeakSet()
_bound_unix: set[str] = set()
_report_path: str | None = None
_child = False


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _own_proc(path: str) -> bool:
    """/proc of this process, or of a process it started itself (a test's own child: its liveness and
    command line are the test's business, not the machine's)."""
    pid = str(os.getpid())
    if _under(path, f"/proc/{pid}") or any(_under(path, p) for p in ("/proc/self", "/proc/thread-self")):
        return True
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "proc" and parts[2].isdigit():
        if int(parts[2]) > PID_MAX_LIMIT:  # a PID no process can have: asking about it reveals nothing
            return True
        try:
            with open(f"/proc/{parts[2]}/stat", "rb") as fh:  # the hook is busy: this open is not checked
                return fh.read().rsplit(b")", 1)[1].split()[1] == pid.encode()
        except (OSError, IndexError):
            return False
    return False


def _normal(path: object) -> str | None:
    if isinstance(path, int):  # an already open descriptor (os.stat(fd), os.listdir(fd))
        return None
    try:
        text = os.fsdecode(path)  # type: ignore[arg-type]
    except TypeError:
        return None
    return os.path.normpath(os.path.join(os.getcwd(), text)) if not os.path.isabs(text) else os.path.normpath(text)


def _loaded_source(path: str) -> bool:
    """`path` is the file of a module this process has already imported, or a directory on the way to one:
    code the process runs, not the machine's state. Python's own start-up may load modules from /etc (Debian's
    /etc/python3.11/sitecustomize.py), and pytest's traceback of a failing test resolves their paths
    (inspect.getmodule -> os.path.realpath lstat-s every directory on the way)."""
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if isinstance(source, str) and (source == path or source.startswith(path.rstrip("/") + "/")):
            return True
    return False


def path_refusal(path: str, *, write: bool) -> str | None:
    """Why touching `path` is refused (None: allowed)."""
    if path in _SELF_PATHS:
        return None
    if _own_proc(path):
        return None
    if any(_under(path, allowed) for allowed in ALLOWED_READ) and not write:
        return None
    if path in ALLOWED_WRITE:
        return None
    if _under(path, tempfile.gettempdir()):
        return None
    if any(_under(path, prefix) for prefix in DENIED):
        if not write and _loaded_source(path):
            return None
        return f"{'writes' if write else 'reads'} machine state at {path}"
    if write and not _under(path, str(REPO)):
        return f"writes outside the temp directory and the repository: {path}"
    return None


def _open_writes(mode: object, flags: object) -> bool:
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return True
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND))


def _loopback(host: object) -> bool:
    return isinstance(host, str) and (host in ("localhost", "") or host.startswith("127.") or host == "::1")


def _served_here(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # a UNIX socket path
        return os.fsdecode(address) in _bound_unix
    if not (isinstance(address, tuple) and len(address) >= 2 and _loopback(address[0])):
        return False
    port = address[1]
    for sock in list(_bound):
        try:
            if sock.getsockname()[1] == port:
                return True
        except (OSError, IndexError, TypeError):
            continue
    return False


def _command_refusal(args: tuple) -> str | None:
    executable, argv, _cwd, env = (list(args) + [None] * 4)[:4]
    program = os.fsdecode(executable) if executable else (os.fsdecode(argv[0]) if argv else "?")
    environment = os.environ if env is None else env  # None: the child inherits this process's environment
    if os.path.realpath(program) == os.path.realpath(sys.executable) and isinstance(environment, Mapping) \
            and environment.get(ENV_SWITCH) == "1":
        return None
    shown = " ".join(os.fsdecode(a) for a in argv) if isinstance(argv, (list, tuple)) else program
    return f"runs a program: {shown} (only this Python with guard.child_env() may run)"


def _check(event: str, args: tuple) -> str | None:
    if event == "open":
        path = _normal(args[0])
        if path is None:
            return None
        return path_refusal(path, write=_open_writes(args[1], args[2] if len(args) > 2 else 0))
    if event in ("os.listdir", "os.scandir", "os.chdir", STAT_EVENT, "os.chmod", "os.chown", "os.remove", "os.rename",
                 "os.rmdir", "os.mkdir", "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.rmtree",
                 "shutil.copyfile", "shutil.move", "os.setxattr", "os.removexattr"):
        path = _normal(args[0]) if args else None
        write = event not in ("os.listdir", "os.scandir", "os.chdir", STAT_EVENT)
        if event == "os.symlink" and len(args) > 1:  # (target, link): only the link is written; the target
            p = _normal(args[1])                       # is its text (often relative to the link's directory)
            return path_refusal(p, write=True) if p else None
        if event in ("os.rename", "os.link", "shutil.copyfile", "shutil.move") and len(args) > 1:
            for target in args[:2]:
                p = _normal(target)
                refusal = p and path_refusal(p, write=True)
                if refusal:
                    return refusal
            return None
        return path_refusal(path, write=write) if path else None
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
        return _command_refusal(args)
    if event in ("os.system", "os.spawn", "pty.spawn", "os.startfile"):
        return f"runs a program through {event}: {args[0] if args else '?'}"
    # os.fork is allowed: the child inherits this hook, and its exec is checked like any other (the `sh`
    # library, which mailtui's commands.run uses, forks and then execs).
    if event == "socket.bind":
        sock, address = args[0], args[1]
        if isinstance(address, (str, bytes)):
            _bound_unix.add(os.fsdecode(address))
        else:
            _bound.add(sock)
        return None
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if address is None:
            return None
        if _served_here(address):
            return None
        return f"connects to {address!r}, which this test does not serve"
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
                 "socket.gethostbyaddr", "socket.getnameinfo"):
        host = args[0]
        if isinstance(host, tuple):
            host = host[0]
        if host is None or _loopback(host):
            return None
        return f"looks up the name {host!r} (DNS)"
    if event == "socket.gethostname":
        return "asks for this machine's hostname (machine state)"
    return None


def _hook(event: str, args: tuple) -> None:
    if not _active or getattr(_in_hook, "busy", False):
        return
    _in_hook.busy = True
    try:
        refusal = _check(event, args)
        if refusal is None:
            return
        where = "".join(traceback.format_stack(limit=12)[:-2])
        with _lock:
            _refused.append(f"{refusal}\n{where}")
            if _report_path:  # a forked or guarded child's refusal reaches the parent through the file
                with open(_report_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"pid": os.getpid(), "refusal": refusal, "where": where}) + "\n")
    finally:
        _in_hook.busy = False
    raise MachineAccess(f"[machine guard] this test {refusal}")


# CPython raises no audit event for stat() and access(), so "is Postfix installed?" (shutil.which,
# os.path.exists, Path.is_file) would pass unseen: the os module's stat/lstat/access go through the hook
# as this event. (The import system calls posix.stat directly and is not affected.)
STAT_EVENT = "mailtui.guard.stat"


def _stat_checked(real):  # noqa: ANN001, ANN202
    def checked(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        _hook(STAT_EVENT, (path,))
        return real(path, *args, **kwargs)

    checked.__wrapped__ = real  # type: ignore[attr-defined]
    return checked


def _guard_stat() -> None:
    for name in ("stat", "lstat", "access"):
        real = getattr(os, name)
        if not hasattr(real, "__wrapped__"):
            setattr(os, name, _stat_checked(real))


def install(*, child: bool = False, active: bool = True) -> None:
    """Install the hook for this process (once; audit hooks cannot be removed) and switch it on."""
    global _active, _report_path, _child
    if not getattr(sys, "_mailtui_guard", False):
        sys.addaudithook(_hook)
        _guard_stat()
        sys._mailtui_guard = True  # type: ignore[attr-defined]
    _child = child
    _report_path = os.environ.get(ENV_REPORT) if child else _report_path
    if not child and _report_path is None:
        fd, _report_path = tempfile.mkstemp(prefix="mailtui-guard-", suffix=".jsonl")
        os.close(fd)
        atexit.register(_remove_report, _report_path, os.getpid())
        os.environ.update(child_env())  # every child Python inherits the guard
    _active = active


def _remove_report(path: str, pid: int) -> None:
    """The report file goes with the process that made it (not with a forked child that inherited the hook)."""
    if os.getpid() == pid:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def activate(on: bool) -> None:
    global _active
    _active = on


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child `sys.executable` process: the guard installs itself there too and
    reports what it refused into this process's report file."""
    env = dict(os.environ)
    path = [str(SITE_DIR), str(REPO)]
    path += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in path]
    env.update({"PYTHONPATH": os.pathsep.join(path), ENV_SWITCH: "1", ENV_REPORT: _report_path or ""})
    env.update(extra or {})
    return env


def take_refusals() -> list[str]:
    """What was refused since the last call, in this process and in its guarded children."""
    with _lock:
        found = list(_refused)
        _refused.clear()
        if _report_path and os.path.exists(_report_path):
            with open(_report_path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
            open(_report_path, "w").close()
            found += [f"(child {r['pid']}) {r['refusal']}\n{r['where']}" for r in map(json.loads, lines)
                      if r["pid"] != os.getpid()]
    return found


@contextmanager
def paused() -> Iterator[None]:
    """The guard off for the harness's own work (never around code under test)."""
    global _active
    before, _active = _active, False
    try:
        yield
    finally:
        _active = before


try:
    import pytest
except ImportError:  # a guarded child process need not have pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    @pytest.fixture(autouse=True)
    def machine_guard() -> Iterator[None]:
        """Autouse in tests/unit and tests/tui (their conftest imports it): the guard is on for the whole
        test; anything it refused — here or in a guarded child, caught by the code or not — fails it."""
        install(active=False)
        take_refusals()
        activate(True)
        try:
            yield
        finally:
            activate(False)
        found = take_refusals()
        if found:
            pytest.fail("the machine guard refused (unit and TUI tests never touch the machine; see tests/guard.py):\n"
                        + "\n".join(found[:5]) + (f"\n… and {len(found) - 5} more" if len(found) > 5 else ""),
                        pytrace=False)
