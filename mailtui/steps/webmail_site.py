"""The webmail's nginx site ([webmail]): Roundcube over HTTPS with the mail certificate and the policy's headers,
plain HTTP answering only with a redirect (and, in ACME mode, the CA's challenge from certbot's webroot), the
mail apps' autoconfiguration (steps/client_config.py). Declared by the webmail step, and in ACME mode by the
ACME step too, which needs port 80 answering before it orders."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from pathlib import Path

from mailtui.errors import MailtuiError
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import mta_sts, probe, web
from mailtui.policy import tls as tls_policy
from mailtui.report import Check
from mailtui.stack import probe_client, probes
from mailtui.stack import services as safe_services
from mailtui.stack.certificates import served_pair
from mailtui.steps import client_config
from mailtui.steps.base import Resource
from mailtui.steps.resources import AbsentFileResource, DirectoryResource, FileResource
from mailtui.system import services
from mailtui.system.commands import run

HEADER = web.MANAGED


def ipv6_here() -> bool:
    try:
        return socket.has_ipv6 and Path("/proc/net/if_inet6").read_text().strip() != ""
    except OSError:
        return False


def _tls_lines(answers: Answers) -> str:
    """An HTTPS server's TLS: the mail certificate, the policy's protocols and ciphers."""
    cert, key = served_pair(answers)
    return (f"    ssl_certificate {cert};\n"
            f"    ssl_certificate_key {key};\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n"
            f"    ssl_ciphers {tls_policy.strong_cipherlist()};\n"
            "    ssl_prefer_server_ciphers off;\n"
            "    ssl_session_tickets off;\n")


def render_nginx_site(answers: Answers, php: str, *, ipv6: bool) -> str:
    host = answers.webmail_host
    headers = "".join(f'        add_header {name} "{value}" always;\n' for name, value in web.headers(answers).items())
    v6_80 = f"    listen [::]:{web.HTTP_PORT} default_server;\n" if ipv6 else ""
    v6_443 = f"    listen [::]:{web.HTTPS_PORT} ssl default_server;\n" if ipv6 else ""
    # ACME mode: the CA's HTTP-01 challenge, written by certbot (--webroot), answered here in plain HTTP.
    acme_location = (f"    location ^~ /.well-known/acme-challenge/ {{ root {web.ACME_WEBROOT}; "
                     "default_type text/plain; }\n" if answers.tls.mode == "acme" else "")
    return (
        f"# {HEADER}\n"
        "# Roundcube at https://" + host + "/ ; plain HTTP answers only with a redirect there.\n"
        "server {\n"
        f"    listen {web.HTTP_PORT} default_server;\n{v6_80}"
        "    server_name _;\n"
        "    server_tokens off;\n"
        f"{acme_location}"
        "    # Mail apps' autoconfiguration (steps/client_config.py), also in plain HTTP as Thunderbird asks.\n"
        f"{client_config.nginx_locations(web.php_fpm_socket(php), '', https=False)}"
        f"    location / {{ return 301 https://{host}$request_uri; }}\n"
        "}\n\n"
        "server {\n"
        f"    listen {web.HTTPS_PORT} ssl default_server;\n{v6_443}"
        f"    server_name {host};\n"
        "    server_tokens off;\n"
        f"{_tls_lines(answers)}"
        f"    root {web.DOCROOT};\n"
        "    index index.php;\n"
        f"    client_max_body_size {answers.limits.message_size_mb}m;\n"
        "    # Roundcube's own files that are not for the web (.htaccess and the like).\n"
        "    location ~ /\\. { deny all; }\n"
        "    location / {\n"
        f"{headers}"
        "        try_files $uri $uri/ =404;\n"
        "    }\n"
        f"{client_config.nginx_locations(web.php_fpm_socket(php), headers, https=True)}"
        "    location ~ \\.php$ {\n"
        f"{headers}"
        "        include snippets/fastcgi-php.conf;\n"
        f"        fastcgi_pass unix:{web.php_fpm_socket(php)};\n"
        "    }\n"
        "}\n"
        f"{render_mta_sts_server(answers, ipv6=ipv6)}"
    )


def render_mta_sts_server(answers: Answers, *, ipv6: bool) -> str:
    """ACME mode: the MTA-STS policy at https://mta-sts.<domain>/.well-known/mta-sts.txt (policy/mta_sts.py), as
    text/plain, and nothing else at those names."""
    hosts = mta_sts.policy_hosts(answers)
    if not hosts:
        return ""
    v6 = f"    listen [::]:{web.HTTPS_PORT} ssl;\n" if ipv6 else ""
    return (
        f"\n# MTA-STS: sending servers fetch this policy (mode {mta_sts.mode(answers)}) before they deliver here.\n"
        "server {\n"
        f"    listen {web.HTTPS_PORT} ssl;\n{v6}"
        f"    server_name {' '.join(hosts)};\n"
        "    server_tokens off;\n"
        f"{_tls_lines(answers)}"
        f"    root {mta_sts.WEBROOT};\n"
        f"    location = {mta_sts.WELL_KNOWN} {{ types {{ }} default_type {mta_sts.CONTENT_TYPE}; }}\n"
        "    location / { return 404; }\n"
        "}\n"
    )


def site_resources(answers: Answers, php: str) -> list[Resource]:
    """nginx's site (and the stock site it replaces): the webmail step's, and in ACME mode the ACME step's too,
    which needs port 80 answering the CA's challenge before it orders (before the webmail step runs)."""
    return [
        AbsentFileResource(web.NGINX_DEFAULT_SITE,
                           "nginx's stock site: mailtui's site answers on ports 80 and 443"),
        *mta_sts_resources(answers),
        FileResource(web.NGINX_SITE, render_nginx_site(answers, php, ipv6=ipv6_here())),
    ]


def mta_sts_resources(answers: Answers) -> list[Resource]:
    """The MTA-STS policy file nginx serves (ACME mode), or none left behind in the other modes."""
    if not mta_sts.enabled(answers):
        return [AbsentFileResource(mta_sts.POLICY_FILE, "MTA-STS is served only in ACME mode with the webmail")]
    return [DirectoryResource(mta_sts.WEBROOT), DirectoryResource(os.path.dirname(mta_sts.POLICY_FILE)),
            FileResource(mta_sts.POLICY_FILE, mta_sts.policy(answers))]


def check_nginx_config() -> None:
    """nginx -t: a configuration nginx refuses stops the install with nginx's own words, before any restart or
    reload (the running nginx keeps serving the old one)."""
    result = run(["nginx", "-t"], check=False)
    if not result.ok:
        raise MailtuiError(f"nginx refuses its configuration (nginx -t):\n{result.output.strip()}")


def nginx_check_and_load(out: StepEmitter) -> None:
    """check_nginx_config(), then a start (not running) or a reload."""
    check_nginx_config()
    if services.is_running("nginx"):
        run(["nginx", "-s", "reload"], on_line=out.line)
    else:
        out.line("starting nginx")
        safe_services.start("nginx")


# ---------------------------------------------------------------- what `mailtui check` asks the site

def fetch(answers: Answers, *, https: bool, path: str = "/", timeout: float = 10,
          host: str = "") -> tuple[int, dict[str, str], str, bytes | None]:
    """GET `path` from this machine's nginx as a browser asking for `host` (the webmail's name by default) would:
    (status, headers with lower-case names, body, the certificate's DER when over HTTPS — taken whatever it is,
    then compared)."""
    host = host or answers.webmail_host
    sock: socket.socket = probe_client.connect(probe.LOOPBACK, web.HTTPS_PORT if https else web.HTTP_PORT, timeout)
    der = None
    if https:
        sock = probes.insecure_context().wrap_socket(sock, server_hostname=host)
        der = sock.getpeercert(binary_form=True)
    conn = http.client.HTTPConnection(host, timeout=timeout)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": probe.EHLO_NAME})
        response = conn.getresponse()
        body = response.read(500_000).decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, der
    finally:
        conn.close()


def _pem_der(path: str) -> bytes | None:
    try:
        return ssl.PEM_cert_to_DER_cert(Path(path).read_text(encoding="ascii", errors="replace").split(
            "-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    except (OSError, ValueError):
        return None


def site_checks(answers: Answers) -> list[Check]:
    """The site as a browser finds it: HTTPS presents the mail certificate, the login page answers (nginx,
    PHP-FPM and Roundcube all working), plain HTTP redirects to HTTPS."""
    host, cert = answers.webmail_host, served_pair(answers)[0]
    name = f"https://{host}/ presents the certificate {cert}"
    login = f"Roundcube's login page answers at https://{host}/"
    redirect = f"http://{host}/ redirects to HTTPS"
    checks = []
    try:
        status, _headers, body, der = fetch(answers, https=True)
        ok = der is not None and der == _pem_der(cert)
        checks.append(Check(name, ok, "" if ok else "nginx presents another certificate: run `mailtui install` "
                                                    "again (or `nginx -s reload` after a certificate change)"))
        ok = status == 200 and 'id="rcmloginuser"' in body
        checks.append(Check(login, ok, "" if ok else f"HTTP {status}" + (
            ": PHP-FPM or Roundcube does not answer (see /var/log/nginx/error.log)" if status >= 500 else "")))
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        checks += [Check(name, False, f"{type(exc).__name__}: {exc}"), Check(login, False, "HTTPS does not answer")]
    try:
        status, headers, _body, _der = fetch(answers, https=False)
        ok = status == 301 and headers.get("location", "").startswith(f"https://{host}/")
        checks.append(Check(redirect, ok, "" if ok else f"HTTP {status} {headers.get('location', '')}".strip()))
    except (OSError, http.client.HTTPException) as exc:
        checks.append(Check(redirect, False, f"{type(exc).__name__}: {exc}"))
    return checks + [mta_sts_check(answers, host) for host in mta_sts.policy_hosts(answers)]


def mta_sts_check(answers: Answers, host: str) -> Check:
    """The MTA-STS policy as a sending server fetches it: text/plain, this server's policy. (Whether the
    certificate names `host` is the ACME step's check: steps/acme_names.py.)"""
    name = f"https://{host}{mta_sts.WELL_KNOWN} serves the MTA-STS policy (mode {mta_sts.mode(answers)})"
    try:
        status, headers, body, _der = fetch(answers, https=True, path=mta_sts.WELL_KNOWN, host=host)
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    kind = headers.get("content-type", "").split(";")[0].strip()
    if status != 200 or kind != mta_sts.CONTENT_TYPE:
        return Check(name, False, f"HTTP {status}, Content-Type {kind or 'none'}")
    ok = body == mta_sts.policy(answers)
    return Check(name, ok, "" if ok else "nginx serves another policy: run `mailtui install` again")
