"""Starting, stopping and inspecting the stack's services, with or without systemd.

systemd present (/run/systemd/system) -> systemctl; otherwise `service` (works with and without
systemd on Debian/Ubuntu), falling back to /etc/init.d/NAME. Starts are detached (see commands.py).
These are the plain actions; mailtui's own start/stop/restart (stack/services.py) add what keeps mail
safe around them (no delivery cut off by a Dovecot restart).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from mailtui.errors import MailtuiError
from mailtui.system.commands import Result, run, run_detached, which


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
    "rspamd": ServiceInfo("rspamd", "/run/rspamd/rspamd.pid", ("rspamd",), "rspamd"),
    "postsrsd": ServiceInfo("postsrsd", "/run/postsrsd.pid", ("postsrsd",), "postsrsd"),
    "redis-server": ServiceInfo("redis-server", "/run/redis/redis-server.pid", ("redis-server",), "Redis"),
    "unbound": ServiceInfo("unbound", "/run/unbound.pid", ("unbound",), "unbound"),
    "nginx": ServiceInfo("nginx", "/run/nginx.pid", ("nginx",), "nginx"),
}


def info(name: str) -> ServiceInfo:
    try:
        return SERVICES[name]
    except KeyError:
        php = re.fullmatch(r"php(\d+\.\d+)-fpm", name)
        if php:  # Debian's PHP-FPM of one PHP version: the process is php-fpm8.2
            return ServiceInfo(name, f"/run/php/{name}.pid", (f"php-fpm{php.group(1)}",), f"PHP-FPM {php.group(1)}")
        return ServiceInfo(name, f"/run/{name}.pid", (name,), name)


def has_systemd() -> bool:
    return Path("/run/systemd/system").is_dir()


# `systemctl is-enabled` words for a unit that starts at boot (or with another unit that does).
STARTS_AT_BOOT = ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")


@dataclass(frozen=True)
class UnitState:
    """A service's systemd unit: `systemctl is-enabled` and `is-active` (e.g. "enabled", "active")."""

    enabled: str
    active: str

    @property
    def starts_at_boot(self) -> bool:
        return self.enabled in STARTS_AT_BOOT

    @property
    def is_active(self) -> bool:
        return self.active == "active"

    @property
    def set_up(self) -> bool:
        """Active now and started at boot: it runs, and comes back after a reboot."""
        return self.is_active and self.starts_at_boot


def _systemctl_says(verb: str, unit: str) -> str:
    lines = run(["systemctl", verb, unit], check=False, timeout=30).output.strip().splitlines()
    return lines[-1].strip() if lines else "unknown"


def unit_enabled(name: str) -> str:
    """`systemctl is-enabled` of the service's unit ("enabled", "disabled", …; systemd machines): one
    program, where whether it is active does not matter."""
    return _systemctl_says("is-enabled", info(name).name)


def unit_state(name: str) -> UnitState:
    """The unit of a service on a machine with systemd (has_systemd())."""
    return UnitState(unit_enabled(name), _systemctl_says("is-active", info(name).name))


def enable_at_boot(name: str) -> Result:
    """`systemctl enable` the service's unit (systemd machines): it starts again after a reboot."""
    return run(["systemctl", "enable", info(name).name], timeout=60)


def disable_at_boot(name: str) -> Result:
    """`systemctl disable` the service's unit (rollback: as it was before mailtui enabled it)."""
    return run(["systemctl", "disable", info(name).name], check=False, timeout=60)


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
            ppid = parent_pid(int(entry.name))
            if ppid is None or _process_name(ppid) not in svc.process_names:
                return int(entry.name)
    return None


def parent_pid(pid: int) -> int | None:
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


def wait_until(name: str, running: bool, timeout: float) -> bool:
    """Wait until the service runs (or stopped); whether it did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running(name) == running:
            return True
        time.sleep(0.1)
    return is_running(name) == running


def stop_and_wait(name: str, timeout: float) -> Result:
    """Stop the service and wait until it is gone (MailtuiError if it is still there after `timeout`)."""
    result = control(name, "stop", check=False)
    if not wait_until(name, False, timeout):
        raise MailtuiError(f"{info(name).label} did not stop:\n{result.output.strip()}")
    return result


def restart_and_wait(name: str, timeout: float) -> Result:
    """Restart the service and wait until a new master process runs (MailtuiError if none comes back)."""
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
