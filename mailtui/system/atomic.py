"""Atomic file writes: the one way mailtui replaces a file.

A temp file in the same directory (`.<name>.<8 random>.mailtui-tmp`) is written and fsync'ed, gets its
owner and mode, is renamed over the target, and the directory is fsync'ed. A kill at any moment leaves the
old file or the new one, never a mix; a temp file a kill left behind is removed by the next write to that
directory's file of the same name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mailtui import faults, paths

TMP_SUFFIX = ".mailtui-tmp"


def within(path: Path, root: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return False
    return True


def effect(path: Path) -> str:
    """For fault traces: mailtui's own progress files are "state", anything else (backups too) "change"."""
    return "state" if within(path, paths.STATE_DIR) and not within(path, paths.BACKUPS_DIR) else "change"



def _is_temp_of(candidate: str, name: str) -> bool:
    """`candidate` is a temp file _atomic_write_bytes made for `name` (prefix, 8 random chars, suffix)."""
    prefix = f".{name}."
    if not (candidate.startswith(prefix) and candidate.endswith(TMP_SUFFIX)):
        return False
    middle = candidate[len(prefix):-len(TMP_SUFFIX)]
    return len(middle) == 8 and "." not in middle


def is_temp_file(name: str) -> bool:
    """`name` looks like a temp file of atomic_write_bytes (a write a kill cut off leaves one)."""
    if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
        return False
    middle = name[: -len(TMP_SUFFIX)].rsplit(".", 1)
    return len(middle) == 2 and len(middle[1]) == 8 and bool(middle[0][1:])


def stale_temps(path: Path) -> list[Path]:
    """Temp files an interrupted write of `path` left behind."""
    try:
        names = os.listdir(path.parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [path.parent / n for n in sorted(names) if _is_temp_of(n, path.name)]
    return [p for p in found if p.is_file() and not p.is_symlink()]


def remove_stale_temps(path: Path) -> list[Path]:
    """Delete temp files an interrupted write of `path` left behind; return them."""
    removed = stale_temps(path)
    for stale in removed:
        stale.unlink(missing_ok=True)
    return removed


def atomic_write_bytes(path: Path, data: bytes, uid: int, gid: int, mode: int, *, mtime_ns: int | None = None) -> None:
    """Replace `path` with `data` (owner, mode and optionally mtime set before the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        faults.point("write-tmp", str(path), effect="none")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    faults.point("write", str(path), effect=effect(path), files=[str(path)])


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
