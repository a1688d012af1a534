"""The webmail's web facts, once: where Roundcube lives, the HTTP headers nginx sends, how Roundcube reaches
the mail services. Read by the webmail step (steps/webmail.py), its checks and the tests."""

from __future__ import annotations

import re

from mailtui.model.answers import Answers

# Debian's Roundcube (REFERENCE-stack §7): the docroot, its configuration, the dbconfig-generated DB settings.
DOCROOT = "/var/lib/roundcube/public_html"
CONFIG = "/etc/roundcube/config.inc.php"
DB_SETTINGS = "/etc/roundcube/debian-db.php"
PASSWORD_PLUGIN_CONFIG = "/etc/roundcube/plugins/password/config.inc.php"
DATABASE = "roundcube"
DB_USER = "roundcube"
# nginx: mailtui's site (conf.d/*.conf is read in the http block on Debian) and the stock site it replaces
# (its `default_server` on port 80 would clash with mailtui's).
NGINX_SITE = "/etc/nginx/conf.d/mailtui-webmail.conf"
NGINX_DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
HTTP_PORT = 80
HTTPS_PORT = 443
LOGIN_PATH = "/"

# Roundcube's elastic skin runs inline scripts and styles (its page setup is an inline <script>), so the policy
# allows them from this page only; nothing is loaded from another origin, no plugin objects, no framing by others.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
                           "connect-src 'self'; frame-src 'self' blob:; frame-ancestors 'self'; form-action 'self'; "
                           "base-uri 'self'; object-src 'none'")
# HSTS only with a certificate browsers trust (ACME): with a self-signed one, a browser that once saw it would
# refuse the site for a year, with no way to accept the certificate.
HSTS = "max-age=31536000"


def headers(answers: Answers) -> dict[str, str]:
    """The headers every HTTPS answer carries (nginx `add_header … always`)."""
    result = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    if answers.tls.mode == "acme":
        result["Strict-Transport-Security"] = HSTS
    return result


def php_version(package_version: str | None) -> str | None:
    """'2:8.2+93' (the version of Debian's `php-fpm`) -> '8.2'."""
    if not package_version:
        return None
    match = re.match(r"(\d+\.\d+)", package_version.split(":", 1)[-1])
    return match.group(1) if match else None


def php_fpm_service(version: str) -> str:
    return f"php{version}-fpm"


def php_fpm_socket(version: str) -> str:
    return f"/run/php/php{version}-fpm.sock"
