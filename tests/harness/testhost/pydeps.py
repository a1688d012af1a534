"""The Python a host runs mailtui with: mailtui's runtime deps (pip --target, shared by every host, compiled
with each release's python3) and the repo's own mailtui (pip --target, once per version of its sources). Both are
bind-mounted read-only into every host at DEPS_MOUNT and APP_MOUNT.

For a test that runs the repo's own tests inside a host (add_test_checkout): the test deps (pip --target of
pyproject.toml's `test` extra and the runtime deps, per Python version of the host, compiled like the runtime
deps) and a copy of the repo's sources and tests/, both read-only inside the host.

    <cache>/pydeps-<hash>/              the runtime deps (pure Python), .compiled-<release> markers
    <cache>/apps/app-<hash>/            the repo's mailtui, per content of its sources (shared by processes)
    <cache>/testdeps-<hash>-py<X.Y>/    the test deps for a host whose python3 is X.Y, .compiled-<release> markers
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
from typing import TYPE_CHECKING

from tests.harness.testhost import bases
from tests.harness.testhost.common import (
    DEPS_MOUNT,
    INSIDE_PATH,
    REPO_ROOT,
    TestHostError,
    cache_dir,
    cmd,
    file_lock,
    log,
    short_hash,
    timed,
    tool,
    tree_hash,
)

if TYPE_CHECKING:
    from tests.harness.testhost.host import TestHost

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
    _compile_with_release(ensure_pydeps(), release, cache_dir() / ".pydeps.lock", "runtime deps")


def _compile_with_release(directory: Path, release: str, lock: Path, what: str) -> None:
    """compileall of `directory` with `release`'s python3 (its base chrooted, the directory bound at DEPS_MOUNT,
    a mount point every base has; a .pyc is checked against its source's mtime and size, not its path)."""
    marker = directory / f".compiled-{release}"
    if marker.exists():
        return
    base = bases.ensure_base(release)
    with file_lock(lock, exclusive=True):
        if marker.exists():
            return
        inner = f'mount --bind "$1" "$2{DEPS_MOUNT}" && exec chroot "$2" python3 -m compileall -q -j 0 {DEPS_MOUNT}'
        argv = [tool("unshare"), "--mount", "--propagation", "private", "--", "/bin/sh", "-c", inner, "sh",
                directory, base]  # fmt: skip
        with timed(f"compiling {what} with {release}'s python3"):
            cmd(argv, what=f"compileall of {directory} with {release}'s python3", env={"PATH": INSIDE_PATH})
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


# ------------------------------------------------------------------------------ the repo's tests inside a host

TESTDEPS_MOUNT = "/opt/mailtui/testdeps"
CHECKOUT_MOUNT = "/opt/mailtui/checkout"
# Command-line tools of the `test` extra, run on the test runner only (lint, the wheel test): no test imports them.
TEST_TOOLS = frozenset({"ruff", "build"})
CHECKOUT_SOURCES = (*APP_SOURCES, "tests")
CHECKOUT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "*.egg-info")
FINDER_MODULE = "_mailtui_checkout"
# In the test deps, imported by the .pth add_test_checkout writes: in every python3 of the host, what the editable
# install (`pip install -e`) does on the test runner. pyproject.toml maps screens/ and assets/ into mailtui.*, so a
# plain sys.path entry for the checkout gives mailtui but not mailtui.screens; appended after the path finder, so
# a checkout on sys.path (the tests' rootdir, a child's PYTHONPATH) still serves mailtui itself.
CHECKOUT_FINDER = f"""\"\"\"mailtui, mailtui.screens and mailtui.assets from the checkout at {CHECKOUT_MOUNT}.\"\"\"
import importlib.util
import sys

MAPPING = {{"mailtui": "{CHECKOUT_MOUNT}/mailtui", "mailtui.screens": "{CHECKOUT_MOUNT}/screens",
           "mailtui.assets": "{CHECKOUT_MOUNT}/assets"}}


class CheckoutFinder:
    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        where = MAPPING.get(fullname)
        if where is None:
            return None
        return importlib.util.spec_from_file_location(fullname, where + "/__init__.py",
                                                      submodule_search_locations=[where])


sys.meta_path.append(CheckoutFinder)
"""


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def testdeps_requirements() -> list[str]:
    """pyproject.toml's `test` extra (without TEST_TOOLS) and mailtui's runtime deps: everything the repo's tests
    import besides the repo itself."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    if tomllib is not None:
        test = tomllib.loads(text)["project"]["optional-dependencies"]["test"]
    else:
        block = re.search(r"^test\s*=\s*\[(.*?)\]", text, flags=re.M | re.S)
        if not block:
            raise TestHostError("no [project.optional-dependencies] test list in pyproject.toml")
        test = re.findall(r'"([^"]+)"', block.group(1))
    return sorted({*(r for r in test if _requirement_name(r) not in TEST_TOOLS), *python_requirements()})


def release_python(release: str) -> str:
    """X.Y of `release`'s python3, read from its base (/usr/bin/python3 -> python3.X)."""
    link = os.readlink(bases.ensure_base(release) / "usr" / "bin" / "python3")
    found = re.fullmatch(r"python(3\.\d+)", link)
    if not found:
        raise TestHostError(f"cannot tell {release}'s Python version: /usr/bin/python3 -> {link}")
    return found.group(1)


def _testdeps_key() -> str:
    return short_hash([*testdeps_requirements(), CHECKOUT_FINDER])


def testdeps_dir(python: str) -> Path:
    return cache_dir() / f"testdeps-{_testdeps_key()}-py{python}"


def outdated_testdeps() -> list[Path]:
    """Test deps dirs made for other requirements than today's (clean() removes them)."""
    return [p for p in cache_dir().glob("testdeps-*") if not p.name.startswith(f"testdeps-{_testdeps_key()}-")]


def ensure_testdeps(release: str) -> Path:
    """The test deps for `release`'s python3: pip --target like the runtime deps, but one dir per Python version
    (some have compiled parts: hypothesis, markupsafe), byte-compiled with it; built once, then only read."""
    python = release_python(release)
    target = testdeps_dir(python)
    lock = cache_dir() / ".testdeps.lock"
    if not (target / ".complete").exists():
        with file_lock(lock, exclusive=True):
            if not (target / ".complete").exists():
                _build_testdeps(target, python)
    _compile_with_release(target, release, lock, "test deps")
    return target


def _build_testdeps(target: Path, python: str) -> None:
    requirements = testdeps_requirements()
    pip = _pip()
    version = re.search(r"\(python (3\.\d+)\)", cmd([*pip, "--version"], what="pip --version"))
    # For another Python than pip's own: that version's wheels only (nothing built for the wrong interpreter).
    cross = [] if version and version.group(1) == python else ["--python-version", python, "--only-binary=:all:"]
    tmp = target.with_name(f".build-{target.name}-{secrets.token_hex(4)}")
    try:
        with timed(f"pip install --target {target.name}"):
            cmd([*pip, "install", "--quiet", "--no-compile", *cross, "--target", tmp, *requirements],
                what=f"pip install of the test deps for Python {python} ({', '.join(requirements)})")
        if (tmp / "tests").exists():
            raise TestHostError(f"a test dep installs a top-level 'tests' package that would shadow the repo's: {tmp}")
        (tmp / f"{FINDER_MODULE}.py").write_text(CHECKOUT_FINDER)
        (tmp / ".complete").write_text(json.dumps({"python": python, "requirements": requirements}) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def add_test_checkout(host: TestHost, repo: Path = REPO_ROOT) -> None:
    """Make the repo's tests runnable inside `host` with its own python3: copies of the repo's sources and tests/
    (at CHECKOUT_MOUNT) and of the test deps (at TESTDEPS_MOUNT) in the host's overlay, each bind-mounted read-only
    onto itself, and a .pth in the host's site-packages that puts the deps and the checkout's mailtui on the path
    of every python3 there (the tests start child Pythons with a PYTHONPATH of their own). Nothing is written into
    the repo or the cache; all of it goes with the host.

    Run pytest there with -p no:cacheprovider, PYTHONDONTWRITEBYTECODE=1, and the working directory (where
    hypothesis keeps its database) or HYPOTHESIS_STORAGE_DIRECTORY under /tmp."""
    deps = ensure_testdeps(host.release)
    began = time.monotonic()
    parent = host.root / "opt" / "mailtui"  # in every base: DEPS_MOUNT and APP_MOUNT are in it
    if parent.is_symlink() or not parent.resolve().is_relative_to(host.root.resolve()):
        raise TestHostError(f"refusing to copy the tests into {parent}: it leaves {host.root}")
    checkout, testdeps = parent / Path(CHECKOUT_MOUNT).name, parent / Path(TESTDEPS_MOUNT).name
    if checkout.exists() or testdeps.exists():
        raise TestHostError(f"host {host.id} has the tests already")
    cmd([tool("cp"), "-a", deps, testdeps], what=f"copying the test deps into host {host.id}")
    checkout.mkdir()
    for name in CHECKOUT_SOURCES:
        if (repo / name).is_dir():
            shutil.copytree(repo / name, checkout / name, symlinks=True, ignore=CHECKOUT_IGNORE)
        elif (repo / name).exists():
            shutil.copy2(repo / name, checkout / name)
    site = host.run(["python3", "-c", "import site; print(site.getsitepackages()[0])"]).stdout.strip()
    host.write_file(f"{site}/mailtui-tests.pth", f"{TESTDEPS_MOUNT}\nimport {FINDER_MODULE}\n")
    readonly = 'for d; do mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 1; done'
    host.run(["/bin/sh", "-c", readonly, "sh", CHECKOUT_MOUNT, TESTDEPS_MOUNT])
    log(f"the repo's tests and their deps copied into host {host.id} in {time.monotonic() - began:.1f} s")
