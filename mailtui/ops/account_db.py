"""The management account's connection as accounts use it: reads that end their snapshot, writes that are
one transaction each, a ping (and a new connection) after idling, database errors in an operator's words."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pymysql

from mailtui.ops.account_types import AlreadyExists
from mailtui.stack import db

# A connection idle for longer than this is pinged before use (and replaced if the server dropped it).
IDLE_CHECK_SECONDS = 30.0


class AccountDb:
    """One PyMySQL connection as the management account (use one per thread)."""

    def __init__(self, conn: db.Connection, reconnect: Callable[[], db.Connection] | None = None) -> None:
        self.conn = conn
        self._reconnect = reconnect
        self._used = time.monotonic()
        host = conn.host if isinstance(conn.host, str) else "127.0.0.1"
        self._endpoint = db.Endpoint(socket=conn.unix_socket) if conn.unix_socket else db.Endpoint(host, conn.port)
        user = conn.user
        self._user = user.decode() if isinstance(user, bytes) else str(user)

    def close(self) -> None:
        with suppress(pymysql.err.Error):
            self.conn.close()


    def _error(self, exc: BaseException) -> db.DatabaseError:
        code, _ = db.error_reason(exc)
        return db.DatabaseError(db.describe_error(exc, self._endpoint, self._user), code)

    def _ensure_connected(self) -> None:
        now = time.monotonic()
        if now - self._used > IDLE_CHECK_SECONDS:
            try:
                self.conn.ping()
            except (pymysql.err.Error, OSError):
                if self._reconnect is None:
                    raise
                self.close()
                self.conn = self._reconnect()
        self._used = now

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        self._ensure_connected()
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, tuple(params) or None)
                rows = list(cur.fetchall())
            # End the read transaction: with autocommit off, REPEATABLE READ would otherwise keep
            # showing this snapshot, hiding what the CLI or Postfix changed since.
            self.conn.commit()
        except pymysql.err.MySQLError as exc:
            raise self._error(exc) from None
        return rows

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._read(sql, params)
        return rows[0][0] if rows else None

    @contextmanager
    def _write(self) -> Iterator[pymysql.cursors.Cursor]:
        """One transaction: committed when the block ends, rolled back on any exception."""
        self._ensure_connected()
        try:
            self.conn.begin()
            with self.conn.cursor() as cur:
                yield cur
            self.conn.commit()
        except pymysql.err.IntegrityError as exc:
            self._rollback()
            code, reason = db.error_reason(exc)
            if code == db.ER_DUP_ENTRY:
                raise AlreadyExists({"input": f"already exists ({reason})"}) from None
            raise self._error(exc) from None
        except pymysql.err.MySQLError as exc:
            self._rollback()
            raise self._error(exc) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        with suppress(pymysql.err.Error, OSError):
            self.conn.rollback()

    @staticmethod
    def _one(cur: pymysql.cursors.Cursor, sql: str, params: Sequence[Any]) -> Any:
        cur.execute(sql, tuple(params))
        row = cur.fetchone()
        return row[0] if row else None
