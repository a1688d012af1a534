"""SQL resources: the database, its tables, the two accounts and the seed rows, as declared state.

Each resource compares what the server has with what the answers want and produces an `SqlPlan`:
the statements that would bring it into place (shown in the preview with every password and hash
masked as '***'), notes it can only report (e.g. duplicates that block a unique key) and, rarely, a
blocker it refuses to work around (a table of that name that is not the tutorial's). pending() and
apply() both derive from that one comparison, so the preview and what runs cannot disagree.

The statements and the schema are in sql_statements.py; connections and inspection queries in
sql_session.py. Connections come from a `SqlSession` (one per plan/apply/verify): the local server is inspected and
changed as root over the UNIX socket; a remote server is inspected through the management (else the
lookup) account, and its administrator account (database.root_user) is used only to run statements
that need it. While the local server is not running yet (fresh machine, dry run) nothing connects
and every resource says "create".

Existing tutorial databases are adopted, never dropped: too narrow columns are widened, missing
unique keys are added only when no duplicates exist, rows are only ever added or updated.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import ClassVar

import pymysql

from mailtui.errors import MailtuiError, StepFailed
from mailtui.events import StepEmitter
from mailtui.model.answers import Database
from mailtui.report import Change
from mailtui.stack import db as dbmod
from mailtui.steps.base import Context, Resource
from mailtui.steps.sql_session import (
    SqlSession,
    database_exists,
    query,
    schema_privileges,
    table_columns,
    table_exists,
    table_indexes,
)
from mailtui.steps.sql_statements import (
    Sql,
    SqlPlan,
    TableSpec,
    create_user_sql,
    grant_sql,
    one_line,
    parse_schema,
    revoke_sql,
    schema_text,
)

DATABASE_CHARSET = "utf8mb4"
DATABASE_COLLATION = "utf8mb4_unicode_ci"
LOOKUP_PRIVILEGES = ("SELECT",)
ADMIN_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
# Local server: Postfix and Dovecot connect over TCP to 127.0.0.1. Whether the server then matches
# the account '…'@'127.0.0.1' or '…'@'localhost' depends on its name resolution (MariaDB resolves
# 127.0.0.1 to localhost unless skip-name-resolve), so both accounts exist with the same password.
LOCAL_ACCOUNT_HOSTS = ("localhost", "127.0.0.1")
# Placeholder for "this machine as the remote server sees it", resolved from USER() at apply time.
CLIENT_HOST = "<this mail server>"


# ---------------------------------------------------------------- the resources

class SqlResource(Resource):
    """A piece of database state. Subclasses implement want_all() (offline: everything to create)
    and compare() (online: what differs)."""

    kind: ClassVar[str] = "sql"
    # Whether applying needs the administrator (root) account; row resources use the management one.
    needs_root: ClassVar[bool] = True

    def __init__(self, session: SqlSession) -> None:
        self.session = session

    @property
    def db(self) -> Database:
        return self.session.db

    @property
    def qdb(self) -> str:
        return dbmod.quote_identifier(self.db.name)

    @abstractmethod
    def want_all(self) -> SqlPlan:
        """The plan when nothing exists yet (also used while the server cannot be inspected)."""

    @abstractmethod
    def compare(self) -> SqlPlan:
        """Inspect the server; the plan to bring this resource into place (empty when it is)."""

    def plan(self) -> SqlPlan:
        return self.want_all() if self.session.offline else self.compare()

    def describe(self) -> str:
        return self.target

    def pending(self, ctx: Context) -> Change | None:
        plan = self.plan()
        if not plan:
            return None
        return Change("sql", self.target, plan.summary, plan.text())

    @contextmanager
    def writer(self) -> Iterator[dbmod.Connection]:
        if self.needs_root:
            with self.session.root() as conn:
                yield conn
        else:
            with self.session.admin() as conn:
                yield conn

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        plan = self.compare()
        if plan.blocker:
            raise StepFailed(plan.blocker)
        if plan.statements:
            with self.writer() as conn:
                self.execute(conn, plan.statements, out)
        for note in plan.notes:
            out.info(f"warning: {note}")

    def resolve(self, conn: dbmod.Connection, statements: list[Sql]) -> list[Sql]:
        """Last-moment substitutions that need the writing connection (see AccountResource)."""
        return statements

    def execute(self, conn: dbmod.Connection, statements: list[Sql], out: StepEmitter) -> None:
        statements = self.resolve(conn, statements)
        current = statements[0]
        try:
            with conn.cursor() as cur:
                for current in statements:
                    out.line(one_line(current.render()))
                    count = cur.execute(current.text, current.params or None)
                    if current.expect is not None and count != current.expect:
                        raise StepFailed(f"{current.render()} changed {count} rows, expected {current.expect}")
            conn.commit()
        except pymysql.err.MySQLError as exc:
            conn.rollback()
            code, reason = dbmod.error_reason(exc)
            raise StepFailed(f"{self.session.where()}: {current.render()}\nfailed: ({code}) {reason}") from None
        except BaseException:
            conn.rollback()
            raise


class DatabaseResource(SqlResource):
    """The mail database itself (utf8mb4)."""

    @property
    def target(self) -> str:
        return f"database {self.db.name}"

    def want_all(self) -> SqlPlan:
        return SqlPlan(f"create the database {self.db.name} ({DATABASE_CHARSET})", [
            Sql(f"CREATE DATABASE IF NOT EXISTS {self.qdb} CHARACTER SET {DATABASE_CHARSET} "
                f"COLLATE {DATABASE_COLLATION}")])

    def compare(self) -> SqlPlan:
        with self.session.reader() as conn:
            if conn is not None and database_exists(conn, self.db.name):
                return SqlPlan()
        return self.want_all()


class TableResource(SqlResource):
    """One of the tutorial's tables: created when missing, adopted (widened, keyed) when present."""

    def __init__(self, session: SqlSession, spec: TableSpec) -> None:
        super().__init__(session)
        self.spec = spec

    @property
    def target(self) -> str:
        return f"table {self.db.name}.{self.spec.name}"

    @property
    def qtable(self) -> str:
        return f"{self.qdb}.`{self.spec.name}`"

    def want_all(self) -> SqlPlan:
        return SqlPlan(f"create the table {self.spec.name}", [Sql(self.spec.qualified_create(self.db.name))])

    def compare(self) -> SqlPlan:
        with self.session.reader() as conn:
            if conn is None or not table_exists(conn, self.db.name, self.spec.name):
                return self.want_all()
            return self.adopt(conn)

    def adopt(self, conn: dbmod.Connection) -> SqlPlan:
        name = f"{self.db.name}.{self.spec.name}"
        columns = table_columns(conn, self.db.name, self.spec.name)
        missing = [c for c in self.spec.columns if c.lower() not in columns]
        if missing:
            return SqlPlan(
                f"{name} exists but is not the tutorial's table",
                blocker=(f"the table {name} exists but has no column {', '.join(missing)}, so it is not the "
                         "tutorial's virtual-domain table; mailtui does not alter or drop it. Rename it or "
                         "use another database name (database.name), then run again."))
        plan = SqlPlan()
        changes: list[str] = []
        modify = []
        for column, length in self.spec.varchar.items():
            have = columns[column.lower()]
            if have.data_type in ("varchar", "char") and (have.length or 0) < length:
                charset = f" CHARACTER SET {have.charset}" if have.charset else ""
                collate = f" COLLATE {have.collation}" if have.collation else ""
                null = "NULL" if have.nullable else "NOT NULL"
                modify.append(f"MODIFY `{have.name}` varchar({length}){charset}{collate} {null}")
                changes.append(f"widen {column} {have.data_type}({have.length}) -> varchar({length})")
        if modify:
            plan.statements.append(Sql(f"ALTER TABLE {self.qtable} " + ", ".join(modify)))
        indexes = table_indexes(conn, self.db.name, self.spec.name)
        for key, cols in self.spec.unique.items():
            want = tuple(c.lower() for c in cols)
            if any(unique and have_cols == want for unique, have_cols in indexes.values()):
                continue
            duplicates = self.duplicates(conn, cols)
            label = ", ".join(cols)
            if duplicates:
                plan.notes.append(
                    f"{name}: not adding a unique key on ({label}): {duplicates}. Remove the duplicate rows "
                    "and run again (mailtui does not delete rows)")
                changes.append(f"cannot add unique key ({label}): duplicates")
                continue
            key_name = key if key not in indexes else f"{key}_unique"
            qcols = ", ".join(f"`{c}`" for c in cols)
            plan.statements.append(Sql(f"ALTER TABLE {self.qtable} ADD UNIQUE KEY `{key_name}` ({qcols})"))
            changes.append(f"add unique key ({label})")
        if plan:
            plan.summary = f"adopt the existing table {name}: " + "; ".join(changes)
        return plan

    def duplicates(self, conn: dbmod.Connection, cols: tuple[str, ...]) -> str:
        qcols = ", ".join(f"`{c}`" for c in cols)
        rows = query(conn, f"SELECT {qcols}, COUNT(*) FROM {self.qtable} GROUP BY {qcols} "
                     "HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC LIMIT 6")
        if not rows:
            return ""
        shown = ", ".join(f"{' -> '.join(str(v) for v in r[:-1])} ({r[-1]}×)" for r in rows[:5])
        more = " and more" if len(rows) > 5 else ""
        return f"duplicates: {shown}{more}"


class AccountResource(SqlResource):
    """A database account for one host, with its password and its privileges on the mail database.

    Local server: one resource per host (localhost, 127.0.0.1). Remote server: host None, i.e.
    whichever account the server matches for this machine; a missing one is created for the host
    the server sees us as (USER()), with database.root_user.
    """

    def __init__(self, session: SqlSession, role: str, user: str, password: str,
                 privileges: Sequence[str], *, exact: bool, host: str | None) -> None:
        super().__init__(session)
        self.role = role  # "lookup" | "management"
        self.user = user
        self.password = password
        self.privileges = tuple(privileges)
        self.exact = exact  # privileges beyond these are revoked (the lookup account is SELECT-only)
        self.host = host

    @property
    def target(self) -> str:
        return f"account {self.user}@{self.host or CLIENT_HOST} ({self.role})"

    @property
    def role_text(self) -> str:
        return f"{self.role} account"

    @property
    def purpose(self) -> str:
        users = "Postfix and Dovecot read" if self.role == "lookup" else "mailtui manages accounts"
        return f"{users} with it: {', '.join(self.privileges)} on {self.db.name}"

    def want_all(self) -> SqlPlan:
        host = self.host or CLIENT_HOST
        return SqlPlan(
            f"create the {self.role_text} {self.user}@{host} ({self.purpose})",
            [*create_user_sql(self.user, host, self.password),
             grant_sql(self.privileges, self.db.name, self.user, host)])

    def compare(self) -> SqlPlan:
        if self.host is None:
            return self.compare_remote()
        with self.session.root() as conn:
            exists = bool(query(conn, "SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s",
                                (self.user, self.host)))
            if not exists:
                return self.want_all()
            plan = SqlPlan()
            notes = []
            if not self.password_ok(conn):
                plan.statements.append(create_user_sql(self.user, self.host, self.password)[1])
                notes.append("set the password from the answers")
            self.compare_grants(plan, notes, schema_privileges(conn, self.user, self.host, self.db.name),
                                self.host)
        if plan:
            plan.summary = f"update the {self.role_text} {self.user}@{self.host}: " + "; ".join(notes)
        return plan

    def compare_grants(self, plan: SqlPlan, notes: list[str], have: dict[str, set[str]], host: str) -> None:
        # information_schema lists ALL PRIVILEGES expanded into the single privileges.
        held = set().union(*have.values()) if have else set()
        missing = [p for p in self.privileges if p not in held]
        if missing:
            plan.statements.append(grant_sql(missing, self.db.name, self.user, host))
            notes.append(f"grant {', '.join(missing)}")
        if self.exact:
            for schema, privs in sorted(have.items()):
                extra = sorted(privs - set(self.privileges))
                if extra:
                    plan.statements.append(revoke_sql(extra, schema, self.user, host))
                    notes.append(f"revoke {', '.join(extra)} (this account must stay SELECT-only)")

    def password_ok(self, root: dbmod.Connection) -> bool:
        """Does the account accept the answers' password? Proven by logging in as it; when the server
        maps our login to another account (127.0.0.1 resolved to localhost), by its stored hash."""
        if not self.password:
            return False
        endpoint = (dbmod.socket_endpoint() if self.host == "localhost"
                    else dbmod.Endpoint(self.host or "127.0.0.1", self.db.port))
        try:
            conn = dbmod.connect(endpoint, self.user, self.password)
        except dbmod.ConnectFailed as exc:
            if not exc.access_denied:
                raise
            if f"'{self.user}'@'{self.host}'" in str(exc):
                return False  # refused for exactly this account
        else:
            with dbmod.closing(conn):
                if dbmod.current_account(conn) == (self.user, self.host):
                    return True
        rows = query(root, "SELECT plugin, authentication_string FROM mysql.user WHERE User = %s AND Host = %s",
                     (self.user, self.host))
        if not rows:
            return False
        plugin, stored = rows[0]
        if plugin in ("mysql_native_password", "", None):
            return str(stored) == dbmod.native_password_hash(self.password)
        return True  # another plugin (MySQL 8 caching_sha2_password): cannot tell without logging in

    def compare_remote(self) -> SqlPlan:
        conn = self.session.login(self.user, self.password)
        if conn is None:
            plan = self.want_all()
            plan.summary = (f"create the {self.role_text} {self.user} or set its password "
                            f"(it cannot log in to {self.session.where()} with the answers' password)")
            return plan
        with dbmod.closing(conn):
            user, host = dbmod.current_account(conn)
            have = schema_privileges(conn, user, host, self.db.name)
        plan = SqlPlan()
        notes: list[str] = []
        self.compare_grants(plan, notes, have, host)
        if plan:
            plan.summary = f"update the {self.role_text} {user}@{host}: " + "; ".join(notes)
        return plan

    def resolve(self, conn: dbmod.Connection, statements: list[Sql]) -> list[Sql]:
        if not self.password:
            raise StepFailed(f"no password for the database account {self.user} in the answers "
                             f"(database.{'password' if self.role == 'lookup' else 'admin_password'})")
        if self.host is not None:
            return statements
        host = dbmod.client_host(conn)
        return [s.with_param(CLIENT_HOST, host) for s in statements]


class SchemaSpecs:
    """The parsed assets/schema.sql (read once per process)."""

    @cached_property
    def tables(self) -> list[TableSpec]:
        specs = parse_schema(schema_text())
        if [s.name for s in specs] != ["virtual_domains", "virtual_users", "virtual_aliases"]:
            raise MailtuiError("assets/schema.sql does not declare virtual_domains, virtual_users and "
                               "virtual_aliases in that order")
        return specs


SCHEMA = SchemaSpecs()
