"""Packages: Postfix, Dovecot, MariaDB (when the database is local and none runs), tools, ufw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import milter
from mailtui.report import Change
from mailtui.steps import packages_list as pl
from mailtui.steps.base import Context, Resource, Step
from mailtui.system import apt, services
from mailtui.system.commands import which

SERVER_PACKAGES = ("mariadb-server", "mysql-server", "default-mysql-server")
INIT_SCRIPTS = ("/etc/init.d/mariadb", "/etc/init.d/mysql")


def local_database_server_present() -> bool:
    """A MySQL/MariaDB server is installed or running here already (then none is installed): it runs, a
    server package is installed, or a server binary is there with an init script to start it. A binary
    alone does not count: an install cut off after dpkg unpacked mariadb-server-core (mariadbd) but before
    mariadb-server (the service) leaves exactly that, and mailtui could not start it."""
    if services.is_running("mariadb") or any(apt.is_installed(p) for p in SERVER_PACKAGES):
        return True
    binary = which("mariadbd") or which("mysqld")
    return binary is not None and any(Path(script).exists() for script in INIT_SCRIPTS)


def wanted_packages(answers: Answers, *, database_server: bool, systemd: bool) -> list[str]:
    wanted = [*pl.POSTFIX, *pl.DOVECOT, *pl.TOOLS]
    if answers.services.pop3:
        wanted += pl.DOVECOT_POP3
    if answers.database.is_local and database_server:
        wanted += pl.DATABASE_SERVER
    if answers.firewall.enable:
        wanted += pl.FIREWALL
    if answers.security.fail2ban:
        wanted += pl.FAIL2BAN
    if milter.wanted(answers):
        wanted += pl.RSPAMD
    if answers.spam.enabled:
        wanted += [*pl.REDIS, *pl.SIEVE, *pl.RESOLVER]
    if answers.srs.enabled:
        wanted += pl.POSTSRSD
    if answers.webmail.enabled:
        wanted += [*pl.WEB_SERVER, *pl.MANAGESIEVE]
    if answers.updates.enabled:
        wanted += pl.UPDATES
    if answers.tls.mode == "acme":
        wanted += pl.CERTBOT
    if not systemd and (answers.tls.mode == "acme" or answers.webmail.enabled):
        # certbot's renewal runs from /etc/cron.d/certbot there, the webmail's auth cache flush from cron too.
        wanted += pl.CRON
    return wanted


def webmail_packages(answers: Answers) -> list[str]:
    """Roundcube, installed in an apt run after WEB_SERVER's (see packages_list.py)."""
    return list(pl.WEBMAIL) if answers.webmail.enabled else []


# roundcube-core's questions at install time: no database yet (MariaDB may not run during the packages step;
# the webmail step has dbconfig-common create it), no Apache or lighttpd to configure.
WEBMAIL_SELECTIONS = (
    "roundcube-core roundcube/dbconfig-install boolean false\n"
    "roundcube-core roundcube/reconfigure-webserver multiselect\n"
    "roundcube-core roundcube/restart-webserver boolean false\n"
)


def debconf_selections(answers: Answers) -> str:
    """Postfix asks questions on install; answer them so it never stops for a dialog."""
    return (
        "postfix postfix/main_mailer_type select Internet Site\n"
        f"postfix postfix/mailname string {answers.hostname}\n"
        f"postfix postfix/destinations string $myhostname, localhost.localdomain, localhost\n"
    )


@dataclass
class PackagesResource:
    packages: list[str]
    selections: str
    kind = "package"

    @property
    def target(self) -> str:
        return " ".join(self.packages)

    def describe(self) -> str:
        return f"packages {', '.join(self.packages)}"

    def pending(self, ctx: Context) -> Change | None:
        todo = apt.missing(self.packages)
        repair = apt.dpkg_interrupted()
        if not todo and not repair:
            return None
        summary = f"install {len(todo)} packages: {', '.join(todo)}" if todo else ""
        if repair:
            summary = "finish an interrupted dpkg run (dpkg --configure -a)" + (f"; {summary}" if summary else "")
        return Change("package", self.target, summary,
                      "$ apt-get install --no-install-recommends " + " ".join(todo) if todo else "")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        if apt.dpkg_interrupted():
            out.line("dpkg was interrupted earlier: running dpkg --configure -a")
            apt.configure_pending(out.line)
        todo = apt.missing(self.packages)
        if not todo:
            return
        if apt.lists_missing():
            out.line("no package lists yet: running apt-get update")
            apt.update(out.line)
        apt.preseed(self.selections)
        out.progress(0.0, f"installing {', '.join(todo)}")
        apt.install(todo, out.line, lambda pct, msg: out.progress(pct, msg))


Resource.register(PackagesResource)


class PackagesStep(Step):
    name = "packages"
    title = "Packages"
    why = ("Installs Postfix (mail transfer), Dovecot (IMAP, authentication, delivery), the MariaDB server "
           "when the database is on this machine, and ufw. Existing configuration files are kept.")

    def resources(self, ctx: Context) -> Sequence[Resource]:
        # Decide about the database server once: after the install it is "present", which must not
        # change the declaration (idempotence).
        key = "packages.database_server"
        if key not in ctx.facts:
            ctx.facts[key] = not local_database_server_present() or apt.is_installed("mariadb-server")
        # Only ACME's renewal and the webmail's auth cache flush ask whether systemd runs (cron without it).
        systemd = services.has_systemd() if (ctx.answers.tls.mode == "acme" or ctx.answers.webmail.enabled) else True
        wanted = wanted_packages(ctx.answers, database_server=bool(ctx.facts[key]), systemd=systemd)
        resources: list[Resource] = [PackagesResource(wanted, debconf_selections(ctx.answers))]
        if webmail := webmail_packages(ctx.answers):
            # After nginx and PHP-FPM are installed: Roundcube's `php` then needs no Apache.
            resources.append(PackagesResource(webmail, WEBMAIL_SELECTIONS))
        return resources
