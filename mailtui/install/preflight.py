"""What the machine looks like before an install — the wizard's welcome screen. Changes nothing.

`run_preflight()` never raises for an odd machine: whatever cannot be read (not root, no dpkg, no
database server) is reported as absent/unknown, and only "not root" and "unsupported release" are
blocking problems.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mailtui import paths
from mailtui.install import state as install_state
from mailtui.model import answers_file, defaults, validate
from mailtui.model.answers import Answers, Domain
from mailtui.policy import ports
from mailtui.stack import db
from mailtui.steps.firewall import ufw_active
from mailtui.system.commands import which
from mailtui.system.platform import Platform, installed_version

LISTEN_STATE = "0A"
PROC = Path("/proc")
# The ports a new install serves (blocking if something else holds them) and the plain-text ones (shown).
MAIL_PORTS = tuple((p.number, p.label) for p in ports.for_preflight()[0])
INFO_PORTS = tuple((p.number, p.label) for p in ports.for_preflight()[1])
TUTORIAL_DB = "mailserver"


@dataclass(frozen=True)
class PortStatus:
    port: int
    label: str
    in_use: bool
    by: str  # the listening process's name (/proc/PID/comm, e.g. "master" for Postfix) if known, else ""


@dataclass
class Preflight:
    is_root: bool
    os_pretty: str
    supported: bool
    systemd: bool
    postfix_version: str | None  # installed packages only (dpkg-query), e.g. "3.7.11-0+deb12u1"
    dovecot_version: str | None
    mariadb_version: str | None
    hostname: str
    mailname: str | None
    ports: list[PortStatus]
    ufw_installed: bool
    ufw_active: bool
    mail_log: str | None
    earlier_install: bool
    # idle, running, done, failed, interrupted (running but its worker is gone, or a phased install
    # that stopped between phases: install_plan.resume_from(install_state.read_state()) lists what is left)
    install_state: str
    tutorial_database: bool
    problems: list[str] = field(default_factory=list)

    def suggested_answers(self) -> Answers:
        """Defaults for the wizard: the saved answers of an earlier install, else from this machine.

        Database passwords are generated when empty (an earlier install's are kept)."""
        base: Answers | None = None
        if self.earlier_install:
            try:
                base = answers_file.load(paths.ANSWERS_FILE)
            except Exception:  # unreadable or invalid: start from the machine instead
                base = None
        if base is None:
            base = defaults.new_install(self.hostname)
        elif not base.domains and base.hostname.count(".") >= 2:
            base = replace(base, domains=[Domain(base.hostname.split(".", 1)[1])])
        return base.with_generated_secrets()


# ---------------------------------------------------------------- ports and their processes


def listening_sockets(tables: Iterable[Path] = (PROC / "net/tcp", PROC / "net/tcp6")) -> dict[int, set[int]]:
    """port -> socket inodes of the TCP sockets in LISTEN state (IPv4 and IPv6)."""
    result: dict[int, set[int]] = {}
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN_STATE:
                continue
            try:
                port = int(fields[1].rsplit(":", 1)[1], 16)
                inode = int(fields[9])
            except ValueError:
                continue
            result.setdefault(port, set()).add(inode)
    return result


def socket_owners(inodes: set[int], proc: Path = PROC) -> dict[int, str]:
    """inode -> process name, by finding `socket:[inode]` among /proc/*/fd (only what we may read)."""
    owners: dict[int, str] = {}
    if not inodes:
        return owners
    try:
        pids = [e for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        return owners
    for entry in pids:
        fd_dir = Path(entry.path) / "fd"
        try:
            fds = os.scandir(fd_dir)
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    target = os.readlink(fd.path)
                except OSError:
                    continue
                if not target.startswith("socket:["):
                    continue
                try:
                    inode = int(target[8:-1])
                except ValueError:
                    continue
                if inode in inodes and inode not in owners:
                    try:
                        owners[inode] = (Path(entry.path) / "comm").read_text().strip()
                    except OSError:
                        owners[inode] = ""
        if len(owners) == len(inodes):
            break
    return owners


def port_statuses(wanted: Iterable[tuple[int, str]] = MAIL_PORTS + INFO_PORTS, proc: Path = PROC) -> list[PortStatus]:
    listening = listening_sockets((proc / "net/tcp", proc / "net/tcp6"))
    wanted = list(wanted)
    inodes = {i for port, _ in wanted for i in listening.get(port, ())}
    owners = socket_owners(inodes, proc)
    result = []
    for port, label in wanted:
        names = sorted({owners[i] for i in listening.get(port, ()) if owners.get(i)})
        result.append(PortStatus(port, label, port in listening, ", ".join(names)))
    return result


# ---------------------------------------------------------------- the rest of the machine


def machine_hostname(hostname_file: Path = Path("/etc/hostname")) -> str:
    """The fully qualified name of this machine: socket.getfqdn(), else /etc/hostname."""
    candidates = []
    with contextlib.suppress(OSError):
        candidates.append(socket.getfqdn())
    candidates.append(socket.gethostname())
    with contextlib.suppress(OSError):
        candidates.append(hostname_file.read_text().strip())
    names = [c.strip().lower() for c in candidates if c and c.strip()]
    for name in names:  # a dotted, non-local name wins (getfqdn may say "localhost" on a bare VM)
        if "." in name and name not in validate.LOCAL_NAMES:
            return name
    for name in names:
        if name not in validate.LOCAL_NAMES:
            return name
    return names[0] if names else "localhost"


def read_mailname(path: Path = Path("/etc/mailname")) -> str | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a root-only directory when not root
        return False


def install_status() -> str:
    try:
        state = install_state.read_state()
    except Exception:
        return "idle"
    if state.status == "running" and not state.alive:
        return "interrupted"
    if state.status == "done" and not install_state.installed_completely(state):
        return "interrupted"  # a phased install stopped between phases (e.g. after the packages)
    return state.status


def has_tutorial_database(name: str = TUTORIAL_DB) -> bool:
    """A local database `name` with a virtual_users table (root over the UNIX socket). Never raises."""
    try:
        socket_path = db.local_socket()
        if socket_path is None:
            return False
        conn = db.connect(db.Endpoint(socket=socket_path), "root", timeout=3)
        with db.closing(conn), conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_NAME = 'virtual_users'", (name,))
            return cur.fetchone() is not None
    except Exception:
        return False


def _ufw() -> tuple[bool, bool]:
    try:
        installed = which("ufw") is not None
        return installed, installed and ufw_active()
    except Exception:
        return False, False


def _versions() -> tuple[str | None, str | None, str | None]:
    def get(*packages: str) -> str | None:
        for package in packages:
            try:
                version = installed_version(package)
            except Exception:
                version = None
            if version:
                return version
        return None

    return get("postfix"), get("dovecot-core"), get("mariadb-server", "mariadb-server-core")


def run_preflight() -> Preflight:
    problems = []
    is_root = os.geteuid() == 0
    if not is_root:
        problems.append("mailtui must run as root to install and manage the mail server "
                        "(log in as root, or: sudo scripts/run)")
    try:
        platform = Platform.detect()
        os_pretty, supported, systemd = platform.pretty_name, platform.supported, platform.systemd
    except Exception:
        os_pretty, supported, systemd = "unknown system", False, False
    if not supported:
        problems.append(f"{os_pretty} is not a supported release (Debian 12/13, Ubuntu 22.04/24.04/26.04)")
    postfix, dovecot, mariadb = _versions()
    ufw_installed, ufw_on = _ufw()
    return Preflight(
        is_root=is_root,
        os_pretty=os_pretty,
        supported=supported,
        systemd=systemd,
        postfix_version=postfix,
        dovecot_version=dovecot,
        mariadb_version=mariadb,
        hostname=machine_hostname(),
        mailname=read_mailname(),
        ports=port_statuses(),
        ufw_installed=ufw_installed,
        ufw_active=ufw_on,
        mail_log=paths.MAIL_LOG if _exists(Path(paths.MAIL_LOG)) else None,
        earlier_install=_exists(paths.ANSWERS_FILE),
        install_state=install_status(),
        tutorial_database=has_tutorial_database(),
        problems=problems,
    )
