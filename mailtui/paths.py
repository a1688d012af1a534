"""Where mailtui puts things (one place, so steps, checks and the dashboard agree)."""

from __future__ import annotations

from mailtui.model.answers import Answers
from mailtui.system.files import STATE_DIR

ANSWERS_FILE = STATE_DIR / "answers.toml"  # the effective answers of the last install (root 0600)
TLS_DIR = "/etc/ssl/mailtui"
SELF_SIGNED_CERT = f"{TLS_DIR}/cert.pem"
SELF_SIGNED_KEY = f"{TLS_DIR}/key.pem"
# Dovecot 2.3 wants DH parameters; Debian/Ubuntu ship these, else mailtui generates its own.
DOVECOT_SHIPPED_DH = "/usr/share/dovecot/dh.pem"
GENERATED_DH = "/etc/dovecot/dh.pem"
MAIL_ROOT = "/var/mail/vhosts"
VMAIL_UID = 5000
MAIL_LOG = "/var/log/mail.log"


def tls_cert(answers: Answers) -> str:
    return answers.tls.cert if answers.tls.mode == "files" else SELF_SIGNED_CERT


def tls_key(answers: Answers) -> str:
    return answers.tls.key if answers.tls.mode == "files" else SELF_SIGNED_KEY
