"""The spam filter's facts shared by the steps that build it (steps/spam.py: Redis and the Sieve script;
steps/dkim.py: rspamd's files; steps/dovecot.py: the script run before every delivery) and the checks.

rspamd scores every message through the milter (policy/milter.py) and takes the action of the highest
threshold reached ([spam] in the answers): greylist (4xx once, for a sender not seen before), add header
(rspamd's proxy adds `X-Spam: Yes`; the Sieve script below files the message into Junk), reject (5xx at the
end of DATA). Every delivered message from outside carries X-Spam-Status with its score.
"""

from __future__ import annotations

# rspamd's proxy (milter mode) adds this header with the value "Yes" at the add-header action
# (worker-proxy.inc: spam_header; the default name).
SPAM_HEADER = "X-Spam"
JUNK_FOLDER = "Junk"  # the folder's name in dovecot.conf's namespace (special_use \Junk)
# The global Sieve script Dovecot runs before every delivery (sieve_before); sievec compiles it next to
# itself (.svbin) so that a delivery never has to.
SIEVE_DIR = "/etc/dovecot/sieve"
JUNK_SIEVE = f"{SIEVE_DIR}/mailtui-junk.sieve"
# Learning (IMAPSieve): a message copied or moved into Junk is piped to LEARN_PROGRAM with "spam", one moved out
# of Junk (not into Trash) with "ham"; the program hands it to rspamd's controller (rspamc, from loopback:
# the controller trusts 127.0.0.1 without a password). Scripts run only from the pipe directory.
LEARN_SPAM_SIEVE = f"{SIEVE_DIR}/mailtui-learn-spam.sieve"
LEARN_HAM_SIEVE = f"{SIEVE_DIR}/mailtui-learn-ham.sieve"
SIEVE_PIPE_DIR = "/usr/local/lib/mailtui/sieve-pipe"
LEARN_PROGRAM = "mailtui-learn"
LEARN_PROGRAM_PATH = f"{SIEVE_PIPE_DIR}/{LEARN_PROGRAM}"
RSPAMD_CONTROLLER = "127.0.0.1:11334"
# rspamd's own log (Debian's logging.inc), one line per scanned message: the Spam view's counts per hour.
RSPAMD_LOG = "/var/log/rspamd/rspamd.log"
TRASH_FOLDER = "Trash"
# Redis: rspamd's statistics and greylisting. Debian's redis.conf binds 127.0.0.1 and ::1 only; mailtui adds
# a password (REDIS_INCLUDE, included from Debian's file).
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# Greylisting: how long a greylisted sender must wait before its retry is accepted (rspamd's greylist
# timeout). The test profile waits seconds, so that a test can retry; production keeps rspamd's 5 minutes.
GREYLIST_DELAY = {"production": "5min", "test": "3s"}


def junk_sieve() -> str:
    """Files a message rspamd marked as spam into the user's Junk folder; anything else goes on as before
    (the user's own script, if any, then the inbox)."""
    return (
        "# Written by mailtui ([spam] in the answers); replaced on every install.\n"
        f"# rspamd's add-header action marks a message with \"{SPAM_HEADER}: Yes\": it goes to {JUNK_FOLDER}.\n"
        'require ["fileinto", "mailbox"];\n'
        f'if header :is "{SPAM_HEADER}" "Yes" {{\n'
        f'  fileinto :create "{JUNK_FOLDER}";\n'
        "  stop;\n"
        "}\n"
    )


def learn_spam_sieve() -> str:
    return (
        "# Written by mailtui ([spam] in the answers); replaced on every install.\n"
        f"# A message copied or moved into {JUNK_FOLDER}: rspamd learns it as spam.\n"
        'require ["vnd.dovecot.pipe", "copy"];\n'
        f'pipe :copy "{LEARN_PROGRAM}" ["spam"];\n'
    )


def learn_ham_sieve() -> str:
    return (
        "# Written by mailtui ([spam] in the answers); replaced on every install.\n"
        f"# A message moved out of {JUNK_FOLDER} (into Trash: no opinion): rspamd learns it as ham.\n"
        "# imapsieve: without it the script sees no imap.* environment (imap.mailbox: where the message went).\n"
        'require ["vnd.dovecot.pipe", "copy", "imapsieve", "environment", "variables"];\n'
        'if environment :matches "imap.mailbox" "*" {\n'
        '  set "mailbox" "${1}";\n'
        "}\n"
        f'if string "${{mailbox}}" "{TRASH_FOLDER}" {{\n'
        "  stop;\n"
        "}\n"
        f'pipe :copy "{LEARN_PROGRAM}" ["ham"];\n'
    )


def learn_program() -> str:
    return (
        "#!/bin/sh\n"
        "# Written by mailtui ([spam] in the answers): Dovecot's IMAPSieve pipes a message moved into or out of\n"
        "# Junk here (as the mailbox owner, vmail); rspamd's controller learns it. $1: spam or ham.\n"
        'case "$1" in spam|ham) ;; *) exit 64 ;; esac\n'
        f'exec /usr/bin/rspamc -h {RSPAMD_CONTROLLER} "learn_$1"\n'
    )


def sieve_scripts() -> list[str]:
    """The global Sieve scripts of the filter, compiled (sievec) once Dovecot's configuration names them."""
    return [JUNK_SIEVE, LEARN_SPAM_SIEVE, LEARN_HAM_SIEVE]
