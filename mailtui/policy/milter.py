"""Where Postfix reaches its milter (rspamd's proxy worker in milter mode): written once, read by the
Postfix step (smtpd_milters), the DKIM step (which waits for it) and the checks.

A TCP socket on loopback, not a unix socket: the chrooted smtpd processes reach it without a socket
inside Postfix's spool. rspamd's proxy worker listens there as Debian ships it (worker-proxy.inc:
`bind_socket = "localhost:11332"`, `milter = yes`).
"""

from __future__ import annotations

from pathlib import Path

from mailtui.model.answers import Answers

# rspamd's own settings, merged over Debian's (REFERENCE-stack §1): every file mailtui writes for rspamd.
RSPAMD_LOCAL_D = Path("/etc/rspamd/local.d")

HOST = "127.0.0.1"
PORT = 11332
POSTFIX_MILTER = f"inet:{HOST}:{PORT}"
# When the milter cannot be reached, Postfix accepts the mail as if there were none (unsigned): mail keeps
# flowing and `mailtui check` names rspamd. Postfix's own default differs by release (3.7: tempfail, 3.10:
# shutdown), so it is always set.
DEFAULT_ACTION = "accept"
# Postfix makes bounces itself and hands them to non_smtpd_milters only for the classes listed here (its
# default: none), so without it bounces would leave unsigned. Only "bounce": postmaster notifications stay
# uninspected. Postfix warns that inspecting its own mail is unsafe where header/body checks could reject
# it; mailtui sets none, and rspamd takes no action on mail here (headers only).
INTERNAL_FILTER_CLASSES = "bounce"


def wanted(answers: Answers) -> bool:
    """rspamd runs as Postfix's milter when it signs (DKIM) or scores (the spam filter), or both."""
    return answers.dkim.enabled or answers.spam.enabled
