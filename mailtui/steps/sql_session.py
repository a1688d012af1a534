"""The database step's connections for one plan, apply or verify (SqlSession), and the queries that inspect
what a server has: databases, tables, columns, indexes, privileges."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from mailtui.model.answers import Database
from mailtui.stack import db as dbmod
from mailtui.system import services

_IN_CHUNK = 500


# ---------------------------------------------------------------- connections for one run

def local_server_running() -> bool:
    return dbmod.local_socket() is not None and services.is_running("mariadb")


class SqlSession:
    """The connections the database step's resources share during one plan, apply or verify.

    Connections are opened per use and closed right after (no state survives between resources,
    so what one resource's apply changed is what the next one inspects).
    """

    def __init__(self, database: Database, *, offline: bool | None = None) -> None:
        self.db = database
        if offline is None:
            offline = database.is_local and not local_server_running()
        # The local server is not running (not installed yet, or stopped): describe, don't connect.
        self.offline = offline

    @property
    def is_local(self) -> bool:
        return self.db.is_local

    @property
    def has_root(self) -> bool:
        return self.db.is_local or bool(self.db.root_user)

    @property
    def endpoint(self) -> dbmod.Endpoint:
        return dbmod.tcp_endpoint(self.db)

    def where(self) -> str:
        return f"{dbmod.SERVER_LABEL} at {self.endpoint.describe()}"

    @contextmanager
    def root(self) -> Iterator[dbmod.Connection]:
        with dbmod.closing(dbmod.root_connection(self.db)) as conn:
            yield conn

    @contextmanager
    def admin(self) -> Iterator[dbmod.Connection]:
        with dbmod.closing(dbmod.connect(self.endpoint, self.db.admin_user, self.db.admin_password)) as conn:
            yield conn

    def login(self, user: str, password: str) -> dbmod.Connection | None:
        """Log in as an account (over TCP); None when the server refuses it."""
        if not password:
            return None
        return dbmod.try_connect(self.endpoint, user, password)

    @contextmanager
    def reader(self) -> Iterator[dbmod.Connection | None]:
        """A connection to inspect with: local root; remote the management account, else the lookup
        account, else None (nothing can be seen without the administrator account)."""
        if self.is_local:
            with self.root() as conn:
                yield conn
            return
        conn = self.login(self.db.admin_user, self.db.admin_password) or self.login(
            self.db.user, self.db.password)
        if conn is None:
            yield None
            return
        with dbmod.closing(conn):
            yield conn


# ---------------------------------------------------------------- inspection helpers

def query(conn: dbmod.Connection, text: str, params: Sequence[object] = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(text, tuple(params) or None)
        rows = list(cur.fetchall())
    conn.commit()  # end the read transaction (autocommit is off): the next read sees fresh data
    return rows


def database_exists(conn: dbmod.Connection, name: str) -> bool:
    return bool(query(conn, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                      (name,)))


def table_exists(conn: dbmod.Connection, database: str, table: str) -> bool:
    return bool(query(conn, "SELECT TABLE_NAME FROM information_schema.TABLES "
                      "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (database, table)))


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    length: int | None
    nullable: bool
    charset: str | None
    collation: str | None


def table_columns(conn: dbmod.Connection, database: str, table: str) -> dict[str, Column]:
    rows = query(conn, "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE, "
                 "CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS "
                 "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (database, table))
    return {str(r[0]).lower(): Column(str(r[0]), str(r[1]).lower(), int(r[2]) if r[2] is not None else None,
                                      r[3] == "YES", r[4], r[5]) for r in rows}


def table_indexes(conn: dbmod.Connection, database: str, table: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """index name -> (unique, columns in order)."""
    rows = query(conn, "SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
                 "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                 (database, table))
    result: dict[str, tuple[bool, tuple[str, ...]]] = {}
    for name, non_unique, column in rows:
        unique, cols = result.get(name, (int(non_unique) == 0, ()))
        result[name] = (unique, (*cols, str(column).lower()))
    return result


def schema_privileges(conn: dbmod.Connection, user: str, host: str, database: str) -> dict[str, set[str]]:
    """The account's database-level privileges that cover `database`: stored pattern -> privileges."""
    grantee = f"'{user}'@'{host}'"
    escaped = database.replace("_", "\\_")
    rows = query(conn, "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
                 "WHERE GRANTEE = %s AND TABLE_SCHEMA IN (%s, %s)", (grantee, database, escaped))
    result: dict[str, set[str]] = {}
    for schema, privilege in rows:
        result.setdefault(str(schema), set()).add(str(privilege).upper())
    return result


def chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def select_in(conn: dbmod.Connection, text: str, values: Sequence[str]) -> list[tuple]:
    """Run `text` (one `{in}` placeholder) for values in chunks: WHERE x IN (%s, %s, …)."""
    rows: list[tuple] = []
    for part in chunks(list(values)):
        rows.extend(query(conn, text.format(**{"in": ", ".join(["%s"] * len(part))}), part))
    return rows
