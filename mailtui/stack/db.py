"""Connections to MariaDB / MySQL (PyMySQL), with errors an operator can act on.

Three kinds of login, one function each:

* root_connection()    the local server's administrator over its UNIX socket. Debian's MariaDB
                       creates root@localhost as `mysql_native_password USING 'invalid' OR unix_socket`,
                       i.e. the OS user root logs in without a password. PyMySQL does that: the server
                       tries the native password (fails), falls through to unix_socket, which checks the
                       peer's uid and needs nothing from the client (measured: PyMySQL 1.2.4, MariaDB
                       10.11). For a remote server, database.root_user/root_password over TCP.
* admin_connection()   the management account (mailtui's writes: domains, users, aliases).
* lookup_connection()  the SELECT-only account Postfix and Dovecot use.

All connections: charset utf8mb4, autocommit off, a connect timeout. TCP connections to a remote
host use TLS whenever the server offers it (PyMySQL's "preferred" mode, without certificate
verification: it keeps passwords and hashes off the wire in clear, not a man in the middle out);
local connections do not bother. MySQL 8's default caching_sha2_password over a connection without
TLS needs the `cryptography` package for its RSA key exchange (mailtui does not depend on it; a
remote MySQL 8 that offers TLS, which it does by default, does not need it).

Secrets are passed to PyMySQL in memory only; nothing here starts a program.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors
from pymysql.converters import escape_string

from mailtui.errors import MailtuiError
from mailtui.model import validate
from mailtui.model.answers import Database

Connection = pymysql.connections.Connection

# Where Debian/Ubuntu's MariaDB and MySQL put the server socket.
SOCKET_PATHS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock")
CONNECT_TIMEOUT = 10
SERVER_LABEL = "MariaDB"

# Server error codes we react to.
ER_ACCESS_DENIED = 1045
ER_ACCESS_DENIED_NO_PASSWORD = 1698  # unix_socket/auth_socket refused (not the OS user it belongs to)
ER_DBACCESS_DENIED = 1044
ER_BAD_DB = 1049
ER_DUP_ENTRY = 1062
CR_CONNECTION_ERROR = 2002
CR_CONN_HOST_ERROR = 2003
CR_SERVER_GONE = 2006
CR_SERVER_LOST = 2013
CONNECTION_LOST = frozenset({CR_SERVER_GONE, CR_SERVER_LOST, 0})


class DatabaseError(MailtuiError):
    """A MariaDB/MySQL operation failed; the message names the server, the account and the reason."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConnectFailed(DatabaseError):
    """Could not log in. `access_denied` tells a wrong account/password from an unreachable server."""

    @property
    def access_denied(self) -> bool:
        return self.code in (ER_ACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD, ER_DBACCESS_DENIED)


@dataclass(frozen=True)
class Endpoint:
    """Where a server listens: TCP host:port, or a UNIX socket path."""

    host: str = "127.0.0.1"
    port: int = 3306
    socket: str | None = None

    @property
    def is_local(self) -> bool:
        return self.socket is not None or self.host in ("127.0.0.1", "localhost", "::1")

    def describe(self) -> str:
        if self.socket:
            return f"the local server (UNIX socket {self.socket})"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def tcp_endpoint(db: Database) -> Endpoint:
    # 'localhost' would make the MySQL client libraries use the socket; mailtui, Postfix and
    # Dovecot all talk TCP to the address given.
    host = "127.0.0.1" if db.host == "localhost" else db.host
    return Endpoint(host, db.port)


def local_socket() -> str | None:
    """The local server's socket, or None when no server socket exists (not installed / not running)."""
    for path in SOCKET_PATHS:
        if os.path.exists(path):
            return path
    return None


def socket_endpoint() -> Endpoint:
    return Endpoint(socket=local_socket() or SOCKET_PATHS[0])


def error_reason(exc: BaseException) -> tuple[int | None, str]:
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return args[0], str(args[1])
    return None, str(exc) or type(exc).__name__


def _hint(code: int | None, endpoint: Endpoint, user: str) -> str:
    if code in (ER_ACCESS_DENIED, ER_ACCESS_DENIED_NO_PASSWORD):
        if endpoint.socket and user == "root":
            return (" (mailtui logs in as the database's root through unix_socket authentication, "
                    "which only works when mailtui runs as the system's root; if root@localhost has a "
                    "password instead, give it as database.root_user / database.root_password)")
        return " (wrong password, or the account does not exist for this client host)"
    if code in (CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR):
        if endpoint.socket:
            return " (is the MariaDB server running? `service mariadb start`)"
        return " (is the server running, listening on that address (bind-address) and reachable?)"
    return ""


def connect(
    endpoint: Endpoint,
    user: str,
    password: str = "",
    *,
    database: str | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> Connection:
    """Log in or raise ConnectFailed("cannot connect to MariaDB at HOST:PORT as USER: reason")."""
    kwargs: dict[str, Any] = {
        "user": user,
        "password": password,
        "database": database,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": timeout,
        "read_timeout": 600,
        "write_timeout": 600,
        "cursorclass": pymysql.cursors.Cursor,
    }
    if endpoint.socket:
        kwargs["unix_socket"] = endpoint.socket
        kwargs["ssl_disabled"] = True
    else:
        kwargs["host"] = endpoint.host
        kwargs["port"] = endpoint.port
        if endpoint.is_local:
            kwargs["ssl_disabled"] = True
        # else: PyMySQL >= 1.2 negotiates TLS whenever the server offers it ("preferred").
    try:
        return pymysql.connect(**kwargs)
    except (pymysql.err.MySQLError, OSError) as exc:
        code, reason = error_reason(exc)
        where = (f"{SERVER_LABEL} at {endpoint.describe()}" if not endpoint.socket
                 else f"{SERVER_LABEL} on {endpoint.describe()}")
        raise ConnectFailed(f"cannot connect to {where} as {user}: {reason}{_hint(code, endpoint, user)}",
                            code) from None


def try_connect(
    endpoint: Endpoint, user: str, password: str, *, database: str | None = None
) -> Connection | None:
    """Log in, or None when the server refuses the account/password. An unreachable server raises."""
    try:
        return connect(endpoint, user, password, database=database)
    except ConnectFailed as exc:
        if exc.access_denied:
            return None
        raise


def root_connection(db: Database) -> Connection:
    """An account that may create databases and accounts.

    Local server: root over the UNIX socket (unix_socket auth; or root_user/root_password when given).
    Remote server: root_user/root_password over TCP; a DatabaseError when they are not given.
    """
    if db.is_local:
        return connect(socket_endpoint(), db.root_user or "root", db.root_password)
    if not db.root_user:
        raise DatabaseError(
            f"no administrator account for {SERVER_LABEL} at {tcp_endpoint(db).describe()}: give "
            "database.root_user and database.root_password (used once to create what is missing, never saved)"
        )
    return connect(tcp_endpoint(db), db.root_user, db.root_password)


def admin_connection(db: Database) -> Connection:
    """The management account (SELECT, INSERT, UPDATE, DELETE on the mail database)."""
    return connect(tcp_endpoint(db), db.admin_user, db.admin_password, database=db.name)


def lookup_connection(db: Database) -> Connection:
    """The SELECT-only account Postfix and Dovecot use."""
    return connect(tcp_endpoint(db), db.user, db.password, database=db.name)


@contextmanager
def closing(conn: Connection) -> Iterator[Connection]:
    try:
        yield conn
    finally:
        with suppress(pymysql.err.Error):
            conn.close()


def uses_tls(conn: Connection) -> bool:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    return bool(row and row[1])


def server_version(conn: Connection) -> tuple[str, tuple[int, ...]]:
    """('mariadb' | 'mysql', (10, 11, 6))."""
    return parse_server_version(conn.get_server_info() or "")


def parse_server_version(text: str) -> tuple[str, tuple[int, ...]]:
    """MariaDB before 11 announces itself as "5.5.5-10.11.19-MariaDB-0+deb12u1" in the handshake (a
    compatibility prefix for old MySQL clients): the real version follows "5.5.5-"."""
    flavor = "mariadb" if "mariadb" in text.lower() else "mysql"
    if flavor == "mariadb" and text.startswith("5.5.5-"):
        text = text[len("5.5.5-"):]
    numbers = []
    for part in text.split("-", 1)[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return flavor, tuple(numbers)


def current_account(conn: Connection) -> tuple[str, str]:
    """(user, host) of the account the server matched for this connection (CURRENT_USER())."""
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        row = cur.fetchone()
    user, _, host = str(row[0]).rpartition("@")
    return user, host


def client_host(conn: Connection) -> str:
    """How the server sees this client (the host part of USER()): the host for a new account."""
    with conn.cursor() as cur:
        cur.execute("SELECT USER()")
        row = cur.fetchone()
    return str(row[0]).rpartition("@")[2]


# ---------------------------------------------------------------- SQL text helpers

def quote_identifier(name: str) -> str:
    """`name` for a database/table/column. Identifiers cannot be query parameters: only the
    validated subset (letters, digits, _) is accepted."""
    problem = validate.identifier_problem(name, 64)
    if problem:
        raise ValueError(f"not a safe SQL identifier {name!r}: {problem}")
    return f"`{name}`"


def grant_database(name: str) -> str:
    """The database part of GRANT/REVOKE: `_` and `%` are wildcards there and must be escaped."""
    quote_identifier(name)
    return "`" + name.replace("_", "\\_").replace("%", "\\%") + "`"


def literal(value: object) -> str:
    """A value as an SQL literal, for showing statements (execution always uses parameters)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return "'" + escape_string(str(value)) + "'"


def like_pattern(text: str, escape: str = "!") -> str:
    """'%text%' with LIKE's metacharacters (% _ and the escape character) matched literally;
    use with `LIKE %s ESCAPE '!'` (independent of sql_mode NO_BACKSLASH_ESCAPES)."""
    escaped = text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")
    return f"%{escaped}%"


def native_password_hash(password: str) -> str:
    """mysql_native_password's stored form: '*' + upper(hex(SHA1(SHA1(password))))."""

    return "*" + hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest().upper()


def describe_error(exc: BaseException, endpoint: Endpoint, user: str) -> str:
    """'MariaDB at 127.0.0.1:3306 as mailadmin: (1146) Table 'mailserver.virtual_users' doesn't exist'."""
    code, reason = error_reason(exc)
    detail = f"({code}) {reason}" if code else reason
    return f"{SERVER_LABEL} at {endpoint.describe()} as {user}: {detail}"
