"""The backup store, for `mailtui rollback`: what each path was before mailtui first changed it.

Before mailtui first changes a path — a file it writes, a file a command changes (commands.effect_of), a
directory whose owner or mode it sets, a system account it creates — the path's state is recorded once, in
paths.BACKUPS_DIR:

  original/<path>   a copy of the file as it was (content, owner, group, mode, mtime)
  index.json        {"paths": {path: entry}} in the order mailtui first touched them, an entry being
                    {"was": "file", uid, gid, mode, mtime_ns, sha256}, {"was": "symlink", target},
                    {"was": "directory", uid, gid, mode} or {"was": "absent"} (mailtui created it);
                    "accounts": the system users/groups mailtui created; "services_before": which
                    services ran before mailtui's first install, and "since": when it began
  created.txt       (mailtui before the index) paths that did not exist: still honoured

The copy is written before the index names it and the index before the change, so a kill anywhere leaves
either nothing changed or the original recorded. A copy the index does not name (a kill came between the
two) is taken as recorded. The first record wins: later installs never overwrite an original.

Directories: files.make_directory() records before it creates. A caller that creates a directory itself and
then calls set_owner_mode() (steps/resources.py DirectoryResource) has it recorded afterwards: an empty
directory made since mailtui's first install began counts as mailtui's own. A kill between that caller's
mkdir and the record leaves the directory unrecorded (rollback then leaves it, empty) until a later
install records it.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mailtui import paths
from mailtui.errors import MailtuiError
from mailtui.system.atomic import atomic_write_bytes, within

INDEX_VERSION = 1
_STARTED = time.time()  # empty directories made after this may be recorded as new (see set_owner_mode)
_paused = False


def index_path() -> Path:
    return paths.BACKUPS_DIR / "index.json"


def original_copy(path: Path) -> Path:
    """Where the original of an absolute `path` is kept."""
    return paths.BACKUPS_DIR / "original" / Path(path).relative_to("/")


def put_back(path: Path, entry: dict[str, Any]) -> None:
    """Put `path` back as its index `entry` recorded it, in one atomic replace: a file from its backup copy
    (refused when the copy does not match the recorded sha256) with its owner, mode and mtime; a symlink
    with its target and owner. Used by rollback and by a step that hands a file back to its owner (the
    resolver's /etc/resolv.conf)."""
    path = Path(path)
    if entry.get("was") == "file":
        data = original_copy(path).read_bytes()
        if "sha256" in entry and hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise MailtuiError(f"the backup copy of {path} does not match its record: not restored")
        if path.is_symlink():
            path.unlink()
        atomic_write_bytes(path, data, entry["uid"], entry["gid"], entry["mode"], mtime_ns=entry.get("mtime_ns"))
    elif entry.get("was") == "symlink":
        tmp = path.with_name(f".{path.name}.mailtui-link")
        tmp.unlink(missing_ok=True)
        os.symlink(entry["target"], tmp)
        os.lchown(tmp, entry.get("uid", 0), entry.get("gid", 0))
        os.replace(tmp, path)
    else:
        raise MailtuiError(f"{path} was {entry.get('was')!r} before mailtui: nothing to put back")



@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Record nothing meanwhile (rollback: its own changes are not originals)."""
    global _paused
    before, _paused = _paused, True
    try:
        yield
    finally:
        _paused = before


@contextlib.contextmanager
def _index_lock() -> Iterator[None]:
    base = paths.BACKUPS_DIR
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    fd = os.open(base / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def empty_index() -> dict[str, Any]:
    return {"version": INDEX_VERSION, "paths": {}, "accounts": {"users": [], "groups": []}}


def load_index() -> dict[str, Any]:
    """The index (with older mailtui's created.txt folded in); an empty one when there is none."""
    index = empty_index()
    try:
        data = json.loads(index_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    if isinstance(data, dict):
        index["paths"] = dict(data.get("paths") or {})
        accounts = data.get("accounts") or {}
        index["accounts"] = {"users": list(accounts.get("users") or []), "groups": list(accounts.get("groups") or [])}
        for key in ("services_before", "units_before", "since"):
            if key in data:
                index[key] = data[key]
    legacy = paths.BACKUPS_DIR / "created.txt"
    if legacy.exists():
        for line in legacy.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("/") and line not in index["paths"]:
                index["paths"][line] = {"was": "absent"}
    return index


def _save_index(index: dict[str, Any]) -> None:
    data = (json.dumps(index, indent=1) + "\n").encode()
    atomic_write_bytes(index_path(), data, os.geteuid(), os.getegid(), 0o600)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def entry_for(path: Path, st: os.stat_result | None = None) -> dict[str, Any]:
    """What `path` is now, as an index entry (a regular file's content is not included)."""
    if st is None:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return {"was": "absent"}
    meta = {"uid": st.st_uid, "gid": st.st_gid}
    if stat.S_ISLNK(st.st_mode):
        return {"was": "symlink", "target": os.readlink(path), **meta}
    if stat.S_ISDIR(st.st_mode):
        return {"was": "directory", **meta, "mode": stat.S_IMODE(st.st_mode)}
    if stat.S_ISREG(st.st_mode):
        return {"was": "file", **meta, "mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns,
                "size": st.st_size, "sha256": sha256_file(path)}
    return {"was": "other", **meta, "mode": stat.S_IMODE(st.st_mode)}


def _fresh_empty_dir(path: Path, st: os.stat_result, index: dict[str, Any]) -> bool:
    """An empty directory made since mailtui's first install began (or, without that record, since this
    process started): a run a kill stopped between its mkdir and this record made it."""
    since = index.get("since")
    since = min(_STARTED, since) if isinstance(since, (int, float)) else _STARTED
    if not stat.S_ISDIR(st.st_mode) or st.st_ctime < since:
        return False
    try:
        return not any(os.scandir(path))
    except OSError:
        return False


def record_original(path: Path, *, fresh_dir_is_new: bool = False) -> None:
    """Record what `path` is before mailtui first changes it (once; mailtui's own state never)."""
    path = Path(os.path.abspath(path))
    if _paused or within(path, paths.STATE_DIR):
        return
    with _index_lock():
        index = load_index()
        key = str(path)
        if key in index["paths"]:
            return
        copy = original_copy(path)
        additions: dict[str, dict[str, Any]] = {}
        if copy.is_file() and not copy.is_symlink():
            entry = entry_for(copy)  # recorded by a run a kill stopped before it wrote the index
        else:
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                st = None
            if st is None:
                # Missing parents are made by the write: they are mailtui's too (outermost first).
                missing = []
                parent = path.parent
                while parent != parent.parent and not parent.exists():
                    missing.append(parent)
                    parent = parent.parent
                for directory in reversed(missing):
                    if str(directory) not in index["paths"]:
                        additions[str(directory)] = {"was": "absent"}
                entry = {"was": "absent"}
            elif fresh_dir_is_new and _fresh_empty_dir(path, st, index):
                entry = {"was": "absent"}
            else:
                entry = entry_for(path, st)
                if entry["was"] == "file":
                    data = path.read_bytes()
                    atomic_write_bytes(copy, data, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                                       mtime_ns=st.st_mtime_ns)
                    entry["sha256"] = hashlib.sha256(data).hexdigest()
        additions[key] = entry
        index["paths"].update(additions)
        _save_index(index)


def record_account(kind: str, name: str) -> bool:
    """Note that mailtui is about to create system `kind` ("user" or "group") `name`, if it does not
    exist now. Returns whether it was noted."""
    if _paused:
        return False
    if account_exists(kind, name):
        return False
    with _index_lock():
        index = load_index()
        names = index["accounts"][f"{kind}s"]
        if name in names:
            return False
        names.append(name)
        _save_index(index)
    return True


def forget_account(kind: str, name: str) -> None:
    """Undo record_account when creating the account failed (and it still does not exist)."""
    if account_exists(kind, name):
        return
    with _index_lock():
        index = load_index()
        names = index["accounts"][f"{kind}s"]
        if name in names:
            names.remove(name)
            _save_index(index)


def account_exists(kind: str, name: str) -> bool:
    """System `kind` ("user" or "group") `name` exists."""
    try:
        (pwd.getpwnam if kind == "user" else grp.getgrnam)(name)
    except KeyError:
        return False
    return True


def note_services_before(running: dict[str, bool], units: dict[str, str] | None = None) -> None:
    """Which services ran before mailtui's first install, and (systemd) whether their units were enabled
    (kept from the first time: later installs find them running and enabled because of mailtui). Not noted
    when older backups exist without it."""
    if _paused:
        return
    with _index_lock():
        index = load_index()
        if "services_before" in index or index["paths"] or any(index["accounts"].values()):
            return
        index["services_before"] = running
        if units:
            index["units_before"] = units
        index["since"] = time.time()  # when mailtui's first install began
        _save_index(index)
