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
# Filters and the vacation reply: Roundcube's managesieve plugin, talking to Dovecot's ManageSieve on loopback.
MANAGESIEVE_PLUGIN_CONFIG = "/etc/roundcube/plugins/managesieve/config.inc.php"
DATABASE = "roundcube"
DB_USER = "roundcube"
# The password plugin's account in the mail database: it finds a mailbox by its address and writes its new hash,
# nothing else (column grants; any other column answers error 1143, and no hash can be read).
PASSWORD_DB_USER = "mailpassword"
PASSWORD_TABLE = "virtual_users"
PASSWORD_COLUMNS = {"SELECT": ("email",), "UPDATE": ("password",)}
# mailtui's own pieces of Roundcube: the password rules of `mailtui user passwd` as a strength driver of the
# password plugin (its drivers live in the plugin's directory), and a plugin asking for Dovecot's auth cache
# to be flushed after a change (PHP runs as www-data; a root-owned systemd path unit flushes).
STRENGTH_DRIVER = "/usr/share/roundcube/plugins/password/drivers/mailtui.php"
FLUSH_PLUGIN = "mailtui_auth_flush"
FLUSH_PLUGIN_DIR = f"/var/lib/roundcube/plugins/{FLUSH_PLUGIN}"
FLUSH_SPOOL = "/var/spool/mailtui-auth-flush"
FLUSH_UNIT = "mailtui-auth-flush"
FLUSH_CRON = "/etc/cron.d/mailtui-auth-flush"  # without systemd (cron.d names: no dots)
# nginx: mailtui's site (conf.d/*.conf is read in the http block on Debian) and the stock site it replaces
# (its `default_server` on port 80 would clash with mailtui's).
NGINX_SITE = "/etc/nginx/conf.d/mailtui-webmail.conf"
NGINX_DEFAULT_SITE = "/etc/nginx/sites-enabled/default"
# ACME mode with the webmail: nginx holds port 80, so certbot answers the CA's HTTP-01 challenge by writing it
# here (--webroot), and nginx serves it; renewals do the same (certbot keeps the authenticator).
ACME_WEBROOT = "/var/www/mailtui-acme"
# Failed webmail logins, as Roundcube logs them with the browser's address (Debian's log_dir); fail2ban's stock
# `roundcube-auth` filter reads them. (Roundcube's own IMAP logins come from 127.0.0.1, which is never banned.)
ROUNDCUBE_ERRORS_LOG = "/var/log/roundcube/errors.log"
BAN_JAIL = "roundcube-auth"
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


MANAGED = "Written by mailtui ([webmail] in the answers); replaced on every install."


def php_str(value: str) -> str:
    """A PHP single-quoted string literal (Roundcube's configuration files are PHP)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
