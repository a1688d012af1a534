"""Where the mail log is, and how it is rotated.

With rsyslog (Ubuntu, older Debian) /var/log/mail.log comes from syslog. Debian 12+ has no syslog
daemon by default: then Postfix writes the file itself (maillog_file, via postlogd) and Dovecot
writes to the same file (log_path), and logrotate rotates it.
"""

from __future__ import annotations

from pathlib import Path

from mailtui import paths

LOGROTATE_FILE = "/etc/logrotate.d/mailtui-mail"
SYSLOG_DAEMONS = ("/usr/sbin/rsyslogd", "/usr/sbin/syslog-ng")


def has_syslog_daemon() -> bool:
    return any(Path(p).exists() for p in SYSLOG_DAEMONS)


def log_to_file() -> bool:
    """True when Postfix and Dovecot must write the mail log themselves."""
    return not has_syslog_daemon()


def logrotate_config(path: str = paths.MAIL_LOG) -> str:
    return (
        "# Managed by mailtui: the mail log written by Postfix (maillog_file) and Dovecot (log_path).\n"
        f"{path} {{\n"
        "    weekly\n"
        "    rotate 8\n"
        "    missingok\n"
        "    notifempty\n"
        "    compress\n"
        "    delaycompress\n"
        "    create 0640 root adm\n"
        "    sharedscripts\n"
        "    postrotate\n"
        "        /usr/sbin/postfix reload >/dev/null 2>&1 || true\n"
        "        /usr/bin/doveadm log reopen >/dev/null 2>&1 || true\n"
        "    endscript\n"
        "}\n"
    )
