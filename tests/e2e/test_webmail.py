"""The webmail ([webmail]): Roundcube on nginx + PHP-FPM, end to end on Debian 12 and 13.

One installed server a release, on the stack layer (its packages installed by mailtui's own packages step, as
a real server whose admin ran it; systemd as PID 1). An HTTP client inside the host (WEB below: Python's
http.client over TLS, verifying the web certificate against the hostname) reads the pages and logs in as
Roundcube's login form does: the real nginx, PHP-FPM and Roundcube, which logs in to the real Dovecot over
IMAPS and verifies its certificate (the foreign-certificate test is the positive control of that promise).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import ANSWERS, HOSTNAME, PASSWORDS, RELEASES, package_installed
from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost, stack_layer, test_host

pytestmark = pytest.mark.e2e
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}
WEBMAIL_ANSWERS = ANSWERS + """
[webmail]
enabled = true

[updates]
enabled = true
"""
ALICE = "alice@example.test"

# Runs inside the host. `get PATH [http]`: one request, no redirects followed. `login USER` (the password on
# stdin): Roundcube's login form as a browser submits it (its CSRF token and session cookie), then the page the
# login leads to. Connects to 127.0.0.1 but speaks to HOSTNAME (SNI, Host, certificate name).
WEB = r"""
import http.client, json, re, socket, ssl, sys, urllib.parse
HOST, CA = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context(cafile=CA)

class Conn(http.client.HTTPSConnection):
    def connect(self):
        self.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 443), 20), server_hostname=HOST)

def request(method, path, body=None, cookies="", plain=False):
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=20) if plain else Conn(HOST, 443, timeout=20)
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
    print(json.dumps({"status": status, "location": location, "body": body[:20000], "page": page[:50000]}))
"""


@dataclass
class Webmail:
    release: str
    host: TestHost
    ca: str

    def mailtui(self, *args: str, check: bool = True) -> tuple[int, str]:
        result = self.host.run(["python3", "-m", "mailtui", *args], env=ENV, check=False, timeout=600)
        if check:
            assert result.returncode == 0, f"mailtui {' '.join(args)}:\n{result.stdout[-4000:]}{result.stderr}"
        return result.returncode, result.stdout + result.stderr

    def web(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        result = self.host.run(["python3", "-c", WEB, HOSTNAME, self.ca, *args], input=stdin, timeout=60)
        return json.loads(result.stdout)

    def get(self, path: str, *, plain: bool = False) -> dict[str, Any]:
        return self.web("get", path, *(["plain"] if plain else []))

    def login(self, user: str, password: str) -> dict[str, Any]:
        return self.web("login", user, stdin=password)


def header(response: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in response["headers"] if k.lower() == name.lower()]


@pytest.fixture(scope="module", params=RELEASES)
def webmail(request: pytest.FixtureRequest) -> Iterator[Webmail]:
    release = request.param
    with test_host(release, hostname=HOSTNAME, layers=[stack_layer(release, WEBMAIL_ANSWERS)]) as host:
        host.write_file("/root/answers.toml", WEBMAIL_ANSWERS, mode=0o600)
        began = time.monotonic()
        done = host.run(["python3", "-m", "mailtui", "install", "--answers", "/root/answers.toml", "--yes"],
                        env=ENV, check=False, timeout=900)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr
        print(f"\n[{release}] install with the webmail took {time.monotonic() - began:.1f} s")
        ca = host.run(["python3", "-c", "from mailtui import paths; print(paths.SELF_SIGNED_CERT)"],
                      env=ENV).stdout.strip()
        yield Webmail(release, host, ca)


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
    for path in ("/etc/roundcube/config.inc.php", "/etc/roundcube/debian-db.php"):
        assert h.run(["stat", "-c", "%U:%G %a", path]).stdout.split() == ["root:www-data", "640"], path
    # `mailtui check` passes, naming the webmail's services and files.
    code, out = webmail.mailtui("check")
    assert code == 0, out
    for expected in ("service nginx running", "php", "file /etc/nginx/conf.d/mailtui-webmail.conf",
                     "Roundcube's account roundcube@localhost logs in", "unattended-upgrades installed"):
        assert expected in out, (expected, out[-3000:])
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
        h.run(["rm", "-f", LOCAL_CONF])
        h.run(["systemctl", "restart", "dovecot"])
    # The control: mailtui's certificate back, the same login works.
    assert served_fingerprint(h) != foreign
    assert webmail.login(ALICE, PASSWORDS[ALICE])["status"] == 302
