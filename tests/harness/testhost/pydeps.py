"""The Python a host runs mailtui with: mailtui's runtime deps (pip --target, shared by every host, compiled
with each release's python3) and the repo's own mailtui (pip --target, once per version of its sources). Both are
bind-mounted read-only into every host at DEPS_MOUNT and APP_MOUNT.

    <cache>/pydeps-<hash>/              the runtime deps (pure Python), .compiled-<release> markers
    <cache>/apps/app-<hash>/            the repo's mailtui, per content of its sources (shared by processes)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness.testhost import bases
from tests.harness.testhost.common import (
    DEPS_MOUNT,
    INSIDE_PATH,
    REPO_ROOT,
    TestHostError,
    cache_dir,
    cmd,
    file_lock,
    short_hash,
    timed,
    tool,
    tree_hash,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04): read the one list we need by hand
    tomllib = None  # type: ignore[assignment]


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
    return [tool("python3"), "-m", "pip"]


def pydeps_dir() -> Path:
    return cache_dir() / f"pydeps-{short_hash(python_requirements())}"


def ensure_pydeps() -> Path:
    """pip --target of mailtui's (pure-Python) runtime deps; shared by all hosts, mounted read-only."""
    target = pydeps_dir()
    if (target / ".complete").exists():
        return target
    with file_lock(cache_dir() / ".pydeps.lock", exclusive=True):
        if (target / ".complete").exists():
            return target
        tmp = target.with_name(f".build-{target.name}-{secrets.token_hex(4)}")
        with timed(f"pip install --target {target.name}"):
            cmd([*_pip(), "install", "--quiet", "--no-compile", "--target", tmp, *python_requirements()],
                what=f"pip install of mailtui's runtime deps ({', '.join(python_requirements())})")
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
    base = bases.ensure_base(release)
    with file_lock(cache_dir() / ".pydeps.lock", exclusive=True):
        if marker.exists():
            return
        inner = f'mount --bind "$1" "$2{DEPS_MOUNT}" && exec chroot "$2" python3 -m compileall -q -j 0 {DEPS_MOUNT}'
        argv = [tool("unshare"), "--mount", "--propagation", "private", "--", "/bin/sh", "-c", inner, "sh",
                pydeps, base]  # fmt: skip
        with timed(f"compiling runtime deps with {release}'s python3"):
            cmd(argv, what=f"compileall of {pydeps} with {release}'s python3", env={"PATH": INSIDE_PATH})
        marker.write_text("")


APP_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "mailtui", "screens", "assets")
APP_KEEP = 6  # app dirs kept (newest first); older ones go once a day idle


def _app_hash(repo: Path) -> str:
    parts = []
    for name in APP_SOURCES:
        path = repo / name
        if path.is_dir():
            parts.append(f"{name}:{tree_hash(path, '*')}")
        elif path.exists():
            parts.append(f"{name}:{short_hash([path.read_text(errors='replace')])}")
    return short_hash(parts)


def build_app_dir(repo: Path = REPO_ROOT) -> Path:
    """`pip install --no-deps --target` of the repo's own mailtui, shared by every test process whose
    sources are the same (<cache>/apps/app-<hash of the sources>); mounted read-only into hosts.

    Built from a scratch copy so that setuptools leaves no build/ or *.egg-info in the work tree.
    """
    repo = repo.resolve()
    apps = cache_dir() / "apps"
    target = apps / f"app-{_app_hash(repo)}"
    if (target / ".complete").exists():
        os.utime(target / ".complete")
        return target
    with file_lock(apps / f".{target.name}.lock", exclusive=True):
        if (target / ".complete").exists():
            return target
        tmp = apps / f".build-{target.name}-{secrets.token_hex(3)}"
        with tempfile.TemporaryDirectory(prefix="mailtui-src-") as src_dir:
            src = Path(src_dir)
            for name in APP_SOURCES:
                if (repo / name).is_dir():
                    shutil.copytree(repo / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
                elif (repo / name).exists():
                    shutil.copy2(repo / name, src / name)
            if not (src / "README.md").exists():
                (src / "README.md").write_text("mailtui\n")  # pyproject names it as readme
            with timed("pip install --no-deps of the repo's mailtui"):
                cmd([*_pip(), "install", "--quiet", "--no-deps", "--no-compile", "--target", tmp, src],
                    what=f"pip install of mailtui from {repo}")
        (tmp / ".complete").write_text(str(repo) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    prune_app_dirs()
    return target


def prune_app_dirs(*, everything: bool = False) -> list[str]:
    """Delete partial app builds nobody is making, and app dirs beyond the APP_KEEP newest that sat a day idle."""
    apps = cache_dir() / "apps"
    removed = []
    for tmp in apps.glob(".build-app-*") if apps.is_dir() else []:
        with file_lock(apps / f".{tmp.name[7:-7]}.lock", exclusive=True, blocking=False) as idle:
            if idle:
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp.name)
    done = sorted(apps.glob("app-*/.complete") if apps.is_dir() else [], key=lambda p: p.stat().st_mtime,
                  reverse=True)
    for marker in done if everything else done[APP_KEEP:]:
        if everything or time.time() - marker.stat().st_mtime > 86400:
            shutil.rmtree(marker.parent, ignore_errors=True)
            removed.append(marker.parent.name)
    return removed
