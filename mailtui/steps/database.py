"""The database step: the tutorial's `mailserver` database, its two accounts and the seed rows.

Declares (see sql_resources.py): the database (utf8mb4); virtual_domains, virtual_users and
virtual_aliases from assets/schema.sql (an existing tutorial database is adopted, never dropped);
the SELECT-only lookup account Postfix and Dovecot use (database.user) and the management account
(database.admin_user, SELECT/INSERT/UPDATE/DELETE), both with the answers' passwords; and the
answers' domains, mailboxes and aliases.

Local server (database.host 127.0.0.1/localhost): MariaDB is installed by the packages step; this
step starts it when it is down and works as the database's root over the UNIX socket. Nothing here
needs a restart of MariaDB, so it is never restarted.

Remote server: nothing is installed or started here. What exists is inspected through the
management (or lookup) account; database.root_user / root_password are used only to create what is
missing, and when they are not given the step fails before changing anything, naming what is missing.
Tested against MariaDB 10.11; MySQL 8 is supported by design (no ENCRYPT(): hashes are made in
Python; CREATE/ALTER USER … IDENTIFIED BY rather than GRANT … IDENTIFIED BY).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pymysql

from mailtui.errors import MailtuiError, StepFailed
from mailtui.model.answers import Answers
from mailtui.report import Change, Check
from mailtui.stack import db as dbmod
from mailtui.stack import services as safe_services
from mailtui.stack.probes import state_checks
from mailtui.steps import sql_session
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.sql_resources import (
    ADMIN_PRIVILEGES,
    LOCAL_ACCOUNT_HOSTS,
    LOOKUP_PRIVILEGES,
    SCHEMA,
    AccountResource,
    DatabaseResource,
    SqlResource,
    TableResource,
)
from mailtui.steps.sql_rows import AliasRowsResource, DomainRowsResource, UserRowsResource
from mailtui.steps.sql_session import SqlSession, query
from mailtui.system import services


def account_hosts(answers: Answers) -> tuple[str | None, ...]:
    """The hosts of the two accounts: local server, the ones a TCP login from 127.0.0.1 may match;
    remote server, None (whatever the server matches for this machine)."""
    db = answers.database
    if not db.is_local:
        return (None,)
    extra = (db.host,) if db.host not in LOCAL_ACCOUNT_HOSTS else ()
    return (*LOCAL_ACCOUNT_HOSTS, *extra)


def database_resources(session: SqlSession, answers: Answers) -> list[SqlResource]:
    db = answers.database
    resources: list[SqlResource] = [DatabaseResource(session)]
    resources += [TableResource(session, spec) for spec in SCHEMA.tables]
    for host in account_hosts(answers):
        resources.append(AccountResource(session, "lookup", db.user, db.password, LOOKUP_PRIVILEGES,
                                         exact=True, host=host))
    for host in account_hosts(answers):
        resources.append(AccountResource(session, "management", db.admin_user, db.admin_password,
                                         ADMIN_PRIVILEGES, exact=False, host=host))
    if answers.domains:
        resources.append(DomainRowsResource(session, answers.domain_names))
    if answers.users:
        resources.append(UserRowsResource(session, answers.users))
    if answers.aliases:
        resources.append(AliasRowsResource(session, answers.aliases))
    return resources


class DatabaseStep(Step):
    name = "database"
    title = "Database"
    why = ("Creates the mail database (domains, mailboxes, aliases), a read-only account for Postfix and "
           "Dovecot and a separate account for managing mail accounts, and adds your domains and mailboxes.")
    # Only for a local database server; see services_for(). SQL changes need no restart.
    services = ("mariadb",)
    restart_on_change = False

    def services_for(self, ctx: Context) -> tuple[str, ...]:
        return self.services if ctx.answers.database.is_local else ()

    def resources(self, ctx: Context) -> Sequence[Resource]:
        return database_resources(SqlSession(ctx.answers.database), ctx.answers)

    # -- services: SQL changes need no restart; the server only has to be running.

    def service_changes(self, ctx: Context, *, changed: bool) -> list[Change]:
        return [Change("service", name, f"start {name} (it is not running, so the database could not be "
                       "inspected: the SQL above is what a fresh server needs)")
                for name in self.services_for(ctx) if not services.is_running(name)]

    def apply(self, ctx: Context) -> bool:
        out = ctx.out(self.name)
        db = ctx.answers.database
        started = False
        if db.is_local:
            if not services.is_running("mariadb"):
                out.line("starting mariadb (the database server must run before it can be set up)")
                safe_services.start("mariadb")
                started = True
            self.wait_for_socket()
        else:
            self.check_remote(ctx)
        changed = super().apply(ctx)
        return changed or started

    @staticmethod
    def wait_for_socket(timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while dbmod.local_socket() is None:
            if time.monotonic() > deadline:
                raise StepFailed(f"MariaDB is running but its socket ({dbmod.SOCKET_PATHS[0]}) did not appear "
                                 f"within {timeout:.0f} s; see /var/log/mysql/error.log or `service mariadb status`")
            time.sleep(0.2)

    def preflight(self, ctx: Context) -> list[str]:
        problem = self.remote_problem(ctx)
        return [problem] if problem else []

    @staticmethod
    def remote_problem(ctx: Context) -> str | None:
        """Remote server without root credentials and something missing: what, and what to do."""
        db = ctx.answers.database
        if db.is_local or db.root_user:
            return None
        session = SqlSession(db)
        try:
            missing = [plan for resource in database_resources(session, ctx.answers)
                       if resource.needs_root and (plan := resource.plan())]
        except MailtuiError as exc:  # unreachable
            return str(exc)
        if not missing:
            return None
        lines = "\n".join(f"  - {plan.summary}" for plan in missing)
        sql = "\n".join(plan.text() for plan in missing)
        return (f"{session.where()} is missing what the mail server needs:\n{lines}\n"
                "Give database.root_user and database.root_password (an account allowed to create databases "
                "and users; used once, never saved) and run again, or have the database administrator run "
                f"(with the real passwords, for the host this server connects from):\n{sql}")

    def check_remote(self, ctx: Context) -> None:
        """Before changing anything on a remote server: fail if something is missing that needs root."""
        problem = self.remote_problem(ctx)
        if problem:
            raise StepFailed(problem)
        session = SqlSession(ctx.answers.database)
        try:
            with session.reader() as conn:
                if conn is not None and not dbmod.uses_tls(conn):
                    ctx.out(self.name).info(
                        f"warning: the connection to {session.where()} is not encrypted (the server offers "
                        "no TLS): passwords and hashes cross the network in clear")
        except MailtuiError:
            pass

    def functional_checks(self, ctx: Context) -> list[Check]:
        db = ctx.answers.database
        checks = []
        down = db.is_local and not sql_session.local_server_running()
        for label, user, password in (("lookup", db.user, db.password), ("management", db.admin_user,
                                                                          db.admin_password)):
            name = f"{label} account {user} can read {db.name}.virtual_domains"
            if down:
                checks.append(Check(name, False, "MariaDB is not running"))
                continue
            try:
                with dbmod.closing(dbmod.connect(dbmod.tcp_endpoint(db), user, password, database=db.name)) as c:
                    query(c, "SELECT COUNT(*) FROM `virtual_domains`")
                checks.append(Check(name, True))
            except (MailtuiError, pymysql.err.MySQLError) as exc:
                checks.append(Check(name, False, str(exc)))
        # Both passwords are saved in mailtui's state (the saved answers): root-only.

        return checks + state_checks()
