"""Reading and writing configuration files: atomic, with owner and mode, originals backed up.

Every file mailtui replaces is first copied to the backup store:
  STATE_DIR/backups/original/<path>   the file as it was before mailtui first touched it (kept forever)
  STATE_DIR/backups/created.txt       files that did not exist before mailtui wrote them
so that `mailtui rollback` can restore the machine byte for byte.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = Path(os.environ.get("MAILTUI_STATE_DIR", "/var/lib/mailtui"))


def backup_dir() -> Path:
    return STATE_DIR / "backups"


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
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE_DIR, 0o700)
    return STATE_DIR


def _record_original(path: Path) -> None:
    """Keep the very first version of `path` (or note that it did not exist)."""
    base = backup_dir()
    original = base / "original" / path.relative_to("/") if path.is_absolute() else None
    created_list = base / "created.txt"
    if original is None:
        return
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    created = created_list.read_text().splitlines() if created_list.exists() else []
    if original.exists() or str(path) in created:
        return
    if path.exists():
        original.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        st = path.stat()
        _atomic_write_bytes(original, data, st.st_uid, st.st_gid, st.st_mode & 0o7777)
    else:
        with created_list.open("a", encoding="utf-8") as fh:
            fh.write(f"{path}\n")


def _atomic_write_bytes(path: Path, data: bytes, uid: int, gid: int, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mailtui-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def uid_of(owner: str) -> int:
    return pwd.getpwnam(owner).pw_uid


def gid_of(group: str) -> int:
    return grp.getgrnam(group).gr_gid


def write_file(path: Path, content: str | bytes, *, owner: str = "root", group: str = "root",
               mode: int = 0o644, backup: bool = True) -> None:
    """Replace `path` atomically (temp file + rename in the same directory) with owner and mode set
    before the rename, so the file is never visible half-written or with the wrong mode."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if backup:
        _record_original(path)
    _atomic_write_bytes(path, data, uid_of(owner), gid_of(group), mode)


def set_owner_mode(path: Path, *, owner: str, group: str, mode: int) -> None:
    os.chown(path, uid_of(owner), gid_of(group))
    os.chmod(path, mode)
