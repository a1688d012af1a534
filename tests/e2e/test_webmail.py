"""The webmail ([webmail]): Roundcube on nginx + PHP-FPM, end to end on Debian 12 and 13.

One installed server a release, on the stack layer (its packages installed by mailtui's own packages step, as
a real server whose admin ran it; systemd as PID 1). An HTTP client inside the host (WEB below: Python's
http.client over TLS, verifying the web certificate against the hostname) reads the pages and logs in as
Roundcube's login form does: the real nginx, PHP-FPM and Roundcube, which logs in to the real Dovecot over
IMAPS and verifies its certificate (the foreign-certificate test is the positive control of that promise).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailtui import paths
from mailtui.model.answers import Security
from mailtui.policy import web
from tests.e2e.conftest import ANSWERS, HOSTNAME, PASSWORDS, RELEASES, SINK_DIR, package_installed, start_sink
from tests.harness.testhost import (
    MAILTUI_PYTHONPATH,
    TestHost,
    TestNetwork,
    browser_layer,
    stack_layer,
    test_network,
)
from tests.reliability import interrupt_helpers as ih
from tests.reliability.helpers import WEBMAIL_DBCONFIG, scan_host, webmail_secret_holders, webmail_secrets

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
WEBMAIL_ANSWERS = ANSWERS + """
[webmail]
enabled = true

[updates]
enabled = true
"""
ALICE = "alice@example.test"
# What the rollback test compares: the interruption walk's places (tests/reliability/interrupt_helpers.py), the
# webmail's own outside /etc among them (Roundcube's plugins, mailtui's web roots, the password plugin's drivers,
# the flush spool).
WATCHED = ih.WATCHED

# Runs inside the host. `get PATH [http]`: one request, no redirects followed. `login USER` (the password on
# stdin): Roundcube's login form as a browser submits it (its CSRF token and session cookie), then the page the
# login leads to. Connects to 127.0.0.1 but speaks to HOSTNAME (SNI, Host, certificate name).
WEB = r"""
import http.client, json, os, re, socket, ssl, sys, urllib.parse
HOST, CA = sys.argv[1], sys.argv[2]
ADDR = os.environ.get("WEB_ADDR", "127.0.0.1")  # where the server is: itself, or the mail host from another
ctx = ssl.create_default_context(cafile=CA)

class Conn(http.client.HTTPSConnection):
    def connect(self):
        self.sock = ctx.wrap_socket(socket.create_connection((ADDR, 443), 20), server_hostname=HOST)

def request(method, path, body=None, cookies="", plain=False):
    conn = http.client.HTTPConnection(ADDR, 80, timeout=20) if plain else Conn(HOST, 443, timeout=20)
    headers = {"Host": HOST, "Cookie": cookies}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.getheaders(), r.read().decode("utf-8", "replace")

def jar(headers, cookies):
    found = dict(c.split("=", 1) for c in cookies.split("; ") if "=" in c)
    for name, value in headers:
        if name.lower() == "set-cookie":
            k, v = value.split(";", 1)[0].split("=", 1)
            found[k] = v
    return "; ".join(f"{k}={v}" for k, v in found.items() if v != "deleted")

cmd = sys.argv[3]
if cmd == "get":
    status, headers, body = request("GET", sys.argv[4], plain=len(sys.argv) > 5)
    print(json.dumps({"status": status, "headers": headers, "body": body[:20000]}))
elif cmd == "post":  # the body on stdin, sent as XML
    conn = Conn(HOST, 443, timeout=20)
    conn.request("POST", sys.argv[4], body=sys.stdin.read().encode(), headers={"Host": HOST,
                 "Content-Type": "text/xml"})
    r = conn.getresponse()
    print(json.dumps({"status": r.status, "headers": r.getheaders(), "body": r.read().decode()[:20000]}))
elif cmd == "login":
    user, password = sys.argv[4], sys.stdin.read()
    status, headers, body = request("GET", "/")
    cookies = jar(headers, "")
    token = re.search(r'name="_token" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode({"_token": token, "_task": "login", "_action": "login", "_timezone": "UTC",
                                   "_url": "", "_user": user, "_pass": password})
    status, headers, body = request("POST", "/?_task=login", body=form, cookies=cookies)
    cookies = jar(headers, cookies)
    location = dict((k.lower(), v) for k, v in headers).get("location", "")
    page = ""
    if status in (301, 302) and location:
        _s, _h, page = request("GET", "/" + location.lstrip("./"), cookies=cookies)
    result = {"status": status, "location": location, "body": body[:20000], "page": page[:50000]}
    if len(sys.argv) > 5 and sys.argv[5] == "passwd":  # then the password form: current, new, confirmation
        current, new = json.loads(sys.argv[6])
        _s, _h, form_page = request("GET", "/?_task=settings&_action=plugin.password", cookies=cookies)
        token = re.search(r'name="_token" value="([^"]+)"', form_page).group(1)
        form = urllib.parse.urlencode({"_token": token, "_curpasswd": current, "_newpasswd": new,
                                       "_confpasswd": new}).encode()
        status, headers, saved = request("POST", "/?_task=settings&_action=plugin.password-save", body=form,
                                         cookies=cookies)
        result["saved"] = saved[-20000:]
    if len(sys.argv) > 5 and sys.argv[5] == "then":  # then one more page, as the logged-in user
        _s, _h, then = request("GET", sys.argv[6], cookies=cookies)
        result["then"] = then[-50000:]
    print(json.dumps(result))
"""


# Runs inside the host: an IMAPS login (certificate verified); exit 0 when it is accepted, 1 when refused.
IMAP_LOGIN = r"""
import imaplib, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])

class Imap(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", 993), 20), server_hostname=sys.argv[2])

imap = Imap("127.0.0.1", 993, ssl_context=ctx)
user, password = sys.argv[3].encode(), sys.stdin.read().encode()  # UTF-8: AUTHENTICATE PLAIN, not LOGIN (ASCII)
try:
    imap.authenticate("PLAIN", lambda _challenge: b"\0" + user + b"\0" + password)
except imaplib.IMAP4.error:
    sys.exit(1)
imap.logout()
"""


@dataclass
class Webmail:
    release: str
    host: TestHost
    ca: str
    net: TestNetwork
    before: dict[str, Any] | None = None  # the watched files before the install (the rollback test)

    def client(self, name: str) -> TestHost:
        """A browser's machine on the test network (its own address), trusting the mail host's certificate."""
        client = self.net.host(self.release, name)
        client.write_file(CLIENT_CA, self.host.read_file(self.ca))
        return client

    def mailtui(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = self.host.run(["python3", "-m", "mailtui", *args], env=ENV, check=False, timeout=600)
        if check:
            assert result.returncode == 0, f"mailtui {' '.join(args)}:\n{result.stdout[-4000:]}{result.stderr}"
        return result.returncode, result.stdout + result.stderr

    def web(self, *args: str, stdin: str | None = None, client: TestHost | None = None) -> dict[str, Any]:
        """WEB on the mail host itself, or on `client` (another host of the network) against the mail host."""
        if client is None:
            result = self.host.run(["python3", "-c", WEB, HOSTNAME, self.ca, *args], input=stdin, timeout=60)
        else:
            result = client.run(["python3", "-c", WEB, HOSTNAME, CLIENT_CA, *args], input=stdin, timeout=60,
                                env={"WEB_ADDR": self.host.ip})
        return json.loads(result.stdout)

    def get(self, path: str, *, plain: bool = False) -> dict[str, Any]:
        return self.web("get", path, *(["plain"] if plain else []))

    def login(self, user: str, password: str, client: TestHost | None = None) -> dict[str, Any]:
        return self.web("login", user, stdin=password, client=client)

    def page_after_login(self, user: str, password: str, path: str) -> str:
        result = self.web("login", user, "then", path, stdin=password)
        assert result["status"] == 302, result["body"][-2000:]
        return str(result["then"])

    def change_password(self, user: str, password: str, current: str, new: str) -> str:
        """Log in, then submit the password form; the page the save answers (its message)."""
        result = self.web("login", user, "passwd", json.dumps([current, new]), stdin=password)
        assert result["status"] == 302, result["body"][-2000:]
        return str(result["saved"])

    def imap_login(self, user: str, password: str) -> bool:
        result = self.host.run(["python3", "-c", IMAP_LOGIN, self.ca, HOSTNAME, user], input=password,
                               check=False, timeout=60)
        assert result.returncode in (0, 1), result.stderr
        return result.returncode == 0


def header(response: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in response["headers"] if k.lower() == name.lower()]


CLIENT_CA = "/root/mail-ca.pem"  # the mail host's self-signed certificate, copied to the clients


@pytest.fixture(scope="module", params=RELEASES)
def webmail(request: pytest.FixtureRequest) -> Iterator[Webmail]:
    release = request.param
    with test_network() as net:
        host = net.host(release, "mail", hostname=HOSTNAME, layers=[stack_layer(release, WEBMAIL_ANSWERS)])
        host.write_file("/root/answers.toml", WEBMAIL_ANSWERS, mode=0o600)
        before = ih.snapshot(host, WATCHED)
        began = time.monotonic()
        done = host.run(["python3", "-m", "mailtui", "install", "--answers", "/root/answers.toml", "--yes"],
                        env=ENV, check=False, timeout=900)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr
        print(f"\n[{release}] install with the webmail took {time.monotonic() - began:.1f} s")
        start_sink(host)  # outbound mail (vacation replies) lands there
        ca = host.run(["python3", "-c", "from mailtui import paths; print(paths.SELF_SIGNED_CERT)"],
                      env=ENV).stdout.strip()
        yield Webmail(release, host, ca, net, before)


def test_roundcube_runs_on_nginx_without_apache_and_the_install_is_checked_and_idempotent(webmail: Webmail) -> None:
    h = webmail.host
    # php8.x-fpm installed before Roundcube: its `php` never pulled Apache in.
    for package in ("apache2", "apache2-bin", "libapache2-mod-php"):
        assert not package_installed(h, package), package
    assert not h.run("dpkg-query -W -f='${Package} ${Status}\\n' 'libapache2-mod-php*' 2>/dev/null"
                     " | grep 'install ok installed'", check=False).stdout
    for package in ("nginx", "php-fpm", "roundcube-core", "roundcube-mysql", "roundcube-plugins",
                    "unattended-upgrades"):
        assert package_installed(h, package), package
    # dbconfig-common, answered non-interactively, made Roundcube's database, its account and its tables.
    tables = h.run(["mysql", "-N", "-e", "SHOW TABLES FROM roundcube"]).stdout.split()
    assert {"users", "session", "identities", "contacts"} <= set(tables), tables
    grants = h.run(["mysql", "-N", "-e", "SHOW GRANTS FOR roundcube@localhost"]).stdout
    assert "ON `roundcube`.*" in grants and "ON *.* TO" in grants and "GRANT ALL PRIVILEGES ON *.*" not in grants
    selections = h.run("debconf-show roundcube-core").stdout
    assert "roundcube/dbconfig-reinstall: false" in selections  # a later upgrade keeps the database
    # Roundcube's configuration holds secrets (the DES key, via debian-db.php the DB password): www-data only.
    for path in ("/etc/roundcube/config.inc.php", "/etc/roundcube/debian-db.php",
                 "/etc/roundcube/plugins/password/config.inc.php"):
        assert h.run(["stat", "-c", "%U:%G %a", path]).stdout.split() == ["root:www-data", "640"], path
    # The new secrets (Roundcube's and the password account's DB passwords, the DES key) are in no log, no
    # world-readable file under /etc, and not in what the install printed.
    secrets = h.run(["python3", "-c", "import tomllib; w = tomllib.load(open('/var/lib/mailtui/answers.toml', 'rb'))"
                     "['webmail']; print(w['db_password']); print(w['password_db_password'])"]).stdout.split()
    des = h.run(["sed", "-n", "s/^\\$config\\['des_key'\\] = '\\(.*\\)';$/\\1/p",
                 "/etc/roundcube/config.inc.php"]).stdout.strip()
    assert len(secrets) == 2 and len(des) == 24, (secrets, des)
    for secret in [*secrets, des]:
        found = h.run(["sh", "-c", 'grep -rlF -- "$(cat)" /var/log /etc /root 2>/dev/null | while read -r f; do '
                       'stat -c "%a %n" "$f"; done'], input=secret, check=False).stdout.split("\n")
        leaked = [line for line in found if line and not line.startswith(("640 ", "600 "))]
        assert leaked == [], leaked
        assert not any("/var/log/" in line for line in found), found
    # `mailtui check` passes, naming the webmail's services and files.
    code, out = webmail.mailtui("check")
    assert code == 0, out
    for expected in ("service nginx running", "php", "file /etc/nginx/conf.d/mailtui-webmail.conf",
                     "Roundcube's account roundcube@localhost logs in", "unattended-upgrades installed",
                     f"https://{HOSTNAME}/ presents the certificate", "Roundcube's login page answers",
                     f"http://{HOSTNAME}/ redirects to HTTPS", "ManageSieve on 127.0.0.1:4190"):
        assert expected in out, (expected, out[-3000:])
    # The control: with PHP-FPM stopped, the login page check fails (nginx answers 502) and says so.
    php_fpm = h.run(["sh", "-c", "systemctl list-unit-files --no-legend 'php*-fpm.service' | cut -d' ' -f1"]
                    ).stdout.split()
    assert len(php_fpm) == 1, php_fpm
    h.run(["systemctl", "stop", php_fpm[0]])
    try:
        code, out = webmail.mailtui("check", check=False)
        failed = [line for line in out.splitlines() if "login page" in line]
        assert code != 0 and failed and "502" in failed[0], out[-3000:]
    finally:
        h.run(["systemctl", "start", php_fpm[0]])
    # The install a second time changes nothing.
    code, out = webmail.mailtui("install", "--answers", "/root/answers.toml", "--dry-run")
    assert code == 0 and "nothing to change" in out, out[-3000:]
    assert [line for line in out.splitlines() if line.startswith(" * ")] == [], out[-3000:]


def test_http_redirects_to_https_and_the_headers_are_exact(webmail: Webmail) -> None:
    plain = webmail.get("/?_task=mail", plain=True)
    assert plain["status"] == 301
    assert header(plain, "Location") == [f"https://{HOSTNAME}/?_task=mail"]
    page = webmail.get("/")
    assert page["status"] == 200 and 'name="_user"' in page["body"] and 'name="_token"' in page["body"]
    # Exactly the policy's headers: no HSTS with a self-signed certificate (it would lock browsers out for a year).
    from mailtui.policy.web import CONTENT_SECURITY_POLICY

    assert header(page, "Content-Security-Policy") == [CONTENT_SECURITY_POLICY]
    assert header(page, "X-Content-Type-Options") == ["nosniff"]
    assert header(page, "Referrer-Policy") == ["same-origin"]
    assert header(page, "Strict-Transport-Security") == []
    assert header(page, "Server") == ["nginx"]  # no version (server_tokens off)
    assert not header(page, "X-Powered-By")
    # Static files get the same headers; Roundcube's installer and its dot-files are not served.
    assert webmail.get("/installer/")["status"] == 404
    assert webmail.get("/.htaccess")["status"] == 403
    assert webmail.get("/config/config.inc.php")["status"] == 404


def test_alice_logs_in_and_a_wrong_password_is_refused(webmail: Webmail) -> None:
    wrong = webmail.login(ALICE, "not-her-password")
    assert wrong["status"] in (200, 401) and "Login failed" in wrong["body"], wrong["body"][-2000:]
    right = webmail.login(ALICE, PASSWORDS[ALICE])
    assert right["status"] == 302, right["body"][-2000:]
    assert "_task=mail" in right["location"]
    assert "Login failed" not in right["page"] and 'id="messagelist"' in right["page"], right["page"][-3000:]


LOCAL_CONF = "/etc/dovecot/local.conf"


def served_fingerprint(h: TestHost) -> str:
    return h.run(f"openssl s_client -connect 127.0.0.1:993 -servername {HOSTNAME} </dev/null 2>/dev/null"
                 " | openssl x509 -noout -fingerprint").stdout


def test_a_foreign_imap_certificate_makes_the_login_fail(webmail: Webmail) -> None:
    """Roundcube verifies Dovecot's certificate against the hostname: Dovecot presenting another certificate for
    the very same name (another key, not the one mailtui installed) must make the login fail."""
    h = webmail.host
    dialect = h.run(["python3", "-c", "from mailtui.system.platform import Platform; "
                     "print(Platform.detect().dovecot_dialect())"], env=ENV).stdout.strip()
    h.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOSTNAME}",
           "-addext", f"subjectAltName=DNS:{HOSTNAME}", "-keyout", "/etc/dovecot/foreign.key",
           "-out", "/etc/dovecot/foreign.pem"], check=True)
    if dialect == "2.4":
        drop_in = "ssl_server_cert_file = /etc/dovecot/foreign.pem\nssl_server_key_file = /etc/dovecot/foreign.key\n"
    else:
        drop_in = "ssl_cert = </etc/dovecot/foreign.pem\nssl_key = </etc/dovecot/foreign.key\n"
    # local.conf: the operator's overrides, which mailtui's dovecot.conf includes last.
    assert h.run(["test", "-e", LOCAL_CONF], check=False).returncode != 0
    h.write_file(LOCAL_CONF, drop_in)
    try:
        h.run(["systemctl", "restart", "dovecot"])
        foreign = h.run(["openssl", "x509", "-noout", "-fingerprint", "-in", "/etc/dovecot/foreign.pem"]).stdout
        assert served_fingerprint(h) == foreign  # Dovecot really presents the foreign certificate
        refused = webmail.login(ALICE, PASSWORDS[ALICE])
        assert refused["status"] != 302 and "_task=mail" not in refused["location"], refused
    finally:
        h.run(["rm", "-f", LOCAL_CONF, "/etc/dovecot/foreign.pem", "/etc/dovecot/foreign.key"])
        h.run(["systemctl", "restart", "dovecot"])
    # The control: mailtui's certificate back, the same login works.
    assert served_fingerprint(h) != foreign
    assert webmail.login(ALICE, PASSWORDS[ALICE])["status"] == 302


NEW_PASSWORD = 'Ünïcode "quoted" 50%\'s'


def sql_as_password_account(h: TestHost, statement: str) -> tuple[int, str]:
    password = h.run(["python3", "-c", "import tomllib; print(tomllib.load(open('/var/lib/mailtui/answers.toml', "
                      "'rb'))['webmail']['password_db_password'], end='')"]).stdout
    command = f'MYSQL_PWD="$(cat)" mysql -h 127.0.0.1 -u mailpassword mailserver -N -e "{statement}"'
    result = h.run(["sh", "-c", command], input=password, check=False)
    return result.returncode, result.stdout + result.stderr


def test_the_password_change_keeps_the_rules_writes_a_hash_and_flushes_the_auth_cache(webmail: Webmail) -> None:
    h, old = webmail.host, PASSWORDS[ALICE]
    # The rules of `mailtui user passwd`, with their words; the current password is required.
    assert "at least 8 characters" in webmail.change_password(ALICE, old, old, "short77")
    assert "must not start or end with whitespace" in webmail.change_password(ALICE, old, old, " leading-space")
    assert "longer than 256 characters" in webmail.change_password(ALICE, old, old, "x" * 257)
    assert "Current password incorrect" in webmail.change_password(ALICE, old, "not-the-current", NEW_PASSWORD)
    assert webmail.imap_login(ALICE, old)  # the auth cache now holds the old password
    saved = webmail.change_password(ALICE, old, old, NEW_PASSWORD)
    assert "Successfully saved" in saved, saved[-3000:]
    stored = h.run(["mysql", "-N", "-e", f"SELECT password FROM mailserver.virtual_users WHERE email = '{ALICE}'"])
    assert stored.stdout.startswith("{SHA512-CRYPT}$6$"), stored.stdout
    deadline = time.monotonic() + 15  # the flush runs from a systemd path unit, within a moment
    while webmail.imap_login(ALICE, old) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not webmail.imap_login(ALICE, old), "the old password still logs in over IMAPS (auth cache not flushed)"
    assert webmail.imap_login(ALICE, NEW_PASSWORD)
    assert webmail.login(ALICE, NEW_PASSWORD)["status"] == 302
    # The password account finds a mailbox by its address and writes a password, nothing else (error 1143).
    code, out = sql_as_password_account(h, "SELECT email FROM virtual_users LIMIT 1")
    assert code == 0 and "@" in out, out  # the control: it does log in and read what it may
    for statement in ("SELECT password FROM virtual_users", "UPDATE virtual_users SET email = email",
                      "SELECT * FROM virtual_domains", "DELETE FROM virtual_users"):
        code, out = sql_as_password_account(h, statement)
        assert code != 0 and ("ERROR 1143" in out or "ERROR 1142" in out), (statement, out)
    # Back to the old password, through the webmail again.
    assert "Successfully saved" in webmail.change_password(ALICE, NEW_PASSWORD, NEW_PASSWORD, old)
    assert webmail.login(ALICE, old)["status"] == 302


# Runs inside the host: does the server really offer this (port, socket type)? SSL: a TLS handshake whose
# certificate verifies for the hostname; STARTTLS: an SMTP server that offers STARTTLS and completes it.
OFFERED = r"""
import smtplib, socket, ssl, sys
ca, host, port, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
if kind == "SSL":
    ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 10), server_hostname=host).close()
else:
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
    smtp._host = host
    smtp.starttls(context=ctx)
    smtp.quit()
"""


def test_mail_apps_configure_themselves_from_autoconfig_and_autodiscover(webmail: Webmail) -> None:
    import xml.etree.ElementTree as ET

    from mailtui.policy.web import CONTENT_SECURITY_POLICY

    bodies = []
    for path, plain in (("/mail/config-v1.1.xml", True), ("/mail/config-v1.1.xml", False),
                        ("/.well-known/autoconfig/mail/config-v1.1.xml", False)):
        answer = webmail.get(path, plain=plain)
        assert answer["status"] == 200 and header(answer, "Content-Type") == ["application/xml"], (path, answer)
        bodies.append(answer["body"])
    assert bodies[0] == bodies[1] == bodies[2]
    provider = ET.fromstring(bodies[0]).find("emailProvider")
    assert provider is not None and [d.text for d in provider.findall("domain")] == ["example.test", "other.test"]
    offered = {(s.get("type"), s.findtext("hostname"), int(s.findtext("port") or 0), s.findtext("socketType"))
               for s in [*provider.findall("incomingServer"), *provider.findall("outgoingServer")]}
    assert offered == {("imap", HOSTNAME, 993, "SSL"), ("smtp", HOSTNAME, 587, "STARTTLS"),
                       ("smtp", HOSTNAME, 465, "SSL")}
    for _kind, _host, port, socket_type in offered:  # each one really answers that way
        webmail.host.run(["python3", "-c", OFFERED, webmail.ca, HOSTNAME, str(port), str(socket_type)])
    # Outlook: the address comes back as the login; the request is never parsed as XML (no entity expands).
    request = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
               f"<Request><EMailAddress>{ALICE}</EMailAddress><AcceptableResponseSchema>x</AcceptableResponseSchema>"
               "</Request></Autodiscover>")
    for path in ("/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"):
        answer = webmail.web("post", path, stdin=request)
        assert answer["status"] == 200, answer
        assert header(answer, "Content-Security-Policy") == [CONTENT_SECURITY_POLICY]
        ns = {"r": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
        protocols = ET.fromstring(answer["body"]).findall(".//r:Protocol", ns)
        got = {(p.findtext("r:Type", namespaces=ns), int(p.findtext("r:Port", namespaces=ns) or 0),
                p.findtext("r:SSL", namespaces=ns), p.findtext("r:LoginName", namespaces=ns)) for p in protocols}
        assert got == {("IMAP", 993, "on", ALICE), ("SMTP", 465, "on", ALICE), ("SMTP", 587, "off", ALICE)}
        assert "root:" not in answer["body"]


def test_the_webmails_secrets_are_in_their_own_private_files_alone(webmail: Webmail) -> None:
    """Roundcube's database password, the password account's and Roundcube's DES key (its session secret) are
    found — by searching every file of the host for each, not from a list — exactly where they must be
    (tests/reliability/helpers.py webmail_secret_holders says why each), each file private to root (and www-data,
    which runs Roundcube); none is in a log or a world-readable file. Control: a key planted in a world-readable
    file is found by the same search. (No secret on a command line: the traced host of the reliability tier.)"""
    h = webmail.host
    secrets = webmail_secrets(h)
    assert all(len(v) >= 20 for v in secrets.values()), secrets
    planted = "/var/log/webmail-planted.log"
    h.write_file(planted, f"x {secrets['des_key']} x\n", mode=0o644)
    try:
        assert set(scan_host(h, {"des_key": secrets["des_key"]})) >= {planted}  # the control
    finally:
        h.run(["rm", "-f", planted])
    found = {path: (holder.labels, holder.owner, holder.mode) for path, holder in scan_host(h, secrets).items()}
    print(f"\n[{webmail.release}] files holding the webmail's secrets: {sorted(found)}")
    assert found == webmail_secret_holders(str(paths.STATE_DIR)), found
    assert h.run(["stat", "-c", "%a", str(paths.STATE_DIR)]).stdout.strip() == "700"


# Runs inside the mail host: a ManageSieve client (RFC 5804) as Roundcube's plugin is one — STARTTLS, the
# certificate verified against the hostname, AUTHENTICATE PLAIN — that runs the commands given as JSON on stdin
# (with the password) and prints each command's answer line.
SIEVE = r"""
import base64, json, socket, ssl, sys
ca, hostname, user = sys.argv[1:4]
job = json.loads(sys.stdin.read())

def answer(stream):
    lines = []
    while True:
        line = stream.readline().decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            raise SystemExit("closed: " + repr(lines))
        lines.append(line)
        if line.startswith(("OK", "NO", "BYE")):
            return lines

raw = socket.create_connection(("127.0.0.1", 4190), 20)
answer(raw.makefile("rb"))
raw.sendall(b"STARTTLS\r\n")
assert answer(raw.makefile("rb"))[-1].startswith("OK")
tls = ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=hostname)
stream = tls.makefile("rb")
answer(stream)
plain = base64.b64encode(b"\0" + user.encode() + b"\0" + job["password"].encode()).decode()
said = []
for command in [f'AUTHENTICATE "PLAIN" "{plain}"', *job["commands"], "LOGOUT"]:
    if "{script}" in command:  # a literal: PUTSCRIPT "name" {N+}CRLF script
        data = job["script"].encode()
        command = command.replace("{script}", "{%d+}\r\n" % len(data)) .encode() + data
    else:
        command = command.encode()
    tls.sendall(command + b"\r\n")
    said.append(answer(stream)[-1])
print(json.dumps(said))
"""

VACATION_PAGE = "/?_task=settings&_action=plugin.managesieve-vacation"
VACATION = 'require ["vacation"];\nvacation :days 1 :subject "Away until Monday" "I read my mail on Monday.";\n'


def sieve(webmail: Webmail, commands: list[str], script: str = "") -> list[str]:
    result = webmail.host.run(["python3", "-c", SIEVE, webmail.ca, HOSTNAME, ALICE],
                              input=json.dumps({"password": PASSWORDS[ALICE], "commands": commands,
                                                "script": script}), check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(json.loads(result.stdout))


def send_from_outside(h: TestHost, mark: str, to: str = ALICE, subject: str = "", body: str = "Are you there?",
                      sender: str = "olga@elsewhere.test") -> None:
    """A message from someone elsewhere, over port 25 (as another server would hand it over); `mark` in its
    Subject (after `subject`)."""
    h.run(["python3", "-c", "import smtplib, sys; from email.message import EmailMessage\n"
           "m = EmailMessage(); m['From'] = sys.argv[4]; m['To'] = sys.argv[1]\n"
           "m['Subject'] = sys.argv[2]; m.set_content(sys.argv[3])\n"
           "smtplib.SMTP('127.0.0.1', 25, timeout=30).send_message(m)", to, f"{subject}{mark}", body, sender])


ALICE_MAILDIR = f"{paths.MAIL_ROOT}/example.test/alice"


def delivered(h: TestHost, mark: str, maildir: str) -> bool:
    return h.run(["grep", "-rlF", mark, f"{maildir}/new", f"{maildir}/cur"], check=False).returncode == 0


def delivered_to_alice(h: TestHost, mark: str) -> bool:
    return delivered(h, mark, ALICE_MAILDIR)


def replies(h: TestHost, subject: str, to: str) -> list[str]:
    """The vacation replies with `subject` to `to` the outbound sink kept."""
    out = h.run(["sh", "-c", f"grep -l 'Subject: {subject}' {SINK_DIR}/* 2>/dev/null"], check=False)
    return [f for f in out.stdout.split() if to in h.read_file(f)]


def replies_to_olga(h: TestHost) -> list[str]:
    return replies(h, "Away until Monday", "olga@elsewhere.test")


def test_filters_and_vacation_over_managesieve_on_loopback_only(webmail: Webmail) -> None:
    """Dovecot's ManageSieve answers on loopback only (STARTTLS, the mail certificate); Roundcube's managesieve
    plugin reads alice's scripts through it; her vacation reply answers an outside sender exactly once."""
    h = webmail.host
    outsider = webmail.client("sieve-outsider")
    reach = ("import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], 4190), 5)\n"
             "except OSError as e:\n    print(type(e).__name__)\nelse:\n    print('connected')")
    assert outsider.run(["python3", "-c", reach, h.ip]).stdout.strip() != "connected"  # (the firewall drops it)
    # Not only firewalled: nothing listens on the host's own address (the host's own connection is not filtered).
    assert h.run(["python3", "-c", reach, h.ip]).stdout.strip() == "ConnectionRefusedError"
    assert h.run(["python3", "-c", reach, "127.0.0.1"]).stdout.strip() == "connected"  # the control
    # The Vacation page of Roundcube's plugin, before any script: the plugin reached ManageSieve (its error
    # would read "Unable to connect to server").
    page = webmail.page_after_login(ALICE, PASSWORDS[ALICE], VACATION_PAGE)
    assert 'name="vacation_subject"' in page or "vacation_subject" in page, page[-3000:]
    assert "Unable to connect to server" not in page
    try:
        said = sieve(webmail, ['PUTSCRIPT "roundcube" {script}', 'SETACTIVE "roundcube"'], VACATION)
        assert all(line.startswith("OK") for line in said), said
        page = webmail.page_after_login(ALICE, PASSWORDS[ALICE], VACATION_PAGE)
        assert "Away until Monday" in page, page[-3000:]  # the plugin reads the script back
        # The scripts live in the maildir (the mailbox's home): no folder, no error when Roundcube's login above
        # listed the mailboxes (Pigeonhole's default link ~/.dovecot.sieve made one).
        assert "Not a directory" not in h.read_file("/var/log/mail.log")
        assert h.run(["test", "-L", f"{ALICE_MAILDIR}/dovecot.sieve"], check=False).returncode == 0
        first, second = f"vacation-1-{time.monotonic_ns()}", f"vacation-2-{time.monotonic_ns()}"
        send_from_outside(h, first)
        deadline = time.monotonic() + 60
        while not (replies_to_olga(h) and delivered_to_alice(h, first)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert delivered_to_alice(h, first), h.run(["sh", "-c", f"tail -n 40 /var/log/mail.log; ls -la {SINK_DIR}; "
                                                    f"ls -la {ALICE_MAILDIR}"]).stdout
        assert len(replies_to_olga(h)) == 1, h.run(["tail", "-n", "30", "/var/log/mail.log"]).stdout
        send_from_outside(h, second)
        deadline = time.monotonic() + 60
        while not delivered_to_alice(h, second) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert delivered_to_alice(h, second)
        time.sleep(3)  # a reply would have left with the delivery
        assert len(replies_to_olga(h)) == 1  # within :days 1: none again
    finally:
        sieve(webmail, ['SETACTIVE ""', 'DELETESCRIPT "roundcube"'])


BROWSER_DRIVER = Path(__file__).with_name("webmail_browser_driver.py")
CAROL = "carol@example.test"
CAROL_PASSWORD = 'Çarol "quoted" 100% sûre'  # quotes, % and non-ASCII, as typed into the login form
CAROL_NEW_PASSWORD = "Nëw 'Carol' 50% pass"
BOB = "bob@other.test"

# Runs inside the mail host: find a message by a word of its Subject in a mailbox over IMAPS (the certificate
# verified, AUTHENTICATE PLAIN in UTF-8); prints its decoded text body, or nothing.
IMAP_FIND = r"""
import email, email.policy, imaplib, socket, ssl, sys
ca, hostname, user, mailbox, word = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)

class Imap(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        return ctx.wrap_socket(socket.create_connection(("127.0.0.1", 993), 20), server_hostname=hostname)

imap = Imap("127.0.0.1", 993, ssl_context=ctx)
password = sys.stdin.read().encode()
imap.authenticate("PLAIN", lambda _challenge: b"\0" + user.encode() + b"\0" + password)
imap.select(mailbox, readonly=True)
_, found = imap.search(None, "SUBJECT", word)
for num in found[0].split():
    _, data = imap.fetch(num, "(RFC822)")
    msg = email.message_from_bytes(data[0][1], policy=email.policy.default)
    print(msg.get_body(("plain",)).get_content())
imap.logout()
"""


def imap_find(webmail: Webmail, user: str, password: str, mailbox: str, word: str) -> str:
    result = webmail.host.run(["python3", "-c", IMAP_FIND, webmail.ca, HOSTNAME, user, mailbox, word],
                              input=password, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def wait_for(what: str, condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_a_user_reads_sends_and_sets_a_vacation_reply_in_a_real_browser(webmail: Webmail, tmp_path: Path) -> None:
    """Chromium (headless, Selenium, inside a test host of its own): a wrong password shows the error; carol logs
    in, reads a UTF-8 message that came over SMTP, sends one to bob (bob reads it over IMAPS, the copy is in her
    Sent folder), cannot add an identity or change her address, switches her out-of-office reply on — and an
    outside sender gets exactly one —, changes her password (the old one, cached by Dovecot, stops working over
    IMAPS). No Content-Security-Policy violation in the browser's console (a violation on purpose does show).
    Last, failed logins get the browser's address banned, and only that address."""
    h = webmail.host
    added = h.run(["python3", "-m", "mailtui", "user", "add", "--password-stdin", CAROL], input=CAROL_PASSWORD,
                  env=ENV, check=False, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    carol_maildir = f"{paths.MAIL_ROOT}/example.test/carol"
    browser = webmail.net.host(webmail.release, "browser", layers=[browser_layer(webmail.release)])
    browser.run(["sh", "-c", f"echo '{h.ip} {HOSTNAME}' >> /etc/hosts"])
    try:
        mark = f"{time.monotonic_ns()}"
        inbox_subject = f"Grüße aus Köln {mark}"
        send_from_outside(h, mark, to=CAROL, subject="Grüße aus Köln ", body=f"Schöne Grüße — ✓ {mark}\n")
        wait_for("the message in carol's maildir", lambda: delivered(h, mark, carol_maildir))
        sent_subject, sent_body = f"From the browser {mark}", f"Hallo Bob, café für alle {mark}"
        job = {"hostname": HOSTNAME, "user": CAROL, "password": CAROL_PASSWORD, "inbox_subject": inbox_subject,
               "to": BOB, "sent_subject": sent_subject, "sent_body": sent_body,
               "vacation_subject": "Carol is away", "vacation_body": "Back on Monday.",
               "new_password": CAROL_NEW_PASSWORD, "ban_after": Security().max_retry}
        browser.write_file("/root/webmail_browser_driver.py", BROWSER_DRIVER.read_text())
        assert webmail.imap_login(CAROL, CAROL_PASSWORD)  # Dovecot's auth cache now holds the old password
        began = time.monotonic()
        run = browser.run(["python3", "/root/webmail_browser_driver.py"], input=json.dumps(job), check=False,
                          timeout=600)
        print(f"\n[{webmail.release}] the browser's walk took {time.monotonic() - began:.1f} s")
        print("\n".join(line for line in run.stdout.splitlines() if line.startswith("[")))  # each stage's time
        for shot in browser.run(["sh", "-c", "ls /root/webmail-shots/*.png 2>/dev/null"], check=False).stdout.split():
            (tmp_path / Path(shot).name).write_bytes(base64.b64decode(browser.run(["base64", "-w0", shot]).stdout))
        try:
            seen = json.loads(run.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            pytest.fail(f"the browser driver printed no summary (exit {run.returncode}):\n"
                        f"{run.stdout[-4000:]}{run.stderr[-4000:]}")
        assert run.returncode == 0 and seen.get("ok"), (seen.get("error"), run.stdout[-3000:], run.stderr[-3000:])
        assert "Login failed" in seen["wrong_password"]
        assert f"Schöne Grüße — ✓ {mark}" in seen["read_body"], seen["read_body"]
        # Sent: bob has it (read over IMAPS), and carol's Sent folder keeps the copy.
        wait_for("bob's copy", lambda: bool(imap_find(webmail, BOB, PASSWORDS[BOB], "INBOX", mark)))
        assert sent_body in imap_find(webmail, BOB, PASSWORDS[BOB], "INBOX", mark)
        assert sent_body in imap_find(webmail, CAROL, CAROL_NEW_PASSWORD, "Sent", mark)  # (changed below)
        # One identity, her own address: adding one is refused, the address is not editable.
        assert "Operation not permitted" in seen["add_identity_page"]
        assert seen["identity_email_editable"] is False and len(seen["identities"]) == 1, seen["identities"]
        violations = [line for line in seen["console"] if "Content Security Policy" in line or "Refused to" in line]
        assert not violations, violations
        # The control: a violation made on purpose shows in the console the same way.
        assert any("Content Security Policy" in line for line in seen["control_console"]), seen["control_console"]
        # The out-of-office reply: exactly one to an outside sender, none for the second message within a day.
        assert "saved successfully" in seen["vacation_saved"]
        first, second = f"ooo-1-{time.monotonic_ns()}", f"ooo-2-{time.monotonic_ns()}"
        send_from_outside(h, first, to=CAROL, sender="paul@elsewhere.test")
        wait_for("the out-of-office reply", lambda: bool(replies(h, "Carol is away", "paul@elsewhere.test"))
                 and delivered(h, first, carol_maildir))
        send_from_outside(h, second, to=CAROL, sender="paul@elsewhere.test")
        wait_for("the second message", lambda: delivered(h, second, carol_maildir))
        time.sleep(3)  # a reply would have left with the delivery
        assert len(replies(h, "Carol is away", "paul@elsewhere.test")) == 1
        # The password changed in the browser: the old one no longer logs in over IMAPS (the cache was flushed).
        assert "Successfully saved" in seen["password_saved"]
        assert webmail.imap_login(CAROL, CAROL_NEW_PASSWORD)
        assert not webmail.imap_login(CAROL, CAROL_PASSWORD)
        # Last, wrong passwords until the site stops answering the browser: Roundcube logs in to Dovecot from
        # 127.0.0.1 (never banned), so the webmail jail bans the browser's own address on 80 and 443, from
        # Roundcube's log — and no other: a second address still logs in.
        print(f"[{webmail.release}] the browser was banned: {seen['banned']}")
        assert 1 <= seen["banned"]["attempts"] <= Security().max_retry + 1
        assert browser.ip in h.run(["fail2ban-client", "status", "roundcube-auth"]).stdout
        assert webmail.login(CAROL, CAROL_NEW_PASSWORD, client=webmail.client("other"))["status"] == 302
        code, out = webmail.mailtui("bans", "--json")  # the Bans tab's source lists it in the webmail's jail
        assert code == 0 and browser.ip in out and "roundcube-auth" in out, out
    finally:
        h.run(["python3", "-m", "mailtui", "user", "remove", CAROL, "--yes", "--delete-maildir"], env=ENV,
              check=False, timeout=120)


def test_rollback_restores_every_file_the_webmail_install_changed(webmail: Webmail) -> None:
    """The last test on the shared server: `mailtui rollback` puts back every file the install changed — nginx's
    stock site, Roundcube's and its plugins' configuration, and removes mailtui's own (its site, the policy and
    autoconfiguration files, the password driver, the flush plugin) — byte for byte, owner and mode; the
    packages and the databases stay, as it says."""
    h = webmail.host
    assert webmail.before is not None
    dry = ih.rollback(h, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for expected in (f"remove {web.NGINX_SITE}", f"restore {web.CONFIG}", f"remove {web.STRENGTH_DRIVER}",
                     f"put back the symlink {web.NGINX_DEFAULT_SITE}", "dry run: nothing was changed"):
        assert expected in dry.stdout, f"{expected!r} missing from the dry run:\n{dry.stdout}"
    assert f"stop and disable {web.FLUSH_UNIT}.path" in dry.stdout, dry.stdout  # (before its file goes)
    rolled = ih.rollback(h, "--yes")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    # Not the install's: the harness rewrites /etc/hosts as hosts join the network; and dbconfig-common's copy of
    # Roundcube's database settings stays with the database and its account, which rollback leaves alone (as it
    # says): put back, it would name a password the account no longer has.
    after = ih.snapshot(h, WATCHED)
    problems = [line for line in ih.rollback_problems(webmail.before, after)
                if not line.startswith(("/etc/hosts:", f"{WEBMAIL_DBCONFIG}:"))]
    assert not problems, "\n".join(problems)
    assert h.run(["systemctl", "is-active", f"{web.FLUSH_UNIT}.path"], check=False).stdout.strip() == "inactive"
    assert h.run(["nginx", "-t"], check=False).returncode == 0  # the stock configuration again, and valid


def test_without_systemd_the_webmail_works_and_cron_flushes_the_auth_cache() -> None:
    """A server without systemd (supported; Debian 12 here): nginx, PHP-FPM and cron started by the install,
    `mailtui check` passing (the login page included), and after a password change in the webmail the old
    password, in Dovecot's auth cache a moment before, stops working over IMAPS within a minute (cron's flush:
    there is no path unit)."""
    release = "bookworm"
    with test_network() as net:
        host = net.host(release, "mail", hostname=HOSTNAME, layers=[stack_layer(release, WEBMAIL_ANSWERS)],
                        init="plain")
        assert not host.systemd
        host.write_file("/root/answers.toml", WEBMAIL_ANSWERS, mode=0o600)
        done = host.run(["python3", "-m", "mailtui", "install", "--answers", "/root/answers.toml", "--yes"],
                        env=ENV, check=False, timeout=900)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr
        ca = host.run(["python3", "-c", "from mailtui import paths; print(paths.SELF_SIGNED_CERT)"],
                      env=ENV).stdout.strip()
        w = Webmail(release, host, ca, net)
        code, out = w.mailtui("check")
        assert code == 0 and "Roundcube's login page answers" in out, out[-3000:]
        assert "auth cache flush" in host.read_file("/etc/cron.d/mailtui-auth-flush")
        old = PASSWORDS[ALICE]
        assert w.imap_login(ALICE, old)  # cached now
        assert "Successfully saved" in w.change_password(ALICE, old, old, NEW_PASSWORD)
        began = time.monotonic()
        while w.imap_login(ALICE, old):
            assert time.monotonic() - began < 75, "the old password still logs in over IMAPS after 75 s"
            time.sleep(2)
        print(f"\n[{release}, no systemd] the old password stopped working {time.monotonic() - began:.0f} s after "
              "the change")
        assert w.imap_login(ALICE, NEW_PASSWORD)
