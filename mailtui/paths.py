"""Where mailtui keeps things: its own state on disk and the stack's fixed paths, each written once.

A foundation module: it imports nothing of mailtui. Code reads these as `paths.NAME` at the moment it
needs them (never `from mailtui.paths import NAME`), so that a test can move all of mailtui's state with
`use_state_dir()`.
"""

from __future__ import annotations

import os
from pathlib import Path

# ---------------------------------------------------------------- mailtui's own state (root-only, 0700)


def state_paths(root: Path) -> dict[str, Path]:
    """Every path of mailtui's state under `root` (the state directory), by the name this module gives it."""
    install = root / "install"
    return {
        "STATE_DIR": root,
        "ANSWERS_FILE": root / "answers.toml",  # the effective answers of the last install (root 0600)
        "INSTALL_DIR": install,  # the running or last install:
        "INSTALL_STATE": install / "state.json",  # its progress (InstallState)
        "INSTALL_EVENTS": install / "events.jsonl",  # its events, one JSON object a line
        "PENDING_ANSWERS": install / "answers.toml",  # its answers (hashed): lets an interrupted install resume
        "INSTALL_LOCK": install / "lock",  # flock held by the worker
        "WORKER_LOG": install / "worker.log",  # the worker's own stdout/stderr
        "BACKUPS_DIR": root / "backups",  # originals of every path mailtui changed (system/backups.py)
        "ROLLBACKS_DIR": root / "rollbacks",  # what each `mailtui rollback` replaced, and the state it archived
        "DEBUG_FLAG": root / "debug",  # Dovecot's debug logging switched on from the dashboard / CLI
        "LMTP_MARKER": root / "lmtp-deferred.json",  # Postfix's LMTP deliveries paused around a Dovecot restart
        "LMTP_LOCK": root / "lmtp-deferred.lock",
        "DKIM_STATE": root / "dkim.json",  # each domain's DKIM selectors and their roles (model/dkim.py)
        "ACME_FAILURE": root / "acme-failure.txt",  # why the last ACME order failed (steps/acme.py)
        "RETIRED_CERTS": root / "retired-certificates",  # certbot's files for the hostname after leaving ACME
    }


_state = state_paths(Path(os.environ.get("MAILTUI_STATE_DIR", "/var/lib/mailtui")))
STATE_DIR = _state["STATE_DIR"]
ANSWERS_FILE = _state["ANSWERS_FILE"]
INSTALL_DIR = _state["INSTALL_DIR"]
INSTALL_STATE = _state["INSTALL_STATE"]
INSTALL_EVENTS = _state["INSTALL_EVENTS"]
PENDING_ANSWERS = _state["PENDING_ANSWERS"]
INSTALL_LOCK = _state["INSTALL_LOCK"]
WORKER_LOG = _state["WORKER_LOG"]
BACKUPS_DIR = _state["BACKUPS_DIR"]
ROLLBACKS_DIR = _state["ROLLBACKS_DIR"]
DEBUG_FLAG = _state["DEBUG_FLAG"]
LMTP_MARKER = _state["LMTP_MARKER"]
LMTP_LOCK = _state["LMTP_LOCK"]
DKIM_STATE = _state["DKIM_STATE"]
ACME_FAILURE = _state["ACME_FAILURE"]
RETIRED_CERTS = _state["RETIRED_CERTS"]
del _state

# ---------------------------------------------------------------- the stack's paths mailtui writes or reads

TLS_DIR = "/etc/ssl/mailtui"
SELF_SIGNED_CERT = f"{TLS_DIR}/cert.pem"
SELF_SIGNED_KEY = f"{TLS_DIR}/key.pem"
# ACME ([tls] mode = "acme"): certbot's files for the hostname ("lineage"), and what mailtui adds to them.
LETSENCRYPT_DIR = "/etc/letsencrypt"
ACME_DEPLOY_HOOK = "/usr/local/sbin/mailtui-reload-tls"  # certbot runs it after each renewal
CERTBOT_DROPIN = "/etc/systemd/system/certbot.service.d/mailtui.conf"  # the renewal's environment
CERTBOT_CRON = "/etc/cron.d/certbot"  # Debian's: renews on a machine without systemd


def acme_live(hostname: str) -> tuple[str, str]:
    """(certificate with its chain, key) of certbot's lineage for `hostname` (symlinks it updates)."""
    return f"{LETSENCRYPT_DIR}/live/{hostname}/fullchain.pem", f"{LETSENCRYPT_DIR}/live/{hostname}/privkey.pem"


def acme_renewal_conf(hostname: str) -> str:
    return f"{LETSENCRYPT_DIR}/renewal/{hostname}.conf"


# Dovecot 2.3 wants DH parameters; Debian/Ubuntu ship these, else mailtui generates its own.
DOVECOT_SHIPPED_DH = "/usr/share/dovecot/dh.pem"
GENERATED_DH = "/etc/dovecot/dh.pem"
MAIL_ROOT = "/var/mail/vhosts"
VMAIL_UID = 5000
MAIL_LOG = "/var/log/mail.log"
