"""The stack's services for the dashboard and `mailtui service …`: running, PID, uptime, the TCP ports
each one listens on, start/stop/restart/reload, configuration problems, and Dovecot's debug switch.

Ports are found the way `ss -ltnp` finds them: the inodes of the LISTEN sockets in /proc/net/tcp{,6}
matched against the `socket:[INODE]` links in /proc/PID/fd of every process of the service's tree
(Postfix's master and Dovecot's master open their inet listeners themselves; MariaDB's 3306 may
be bound to 127.0.0.1 only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError, ValidationError
from mailtui.install import plan as install_plan
from mailtui.install import state as install_state
from mailtui.stack import lmtp_quiesce
from mailtui.stack import services as safe_services
from mailtui.steps.dovecot import DovecotStep, debug_flag
from mailtui.system import fail2ban, files, services
from mailtui.system.commands import run, which

STACK = ("postfix", "dovecot", "mariadb")
# Monitored (and controllable) as well once installed: brute-force protection ([security] fail2ban), and
# rspamd (DKIM signing and the spam filter, [dkim] [spam]), Redis and unbound ([spam]) and postsrsd ([srs]).
OPTIONAL = ("fail2ban", "rspamd", "redis-server", "unbound", "postsrsd")
OPTIONAL_PROGRAMS = {"fail2ban": fail2ban.SERVER, "rspamd": "rspamd", "redis-server": "redis-server",
                     "unbound": "unbound", "postsrsd": "postsrsd"}
VERBS = ("start", "stop", "restart", "reload")
LISTEN_STATE = "0A"
PROC = Path("/proc")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    label: str
    running: bool
    pid: int | None
    uptime_seconds: float | None
    ports: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "label": self.label, "running": self.running, "pid": self.pid,
                "uptime_seconds": None if self.uptime_seconds is None else round(self.uptime_seconds, 1),
                "ports": list(self.ports)}


# ---------------------------------------------------------------- /proc

def listening_sockets(proc: Path = PROC) -> dict[int, int]:
    """inode -> port of every TCP socket in LISTEN state (IPv4 and IPv6)."""
    found: dict[int, int] = {}
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (proc / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            if len(fields) > 9 and fields[3] == LISTEN_STATE:
                try:
                    found[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
                except ValueError:
                    continue
    return found


def _ppid(pid: int, proc: Path) -> int | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def process_tree(root: int, proc: Path = PROC) -> set[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e.name for e in os.scandir(proc) if e.name.isdigit()]
    except OSError:
        entries = []
    for name in entries:
        ppid = _ppid(int(name), proc)
        if ppid is not None:
            children.setdefault(ppid, []).append(int(name))
    tree, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def socket_inodes(pid: int, proc: Path = PROC) -> set[int]:
    inodes: set[int] = set()
    fd_dir = proc / str(pid) / "fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:  # gone, or not ours to read
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target.endswith("]"):
            try:
                inodes.add(int(target[8:-1]))
            except ValueError:
                continue
    return inodes


def listening_ports_of(root_pid: int, proc: Path = PROC) -> list[int]:
    """The TCP ports that `root_pid` or one of its descendants listens on, sorted."""
    listening = listening_sockets(proc)
    ports: set[int] = set()
    for pid in process_tree(root_pid, proc):
        ports.update(listening[i] for i in socket_inodes(pid, proc) if i in listening)
    return sorted(ports)


# ---------------------------------------------------------------- status and control

def status(name: str, proc: Path = PROC) -> ServiceStatus:
    name = _known(name)
    pid = services.main_pid(name)
    if pid is None:
        return ServiceStatus(name, services.info(name).label, False, None, None, [])
    try:
        uptime = services.uptime_seconds(name)
    except (OSError, ValueError, IndexError):  # it ended between the two looks
        uptime = None
    return ServiceStatus(name, services.info(name).label, True, pid, uptime, listening_ports_of(pid, proc))


def php_fpm_services(root: Path = Path("/etc/php")) -> tuple[str, ...]:
    """The webmail's PHP-FPM ([webmail]): one service per PHP version that has an FPM (php8.2-fpm)."""
    try:
        versions = sorted(entry.name for entry in root.iterdir() if (entry / "fpm").is_dir())
    except OSError:
        return ()
    return tuple(f"php{version}-fpm" for version in versions)


def monitored() -> tuple[str, ...]:
    """The services listed and controlled: the stack, plus fail2ban, rspamd, Redis, unbound, postsrsd and the
    webmail's nginx and PHP-FPM where they are installed."""
    web = ("nginx", *php_fpm_services()) if which("nginx") is not None else ()
    return STACK + tuple(name for name in OPTIONAL if which(OPTIONAL_PROGRAMS[name]) is not None) + web


def statuses(proc: Path = PROC) -> list[ServiceStatus]:
    return [status(name, proc) for name in monitored()]


def _known(name: str) -> str:
    known = monitored()
    if name not in known:
        raise ValidationError({"service": f"{name!r} is not one of {', '.join(known)}"})
    return name


MAX_WAIT_LIMIT = 600.0  # seconds: a restart of Dovecot waits at most this long for deliveries in flight


def control(name: str, verb: str, max_wait: float | None = None) -> str:
    """start / stop / restart / reload a service of the stack; returns the command's output.
    Raises MailtuiError (with that output) when the service does not reach the wanted state. `max_wait`
    (seconds, restart and stop): how long Dovecot's restart waits for Postfix's deliveries in flight."""
    name = _known(name)
    if verb not in VERBS:
        raise ValidationError({"action": f"{verb!r} is not one of {', '.join(VERBS)}"})
    if max_wait is not None and verb not in ("restart", "stop"):
        raise ValidationError({"max wait": f"only a restart or stop waits for deliveries, not a {verb}"})
    if max_wait is not None and not 0 <= max_wait <= MAX_WAIT_LIMIT:
        raise ValidationError({"max wait": f"{max_wait:g} s: give between 0 and {MAX_WAIT_LIMIT:g} seconds"})
    if verb == "reload" and not services.is_running(name):
        raise MailtuiError(f"{services.info(name).label} is not running: start it instead of reloading it")
    if verb in ("restart", "stop"):
        wait = lmtp_quiesce.WAIT_SECONDS if max_wait is None else max_wait
        act = safe_services.restart if verb == "restart" else safe_services.stop
        output = act(name, drain_wait=wait).output
    else:
        output = {"start": safe_services.start, "reload": safe_services.reload}[verb](name).output
    if name == "dovecot" and verb != "stop":
        output += safe_services.reconnect_postfix_to_dovecot()
    return output


def config_problems() -> list[str]:
    """Warnings and errors from `postfix check` and `doveconf -n`, one line each, prefixed with the
    command that said it. Empty when both are quiet."""
    problems: list[str] = []
    if which("postfix"):
        result = run(["postfix", "check"], check=False, timeout=120)
        lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
        problems += [f"postfix check: {_strip_prog(ln)}" for ln in lines]
        if not result.ok and not lines:
            problems.append(f"postfix check: failed with exit code {result.returncode}")
    else:
        problems.append("postfix check: postfix is not installed")
    if which("doveconf"):
        result = run(["doveconf", "-n"], check=False, timeout=120)
        # stdout is the configuration; doveconf's own messages start with "doveconf: ".
        lines = [ln.strip() for ln in result.output.splitlines() if ln.startswith("doveconf: ")]
        problems += [f"doveconf -n: {_strip_prog(ln)}" for ln in lines]
        if not result.ok and not lines:
            tail = "\n".join(result.output.strip().splitlines()[-3:])
            problems.append(f"doveconf -n: failed with exit code {result.returncode}: {tail}")
    else:
        problems.append("doveconf -n: dovecot-core is not installed")

    try:
        problems += [f"mailtui: {p}" for p in lmtp_quiesce.problems()]
    except MailtuiError as exc:
        problems.append(f"mailtui: cannot tell whether Postfix defers deliveries to Dovecot: {exc}")
    return problems


def _strip_prog(line: str) -> str:
    """'postfix/postfix-script: warning: x' -> 'warning: x'; 'doveconf: Error: x' -> 'Error: x'."""
    head, sep, rest = line.partition(": ")
    if sep and " " not in head and (head.startswith("postfix") or head.startswith("postconf")
                                    or head == "doveconf"):
        return rest
    return line


# ---------------------------------------------------------------- Dovecot debug logging

def dovecot_debug_enabled() -> bool:
    return debug_flag()


def _write_flag(on: bool) -> None:
    if on:
        files.ensure_state_dir()
        files.write_private(paths.DEBUG_FLAG, "on\n")
    else:
        paths.DEBUG_FLAG.unlink(missing_ok=True)


def set_dovecot_debug(on: bool) -> str:
    """Switch Dovecot's debug logging (auth_debug, mail_debug, TLS debugging; never the settings that
    log passwords) on or off: store the switch where the Dovecot step reads it (so a later install
    keeps it), re-render /etc/dovecot/dovecot.conf through that step and `doveadm reload`.
    Returns what was done, one line per action. On failure the switch is put back as it was."""

    answers = install_state.load_saved_answers()
    if answers is None:
        raise MailtuiError("mailtui has not installed this machine yet: there is no Dovecot configuration "
                           "of mailtui's to change")
    before = dovecot_debug_enabled()
    _write_flag(on)
    done: list[str] = []
    try:
        ctx = install_plan.make_context(answers)
        out = ctx.out("dovecot")
        for resource in DovecotStep().resources(ctx):
            change = resource.pending(ctx)
            if change is not None:
                resource.apply(ctx, out)
                done.append(change.summary)
    except BaseException:
        _write_flag(before)
        raise
    if not done:
        done.append("the Dovecot configuration already had debug logging " + ("on" if on else "off"))
    if services.is_running("dovecot"):
        result = run(["doveadm", "reload"], check=False, timeout=60)
        if not result.ok:
            raise MailtuiError(f"`doveadm reload` failed (the new configuration is written):\n"
                               f"{result.output.strip()}")
        done.append("doveadm reload")
        done.append(safe_services.reconnect_postfix_to_dovecot().strip())
    else:
        done.append("Dovecot is not running: the setting applies when it starts")
    return "\n".join(done)
