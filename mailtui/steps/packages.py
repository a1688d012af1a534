"""Packages: Postfix, Dovecot, MariaDB (when the database is local and none runs), tools, ufw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailtui.answers import Answers
from mailtui.events import StepEmitter
from mailtui.steps import packages_list as pl
from mailtui.steps.base import Change, Context, Resource, Step
from mailtui.system import apt, services
from mailtui.system.commands import which


def local_database_server_present() -> bool:
    """A MySQL/MariaDB server is installed or running here already (then none is installed)."""
    return (services.is_running("mariadb") or which("mariadbd") is not None
            or which("mysqld") is not None or apt.is_installed("mysql-server"))


def wanted_packages(answers: Answers, *, database_server: bool) -> list[str]:
    wanted = [*pl.POSTFIX, *pl.DOVECOT, *pl.TOOLS]
    if answers.services.pop3:
        wanted += pl.DOVECOT_POP3
    if answers.database.is_local and database_server:
        wanted += pl.DATABASE_SERVER
    if answers.firewall.enable:
        wanted += pl.FIREWALL
    return wanted


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
        wanted = wanted_packages(ctx.answers, database_server=bool(ctx.facts[key]))
        return [PackagesResource(wanted, debconf_selections(ctx.answers))]
