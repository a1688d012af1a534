"""No password reaches a program's command line or environment, a log, or a file that is not meant to
hold it — during an install, `mailtui user add/passwd` and `mailtui check --user` (the traced host), and
when logins fail (the shared host).

Controls: the trace is complete (it follows the detached install worker down to apt, dpkg, postconf,
openssl, ufw and the daemons), a canary secret the traced script does put on a command line and into an
environment is found by the same search, a canary planted in a log file is found by the file search, and
the failed logins are in the mail log (without their passwords).
"""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib

import pytest
import tomllib

from mailtui.model import passwords
from mailtui.policy import maps
from tests.e2e.conftest import Installed
from tests.e2e.test_mail import tls_context
from tests.reliability.conftest import (
    ANSWERS_PATH,
    CANARY,
    CAROL,
    DKIM_KEY_DIR,
    PASSWORDS,
    REDIS_INCLUDE,
    SAVED_ANSWERS,
    SRS_SECRET,
    Secrets,
    Traced,
)
from tests.reliability.helpers import (
    DES_KEY,
    MAIL_LOG,
    PASSWORD_ACCOUNT_DB,
    WEBMAIL_DB,
    lines_with,
    log_since,
    log_size,
    scan_host,
    wait_for_log,
    webmail_secret_holders,
    with_base64,
)

pytestmark = pytest.mark.reliability

ALICE = "alice@example.test"
REDIS_RSPAMD = "/etc/rspamd/local.d/redis.conf"  # rspamd's copy of the Redis password
PENDING_ANSWERS = "/var/lib/mailtui/install/answers.toml"
EVENTS = "/var/lib/mailtui/install/events.jsonl"
WORKER_LOG = "/var/lib/mailtui/install/worker.log"
# The files allowed to hold secrets (see test_secret_files for their modes) on a host where mailtui
# installed from ANSWERS_PATH.
MAY_HOLD = {
    *(lookup.path for lookup in maps.MAPS),  # Postfix's database maps (policy/maps.py): the lookup password
    "/etc/postfix/sasl_passwd", "/etc/dovecot/mailtui-sql.conf.ext",
    SAVED_ANSWERS, PENDING_ANSWERS, ANSWERS_PATH,
    "/run/dovecot/dovecot.conf.binary",  # Dovecot 2.4's root-only configuration cache
}


def executed(trace: str) -> set[str]:
    """The programs the trace shows started (not the PATH lookups that failed with ENOENT)."""
    return {m.group(1) for line in trace.splitlines()
            if (m := re.search(r'execve\("([^"]+)", ', line)) and not re.search(r"\) = -1 E", line)}


# ------------------------------------------------------------------------------------------ traced host


def test_the_traced_commands_succeeded(traced: Traced) -> None:
    assert traced.rc == {"install": 0, "user-add": 0, "user-passwd": 0, "check": 0}, traced.logs
    assert "IMAPS login as alice@example.test" in traced.logs["check"]


def test_the_trace_follows_the_install_into_every_program(traced: Traced) -> None:
    started = executed(traced.trace)
    print(f"\n[{traced.release}] {traced.trace.count('execve(')} execve calls, {len(started)} distinct programs")
    assert traced.trace.count("execve(") > 1000
    assert re.search(r'"-m", "mailtui", "install", "--worker"\], \[.*\]\) = 0$', traced.trace, flags=re.M), \
        "the detached install worker is not in the trace"
    for program in ("/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/sbin/postconf", "/usr/bin/openssl", "/usr/sbin/ufw",
                    "/usr/bin/doveconf", "/usr/sbin/postmap", "/usr/sbin/mariadbd", "/usr/sbin/dovecot"):
        assert program in started, f"{program} never ran under the trace"
    # ... and into the processes that got a password: `user add/passwd` and `check --user` read it on stdin.
    for command in ('"user", "add"', '"user", "passwd"', '"check", "--user"'):
        assert command in traced.trace, command


def test_the_trace_search_finds_a_secret_on_a_command_line_and_in_an_environment(traced: Traced) -> None:
    found = lines_with(traced.trace, {"canary": CANARY})["canary"]
    argv = [line for line in found if re.search(rf'execve\("/bin/echo", \["/bin/echo", "{CANARY}"\]', line)]
    env = [line for line in found
           if re.search(rf'execve\("/bin/true", \["/bin/true"\], \[.*"MAILTUI_CANARY={CANARY}"', line)]
    assert argv and env and len(found) == len(argv) + len(env), found


def test_no_secret_on_any_command_line_or_in_any_environment(traced: Traced) -> None:
    leaks = lines_with(traced.trace, with_base64(traced.secrets.values))
    assert not leaks, "secrets in the trace:\n" + "\n".join(
        f"{label}: {line[:400]}" for label, lines in leaks.items() for line in lines[:3])


def test_no_secret_in_any_file_but_the_ones_meant_to_hold_it(traced: Traced) -> None:
    host = traced.host
    planted = "/var/log/reliability-planted.log"
    host.write_file(planted, f"x {CANARY} x\n")
    try:
        assert set(scan_host(host, {"canary": CANARY})) == {planted}  # control: the search finds it
    finally:
        host.run(["rm", "-f", planted])
    # The logs the install wrote are there (and searched): not empty. (The worker's own log only gets
    # what the worker prints outside its events: nothing, when all goes well.)
    for log in (MAIL_LOG, EVENTS, "/var/log/dpkg.log", "/var/log/apt/term.log"):
        assert int(host.run(["stat", "-c", "%s", log]).stdout) > 0, f"{log} is empty"
    host.run(["test", "-f", WORKER_LOG])
    found = scan_host(host, traced.secrets.values)
    # Each DKIM private key is in its own file and nowhere else (rspamd's, 0600; not in a backup, a log, …).
    keys = {label: f"{DKIM_KEY_DIR}/{label.removeprefix('DKIM key ')}" for label in traced.secrets.values
            if label.startswith("DKIM key ")}
    assert keys, "no DKIM key to search for"
    for label, key_file in keys.items():
        holders = {path for path, h in found.items() if label in h.labels}
        assert holders == {key_file}, (label, holders)
        assert (found[key_file].owner, found[key_file].mode) == ("_rspamd:_rspamd", 0o600), found[key_file]
    # postsrsd's secret (made by its package; SRS addresses are signed with it) is in its own file alone.
    holders = {path for path, h in found.items() if "SRS secret" in h.labels}
    assert holders == {SRS_SECRET}, holders
    assert (found[SRS_SECRET].owner, found[SRS_SECRET].mode) == ("root:root", 0o600), found[SRS_SECRET]
    # The Redis password mailtui made ([spam]) is in Redis's include file and rspamd's copy alone.
    holders = {path for path, h in found.items() if "Redis password" in h.labels}
    assert holders == {REDIS_INCLUDE, REDIS_RSPAMD}, holders
    assert (found[REDIS_INCLUDE].owner, found[REDIS_INCLUDE].mode) == ("redis:redis", 0o640), found[REDIS_INCLUDE]
    assert (found[REDIS_RSPAMD].owner, found[REDIS_RSPAMD].mode) == ("root:_rspamd", 0o640), found[REDIS_RSPAMD]
    # The webmail's secrets ([webmail]): each in exactly the files helpers.webmail_secret_holders names (why each).
    webmail = webmail_secret_holders()
    for label in (WEBMAIL_DB, PASSWORD_ACCOUNT_DB, DES_KEY):
        holders = {path for path, h in found.items() if label in h.labels}
        assert holders == {path for path, (labels, _o, _m) in webmail.items() if label in labels}, (label, holders)
    for path, (_labels, owner, mode) in webmail.items():
        assert (found[path].owner, found[path].mode) == (owner, mode), found[path]
    found = {path: h for path, h in found.items()
             if path not in {*keys.values(), SRS_SECRET, REDIS_INCLUDE, REDIS_RSPAMD, *webmail}}
    assert set(found) <= MAY_HOLD, {path: sorted(h.labels) for path, h in found.items() if path not in MAY_HOLD}
    # The mailbox passwords given to the CLI (carol's two) are nowhere at all; alice's and bob's only in
    # the operator's own answers file.
    for path, holder in found.items():
        mailbox = {label for label in holder.labels if label.startswith("password")}
        assert not mailbox or path == ANSWERS_PATH, (path, mailbox)
    print(f"\n[{traced.release}] files holding secrets: {', '.join(sorted(found))}")


@pytest.mark.parametrize("path", [SAVED_ANSWERS, PENDING_ANSWERS])
def test_saved_answers_hold_mailbox_passwords_only_as_hashes(traced: Traced, path: str) -> None:
    text = traced.host.read_file(path)
    users = tomllib.loads(text)["users"]
    assert [u["email"] for u in users] == list(PASSWORDS)
    for user in users:
        assert "password" not in user, f"{path} holds the plain password of {user['email']}"
        assert user["password_hash"].startswith("{SHA512-CRYPT}$6$")
        assert passwords.verify_password(PASSWORDS[user["email"]], user["password_hash"])
    assert not re.search(r"^password = ", text.split("[[users]]", 1)[1], flags=re.M)
    assert CAROL not in text  # accounts added later live in the database only
    # Control: the operator's own file, which does hold plain passwords, fails the same test.
    given = tomllib.loads(traced.host.read_file(ANSWERS_PATH))["users"]
    assert all("password" in u for u in given)


# ------------------------------------------------------------------------------------------ shared host


def test_failed_and_good_logins_leave_no_password_in_the_mail_log(secured: Installed) -> None:
    host, ip = secured.host, secured.ip
    wrong = "wrong-Rel-Secret-9Xc1"
    offset = log_size(host)
    imap = imaplib.IMAP4_SSL(ip, 993, ssl_context=tls_context(), timeout=30)
    try:
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(ALICE, wrong)
    finally:
        imap.shutdown()  # Dovecot logs the failure when the connection ends
    pop = poplib.POP3_SSL(ip, 995, context=tls_context(), timeout=30)
    try:
        pop.user(ALICE)
        with pytest.raises(poplib.error_proto):
            pop.pass_(wrong)
    finally:
        pop.close()
    with smtplib.SMTP(ip, 587, timeout=30) as smtp:
        smtp.ehlo("client.example.test")
        smtp.starttls(context=tls_context())
        smtp.ehlo("client.example.test")
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ALICE, wrong)  # smtplib tries AUTH PLAIN, then AUTH LOGIN
    imap = imaplib.IMAP4_SSL(ip, 993, ssl_context=tls_context(), timeout=30)
    imap.login(ALICE, PASSWORDS[ALICE])
    imap.logout()
    # Control: each attempt is in the log, with the user it was for.
    wait_for_log(host, offset, rf"imap-login: .*auth failed.*user=<{ALICE}>")
    wait_for_log(host, offset, rf"pop3-login: .*auth failed.*user=<{ALICE}>")
    wait_for_log(host, offset, r"postfix/submission/smtpd\[\d+\]: .*SASL (PLAIN|LOGIN) authentication failed")
    wait_for_log(host, offset, rf"imap-login: .*(Login|Logged in): user=<{ALICE}>")  # 2.3 | 2.4
    # Neither the passwords nor their base64 forms (AUTH LOGIN sends the password alone, AUTH PLAIN as
    # "\0user\0password").
    tried = {"the wrong password": wrong, f"password of {ALICE}": PASSWORDS[ALICE]}
    plain = {f"AUTH PLAIN of {label}": f"\0{ALICE}\0{value}" for label, value in tried.items()}
    secrets = with_base64({**Secrets.of(host).values, **tried, **plain})
    written = log_since(host, offset)
    assert not lines_with(written, secrets), lines_with(written, secrets)
    # Anywhere on the host: the wrong password, and any of them base64-encoded (alice's right password is
    # in the operator's answers file, as given).
    needles = {label: value for label, value in with_base64({**tried, **plain}).items()
               if label == "the wrong password" or label.endswith("(base64)")}
    found = scan_host(host, needles)
    assert not found, f"written to {({path: sorted(h.labels) for path, h in found.items()})}"
