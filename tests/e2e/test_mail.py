"""Real mail through the installed stack: SMTP, submission, IMAPS, accounts, idempotence, outages."""

from __future__ import annotations

import hashlib
import imaplib
import smtplib
import socket
import ssl
import time
import uuid
from email.message import EmailMessage

import pytest

from tests.e2e.conftest import PASSWORDS, SSH_PORT, Installed

pytestmark = pytest.mark.e2e

ALICE, BOB = "alice@example.test", "bob@other.test"
MAILDIR = "/var/mail/vhosts"


def tls_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test host's certificate is self-signed
    return ctx


def message(sender: str, to: str, marker: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, f"test {marker}"
    msg["Message-ID"] = f"<{marker}@sender.test>"
    msg.set_content(f"hello {marker}\n")
    return msg


def maildir_of(address: str) -> str:
    local, domain = address.split("@")
    return f"{MAILDIR}/{domain}/{local}"


def wait_for_delivery(inst: Installed, address: str, marker: str, timeout: float = 30) -> str:
    """Path of the delivered file holding `marker` in `address`'s maildir (fails after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # new/ and cur/ only: Dovecot writes into tmp/ first and renames when the message is complete.
        box = maildir_of(address)
        found = inst.host.run(["grep", "-rl", marker, f"{box}/new", f"{box}/cur"], check=False).stdout.split()
        if found:
            return found[0]
        time.sleep(0.3)
    log = inst.host.run("tail -n 40 /var/log/mail.log", check=False).stdout
    raise AssertionError(f"{marker} never reached {address} on {inst.release}; mail.log:\n{log}")


def send_port25(inst: Installed, to: str, marker: str) -> None:
    """As a sending server would: deferred by a spam filter's greylisting (451, [spam] on), it retries after the
    test profile's delay (3 s)."""
    msg = message("someone@sender.test", to, marker)
    for attempt in range(3):
        try:
            with smtplib.SMTP(inst.ip, 25, timeout=30) as smtp:
                smtp.ehlo("client.sender.test")
                smtp.send_message(msg)
            return
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code != 451 or attempt == 2:
                raise
            time.sleep(4)


def test_smtp_to_a_user_lands_in_its_maildir(installed: Installed) -> None:
    marker = uuid.uuid4().hex
    send_port25(installed, ALICE, marker)
    path = wait_for_delivery(installed, ALICE, marker)
    assert "/new/" in path or "/cur/" in path
    owner = installed.host.run(["stat", "-c", "%u:%g", path]).stdout.strip()
    assert owner == "5000:5000"


def test_smtp_to_an_alias_lands_at_its_destination_also_across_domains(installed: Installed) -> None:
    same, cross = uuid.uuid4().hex, uuid.uuid4().hex
    send_port25(installed, "postmaster@example.test", same)
    send_port25(installed, "info@other.test", cross)
    wait_for_delivery(installed, ALICE, same)
    wait_for_delivery(installed, ALICE, cross)


def test_unknown_recipient_is_rejected_at_rcpt(installed: Installed) -> None:
    with smtplib.SMTP(installed.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.mail("someone@sender.test")
        code, text = smtp.rcpt("nobody@example.test")
    assert 500 <= code < 600, (code, text)


def test_no_relay_for_strangers(installed: Installed) -> None:
    """This machine is outside the test host's mynetworks: relaying must be refused, with 5xx."""
    with smtplib.SMTP(installed.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.mail("someone@sender.test")
        code, text = smtp.rcpt("victim@elsewhere.test")
    assert code == 554, (code, text)
    assert b"Relay access denied" in text


def _submission(inst: Installed, port: int) -> smtplib.SMTP:
    if port == 465:
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(inst.ip, 465, timeout=30, context=tls_context())
        smtp.ehlo("client.example.test")
        return smtp
    smtp = smtplib.SMTP(inst.ip, 587, timeout=30)
    smtp.ehlo("client.example.test")
    smtp.starttls(context=tls_context())
    smtp.ehlo("client.example.test")
    return smtp


@pytest.mark.parametrize("port", [587, 465])
def test_submission_with_the_right_password_sends(installed: Installed, port: int) -> None:
    marker = uuid.uuid4().hex
    with _submission(installed, port) as smtp:
        smtp.login(ALICE, PASSWORDS[ALICE])
        smtp.send_message(message(ALICE, BOB, marker))
    wait_for_delivery(installed, BOB, marker)


@pytest.mark.parametrize("port", [587, 465])
def test_submission_with_a_wrong_password_gets_535(installed: Installed, port: int) -> None:
    with _submission(installed, port) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as info:
        smtp.login(ALICE, "not-the-password")
    assert info.value.smtp_code == 535


def test_auth_before_starttls_is_refused(installed: Installed) -> None:
    with smtplib.SMTP(installed.ip, 587, timeout=30) as smtp:
        smtp.ehlo("client.example.test")
        assert not smtp.has_extn("auth"), "AUTH must not be offered before STARTTLS"
        code, text = smtp.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1TZWNyZXQtMQ==")
    assert 500 <= code < 600, (code, text)


def test_port_25_offers_no_auth_even_after_tls(installed: Installed) -> None:
    with smtplib.SMTP(installed.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.example.test")
        smtp.starttls(context=tls_context())
        smtp.ehlo("client.example.test")
        assert not smtp.has_extn("auth")


@pytest.mark.parametrize("port", [587, 465])
def test_sending_as_another_users_address_is_refused(installed: Installed, port: int) -> None:
    with _submission(installed, port) as smtp:
        smtp.login(ALICE, PASSWORDS[ALICE])
        code, text = smtp.mail(BOB)
        if code < 400:
            code, text = smtp.rcpt(BOB)
    assert 500 <= code < 600, (code, text)
    assert b"not owned" in text


def test_sending_as_own_alias_is_allowed(installed: Installed) -> None:
    marker = uuid.uuid4().hex
    with _submission(installed, 587) as smtp:
        smtp.login(ALICE, PASSWORDS[ALICE])
        smtp.send_message(message("postmaster@example.test", BOB, marker))
    wait_for_delivery(installed, BOB, marker)


def imap_login(inst: Installed, user: str, password: str) -> imaplib.IMAP4_SSL:
    imap = imaplib.IMAP4_SSL(inst.ip, 993, ssl_context=tls_context(), timeout=30)
    imap.login(user, password)
    return imap


def test_imaps_login_and_fetch_of_a_delivered_message(installed: Installed) -> None:
    marker = uuid.uuid4().hex
    send_port25(installed, ALICE, marker)
    wait_for_delivery(installed, ALICE, marker)
    imap = imap_login(installed, ALICE, PASSWORDS[ALICE])
    try:
        imap.select("INBOX")
        status, data = imap.search(None, "SUBJECT", f'"test {marker}"')
        assert status == "OK" and data[0], data
        num = data[0].split()[-1]
        status, parts = imap.fetch(num, "(RFC822)")
        assert status == "OK"
        raw = parts[0][1]
        assert marker.encode() in raw
    finally:
        imap.logout()


def test_imaps_wrong_password_is_refused(installed: Installed) -> None:
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(installed, ALICE, "wrong-password")


def test_plain_imap_143_is_closed(installed: Installed) -> None:
    with pytest.raises(OSError):
        socket.create_connection((installed.ip, 143), timeout=5).close()


def test_mailtui_user_add_then_remove(installed: Installed) -> None:
    carol, password = "carol@example.test", "carol-Secret-333"
    result = installed.mailtui("user", "add", carol, "--password-stdin", input=password + "\n", check=False)
    assert result.returncode == 0, result.stderr
    imap_login(installed, carol, password).logout()  # right away: no reload, no cache in the way
    new_password = "carol-Changed-4444"
    result = installed.mailtui("user", "passwd", carol, "--password-stdin", input=new_password + "\n", check=False)
    assert result.returncode == 0, result.stderr
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(installed, carol, password)  # the old password stops working at once
    imap_login(installed, carol, new_password).logout()
    password = new_password
    result = installed.mailtui("user", "remove", carol, "--yes", check=False)
    assert result.returncode == 0, result.stderr
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(installed, carol, password)


def test_bad_account_input_changes_nothing(installed: Installed) -> None:
    before = installed.mailtui("user", "list").stdout
    result = installed.mailtui("user", "add", "not an address", "--password-stdin", input="whatever-pass\n",
                               check=False)
    assert result.returncode == 2
    assert "email" in result.stderr
    result = installed.mailtui("user", "add", "dave@unknown.test", "--password-stdin", input="whatever-pass\n",
                               check=False)
    assert result.returncode == 2, result.stderr
    assert installed.mailtui("user", "list").stdout == before


def test_mailtui_dns_covers_a_domain_added_later(installed: Installed) -> None:
    """`mailtui dns` reads the domains from the database: one added with `mailtui domain add` is there,
    MX and SPF; --output writes the same text; a removed domain is gone again."""
    added = installed.mailtui("domain", "add", "later.test", check=False)
    assert added.returncode == 0, added.stderr
    try:
        printed = installed.mailtui("dns").stdout
        assert "later.test. IN MX 10 mail.example.test." in printed, printed
        assert 'later.test. IN TXT "v=spf1 mx -all"' in printed
        assert "example.test. IN MX 10 mail.example.test." in printed
        written = installed.mailtui("dns", "--output", "/root/dns.txt")
        assert "/root/dns.txt" in written.stdout
        assert installed.host.run(["cat", "/root/dns.txt"]).stdout == printed
    finally:
        installed.mailtui("domain", "remove", "later.test", "--yes")
    assert "later.test" not in installed.mailtui("dns").stdout


def test_check_passes(installed: Installed) -> None:
    result = installed.mailtui("check", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout


def test_firewall_is_on_with_mail_and_ssh_ports(installed: Installed) -> None:
    status = installed.host.run(["ufw", "status"]).stdout
    assert "Status: active" in status
    for port in (25, 587, 465, 993, SSH_PORT):
        assert f"{port}/tcp" in status, status
    # A port nobody allowed is really blocked from outside, while an allowed one answers.
    installed.host.start_daemon(["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"])
    time.sleep(1)
    assert installed.host.run(["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 8080), 3)"],
                              check=False).returncode == 0
    with pytest.raises(OSError):
        socket.create_connection((installed.ip, 8080), timeout=3).close()
    socket.create_connection((installed.ip, 25), timeout=5).close()


def _fingerprint(inst: Installed) -> dict[str, str]:
    script = r"""
set -e
cd /
dirs="/etc/postfix /etc/dovecot /etc/mailname /etc/ssl/mailtui /var/lib/mailtui"
find $dirs -path /var/lib/mailtui/install -prune -o -type f -print0 | sort -z | xargs -0 sha256sum
find $dirs -path /var/lib/mailtui/install -prune -o -printf '%p %m %u %g\n' | sort
"""
    files = inst.host.run(script).stdout
    dump = inst.host.run(["mariadb-dump", "--skip-dump-date", "--skip-comments", "--databases", "mailserver"]).stdout
    dump += inst.host.run(["mariadb", "-N", "-e", "SELECT User, Host, Priv FROM mysql.global_priv ORDER BY 1, 2; "
                           "SELECT * FROM mysql.db ORDER BY 1, 2, 3"]).stdout
    pids = inst.host.run("cat /var/spool/postfix/pid/master.pid /run/dovecot/master.pid /run/mysqld/mysqld.pid"
                         ).stdout.split()
    return {"files": files, "db": hashlib.sha256(dump.encode()).hexdigest(), "pids": " ".join(pids)}


def test_second_install_changes_nothing(installed: Installed) -> None:
    before = _fingerprint(installed)
    code, output = installed.install()
    assert code == 0, output[-4000:]
    after = _fingerprint(installed)
    assert after["pids"] == before["pids"], "a second install restarted a service"
    assert after["files"] == before["files"]
    assert after["db"] == before["db"]
    assert "changed (" not in output, output  # every step reports "nothing to change"


def _rcpt_code(inst: Installed) -> tuple[int, bytes]:
    with smtplib.SMTP(inst.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.mail("someone@sender.test")
        return smtp.rcpt(ALICE)


def test_database_down_defers_and_recovers_without_reload(installed: Installed) -> None:
    host = installed.host
    # kill -9 the server and its mysqld_safe guardian, not through mailtui
    host.run("pkill -9 -x mysqld_safe; pkill -9 -x mariadbd-safe; pkill -9 -x mariadbd || pkill -9 -x mysqld || true")
    deadline = time.monotonic() + 10
    while host.run("pgrep -x 'mariadbd|mysqld'", check=False).returncode == 0:
        assert time.monotonic() < deadline, "MariaDB is still running after kill -9"
        time.sleep(0.2)
    code, text = _rcpt_code(installed)
    assert 400 <= code < 500, (code, text)  # a temporary failure: senders retry, nothing bounces
    host.run("service mariadb start >/var/log/mariadb-restart.log 2>&1")
    began = time.monotonic()
    while True:
        code, text = _rcpt_code(installed)
        if code == 250:
            break
        assert 400 <= code < 500, (code, text)
        assert time.monotonic() - began < 240, "mail still refused 4 minutes after the database came back"
        time.sleep(2)
    print(f"\n[{installed.release}] RCPT accepted again {time.monotonic() - began:.0f} s after MariaDB restarted")
