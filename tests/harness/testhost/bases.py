"""Cached per-release bases: a debootstrap minbase of Debian 12 or 13 whose apt cache holds every .deb the
stack (mailtui's package list) and the harness's own test services (TEST_PACKAGES) need, so that hosts
install offline.

    <cache>/<release> -> bases/<release>-<build id>/   symlink to the current base root; a rebuild or top-up
                                                       makes a new entry and flips the link; hosts keep the
                                                       base they mounted; unused old bases are deleted
    <cache>/bases/.build-<release>-*                   a build in progress (or killed)
    <cache>/<release>.stamp.json                       what the base was built from (format, mirror, packages)
    <cache>/<release>.build.log                        output of the last debootstrap / apt run
    <cache>/.build-<release>.lock                      held while <release>'s base is built (one per release:
                                                       both releases build at once on a cold cache)
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.testhost import procs
from tests.harness.testhost.common import (
    APP_MOUNT,
    DEPS_MOUNT,
    INSIDE_PATH,
    RELEASES,
    REPO_ROOT,
    TestHostError,
    cache_dir,
    cache_lock,
    cmd,
    dir_size,
    file_lock,
    log,
    require_root,
    short_hash,
    tool,
    write_atomic,
    write_in_root,
)

BASE_FORMAT = 3  # bump when the base build procedure changes: forces a full rebuild (3: the test packages)
BASE_INCLUDE = ["python3", "iproute2", "procps", "ca-certificates"]
# Packages of the harness's own test services (not of mailtui): downloaded into every base, installed by the
# layers that need them. nsd: the test network's authoritative DNS (see dns.py). SYSTEMD_PACKAGES: the
# systemd layer (systemd as PID 1, sshd, as on a real server; see systemd_layer.py). python3-dkim: dkimpy,
# which verifies DKIM signatures inside a test host (a different implementation from the signer).
SYSTEMD_PACKAGES = ["systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server"]
# cron: what rspamd depends on where systemd is not installed (`cron-daemon | systemd-sysv`-style); the
# base downloads everything in one apt run, with systemd-sysv, so apt alone would not fetch it.
# BROWSER: the webmail's browser tests (Debian's chromium driven by Selenium, inside a test host).
BROWSER_PACKAGES = ["chromium", "chromium-driver", "python3-selenium"]
TEST_PACKAGES = ["nsd", "openssh-client", "tmux", "python3-dkim", "cron", "pebble", *SYSTEMD_PACKAGES,
                 *BROWSER_PACKAGES]
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
POLICY_RC_D = "#!/bin/sh\n# mailtui test host: no service starts during apt; the installer starts them.\nexit 101\n"


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
    lines = [f"deb {sources.archive} {release} main", f"deb {sources.archive} {release}-updates main"]
    if sources.security:
        lines.append(f"deb {sources.security} {release}-security main")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- the state


def stack_packages() -> list[str]:
    """mailtui.steps.packages_list.all_possible_packages() of this repo."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from mailtui.steps.packages_list import all_possible_packages

    return sorted(set(all_possible_packages()))


def cached_packages() -> list[str]:
    """Everything a base's apt cache holds: the stack's packages and the harness's test packages."""
    return sorted({*stack_packages(), *TEST_PACKAGES})


def base_dir(release: str) -> Path:
    """<cache>/<release>: a symlink to the current build, bases/<release>-<build id>/."""
    if release not in RELEASES:
        raise TestHostError(f"unknown release {release!r}; known: {', '.join(RELEASES)}")
    return cache_dir() / release


def bases_root() -> Path:
    return cache_dir() / "bases"


def current_base(release: str) -> Path | None:
    """The real directory <release> points at (what an overlay's lowerdir names), if any."""
    link = base_dir(release)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def stamp_path(release: str) -> Path:
    return cache_dir() / f"{release}.stamp.json"


def read_stamp(release: str) -> dict[str, Any] | None:
    try:
        return json.loads(stamp_path(release).read_text())
    except (OSError, ValueError):
        return None


def base_state(release: str) -> str:
    """'current', 'stale-packages' (top-up will do) or 'missing' (full build needed)."""
    stamp = read_stamp(release)
    base = current_base(release)
    if base is None or not stamp or stamp.get("format") != BASE_FORMAT or stamp.get("base") != base.name:
        return "missing"
    if stamp.get("packages_hash") != short_hash(cached_packages()):
        return "stale-packages"
    return "current"


# ------------------------------------------------------------------------------------------- building


def ensure_base(release: str, *, force: bool = False) -> Path:
    """Build (or top up) the cached base for `release` if needed; return its current directory."""
    require_root()
    if not force and base_state(release) == "current":
        return current_base(release) or base_dir(release)
    with file_lock(cache_dir() / f".build-{release}.lock", exclusive=True):
        state = "missing" if force else base_state(release)
        if state != "current":
            _build(release, state)
    base = current_base(release)
    if base is None:
        raise TestHostError(f"no {release} base after building it")
    return base


def _build(release: str, state: str) -> None:
    """Build into bases/.build-*, then (under the cache lock, briefly) point <release> at it."""
    for partial in bases_root().glob(f".build-{release}-*") if bases_root().is_dir() else []:
        shutil.rmtree(partial, ignore_errors=True)  # a killed build of this release (we hold its lock)
    build_id = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(3)
    tmp = bases_root() / f".build-{release}-{build_id}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    timings: dict[str, float] = {}
    try:
        if state == "missing":
            log(f"building {release} base in {tmp} (full debootstrap)")
            timings["debootstrap"] = _debootstrap(release, tmp)
        else:
            log(f"package list changed: topping up a copy of the {release} base")
            t0 = time.monotonic()
            old = current_base(release)
            cmd(["cp", "-a", "--reflink=auto", old, tmp], what=f"copying the {release} base {old}")
            timings["copy"] = time.monotonic() - t0
        timings.update(_configure(release, tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = tmp.with_name(f"{release}-{build_id}")
    tmp.rename(final)
    timings["total"] = time.monotonic() - start
    size = dir_size(final)
    stamp = {
        "format": BASE_FORMAT,
        "release": release,
        "base": final.name,
        "mirror": host_apt_sources().archive,
        "packages": cached_packages(),
        "packages_hash": short_hash(cached_packages()),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "size_bytes": size,
    }
    with cache_lock(exclusive=True):
        write_atomic(stamp_path(release), json.dumps(stamp, indent=2) + "\n")
        _point_at(release, final)
        remove_unused_old_bases()
    log(f"{release} base ready: {size / 1e6:.0f} MB, timings {stamp['timings_s']}")


def _debootstrap(release: str, dest: Path) -> float:
    build_log = cache_dir() / f"{release}.build.log"
    build_log.write_text(f"# debootstrap {release} {time.strftime('%c')}\n")
    mirror = host_apt_sources().archive
    start = time.monotonic()
    # In a private mount namespace: if debootstrap dies half-way, its proc/sys mounts die with it.
    argv = [
        tool("unshare"), "--mount", "--propagation", "private", "--",
        tool("debootstrap"), "--variant=minbase", f"--include={','.join(BASE_INCLUDE)}", release, dest, mirror,
    ]  # fmt: skip
    cmd(argv, what=f"debootstrap of {release} from {mirror}", log_file=build_log)
    elapsed = time.monotonic() - start
    log(f"debootstrap {release}: {elapsed:.1f} s")
    return elapsed


def _chroot(root: Path, script: str, *, what: str, build_log: Path) -> None:
    """Run a shell script chrooted into `root` with /proc mounted, on this machine's network (build time only:
    the one moment a base talks to the Debian mirror)."""
    inner = 'mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -ec "$2"'
    unshare = [tool("unshare"), "--mount", "--propagation", "private", "--"]
    argv = [*unshare, "/bin/sh", "-c", inner, "sh", root, script]
    env = {"PATH": INSIDE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
    cmd(argv, what=what, log_file=build_log, env=env)


def _configure(release: str, root: Path) -> dict[str, float]:
    build_log = cache_dir() / f"{release}.build.log"
    write_in_root(root, "/etc/apt/sources.list", sources_list(release, host_apt_sources()))
    for extra in (root / "etc/apt/sources.list.d").glob("*"):
        extra.unlink()
    write_in_root(root, "/usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)
    write_in_root(root, "/etc/hostname", "localhost\n")
    write_in_root(root, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    write_in_root(root, "/etc/resolv.conf", Path("/etc/resolv.conf").read_text())  # the build needs DNS
    for mountpoint in (DEPS_MOUNT, APP_MOUNT):
        (root / mountpoint.lstrip("/")).mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    start = time.monotonic()
    _chroot(root, "apt-get update", what=f"apt-get update in the {release} base", build_log=build_log)
    timings["apt_update"] = time.monotonic() - start
    start = time.monotonic()
    _chroot(root, f"apt-get install --download-only -y {' '.join(cached_packages())}",
            what=f"downloading the stack's and the test services' packages into the {release} base",
            build_log=build_log)
    timings["download"] = time.monotonic() - start
    log(f"{release}: apt-get update {timings['apt_update']:.1f} s, download {timings['download']:.1f} s")
    write_in_root(root, "/etc/resolv.conf", "nameserver 127.0.0.1\n")
    return timings


def remove_unused_old_bases() -> list[str]:
    """Delete superseded bases no overlay uses any more (and partial builds of releases nobody is building).
    Hold the cache lock exclusively."""
    in_use = procs.overlay_lowers_in_use() | {str(b) for r in RELEASES if (b := current_base(r))}
    removed = []
    for old in bases_root().glob("*") if bases_root().is_dir() else []:
        if old.name.startswith(".build-"):
            release = old.name.split("-")[1]
            with file_lock(cache_dir() / f".build-{release}.lock", exclusive=True, blocking=False) as idle:
                if idle:
                    shutil.rmtree(old, ignore_errors=True)
                    removed.append(old.name)
        elif str(old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old.name)
    return removed


def make_current(release: str, base: Path, stamp_text: str) -> None:
    """Make `base` the release's current base again, with the stamp it was built with (what the base top-up
    test does at its end, so the layers built on the cache's own base stay valid)."""
    with cache_lock(exclusive=True):
        write_atomic(stamp_path(release), stamp_text)
        _point_at(release, base)


def _point_at(release: str, base: Path) -> None:
    """Atomically make <cache>/<release> point at `base` (running hosts keep the base they mounted)."""
    link = base_dir(release)
    tmp = link.with_name(f".{release}.link-{secrets.token_hex(3)}")
    tmp.symlink_to(base.relative_to(cache_dir()))
    if link.exists() and not link.is_symlink():  # a base dir from before bases/ existed
        link.rename(bases_root() / f"{release}-legacy-{secrets.token_hex(3)}")
    tmp.replace(link)
