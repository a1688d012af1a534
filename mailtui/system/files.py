"""Reading and writing configuration files: atomic (system/atomic.py), with owner and mode, and the
original recorded first (system/backups.py) so `mailtui rollback` can put it back."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from mailtui import faults, paths
from mailtui.system.atomic import atomic_write_bytes, effect, fsync_dir
from mailtui.system.backups import record_original


@dataclass(frozen=True)
class FileState:
    exists: bool
    content: bytes = b""
    owner: str = ""
    group: str = ""
    mode: int = 0


def inspect(path: Path) -> FileState:
    try:
        st = path.stat()
    except FileNotFoundError:
        return FileState(False)
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    content = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
    return FileState(True, content, owner, group, st.st_mode & 0o7777)


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def ensure_state_dir() -> Path:
    paths.STATE_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(paths.STATE_DIR, 0o700)
    return paths.STATE_DIR


def uid_of(owner: str) -> int:
    return pwd.getpwnam(owner).pw_uid


def gid_of(group: str) -> int:
    return grp.getgrnam(group).gr_gid


def write_file(path: Path, content: str | bytes, *, owner: str = "root", group: str = "root",
               mode: int = 0o644, backup: bool = True) -> None:
    """Replace `path` atomically (temp file + rename in the same directory) with owner and mode set
    before the rename, so the file is never visible half-written or with the wrong mode. With
    `backup`, the path's state before mailtui first changed it is recorded first (see above)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if backup:
        record_original(path)
    atomic_write_bytes(path, data, uid_of(owner), gid_of(group), mode)


def write_private(path: Path, content: str | bytes) -> None:
    """mailtui's own state (progress, saved answers, switches): atomic, 0600, owned by whoever runs mailtui
    (root on a server), never backed up."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    atomic_write_bytes(path, data, os.geteuid(), os.getegid(), 0o600)


def write_export(path: Path, content: str) -> None:
    """A file the operator asked for (e.g. the DNS records): atomic, 0644, owned by whoever runs mailtui,
    not a configuration change (never backed up, never rolled back)."""
    atomic_write_bytes(path, content.encode("utf-8"), os.geteuid(), os.getegid(), 0o644)


def make_directory(path: Path, *, owner: str, group: str, mode: int) -> None:
    """Create `path` (and missing parents) with owner and mode; recorded first, so rollback removes
    what mailtui created (when empty) and puts back the owner and mode of what existed."""
    record_original(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid_of(owner), gid_of(group))
    os.chmod(path, mode)
    faults.point("write", f"{path} (directory)", effect=effect(path))


def set_owner_mode(path: Path, *, owner: str, group: str, mode: int) -> None:
    # A caller that made the directory itself a moment ago (steps/resources.py DirectoryResource) did
    # not record it: an empty directory made since mailtui's first install began counts as its own.
    record_original(path, fresh_dir_is_new=True)
    os.chown(path, uid_of(owner), gid_of(group))
    os.chmod(path, mode)
    faults.point("write", f"{path} (owner, mode)", effect=effect(path))


def remove_file(path: Path) -> bool:
    """Delete `path` (recorded first, so rollback puts back a file that was there before mailtui); return
    whether there was one. The deletion is synced to the directory before the fault point."""
    if not os.path.lexists(path):
        return False
    record_original(path)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)
    faults.point("write", f"{path} (removed)", effect=effect(path))
    return True
