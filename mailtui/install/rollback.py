"""`mailtui rollback`: put back every file the installer changed, byte for byte, from its backups.

From the backup store (paths.BACKUPS_DIR, see system/backups.py), in the reverse order of mailtui's
first changes:
- a file mailtui wrote, or a command of it changed (main.cf, master.cf, ufw's rules, …), gets back its
  content, owner, group, mode and mtime; a symlink its target; a directory its owner and mode;
- what did not exist before is removed: files, and directories once empty (a directory holding
  anything mailtui did not create — the mail in /var/mail/vhosts — stays, and is named);
- the system users and groups mailtui created (vmail) are deleted.

Services: unbound, Redis, Postfix, Dovecot, fail2ban, rspamd and postsrsd are stopped first; the ones that ran
before mailtui's first install are started again on the restored configuration, the others stay stopped
(without that record, from an older mailtui: the ones running now are started again). ufw is disabled when
the restored ufw.conf says it was off, and reloaded when it was on.

Left alone, and said so: the installed packages (remove them with apt), the database (its tables,
accounts and mail rows) and MariaDB, the stored mail.

Nothing is lost: every file rollback replaces or removes is kept in STATE_DIR/rollbacks/<time>/replaced/,
and mailtui's state (backups, saved answers, install progress, switches) moves to STATE_DIR/rollbacks/<time>/:
the machine then counts as never installed by mailtui, and a new install records the restored files as
the originals.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import pwd
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtui import paths
from mailtui.errors import Busy, MailtuiError
from mailtui.install import state as install_state
from mailtui.model import answers_file
from mailtui.model.answers import Answers
from mailtui.stack import services as safe_services
from mailtui.steps.firewall import ufw_active
from mailtui.system import atomic, backups, services
from mailtui.system.commands import run as run_command

# whose configuration mailtui changes (MariaDB is left alone)
# (started in this order, stopped in the reverse: the resolver before what asks it, Redis before rspamd)
SERVICES = ("unbound", "redis-server", "postfix", "dovecot", "fail2ban", "rspamd", "postsrsd")
UFW_CONF = "/etc/ufw/ufw.conf"
Out = Callable[[str], None]


@dataclass(frozen=True)
class Action:
    """One thing rollback does. kind: unit-off, restore, remove, remove-dir, set-dir, make-dir, relink,
    delete-user, delete-group; or keep (left as it is, with the reason) and missing (no backup)."""

    kind: str
    target: str
    summary: str
    entry: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def changes(self) -> bool:
        return self.kind not in ("keep", "missing")


@dataclass
class Result:
    done: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    archive: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def note_install_start() -> None:
    """Called by the install worker: which services ran before mailtui's first install."""

    units = {}
    if services.has_systemd():
        # Only a unit that is there and says enabled or disabled: one apt installs later is Debian's default.
        units = {name: enabled for name in SERVICES
                 if (enabled := services.unit_enabled(name)) in ("enabled", "disabled")}
    backups.note_services_before({name: services.is_running(name) for name in SERVICES}, units)


def answers_left_behind() -> Answers | None:
    """The saved answers of the install the last rollback undid. Rollback leaves the database alone, so a
    new install takes its database passwords and mailbox hashes from these (as from saved answers):
    otherwise it would save new hashes the database does not hold."""
    base = paths.ROLLBACKS_DIR
    try:
        archives = sorted((p for p in base.iterdir() if (p / "answers.toml").is_file()), key=lambda p: p.name)
    except OSError:
        return None
    if not archives:
        return None
    try:
        return answers_file.load(archives[-1] / "answers.toml")
    except (MailtuiError, OSError):
        return None


# ---------------------------------------------------------------- plan


def _orphan_copies(index: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Original copies the index does not name (a kill came between the copy and the index)."""
    root = paths.BACKUPS_DIR / "original"
    found: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return found
    for copy in sorted(root.rglob("*")):
        if copy.is_file() and not copy.is_symlink() and not atomic.is_temp_file(copy.name):
            path = "/" + str(copy.relative_to(root))
            if path not in index["paths"]:
                found[path] = backups.entry_for(copy)
    return found


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _same_meta(st: os.stat_result, entry: dict[str, Any]) -> bool:
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (entry["uid"], entry["gid"], entry["mode"])


def plan(index: dict[str, Any] | None = None) -> list[Action]:
    """What rollback would do, in order (nothing is changed)."""
    if index is None:
        index = backups.load_index()
    entries = {**index["paths"], **_orphan_copies(index)}
    actions: list[Action] = []
    removed: set[str] = set()
    for key in reversed(list(entries)):
        entry, path = entries[key], Path(key)
        for temp in atomic.stale_temps(path):
            actions.append(Action("remove", str(temp), f"remove {temp} (a write of mailtui's a kill cut off)"))
            removed.add(str(temp))
        st = _lstat(path)
        was = entry.get("was")
        if was == "file":
            copy = backups.original_copy(path)
            if not copy.is_file():
                actions.append(Action("missing", key, f"{key}: its backup copy {copy} is missing: left as it is"))
            elif st is not None and stat.S_ISREG(st.st_mode) and _same_meta(st, entry) \
                    and backups.sha256_file(path) == entry.get("sha256", backups.sha256_file(copy)):
                continue
            elif st is not None and stat.S_ISDIR(st.st_mode):
                actions.append(Action("keep", key, f"{key} is a directory now (it was a file): left as it is"))
            else:
                what = "put back" if st is None else "restore"
                actions.append(Action("restore", key, f"{what} {key} ({_meta(entry)})", entry))
        elif was == "absent":
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
                others = [n for n in os.listdir(path) if str(path / n) not in removed]
                if others:
                    actions.append(Action("keep", key, f"keep {key}: mailtui created it, but it holds "
                                          f"{len(others)} entr{'y' if len(others) == 1 else 'ies'} it did not "
                                          f"create (e.g. {sorted(others)[0]})"))
                    continue
                actions.append(Action("remove-dir", key, f"remove directory {key} (mailtui created it)"))
            else:
                actions.append(Action("remove", key, f"remove {key} (mailtui created it)"))
            removed.add(key)
        elif was == "directory":
            if st is None:
                actions.append(Action("make-dir", key, f"recreate directory {key} ({_meta(entry)})", entry))
            elif not stat.S_ISDIR(st.st_mode):
                actions.append(Action("keep", key, f"{key} is no directory now: left as it is"))
            elif not _same_meta(st, entry):
                actions.append(Action("set-dir", key, f"set directory {key} back to {_meta(entry)}", entry))
        elif was == "symlink":
            if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(path) == entry["target"]:
                continue
            if st is not None and stat.S_ISDIR(st.st_mode):
                actions.append(Action("keep", key, f"{key} is a directory now (it was a symlink): left as it is"))
            else:
                actions.append(Action("relink", key, f"put back the symlink {key} -> {entry['target']}", entry))
        else:
            actions.append(Action("keep", key, f"{key} was neither file, directory nor symlink: left as it is"))
    actions[:0] = _units_off(actions)
    for name in reversed(index["accounts"]["users"]):
        if backups.account_exists("user", name):
            actions.append(Action("delete-user", name, f"delete the system user {name} (mailtui created it)"))
    for name in reversed(index["accounts"]["groups"]):
        if backups.account_exists("group", name):
            actions.append(Action("delete-group", name, f"delete the system group {name} (mailtui created it)"))
    return actions


UNIT_DIR = "/etc/systemd/system"
UNIT_KINDS = (".service", ".path", ".timer", ".socket")


def _units_off(actions: list[Action]) -> list[Action]:
    """Units mailtui wrote (the webmail's auth-cache flush) are stopped and disabled before their files go:
    `systemctl enable` made a link in a .wants directory that would be left dangling, and systemd would keep
    the unit loaded and running."""
    units = [Path(a.target).name for a in actions if a.kind == "remove" and Path(a.target).parent == Path(UNIT_DIR)
             and a.target.endswith(UNIT_KINDS)]
    if not units or not services.has_systemd():
        return []
    return [Action("unit-off", unit, f"stop and disable {unit} (mailtui's own unit)") for unit in units
            if services.unit_state(unit) != services.UnitState("disabled", "inactive")]


def _meta(entry: dict[str, Any]) -> str:
    def user(uid: int) -> str:
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return str(uid)

    def group(gid: int) -> str:
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)

    return f"{user(entry['uid'])}:{group(entry['gid'])} {entry['mode']:04o}"


def nothing_recorded(index: dict[str, Any] | None = None) -> bool:
    index = backups.load_index() if index is None else index
    return not index["paths"] and not any(index["accounts"].values()) and not _orphan_copies(index)


# ---------------------------------------------------------------- apply


def _keep_current(path: Path, archive: Path) -> None:
    """Save what is at `path` now into archive/replaced/<path> (files and symlinks)."""
    st = _lstat(path)
    if st is None:
        return
    target = archive / "replaced" / path.relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(path), target)
    elif stat.S_ISREG(st.st_mode):
        atomic.atomic_write_bytes(target, path.read_bytes(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
                                 mtime_ns=st.st_mtime_ns)


def _do(action: Action, archive: Path) -> None:
    path = Path(action.target)
    entry = action.entry
    if action.kind == "unit-off":
        run_command(["systemctl", "disable", "--now", action.target], check=False, timeout=60)
    elif action.kind in ("restore", "relink"):
        if action.kind == "restore":  # refused before anything moves when the copy does not match its record
            data = backups.original_copy(path).read_bytes()
            if "sha256" in entry and hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise MailtuiError(f"the backup copy of {path} does not match its record: not restored")
        _keep_current(path, archive)
        if action.kind == "relink" and path.is_dir() and not path.is_symlink():
            raise MailtuiError(f"{path} is a directory now: the symlink was not put back")
        backups.put_back(path, entry)
    elif action.kind == "remove":
        _keep_current(path, archive)
        path.unlink(missing_ok=True)
    elif action.kind == "remove-dir":
        try:
            path.rmdir()
        except OSError as exc:
            raise MailtuiError(f"could not remove the directory {path}: {exc.strerror}") from None
    elif action.kind in ("set-dir", "make-dir"):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, entry["uid"], entry["gid"])
        os.chmod(path, entry["mode"])
    elif action.kind == "delete-user":
        run_command(["userdel", action.target])
    # userdel may have taken the group with the user
    elif action.kind == "delete-group" and backups.account_exists("group", action.target):
        run_command(["groupdel", action.target])


def _ufw_enabled_in(path: Path) -> bool | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.strip().startswith("ENABLED="):
            return line.split("=", 1)[1].strip().strip("'\"").lower() == "yes"
    return None


def _ufw_before(actions: list[Action], out: Out) -> bool:
    """Switch ufw off first when it was off before mailtui (`ufw disable` rewrites ufw.conf, which
    is restored afterwards). Returns whether ufw needs a reload once the rules are back."""

    touched = [a for a in actions if a.kind in ("restore", "remove") and a.target.startswith("/etc/ufw/")]
    if not touched:
        return False
    conf = next((a for a in actions if a.target == UFW_CONF and a.kind == "restore"), None)
    was_on = _ufw_enabled_in(backups.original_copy(Path(UFW_CONF))) if conf else None
    if was_on is False and ufw_active():
        out("switching ufw off (it was off before mailtui)")
        run_command(["ufw", "--force", "disable"], on_line=out)
        return False
    return ufw_active()


def _archive_dir() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = paths.ROLLBACKS_DIR
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    archive = base / stamp
    n = 1
    while archive.exists():
        n += 1
        archive = base / f"{stamp}-{n}"
    archive.mkdir(mode=0o700)
    return archive


def _archive_state(archive: Path) -> None:
    """Move mailtui's state (all of STATE_DIR but earlier rollbacks) into the archive."""
    for entry in sorted(paths.STATE_DIR.iterdir()):
        if entry.name == "rollbacks":
            continue
        shutil.move(str(entry), str(archive / entry.name))


def apply(actions: list[Action], out: Out, *, index: dict[str, Any] | None = None) -> Result:
    """Carry out the plan (see the module doc for the order); the caller holds the install lock."""

    index = backups.load_index() if index is None else index
    result = Result()
    archive = _archive_dir()
    result.archive = archive
    before = index.get("services_before")
    running = {name: services.is_running(name) for name in SERVICES}
    want = {name: bool(before.get(name)) if isinstance(before, dict) else running[name] for name in SERVICES}
    with backups.paused():
        for name in reversed(SERVICES):
            if running[name]:
                out(f"stopping {name}")
                safe_services.stop(name)
        reload_ufw = _ufw_before(actions, out)
        for action in actions:
            if not action.changes:
                if action.kind == "missing":
                    result.problems.append(action.summary)
                continue
            out(action.summary)
            try:
                _do(action, archive)
            except (MailtuiError, OSError) as exc:
                result.problems.append(f"{action.target}: {exc}")
                out(f"  failed: {exc}")
                continue
            result.done.append(action)
        if any(a.kind == "unit-off" for a in result.done):
            run_command(["systemctl", "daemon-reload"], on_line=out, check=False, timeout=60)
        if reload_ufw:
            out("reloading ufw with the restored rules")
            run_command(["ufw", "reload"], on_line=out, check=False)
        units_before = index.get("units_before")
        for name in SERVICES:
            if (isinstance(units_before, dict) and units_before.get(name) == "disabled" and services.has_systemd()
                    and services.unit_enabled(name) in services.STARTS_AT_BOOT):
                out(f"disabling {name} at boot again (its unit was disabled before mailtui)")
                disabled = services.disable_at_boot(name)
                if not disabled.ok:
                    result.problems.append(f"{name}: systemctl disable failed: {disabled.output.strip()}")
            if not want[name]:
                if running[name]:
                    out(f"{name} stays stopped (it did not run before mailtui)")
                continue
            out(f"starting {name} on the restored configuration")
            try:
                safe_services.start(name)
            except MailtuiError as exc:
                result.problems.append(f"{name} does not start on its restored configuration: {exc}")
                out(f"  {name} did not start: {exc}")
    _archive_state(archive)
    return result


def run(actions: list[Action], out: Out, *, index: dict[str, Any] | None = None) -> Result:
    """apply() under the install lock; refuses while an install runs."""

    if install_state.read_state().alive:
        raise Busy("an install is running: let it finish (mailtui install --attach) before rolling back")
    install_state.ensure_install_dir()
    with paths.INSTALL_LOCK.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy("an install is running: let it finish before rolling back") from None
        return apply(actions, out, index=index)
