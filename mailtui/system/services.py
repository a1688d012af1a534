"""Starting, stopping and inspecting the stack's services, with or without systemd.

systemd present (/run/systemd/system) -> systemctl; otherwise `service` (works with and without
systemd on Debian/Ubuntu), falling back to /etc/init.d/NAME. Starts are detached (see commands.py).

Stopping or restarting Dovecot pauses Postfix's LMTP deliveries around it (lmtp_quiesce.py), so no
message being delivered at that moment is saved by Dovecot and then delivered again by Postfix; every
service action first undoes such a pause that a killed mailtui left behind.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from mailtui.errors import MailtuiError
from mailtui.system.commands import Result, run_detached, which


@dataclass(frozen=True)
class ServiceInfo:
    name: str  # init script / unit name
    pidfile: str
    process_names: tuple[str, ...]
    label: str


SERVICES: dict[str, ServiceInfo] = {
    "postfix": ServiceInfo("postfix", "/var/spool/postfix/pid/master.pid", ("master",), "Postfix"),
    "dovecot": ServiceInfo("dovecot", "/run/dovecot/master.pid", ("dovecot",), "Dovecot"),
    "mariadb": ServiceInfo("mariadb", "/run/mysqld/mysqld.pid", ("mariadbd", "mysqld"), "MariaDB"),
    # the process is `python3 /usr/bin/fail2ban-server`: its comm is the script's name
    "fail2ban": ServiceInfo("fail2ban", "/run/fail2ban/fail2ban.pid", ("fail2ban-server",), "fail2ban"),
}


def info(name: str) -> ServiceInfo:
    try:
        return SERVICES[name]
    except KeyError:
        return ServiceInfo(name, f"/run/{name}.pid", (name,), name)


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir()


def _process_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def main_pid(name: str) -> int | None:
    """The PID of the service's master process, or None when it is not running."""
    svc = info(name)
    try:
        pid = int(Path(svc.pidfile).read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and _process_name(pid) in svc.process_names:
        return pid
    # No (valid) pidfile: look for the process itself.
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and _process_name(int(entry.name)) in svc.process_names:
            ppid = _parent_pid(int(entry.name))
            if ppid is None or _process_name(ppid) not in svc.process_names:
                return int(entry.name)
    return None


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def is_running(name: str) -> bool:
    return main_pid(name) is not None


def uptime_seconds(name: str) -> float | None:
    pid = main_pid(name)
    if pid is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    start = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    boot_uptime = float(Path("/proc/uptime").read_text().split()[0])
    return max(0.0, boot_uptime - start)


def control(name: str, verb: str, *, check: bool = True) -> Result:
    """Run start|stop|restart|reload for a service the way this machine does it."""
    svc = info(name)
    if has_systemd() and which("systemctl"):
        argv = ["systemctl", verb, svc.name]
    elif which("service"):
        argv = ["service", svc.name, verb]
    elif Path(f"/etc/init.d/{svc.name}").exists():
        argv = [f"/etc/init.d/{svc.name}", verb]
    else:
        raise MailtuiError(f"cannot {verb} {svc.label}: no systemctl, service or /etc/init.d/{svc.name} here")
    return run_detached(argv, check=check)


def _wait(name: str, running: bool, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(name) == running:
            return True
        time.sleep(0.1)
    return is_running(name) == running


# Dovecot's master PID after mailtui's start or restart that reloaded Postfix once Dovecot was back up: the
# reload that reconnect_postfix_to_dovecot() would do is done already.
_postfix_reloaded_for: int | None = None


def _with_notes(result: Result, *notes: str) -> Result:
    """`result` with mailtui's own notes (what it did around the command) after the command's output."""
    text = "\n".join(n.strip() for n in notes if n and n.strip())
    if not text:
        return result
    output = result.output.rstrip("\n")
    return Result(result.argv, result.returncode, f"{output}\n{text}" if output else text)


def _repair() -> str:
    """Every service action first undoes a deferral of Postfix's LMTP deliveries that a killed mailtui
    left behind (see lmtp_quiesce)."""
    from mailtui.stack import lmtp_quiesce

    return lmtp_quiesce.repair_leftover()


def start(name: str, timeout: float = 30) -> Result:
    """Start a service. Dovecot: mail that Postfix deferred meanwhile because Dovecot was down (or because
    mailtui paused the deliveries) is asked for at once (Postfix reloaded, `postqueue -i`), instead of at
    Postfix's next retry, 5 minutes or more later."""
    global _postfix_reloaded_for
    repaired = _repair()
    result = control(name, "start", check=False)
    if not _wait(name, True, timeout):
        raise MailtuiError(f"{info(name).label} did not start:\n{result.output.strip()}")
    if name != "dovecot":
        return _with_notes(result, repaired)
    from mailtui.stack import lmtp_quiesce

    delivered, reloaded = lmtp_quiesce.deliver_after_start()
    if reloaded:
        _postfix_reloaded_for = main_pid("dovecot")
    return _with_notes(result, repaired, delivered)


def _stop(name: str, timeout: float) -> Result:
    result = control(name, "stop", check=False)
    if not _wait(name, False, timeout):
        raise MailtuiError(f"{info(name).label} did not stop:\n{result.output.strip()}")
    return result


def stop(name: str, timeout: float = 30) -> Result:
    """Stop a service. Dovecot: Postfix's LMTP deliveries are paused first and every one in flight
    finishes (lmtp_quiesce), so none is cut off after Dovecot saved the message; once Dovecot is down
    `defer_transports` is put back, and mail then waits in Postfix's queue (deferred: its LMTP socket
    is gone) until Dovecot is started again."""
    if name != "dovecot":
        return _with_notes(_stop(name, timeout), _repair())
    from mailtui.stack import lmtp_quiesce

    with lmtp_quiesce.quiesced("stop") as quiesce:
        result = _stop(name, timeout)
    return _with_notes(result, *quiesce.notes)


def _restart(name: str, timeout: float) -> Result:
    old = main_pid(name)
    result = control(name, "restart", check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = main_pid(name)
        if pid is not None and pid != old:
            return result
        time.sleep(0.1)
    if main_pid(name) is None:
        raise MailtuiError(f"{info(name).label} did not come back after restart:\n{result.output.strip()}")
    return result


def restart(name: str, timeout: float = 30) -> Result:
    """Restart a service. Dovecot: Postfix's LMTP deliveries are paused around it (lmtp_quiesce):
    a delivery cut off by the shutdown would be saved by Dovecot and delivered again by Postfix.

    Only mailtui's restart does this: `service dovecot restart` (or systemctl) typed by hand is outside
    mailtui's control and can still duplicate a message that is being delivered at that moment."""
    global _postfix_reloaded_for
    if name != "dovecot":
        return _with_notes(_restart(name, timeout), _repair())
    from mailtui.stack import lmtp_quiesce

    with lmtp_quiesce.quiesced("restart") as quiesce:
        result = _restart(name, timeout)
        quiesce.wait_for_listener()
    if quiesce.reloaded:
        _postfix_reloaded_for = main_pid("dovecot")
    return _with_notes(result, *quiesce.notes)


def reload(name: str) -> Result:
    repaired = _repair()
    return _with_notes(control(name, "reload"), repaired)


def reconnect_postfix_to_dovecot() -> str:
    """Postfix's idle smtpd processes keep their connection to Dovecot's auth socket; once Dovecot
    restarts or reloads, the next AUTH in each of them fails once with "454 4.7.0 Temporary
    authentication failure: Connection lost to authentication server" (measured on Debian 12).
    `postfix reload` replaces them (sessions in progress finish first). Returns what was done.
    Skipped when mailtui's restart of Dovecot reloaded Postfix already, after Dovecot was back."""
    global _postfix_reloaded_for
    if not is_running("postfix"):
        return ""
    done, _postfix_reloaded_for = _postfix_reloaded_for, None
    if done is not None and done == main_pid("dovecot"):
        return ("\n(Postfix was reloaded once Dovecot was back: its smtpd processes reconnect to Dovecot's "
                "authentication)")
    result = reload("postfix")
    return ("\n" + result.output.strip() if result.output.strip() else "") + \
        "\npostfix reload (its smtpd processes reconnect to Dovecot's authentication)"
