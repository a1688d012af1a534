"""Dovecot's Sieve settings, both dialects: the spam filter's scripts ([spam]: filing into Junk at delivery,
learning from moves in and out of Junk over IMAPSieve) and each user's own scripts with ManageSieve ([webmail]:
filters and the out-of-office reply, edited from Roundcube). Rendered into the templates' `${sieve}` and
`${lmtp_sieve}` by steps/dovecot.py."""

from __future__ import annotations

from mailtui.policy import ports, spam

SIEVE_HEAD = ("## Spam ([spam]): rspamd marks spam, a Sieve script files it into Junk before delivery; moving a\n"
              "## message into Junk or out of it teaches rspamd (IMAPSieve pipes it to rspamc).")


# Each user's Sieve scripts, in the mailbox's home, which is its maildir: so no name starting with a dot.
# Maildir++ takes dot-names for folders, and Pigeonhole's default active link `~/.dovecot.sieve` (a symlink)
# made every IMAP LIST log "stat(…/.dovecot.sieve/tmp) failed: Not a directory" (measured, both releases).
USER_SIEVE_DIR = "sieve"
USER_SIEVE_ACTIVE = "dovecot.sieve"
USER_SIEVE_HEAD = ("## Filters and vacation replies ([webmail]): each user's Sieve scripts, kept in the mailbox's\n"
                   f"## home, edited from the webmail over ManageSieve (port {ports.MANAGESIEVE_PORT} on "
                   f"{ports.MANAGESIEVE_ADDRESS} only), run by LMTP at delivery.")


def sieve_23(junk_sieve: str | None, user_sieve: bool) -> dict[str, str]:
    """Dovecot 2.3: the `${sieve}` block and the LMTP protocol's `${lmtp_sieve}` lines."""
    parts, plugin = [], []
    if junk_sieve is not None:
        plugin += [f"  sieve_before = {junk_sieve}",
                   "  sieve_plugins = sieve_imapsieve sieve_extprograms",
                   "  sieve_global_extensions = +vnd.dovecot.pipe",
                   f"  sieve_pipe_bin_dir = {spam.SIEVE_PIPE_DIR}",
                   f"  imapsieve_mailbox1_name = {spam.JUNK_FOLDER}",
                   "  imapsieve_mailbox1_causes = COPY",
                   f"  imapsieve_mailbox1_before = file:{spam.LEARN_SPAM_SIEVE}",
                   "  imapsieve_mailbox2_name = *",
                   f"  imapsieve_mailbox2_from = {spam.JUNK_FOLDER}",
                   "  imapsieve_mailbox2_causes = COPY",
                   f"  imapsieve_mailbox2_before = file:{spam.LEARN_HAM_SIEVE}"]
        parts.append(SIEVE_HEAD)
    if user_sieve:
        plugin.append(f"  sieve = file:~/{USER_SIEVE_DIR};active=~/{USER_SIEVE_ACTIVE}")
        parts.append(USER_SIEVE_HEAD)
    if not plugin:
        return {"sieve": "", "lmtp_sieve": ""}
    parts.append("plugin {\n" + "\n".join(plugin) + "\n}")
    if junk_sieve is not None:
        parts.append("protocol imap {\n  mail_plugins = $mail_plugins imap_sieve\n}")
    if user_sieve:
        parts.append(_managesieve_service("address"))
    return {"sieve": "\n".join(parts), "lmtp_sieve": "\n  mail_plugins = $mail_plugins sieve"}


def _managesieve_service(listen_setting: str) -> str:
    return ("service managesieve-login {\n  inet_listener sieve {\n"
            f"    {listen_setting} = {ports.MANAGESIEVE_ADDRESS}\n    port = {ports.MANAGESIEVE_PORT}\n  }}\n}}")


def sieve_24(junk_sieve: str | None, user_sieve: bool) -> dict[str, str]:
    """Dovecot 2.4: the same, in 2.4's syntax (no plugin {} block; named sieve_script lists)."""
    parts = []
    if junk_sieve is not None:
        parts.append(f"{SIEVE_HEAD}\n"
                     "sieve_plugins {\n  sieve_imapsieve = yes\n  sieve_extprograms = yes\n}\n"
                     "sieve_global_extensions {\n  vnd.dovecot.pipe = yes\n}\n"
                     f"sieve_pipe_bin_dir = {spam.SIEVE_PIPE_DIR}\n"
                     f"mailbox {spam.JUNK_FOLDER} {{\n  sieve_script mailtui_learn_spam {{\n    type = before\n"
                     f"    cause = copy\n    path = {spam.LEARN_SPAM_SIEVE}\n  }}\n}}\n"
                     f"imapsieve_from {spam.JUNK_FOLDER} {{\n  sieve_script mailtui_learn_ham {{\n    type = before\n"
                     f"    cause = copy\n    path = {spam.LEARN_HAM_SIEVE}\n  }}\n}}\n"
                     "protocol imap {\n  mail_plugins {\n    imap_sieve = yes\n  }\n}")
    if user_sieve:
        parts.append(f"{USER_SIEVE_HEAD}\n"
                     f"sieve_script personal {{\n  driver = file\n  path = ~/{USER_SIEVE_DIR}\n"
                     f"  active_path = ~/{USER_SIEVE_ACTIVE}\n}}\n" + _managesieve_service("listen"))
    if not parts:
        return {"sieve": "", "lmtp_sieve": ""}
    lmtp = "\n  mail_plugins {\n    sieve = yes\n  }"
    if junk_sieve is not None:
        # Delivery only: the script that files into Junk is no IMAPSieve script.
        lmtp += f"\n  sieve_script mailtui_junk {{\n    type = before\n    path = {junk_sieve}\n  }}"
    return {"sieve": "\n".join(parts), "lmtp_sieve": lmtp}
