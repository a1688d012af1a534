"""Webmail ([webmail] in the answers): Roundcube from Debian's packages behind nginx with PHP-FPM, at
https://<webmail host>/ (HTTP redirected there), with the mail ports' certificate.

The packages step installs nginx and PHP-FPM first and Roundcube after them, with dbconfig-common told not to
touch a database yet (MariaDB may not run then). This step, once MariaDB runs, answers dbconfig-common's
questions (debconf, non-interactively: the database `roundcube`, its account roundcube@localhost with the
generated [webmail] db_password) and lets it create the database, the account and Roundcube's tables
(`dpkg-reconfigure roundcube-core`) — the path Debian maintains, so a later package upgrade also upgrades the
schema. That happens only while the database is missing: dbconfig-common's "reinstall" drops the database.

Roundcube reaches Dovecot over IMAPS (993) and Postfix over 465 (587 with STARTTLS when 465 is off) on
127.0.0.1, verifying the certificate against the hostname: a certificate that is not mailtui's fails the login.
"""

from __future__ import annotations

import os
import re
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers, Database
from mailtui.policy import ports, web
from mailtui.policy.web import php_str
from mailtui.report import Change, Check
from mailtui.stack import db
from mailtui.stack.certificates import served_pair
from mailtui.steps import client_config
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import DirectoryResource, FileResource
from mailtui.steps.sql_session import SqlSession, table_exists
from mailtui.steps.webmail_password import password_resources
from mailtui.steps.webmail_site import check_nginx_config, site_checks, site_resources
from mailtui.system import apt, services
from mailtui.system.commands import run
from mailtui.system.platform import candidate_version, installed_version

HEADER = web.MANAGED
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DES_KEY_CHARS = string.ascii_letters + string.digits + "+/"


def php_version() -> str | None:
    """The PHP of Debian's `php-fpm` here: installed, else the one apt would install."""
    return web.php_version(installed_version("php-fpm") or candidate_version("php-fpm"))


def site_php(ctx: Context) -> str:
    """The PHP version the site's PHP-FPM socket is named after, decided once per run (Debian 12's 8.2 when
    apt knows no php-fpm yet: the packages step installs it before the site is written)."""
    key = "webmail.php"
    if key not in ctx.facts:
        ctx.facts[key] = php_version() or "8.2"
    return str(ctx.facts[key])


def smtp_url(answers: Answers) -> str:
    return "ssl://127.0.0.1:465" if answers.services.submissions else "tls://127.0.0.1:587"


def ca_file(answers: Answers) -> str:
    """What Roundcube verifies the mail services' certificate against: the self-signed certificate itself, or
    the system's CA bundle for a CA-issued one (the operator's files, ACME)."""
    cert = served_pair(answers)[0]
    return cert if cert == paths.SELF_SIGNED_CERT else SYSTEM_CA_BUNDLE


def existing_des_key(path: str = web.CONFIG) -> str | None:
    """The des_key Roundcube's configuration holds now (Debian's postinst made one; sessions depend on it)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"\$config\['des_key'\]\s*=\s*'([^'\\]{24,})'", text)
    return match.group(1) if match else None


def new_des_key() -> str:
    return "".join(secrets.choice(DES_KEY_CHARS) for _ in range(24))


def conn_options(answers: Answers) -> str:
    """PHP's TLS options for Roundcube's connections to this machine's services: the certificate verified, its
    name the hostname (the connections go to 127.0.0.1)."""
    return (f"['ssl' => ['verify_peer' => true, 'verify_peer_name' => true, 'allow_self_signed' => false, "
            f"'peer_name' => {php_str(answers.hostname)}, 'cafile' => {php_str(ca_file(answers))}]]")


def render_managesieve_config(answers: Answers) -> str:
    """plugins/managesieve/config.inc.php: Dovecot's ManageSieve on loopback, STARTTLS verified like IMAPS; the
    Filters section and a Vacation section of its own."""
    return "\n".join([
        "<?php",
        f"// {HEADER}",
        "$config = [];",
        f"$config['managesieve_host'] = 'tls://{ports.MANAGESIEVE_ADDRESS}:{ports.MANAGESIEVE_PORT}';",
        f"$config['managesieve_conn_options'] = {conn_options(answers)};",
        "$config['managesieve_auth_type'] = 'PLAIN';",
        "// No default script: a user starts with none (the spam filter's script runs before any user's).",
        "$config['managesieve_default'] = '';",
        "$config['managesieve_vacation'] = 1;",
        "",
    ])


def render_config(answers: Answers, des_key: str) -> str:
    """/etc/roundcube/config.inc.php."""
    ssl = conn_options(answers)
    lines = [
        "<?php",
        f"// {HEADER}",
        "$config = [];",
        '// The database settings dbconfig-common keeps (/etc/roundcube/debian-db.php).',
        'include("/etc/roundcube/debian-db-roundcube.php");',
        "// IMAPS and SMTP with TLS on this machine, the certificate verified against the hostname.",
        "$config['imap_host'] = 'ssl://127.0.0.1:993';",
        f"$config['imap_conn_options'] = {ssl};",
        f"$config['smtp_host'] = {php_str(smtp_url(answers))};",
        f"$config['smtp_conn_options'] = {ssl};",
        "$config['smtp_user'] = '%u';",
        "$config['smtp_pass'] = '%p';",
        "$config['support_url'] = '';",
        "$config['product_name'] = 'Webmail';",
        f"$config['des_key'] = {php_str(des_key)};",
        "// The password change (its rules and account: plugins/password/config.inc.php), the auth cache flush,",
        "// filters and the vacation reply (plugins/managesieve/config.inc.php).",
        f"$config['plugins'] = ['password', '{web.FLUSH_PLUGIN}', 'managesieve'];",
        "$config['skin'] = 'elastic';",
        "// Nothing leaves this machine: no spell checking by a remote service.",
        "$config['enable_spellcheck'] = false;",
        "$config['enable_installer'] = false;",
        "// One identity, its address the login's: nobody sends as someone else from here.",
        "$config['identities_level'] = 3;",
        "$config['ip_check'] = true;",
        # Roundcube's own limit locks the *account* for a minute after 3 failures, from any address: an attacker
        # would lock your users out. With fail2ban on, its webmail jail bans the attacker's address instead.
        f"$config['login_rate_limit'] = {0 if answers.security.fail2ban else 3};",
        "$config['login_autocomplete'] = 0;",
        "",
    ]
    return "\n".join(lines)


def database_exists() -> bool:
    """Roundcube's database is there with its tables (`users` is the one every version has)."""
    try:
        with SqlSession(_LOCAL).root() as conn:
            return table_exists(conn, web.DATABASE, "users")
    except db.DatabaseError:
        return False


_LOCAL = Database()  # root over the local server's UNIX socket (the webmail needs a local database)


def account_logs_in(password: str) -> bool:
    try:
        conn = db.try_connect(db.socket_endpoint(), web.DB_USER, password, database=web.DATABASE)
    except db.DatabaseError:
        return False
    if conn is None:
        return False
    conn.close()
    return True


def dbconfig_selections(answers: Answers, *, reinstall: bool) -> str:
    """dbconfig-common's questions for roundcube-core (REFERENCE-stack §7), answered: MySQL over the UNIX
    socket, root through unix_socket authentication, the account roundcube@localhost with the generated
    password. `reinstall` true only while the database is missing (dbconfig-common's reinstall drops it)."""
    password = answers.webmail.db_password
    q = "roundcube-core roundcube/"
    return (
        f"{q}dbconfig-install boolean true\n"
        f"{q}dbconfig-reinstall boolean {'true' if reinstall else 'false'}\n"
        f"{q}dbconfig-upgrade boolean true\n"
        f"{q}database-type select mysql\n"
        f"{q}mysql/method select Unix socket\n"
        f"{q}mysql/admin-user string root\n"
        f"{q}mysql/admin-pass password\n"
        f"{q}db/dbname string {web.DATABASE}\n"
        f"{q}db/app-user string {web.DB_USER}@localhost\n"
        f"{q}mysql/app-pass password {password}\n"
        f"{q}app-password-confirm password {password}\n"
        f"{q}reconfigure-webserver multiselect\n"
        f"{q}restart-webserver boolean false\n"
    )


@dataclass
class RoundcubeDatabaseResource:
    """Roundcube's database, its account and tables, created by dbconfig-common (Debian's path)."""

    kind = "sql"

    @property
    def target(self) -> str:
        return f"database {web.DATABASE}"

    def describe(self) -> str:
        return f"Roundcube's database {web.DATABASE} and its account {web.DB_USER}@localhost"

    def pending(self, ctx: Context) -> Change | None:
        if database_exists():
            return None
        return Change("sql", self.target,
                      f"create Roundcube's database {web.DATABASE}, its account {web.DB_USER}@localhost and its "
                      "tables (dbconfig-common, answered non-interactively)",
                      "$ dpkg-reconfigure -fnoninteractive roundcube-core")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        apt.preseed(dbconfig_selections(ctx.answers, reinstall=True))
        try:
            run(["dpkg-reconfigure", "-fnoninteractive", "roundcube-core"], on_line=out.line,
                env={"DEBIAN_FRONTEND": "noninteractive"}, changes=[web.DB_SETTINGS, web.CONFIG])
        finally:
            # Never again: a later reconfigure or upgrade must keep the database (reinstall drops it).
            apt.preseed(dbconfig_selections(ctx.answers, reinstall=False))
        if not database_exists():
            raise db.DatabaseError(f"dbconfig-common did not create Roundcube's database {web.DATABASE}")


Resource.register(RoundcubeDatabaseResource)


class WebmailStep(Step):
    name = "webmail"
    title = "Webmail"
    why = ("Roundcube on nginx and PHP-FPM at https://<hostname>/: your users read and send mail in a browser, "
           "over the same certificate as the mail ports.")
    services = ("nginx", "php-fpm")

    def enabled(self, ctx: Context) -> bool:
        return ctx.answers.webmail.enabled

    def _php(self, ctx: Context) -> str:
        return site_php(ctx)

    def services_for(self, ctx: Context) -> tuple[str, ...]:
        if not ctx.answers.webmail.enabled:
            return ()
        # Without systemd, cron flushes Dovecot's auth cache after a password change (steps/webmail_password.py).
        cron = () if services.has_systemd() else ("cron",)
        return ("nginx", web.php_fpm_service(self._php(ctx)), *cron)

    def unused_services(self, ctx: Context) -> tuple[str, ...]:
        return ()

    def _des_key(self, ctx: Context) -> str:
        key = "webmail.des_key"
        if key not in ctx.facts:
            ctx.facts[key] = existing_des_key() or new_des_key()
        return str(ctx.facts[key])

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        return [
            RoundcubeDatabaseResource(),
            FileResource(web.CONFIG, render_config(a, self._des_key(ctx)), group="www-data", mode=0o640, secret=True),
            *password_resources(a),
            FileResource(web.MANAGESIEVE_PLUGIN_CONFIG, render_managesieve_config(a), group="www-data", mode=0o640),
            DirectoryResource(client_config.CLIENT_DIR),
            FileResource(client_config.THUNDERBIRD_FILE, client_config.render_thunderbird(a)),
            FileResource(client_config.AUTODISCOVER_SCRIPT, client_config.render_autodiscover(a)),
            *site_resources(a, self._php(ctx)),
        ]

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        if changed:  # before the restart (ensure_services)
            check_nginx_config()

    def functional_checks(self, ctx: Context) -> list[Check]:
        checks = []
        ok = account_logs_in(ctx.answers.webmail.db_password)
        checks.append(Check(f"Roundcube's account {web.DB_USER}@localhost logs in to its database", ok,
                            "" if ok else "the password in the answers does not log in"))
        installer = os.path.exists(os.path.join(web.DOCROOT, "installer"))
        checks.append(Check("Roundcube's installer is not served", not installer,
                            "" if not installer else f"{web.DOCROOT}/installer exists"))
        if services.is_running("nginx"):
            checks += site_checks(ctx.answers)
        return checks
