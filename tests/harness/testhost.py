"""Throwaway Debian test hosts for end-to-end tests (root only).

A test host is a copy-on-write overlay of a cached debootstrap base (bookworm or trixie) running in its own
mount, PID, UTS, IPC and network namespaces, joined to this machine by a veth pair (198.18.<n>.1 here,
198.18.<n>.2 inside, no default route inside). Its PID 1 is a tiny reaper (init.py); commands run inside via
nsenter. Killing that PID 1 kills the whole host; close() then removes mounts, netns, veth and temp dirs.

    with test_host("trixie") as host:
        host.run("apt-get install -y --no-download postfix", env={"DEBIAN_FRONTEND": "noninteractive"})
        host.mailtui("install", "--answers", "/root/answers.toml")

Cache layout (MAILTUI_TESTHOST_CACHE, default /var/cache/mailtui-testhosts):
    <release> -> bases/<release>-<build id>/
                                symlink to the current base root (debootstrap minbase + apt lists + the
                                stack's .debs). A rebuild/top-up makes a new bases/ entry and flips the
                                symlink; hosts keep the base they mounted; unused old bases are deleted.
    bases/.build-*              a build in progress (or killed: removed by the next build / clean)
    <release>.stamp.json        what the base was built from (format, base, mirror, package-list hash, timings)
    <release>.build.log         output of the last debootstrap / apt run for that release
    pydeps-<hash>/              pip --target of mailtui's runtime dependencies (pure Python)
    sessions/app-<pid>-<tok>/   pip --target of the repo's own mailtui, one per test process
    hosts/<id>/                 one live host: upper/ work/ merged/ meta.json init.log
    slots/<n>.lock              flock held by the host using 198.18.<n>.0/30
    .lock                       flock: exclusive while building, shared while mounting a base
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04): read the one list we need by hand
    tomllib = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASES: dict[str, str] = {"bookworm": "12", "trixie": "13"}
BASE_FORMAT = 2  # bump when the base build procedure changes: forces a full rebuild
BASE_INCLUDE = ["python3", "iproute2", "procps", "ca-certificates"]
DEFAULT_HOSTNAME = "mail.example.test"
NET_PREFIX = "198.18"  # 198.18.0.0/15 is reserved for benchmarks; one /30 per host: 198.18.<slot>.0/30
CLIENT_PREFIX = "198.19"  # extra client addresses of this machine for host <slot>: 198.19.<slot>.<k>/32
DEPS_MOUNT = "/opt/mailtui/deps"
APP_MOUNT = "/opt/mailtui/app"
MAILTUI_PYTHONPATH = f"{APP_MOUNT}:{DEPS_MOUNT}"
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
INIT_SCRIPT = Path(__file__).with_name("init.py")
POLICY_RC_D = "#!/bin/sh\n# mailtui test host: no service starts during apt; the installer starts them.\nexit 101\n"


class TestHostError(RuntimeError):
    """Building, starting or tearing down a test host failed."""

    __test__ = False


class CommandFailed(subprocess.CalledProcessError):
    """A command inside a test host exited non-zero; str() shows its output."""

    def __str__(self) -> str:
        text = f"{super().__str__()}"
        for name, data in (("stdout", self.stdout), ("stderr", self.stderr)):
            if data:
                text += f"\n--- {name} (last 3000 chars) ---\n{data[-3000:]}"
        return text


# ----------------------------------------------------------------------------------------------- helpers


def _log(message: str) -> None:
    print(f"[testhost] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _timed(what: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    _log(f"{what}: {time.monotonic() - start:.1f} s")


def cache_dir() -> Path:
    path = Path(os.environ.get("MAILTUI_TESTHOST_CACHE", "/var/cache/mailtui-testhosts")).resolve()
    if re.search(r"[,:\s]", str(path)):
        raise TestHostError(f"cache dir {path} must not contain ',', ':' or spaces (overlayfs options)")
    return path


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise TestHostError(f"'{name}' not found: test hosts need util-linux, iproute2 and debootstrap")
    return found


def _cmd(argv: Sequence[str | Path], *, what: str, log: Path | None = None, **kw: Any) -> str:
    """Run a host-side command; return stdout, or raise TestHostError naming `what` and the output."""
    argv = [str(a) for a in argv]
    if log is None:
        proc = subprocess.run(argv, capture_output=True, text=True, **kw)
        output = proc.stdout + proc.stderr
    else:
        with log.open("a") as fh:
            fh.write(f"\n$ {' '.join(argv)}\n")
            fh.flush()
            proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, text=True, **kw)
        output = log.read_text(errors="replace")[-4000:]
    if proc.returncode != 0:
        where = f" (full log: {log})" if log else ""
        raise TestHostError(f"{what} failed (exit {proc.returncode}){where}:\n{output[-4000:]}")
    return proc.stdout if log is None else ""


def require_root() -> None:
    if os.geteuid() != 0:
        uid = os.geteuid()
        raise TestHostError(f"test hosts need root (namespaces, mounts, debootstrap); running as uid {uid}")


@contextlib.contextmanager
def _lock(exclusive: bool, blocking: bool = True) -> Iterator[bool]:
    """Cache-wide flock: exclusive for building, shared while a host mounts a base. Not re-entrant.

    Yields whether the lock is held (always True when blocking).
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
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


def _write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(3)}")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)


def _write_in_root(root: Path, inside_path: str, text: str, mode: int = 0o644) -> None:
    """Write a file into a root dir from outside without following symlinks the root may contain."""
    target = root / inside_path.lstrip("/")
    if target.parent.is_symlink() or not target.parent.resolve().is_relative_to(root.resolve()):
        raise TestHostError(f"refusing to write {inside_path}: its directory leaves {root}")
    if target.is_symlink() or target.exists():
        target.unlink()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(target, mode)


def _dir_size(path: Path) -> int:
    out = subprocess.run(["du", "-sxb", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


# ------------------------------------------------------------------------------------------ apt sources


@dataclass(frozen=True)
class AptSources:
    archive: str  # e.g. http://deb.debian.org/debian
    security: str | None  # e.g. http://deb.debian.org/debian-security


def host_apt_sources(path: Path = HOST_SOURCES) -> AptSources:
    """The mirror this machine uses (deb822 URIs lines): the archive and, if present, the security archive."""
    if not path.exists():
        raise TestHostError(f"{path} not found: cannot tell which Debian mirror to debootstrap from")
    archive = security = None
    for stanza in re.split(r"\n\s*\n", path.read_text()):
        fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, flags=re.M))
        uri, suites = fields.get("URIs", "").split(), fields.get("Suites", "")
        if not uri:
            continue
        if "-security" in suites:
            security = security or uri[0]
        else:
            archive = archive or uri[0]
    if archive is None:
        raise TestHostError(f"no Debian archive URIs line in {path}")
    return AptSources(archive.rstrip("/"), security.rstrip("/") if security else None)


def sources_list(release: str, sources: AptSources) -> str:
    lines = [
        f"deb {sources.archive} {release} main",
        f"deb {sources.archive} {release}-updates main",
    ]
    if sources.security:
        lines.append(f"deb {sources.security} {release}-security main")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- base


def stack_packages() -> list[str]:
    """mailtui.steps.packages_list.all_possible_packages() of this repo."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from mailtui.steps.packages_list import all_possible_packages

    return sorted(set(all_possible_packages()))


def _hash(items: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


def base_dir(release: str) -> Path:
    """<cache>/<release>: a symlink to the current build, bases/<release>-<build id>/."""
    if release not in RELEASES:
        raise TestHostError(f"unknown release {release!r}; known: {', '.join(RELEASES)}")
    return cache_dir() / release


def _bases_root() -> Path:
    return cache_dir() / "bases"


def _current_base(release: str) -> Path | None:
    """The real directory <release> points at (what an overlay's lowerdir names), if any."""
    link = base_dir(release)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def _stamp_path(release: str) -> Path:
    return cache_dir() / f"{release}.stamp.json"


def _read_stamp(release: str) -> dict[str, Any] | None:
    try:
        return json.loads(_stamp_path(release).read_text())
    except (OSError, ValueError):
        return None


def _base_state(release: str) -> str:
    """'current', 'stale-packages' (top-up will do) or 'missing' (full build needed)."""
    stamp = _read_stamp(release)
    base = _current_base(release)
    if base is None or not stamp or stamp.get("format") != BASE_FORMAT or stamp.get("base") != base.name:
        return "missing"
    if stamp.get("packages_hash") != _hash(stack_packages()):
        return "stale-packages"
    return "current"


def ensure_base(release: str, *, force: bool = False) -> Path:
    """Build (or top up) the cached base for `release` if needed; return its directory."""
    require_root()
    base = base_dir(release)
    if not force and _base_state(release) == "current":
        return base
    with _lock(exclusive=True):
        state = "missing" if force else _base_state(release)
        if state == "current":
            return base
        _remove_unused_old_bases()
        build_id = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
        tmp = _bases_root() / f".build-{release}-{build_id}"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        timings: dict[str, float] = {}
        try:
            if state == "missing":
                _log(f"building {release} base in {tmp} (full debootstrap)")
                timings["debootstrap"] = _debootstrap(release, tmp)
            else:
                _log(f"package list changed: topping up a copy of the {release} base")
                t0 = time.monotonic()
                old = _current_base(release)
                _cmd(["cp", "-a", "--reflink=auto", old, tmp], what=f"copying the {release} base {old}")
                timings["copy"] = time.monotonic() - t0
            timings.update(_configure_base(release, tmp))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        final = tmp.with_name(f"{release}-{build_id}")
        tmp.rename(final)
        timings["total"] = time.monotonic() - start
        size = _dir_size(final)
        stamp = {
            "format": BASE_FORMAT,
            "release": release,
            "base": final.name,
            "mirror": host_apt_sources().archive,
            "packages": stack_packages(),
            "packages_hash": _hash(stack_packages()),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
            "size_bytes": size,
        }
        _write_atomic(_stamp_path(release), json.dumps(stamp, indent=2) + "\n")
        _point_at(release, final)
        _remove_unused_old_bases()
        _log(f"{release} base ready: {size / 1e6:.0f} MB, timings {stamp['timings_s']}")
    return base


def _debootstrap(release: str, dest: Path) -> float:
    log = cache_dir() / f"{release}.build.log"
    log.write_text(f"# debootstrap {release} {time.strftime('%c')}\n")
    mirror = host_apt_sources().archive
    start = time.monotonic()
    # In a private mount namespace: if debootstrap dies half-way, its proc/sys mounts die with it.
    argv = [
        _tool("unshare"), "--mount", "--propagation", "private", "--",
        _tool("debootstrap"), "--variant=minbase", f"--include={','.join(BASE_INCLUDE)}",
        release, dest, mirror,
    ]  # fmt: skip
    _cmd(argv, what=f"debootstrap of {release} from {mirror}", log=log)
    elapsed = time.monotonic() - start
    _log(f"debootstrap {release}: {elapsed:.1f} s")
    return elapsed


def _chroot(root: Path, script: str, *, what: str, log: Path) -> None:
    """Run a shell script chrooted into `root` with /proc mounted, on the host's network (build time only)."""
    inner = 'mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -ec "$2"'
    unshare = [_tool("unshare"), "--mount", "--propagation", "private", "--"]
    argv = [*unshare, "/bin/sh", "-c", inner, "sh", root, script]
    env = {"PATH": INSIDE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    _cmd(argv, what=what, log=log, env=env)


def _configure_base(release: str, root: Path) -> dict[str, float]:
    log = cache_dir() / f"{release}.build.log"
    sources = host_apt_sources()
    _write_in_root(root, "/etc/apt/sources.list", sources_list(release, sources))
    for extra in (root / "etc/apt/sources.list.d").glob("*"):
        extra.unlink()
    _write_in_root(root, "/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
    _write_in_root(root, "/etc/hostname", "localhost\n")
    _write_in_root(root, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write_in_root(root, "/etc/resolv.conf", Path("/etc/resolv.conf").read_text())  # build needs DNS
    for mountpoint in (DEPS_MOUNT, APP_MOUNT):
        (root / mountpoint.lstrip("/")).mkdir(parents=True, exist_ok=True)
    packages = " ".join(stack_packages())
    timings: dict[str, float] = {}
    start = time.monotonic()
    _chroot(root, "apt-get update", what=f"apt-get update in the {release} base", log=log)
    timings["apt_update"] = time.monotonic() - start
    start = time.monotonic()
    _chroot(
        root,
        f"apt-get install --download-only -y {packages}",
        what=f"downloading the stack's packages into the {release} base",
        log=log,
    )
    timings["download"] = time.monotonic() - start
    _log(f"{release}: apt-get update {timings['apt_update']:.1f} s, download {timings['download']:.1f} s")
    _write_in_root(root, "/etc/resolv.conf", "nameserver 127.0.0.1\n")
    return timings


def _overlay_lowers_in_use() -> set[str]:
    lowers: set[str] = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        if " - overlay " in line:
            lowers.update(re.findall(r"lowerdir=([^,\s]+)", line))
    return lowers


def _remove_unused_old_bases() -> list[str]:
    """Delete partial builds and superseded bases that no overlay uses any more. Hold the exclusive lock."""
    in_use = _overlay_lowers_in_use() | {str(b) for r in RELEASES if (b := _current_base(r))}
    removed = []
    for old in _bases_root().glob("*") if _bases_root().is_dir() else []:
        if old.name.startswith(".build-") or str(old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    for tmp in cache_dir().glob(".build-*"):  # a killed pydeps build
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp.name)
    for release in RELEASES:  # a base dir from before bases/ existed
        legacy = base_dir(release)
        if legacy.is_dir() and not legacy.is_symlink() and str(legacy) not in in_use:
            shutil.rmtree(legacy, ignore_errors=True)
            removed.append(legacy.name)
    return removed


def _point_at(release: str, base: Path) -> None:
    """Atomically make <cache>/<release> point at `base` (running hosts keep the base they mounted)."""
    link = base_dir(release)
    tmp = link.with_name(f".{release}.link-{secrets.token_hex(3)}")
    tmp.symlink_to(base.relative_to(cache_dir()))
    if link.exists() and not link.is_symlink():  # a base dir from before bases/ existed
        link.rename(_bases_root() / f"{release}-legacy-{secrets.token_hex(3)}")
    tmp.replace(link)


# ------------------------------------------------------------------------------------ python deps, app


def python_requirements() -> list[str]:
    """mailtui's runtime dependencies, read from the repo's pyproject.toml."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    if tomllib is not None:
        return sorted(tomllib.loads(text)["project"]["dependencies"])
    block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, flags=re.M | re.S)
    if not block:
        raise TestHostError("no [project] dependencies list in pyproject.toml")
    return sorted(re.findall(r'"([^"]+)"', block.group(1)))


def _pip() -> list[str]:
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    return [_tool("python3"), "-m", "pip"]


def pydeps_dir() -> Path:
    return cache_dir() / f"pydeps-{_hash(python_requirements())}"


def ensure_pydeps() -> Path:
    """pip --target of mailtui's (pure-Python) runtime deps; shared by all hosts, mounted read-only."""
    target = pydeps_dir()
    if (target / ".complete").exists():
        return target
    with _lock(exclusive=True):
        if (target / ".complete").exists():
            return target
        tmp = target.with_name(f".build-{target.name}-{secrets.token_hex(4)}")
        with _timed(f"pip install --target {target.name}"):
            _cmd(
                [*_pip(), "install", "--quiet", "--no-compile", "--target", tmp, *python_requirements()],
                what=f"pip install of mailtui's runtime deps ({', '.join(python_requirements())})",
            )
        binaries = [str(p.relative_to(tmp)) for p in tmp.rglob("*.so")]
        if binaries:
            shutil.rmtree(tmp, ignore_errors=True)
            raise TestHostError(f"runtime deps are not pure Python, cannot share them between releases: {binaries}")
        (tmp / ".complete").write_text(json.dumps(python_requirements()) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


def compile_pydeps(release: str) -> None:
    """Byte-compile the shared deps with `release`'s python3 at their in-host path (fast imports inside)."""
    pydeps = ensure_pydeps()
    marker = pydeps / f".compiled-{release}"
    if marker.exists():
        return
    base = ensure_base(release)
    with _lock(exclusive=True):
        if marker.exists():
            return
        inner = f'mount --bind "$1" "$2{DEPS_MOUNT}" && exec chroot "$2" python3 -m compileall -q -j 0 {DEPS_MOUNT}'
        argv = [_tool("unshare"), "--mount", "--propagation", "private", "--", "/bin/sh", "-c", inner, "sh",
                pydeps, base]  # fmt: skip
        with _timed(f"compiling runtime deps with {release}'s python3"):
            _cmd(argv, what=f"compileall of {pydeps} with {release}'s python3", env={"PATH": INSIDE_PATH})
        marker.write_text("")


_APP_DIRS: dict[Path, Path] = {}
_APP_LOCK = threading.Lock()


def build_app_dir(repo: Path = REPO_ROOT) -> Path:
    """`pip install --no-deps --target` of the repo's own mailtui, once per test process (removed at exit).

    Built from a scratch copy so that setuptools leaves no build/ or *.egg-info in the work tree.
    """
    repo = repo.resolve()
    with _APP_LOCK:
        if repo in _APP_DIRS:
            return _APP_DIRS[repo]
        sessions = cache_dir() / "sessions"
        sessions.mkdir(parents=True, exist_ok=True)
        target = sessions / f"app-{os.getpid()}-{secrets.token_hex(3)}"
        with tempfile.TemporaryDirectory(prefix="mailtui-src-") as src_dir:
            src = Path(src_dir)
            for name in ("pyproject.toml", "README.md", "LICENSE", "mailtui", "screens", "assets"):
                if (repo / name).is_dir():
                    shutil.copytree(repo / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
                elif (repo / name).exists():
                    shutil.copy2(repo / name, src / name)
            if not (src / "README.md").exists():
                (src / "README.md").write_text("mailtui\n")  # pyproject names it as readme
            with _timed("pip install --no-deps of the repo's mailtui"):
                _cmd(
                    [*_pip(), "install", "--quiet", "--no-deps", "--no-compile", "--target", target, src],
                    what=f"pip install of mailtui from {repo}",
                )
        _APP_DIRS[repo] = target
        return target


@atexit.register
def _remove_app_dirs() -> None:
    for target in _APP_DIRS.values():
        shutil.rmtree(target, ignore_errors=True)
    _APP_DIRS.clear()


# ------------------------------------------------------------------------------------- process helpers


def _proc_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    return [p for p in _proc_pids() if _ppid(p) == pid]


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for p in _proc_pids():
        pp = _ppid(p)
        if pp is not None:
            parents.setdefault(pp, []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _ns_id(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def _pids_in_namespaces(ns_ids: set[str]) -> list[int]:
    """Processes (other than us) that are in any of the given namespaces, e.g. {'net:[4026532301]'}."""
    me = os.getpid()
    found = []
    for pid in _proc_pids():
        if pid != me and any(_ns_id(pid, kind) in ns_ids for kind in ("pid", "mnt", "net")):
            found.append(pid)
    return found


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in our mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _umount(point: str) -> None:
    if subprocess.run([_tool("umount"), point], capture_output=True).returncode != 0:
        subprocess.run([_tool("umount"), "-l", point], capture_output=True)


def _netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


# ------------------------------------------------------------------------------------------- the host

_INIT_SETUP = r"""
set -eu
R="$1"; HN="$2"; DEPS="$3"; APP="$4"
mount -t proc -o nosuid,nodev,noexec proc "$R/proc"
printf %s "$HN" > "$R/proc/sys/kernel/hostname"
# /proc/sys read-only except /proc/sys/net (per network namespace): no sysctl write reaches this machine.
mount --bind "$R/proc/sys" "$R/proc/sys"
mount -o remount,bind,ro,nosuid,nodev,noexec "$R/proc/sys"
mount --bind "$R/proc/sys/net" "$R/proc/sys/net"
mount -o remount,bind,rw,nosuid,nodev,noexec "$R/proc/sys/net"
if [ -e "$R/proc/sysrq-trigger" ]; then
    mount --bind "$R/proc/sysrq-trigger" "$R/proc/sysrq-trigger"
    mount -o remount,bind,ro "$R/proc/sysrq-trigger"
fi
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"
mount -t tmpfs -o mode=755,size=16m,nosuid tmpfs "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
mknod -m 666 "$R/dev/zero" c 1 5
mknod -m 666 "$R/dev/full" c 1 7
mknod -m 666 "$R/dev/random" c 1 8
mknod -m 666 "$R/dev/urandom" c 1 9
mknod -m 666 "$R/dev/tty" c 5 0
mkdir -m 755 "$R/dev/pts"
mkdir -m 1777 "$R/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$R/dev/pts"
ln -s pts/ptmx "$R/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$R/dev/shm"
ln -s /proc/self/fd "$R/dev/fd"
ln -s /proc/self/fd/0 "$R/dev/stdin"
ln -s /proc/self/fd/1 "$R/dev/stdout"
ln -s /proc/self/fd/2 "$R/dev/stderr"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$R/run"
mkdir -m 1777 "$R/run/lock"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"
mount --bind "$DEPS" "$R/opt/mailtui/deps"
mount -o remount,bind,ro "$R/opt/mailtui/deps"
mount --bind "$APP" "$R/opt/mailtui/app"
mount -o remount,bind,ro "$R/opt/mailtui/app"
# pivot_root (not chroot): drops this namespace's copies of every other mount on the machine.
cd "$R"
pivot_root . mnt
cd /
umount -l /mnt
exec /usr/bin/python3 - mailtui-testhost-init
"""


_LIVE: dict[str, TestHost] = {}


@dataclass
class TestHost:
    """One running throwaway host. Create with test_host(); everything is torn down by close()."""

    __test__ = False

    release: str
    hostname: str
    id: str
    slot: int
    dir: Path  # hosts/<id>: upper/ work/ merged/ meta.json init.log
    init_pid: int = 0  # PID 1 of the host, as seen from this machine
    ns_ids: set[str] = field(default_factory=set)
    _proc: subprocess.Popen[bytes] | None = None
    _slot_fd: int | None = None
    _overlay_dev: int | None = None
    _closed: bool = False
    _client_addresses: list[str] = field(default_factory=list)

    @property
    def ip(self) -> str:
        return f"{NET_PREFIX}.{self.slot}.2"

    @property
    def gateway_ip(self) -> str:
        """This machine's end of the veth pair (the source address of connections from the test runner)."""
        return f"{NET_PREFIX}.{self.slot}.1"

    @property
    def root(self) -> Path:
        """The merged overlay, readable/writable from outside (without the host's /proc, /dev, /run, /tmp)."""
        return self.dir / "merged"

    @property
    def netns(self) -> str:
        return f"mt-{self.id}"

    @property
    def veth(self) -> str:
        return f"mtv{self.id}a"

    # -------------------------------------------------------------------------------- running things

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        base = {"PATH": INSIDE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root",
                "SHELL": "/bin/sh"}  # fmt: skip
        return {**base, **(env or {})}

    def _argv(self, cmd: Sequence[str] | str) -> list[str]:
        if self._closed or not self.init_pid:
            raise TestHostError(f"test host {self.id} is not running")
        inner = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        enter = [_tool("nsenter"), "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--"]
        return [*enter, *inner]

    def run(
        self,
        cmd: Sequence[str] | str,
        *,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside (a str runs via /bin/sh -c) as root in /, with a clean environment.

        stdin/stdout/stderr are temp files, never pipes: a daemon the command starts may keep them open
        without making this hang. On timeout the command and its children are killed (daemons it detached
        survive until close()) and subprocess.TimeoutExpired is raised.
        """
        argv = self._argv(cmd)
        temp = tempfile.TemporaryFile
        with temp() as out, temp() as err, temp() as inp:
            if input is not None:
                inp.write(input.encode() if isinstance(input, str) else input)
                inp.seek(0)
            stdin: IO[bytes] | int = inp if input is not None else subprocess.DEVNULL
            proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=self._env(env))
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill([*_descendants(proc.pid), proc.pid])
                proc.wait()
                raise subprocess.TimeoutExpired(cmd, timeout, _read(out), _read(err)) from None
            stdout, stderr = _read(out), _read(err)
        result = subprocess.CompletedProcess(cmd, returncode, stdout, stderr)
        if check and returncode != 0:
            raise CommandFailed(returncode, cmd, stdout, stderr)
        return result

    def mailtui(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        """`python3 -m mailtui ARGS` inside, with the repo's mailtui and its deps on PYTHONPATH."""
        kw["env"] = {"PYTHONPATH": MAILTUI_PYTHONPATH, **(kw.get("env") or {})}
        return self.run(["python3", "-m", "mailtui", *args], **kw)

    def interactive(self, cmd: Sequence[str] = ("/bin/bash", "-l"), env: dict[str, str] | None = None) -> int:
        """Run a command inside on this terminal (for `scripts/testhost shell`)."""
        term = {"TERM": os.environ.get("TERM", "xterm"), "PS1": rf"\u@{self.hostname}({self.release}):\w\$ "}
        return subprocess.call(self._argv(cmd), env=self._env({**term, **(env or {})}))

    def add_client_address(self) -> str:
        """One more source address of this machine towards the host, beside gateway_ip (e.g. a second
        client for a test that gets one client banned): 198.19.<slot>.<k>/32 on this machine's end of the
        veth pair, with a route to it inside the host. Bind it as a socket's source address. Nothing outside
        the veth and the host's namespace is touched; both go at close()."""
        k = len(self._client_addresses) + 1
        if k > 254:
            raise TestHostError(f"host {self.id}: no more client addresses")
        address = f"{CLIENT_PREFIX}.{self.slot}.{k}"
        used = subprocess.run([_tool("ip"), "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
        used += subprocess.run([_tool("ip"), "-4", "route", "show", "table", "all"], capture_output=True,
                               text=True).stdout
        if re.search(rf"\b{re.escape(address)}\b", used):
            raise TestHostError(f"{address} is already in use on this machine: not adding it")
        ip = _tool("ip")
        _cmd([ip, "addr", "add", f"{address}/32", "dev", self.veth], what=f"adding client address {address}")
        _cmd([ip, "-n", self.netns, "route", "add", f"{address}/32", "dev", "eth0"],
             what=f"routing {address} inside host {self.id}")
        self._client_addresses.append(address)
        return address

    def write_file(self, path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace a file inside (parent dirs created), owned by root."""
        script = 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"'
        self.run(["/bin/sh", "-c", script, "sh", path, f"{mode:o}"], input=content)

    def read_file(self, path: str) -> str:
        return self.run(["cat", "--", path]).stdout

    def start_daemon(self, cmd: Sequence[str] | str, *, log: str | None = None) -> int:
        """Start a detached background process inside; returns its PID inside the host.

        Its stdin is /dev/null and stdout/stderr append to `log` inside (default /var/log/testhost-<n>.log).
        """
        log = log or f"/var/log/testhost-{secrets.token_hex(3)}.log"
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        script = 'log="$1"; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!'
        return int(self.run(["/bin/sh", "-c", script, "sh", log, *argv]).stdout.strip())

    def wait_tcp(self, port: int, timeout: float = 15) -> None:
        """Wait until host.ip:port accepts a TCP connection from this machine."""
        import socket

        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.ip, port), timeout=1):
                    return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise TestHostError(f"{self.ip}:{port} refuses connections after {timeout} s: {exc}") from exc
                time.sleep(0.1)

    # ---------------------------------------------------------------------------- start and teardown

    def _meta(self) -> dict[str, Any]:
        return {
            "id": self.id, "release": self.release, "hostname": self.hostname, "slot": self.slot,
            "netns": self.netns, "veth": self.veth, "init_pid": self.init_pid, "ns_ids": sorted(self.ns_ids),
            "owner_pid": os.getpid(), "owner_start": _start_time(os.getpid()),
        }  # fmt: skip

    def _save_meta(self) -> None:
        _write_atomic(self.dir / "meta.json", json.dumps(self._meta(), indent=2) + "\n")

    def _start(self, base: Path, deps: Path, app: Path) -> None:
        for sub in ("upper", "work", "merged"):
            (self.dir / sub).mkdir()
        self._save_meta()
        opts = f"lowerdir={base},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}"
        _cmd([_tool("mount"), "-t", "overlay", "overlay", "-o", opts, self.root], what="overlay mount")
        self._overlay_dev = os.stat(self.root).st_dev
        self._write_identity()
        self._setup_network()
        self._start_init(deps, app)

    def _write_identity(self) -> None:
        short = self.hostname.split(".")[0]
        _write_in_root(self.root, "/etc/hostname", f"{self.hostname}\n")
        hosts = f"127.0.0.1\tlocalhost\n{self.ip}\t{self.hostname} {short}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        _write_in_root(self.root, "/etc/hosts", hosts)
        _write_in_root(self.root, "/etc/resolv.conf", "nameserver 127.0.0.1\n")
        # Every installed Debian has this link (systemd or initscripts make it); minbase does not,
        # and doveconf then reports "setmntent(/etc/mtab) failed" on every run.
        mtab = self.root / "etc" / "mtab"
        if not mtab.exists() and not mtab.is_symlink():
            mtab.symlink_to("../proc/self/mounts")

    def _setup_network(self) -> None:
        ip, inside = _tool("ip"), f"mtv{self.id}b"
        steps = [
            [ip, "netns", "add", self.netns],
            [ip, "link", "add", self.veth, "type", "veth", "peer", "name", inside, "netns", self.netns],
            [ip, "addr", "add", f"{self.gateway_ip}/30", "dev", self.veth],
            [ip, "link", "set", self.veth, "up"],
            [ip, "-n", self.netns, "link", "set", inside, "name", "eth0"],
            [ip, "-n", self.netns, "addr", "add", f"{self.ip}/30", "dev", "eth0"],
            [ip, "-n", self.netns, "link", "set", "eth0", "up"],
            [ip, "-n", self.netns, "link", "set", "lo", "up"],
        ]
        for argv in steps:
            _cmd(argv, what=f"network setup ({' '.join(argv[1:])})")

    def _start_init(self, deps: Path, app: Path) -> None:
        argv = [
            _tool("ip"), "netns", "exec", self.netns,
            _tool("unshare"), "--mount", "--pid", "--uts", "--ipc", "--fork", "--propagation=private", "--",
            "/bin/sh", "-c", _INIT_SETUP, "sh", str(self.root), self.hostname, str(deps), str(app),
        ]  # fmt: skip
        log_path = self.dir / "init.log"
        with INIT_SCRIPT.open("rb") as script, log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                argv, stdin=script, stdout=subprocess.PIPE, stderr=log, env={"PATH": INSIDE_PATH},
                start_new_session=True,  # a Ctrl-C at the terminal must not kill PID 1 before close() runs
            )  # fmt: skip
        line = _read_line(self._proc, timeout=30)
        if not line.startswith("ready"):
            log_text = log_path.read_text(errors="replace")[-3000:]
            raise TestHostError(f"test host init did not start (got {line!r}); init.log:\n{log_text}")
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        children = _children(self._proc.pid)
        if len(children) != 1:
            raise TestHostError(f"expected one init under unshare pid {self._proc.pid}, found {children}")
        self.init_pid = children[0]
        self.ns_ids = {i for k in ("pid", "mnt", "net") if (i := _ns_id(self.init_pid, k))}
        self._save_meta()

    def leftovers(self) -> list[str]:
        """Anything of this host still on the machine (empty after a clean close())."""
        found = []
        others = set().union(*(h.ns_ids for h in _LIVE.values() if h is not self))
        ours = self.ns_ids - others
        for pid in _pids_in_namespaces(ours) if ours else []:
            found.append(f"process {pid} in the host's namespaces: {_cmdline(pid)}")
        if self._overlay_dev is not None:
            other_devs = {h._overlay_dev for h in _LIVE.values() if h is not self}
            for pid in _proc_pids():
                with contextlib.suppress(OSError):
                    dev = os.stat(f"/proc/{pid}/root").st_dev
                    if dev == self._overlay_dev and dev not in other_devs:
                        found.append(f"process {pid} rooted in the host's overlay: {_cmdline(pid)}")
        found += [f"mount {m}" for m in _mounts_under(self.dir)]
        if _netns_exists(self.netns):
            found.append(f"netns {self.netns}")
        if _link_exists(self.veth):
            found.append(f"veth {self.veth}")
        if self.dir.exists():
            found.append(f"directory {self.dir}")
        return found

    def close(self) -> None:
        """Kill the whole host (SIGKILL to its PID 1), unmount, delete netns/veth/upper. Idempotent."""
        if self._closed:
            return
        self._closed = True
        start = time.monotonic()
        try:
            _teardown(self.dir, self._meta(), self._proc)
        finally:
            if self._slot_fd is not None:
                os.close(self._slot_fd)
                self._slot_fd = None
            _LIVE.pop(self.id, None)
        _log(f"host {self.id} ({self.release}) torn down in {time.monotonic() - start:.2f} s")


def _read(fh: IO[bytes]) -> str:
    fh.seek(0)
    return fh.read().decode(errors="replace")


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([proc.stdout], [], [], remaining)[0]:
            return data.decode(errors="replace") or "<timeout>"
        chunk = os.read(proc.stdout.fileno(), 256)
        if not chunk:
            return data.decode(errors="replace") or f"<EOF, exit {proc.wait()}>"
        data += chunk
    return data.decode(errors="replace").strip()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _teardown(host_dir: Path, meta: dict[str, Any], proc: subprocess.Popen[bytes] | None = None) -> None:
    """Kill, unmount and delete everything a host (live or stale, described by meta.json) left behind."""
    ns_ids = set(meta.get("ns_ids") or [])
    init_pid = meta.get("init_pid") or 0
    victims: dict[int, str | None] = {}
    if init_pid and _ns_id(init_pid, "pid") in ns_ids:  # still our init, not a recycled PID
        # Snapshot now: once the namespaces are freed, their inode numbers can be reused by another host.
        victims = {pid: _start_time(pid) for pid in _pids_in_namespaces(ns_ids)}
        _kill([init_pid])  # the kernel kills everything else in the PID namespace
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 5
    while victims and time.monotonic() < deadline:
        victims = {pid: st for pid, st in victims.items() if st is not None and _start_time(pid) == st}
        _kill(list(victims))
        time.sleep(0.02)
    for point in _mounts_under(host_dir):
        _umount(point)
    ip = _tool("ip")
    if meta.get("veth") and _link_exists(meta["veth"]):
        subprocess.run([ip, "link", "del", meta["veth"]], capture_output=True)
    if meta.get("netns") and _netns_exists(meta["netns"]):
        pids = subprocess.run([ip, "netns", "pids", meta["netns"]], capture_output=True, text=True).stdout
        _kill([int(pid) for pid in pids.split()])
        subprocess.run([ip, "netns", "del", meta["netns"]], capture_output=True)
    remaining = _mounts_under(host_dir)
    if remaining:
        raise TestHostError(f"could not unmount {remaining}; leaving {host_dir} in place")
    shutil.rmtree(host_dir, ignore_errors=True)
    if host_dir.exists():
        raise TestHostError(f"could not remove {host_dir}")


def _claim_slot() -> tuple[int, int]:
    """A free 198.18.<n>.0/30 (n in 1..254): flock slots/<n>.lock and check nothing on the machine uses it."""
    slots = cache_dir() / "slots"
    slots.mkdir(parents=True, exist_ok=True)
    used = ""
    for argv in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
        used += subprocess.run([_tool("ip"), *argv], capture_output=True, text=True).stdout
    candidates = list(range(1, 255))
    random.shuffle(candidates)
    for n in candidates:
        if f"{NET_PREFIX}.{n}." in used:
            continue
        fd = os.open(slots / f"{n}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                continue
            raise
        return n, fd
    raise TestHostError(f"no free {NET_PREFIX}.<n>.0/30 slot (all 254 in use?): run `scripts/testhost clean`")


def create_host(release: str, hostname: str = DEFAULT_HOSTNAME) -> TestHost:
    """Start a throwaway host (building/caching its base, deps and app first if needed). Call close()."""
    require_root()
    _install_sigterm_handler()
    deps = ensure_pydeps()
    compile_pydeps(release)
    app = build_app_dir()
    start = time.monotonic()
    host_id = secrets.token_hex(4)
    host_dir = cache_dir() / "hosts" / host_id
    host_dir.mkdir(parents=True)
    slot, slot_fd = _claim_slot()
    host = TestHost(release=release, hostname=hostname, id=host_id, slot=slot, dir=host_dir, _slot_fd=slot_fd)
    _LIVE[host_id] = host
    try:
        while True:
            with _lock(exclusive=False):
                base = _current_base(release)
                if base is not None and _base_state(release) == "current":
                    host._start(base, deps, app)
                    break
            ensure_base(release)
    except BaseException:
        host.close()
        raise
    _log(f"host {host_id} ({release}, {hostname}) at {host.ip} up in {time.monotonic() - start:.2f} s")
    return host


@contextlib.contextmanager
def test_host(release: str, hostname: str = DEFAULT_HOSTNAME) -> Iterator[TestHost]:
    """A throwaway host for the duration of the block; always torn down, even on errors."""
    host = create_host(release, hostname)
    try:
        yield host
    finally:
        host.close()


test_host.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one


@atexit.register
def _close_all() -> None:
    for host in list(_LIVE.values()):
        with contextlib.suppress(Exception):
            host.close()


_SIGTERM_INSTALLED = False


def _install_sigterm_handler() -> None:
    """Turn SIGTERM into SystemExit so finalizers and atexit tear hosts down (unless SIGTERM is handled)."""
    global _SIGTERM_INSTALLED
    if _SIGTERM_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    _SIGTERM_INSTALLED = True


# ------------------------------------------------------------------------------------------------ clean


def _owner_alive(meta: dict[str, Any]) -> bool:
    pid = meta.get("owner_pid")
    return bool(pid) and _start_time(int(pid)) == meta.get("owner_start")


def clean(*, everything: bool = False) -> list[str]:
    """Remove leftovers of hosts whose test process died (all hosts with everything=True).

    Also: stale mt-* netns and mtv* veths, app dirs of dead processes, unused old bases and partial builds.
    Returns what it removed.
    """
    require_root()
    root = cache_dir()
    done: list[str] = []
    live_netns: set[str] = set()
    for host_dir in sorted((root / "hosts").glob("*")) if (root / "hosts").is_dir() else []:
        try:
            meta = json.loads((host_dir / "meta.json").read_text())
        except (OSError, ValueError):
            meta = {"netns": f"mt-{host_dir.name}", "veth": f"mtv{host_dir.name}a"}
            try:
                age = time.time() - host_dir.stat().st_mtime
            except FileNotFoundError:  # torn down meanwhile by its own test (or another clean)
                continue
            if age < 60:  # maybe just being created
                live_netns.add(meta["netns"])
                continue
        if _owner_alive(meta) and not everything:
            live_netns.add(meta.get("netns", ""))
            continue
        _teardown(host_dir, meta)
        done.append(f"host {host_dir.name}")
    ip = _tool("ip")
    for name in os.listdir("/run/netns") if Path("/run/netns").is_dir() else []:
        if name.startswith("mt-") and name not in live_netns:
            _teardown(root / "hosts" / name[3:], {"netns": name, "veth": f"mtv{name[3:]}a"})
            done.append(f"netns {name}")
    for link in os.listdir("/sys/class/net"):
        if re.fullmatch(r"mtv[0-9a-f]{8}a", link) and f"mt-{link[3:11]}" not in live_netns:
            subprocess.run([ip, "link", "del", link], capture_output=True)
            done.append(f"veth {link}")
    for point in _mounts_under(root):
        if not any(point.startswith(str(root / "hosts" / n[3:])) for n in live_netns):
            _umount(point)
            done.append(f"mount {point}")
    for app in (root / "sessions").glob("app-*") if (root / "sessions").is_dir() else []:
        pid = int(app.name.split("-")[1])
        if everything or _start_time(pid) is None:
            shutil.rmtree(app, ignore_errors=True)
            done.append(f"app dir {app.name}")
    with _lock(exclusive=True, blocking=False) as locked:
        if not locked:
            done.append("a build is running: left partial builds and old bases alone")
            return done
        done += [f"partial/old base {name}" for name in _remove_unused_old_bases()]
        if not live_netns:  # nobody can be using an outdated deps dir
            for old in root.glob("pydeps-*"):
                if old != pydeps_dir():
                    shutil.rmtree(old, ignore_errors=True)
                    done.append(f"outdated deps {old.name}")
    return done


def purge() -> None:
    """clean(everything=True), then delete the whole cache (bases, deps)."""
    clean(everything=True)
    if _mounts_under(cache_dir()):
        raise TestHostError(f"mounts remain under {cache_dir()}: {_mounts_under(cache_dir())}")
    shutil.rmtree(cache_dir(), ignore_errors=True)
