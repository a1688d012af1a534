"""Integration tests against the REAL MariaDB on this machine.

scripts/test starts MariaDB (`service mariadb start`) before running these. When it is not running
the tests FAIL (a missing server must not turn into a green run); they are skipped only when not
root, because the database's root logs in through unix_socket authentication as the system's root.

Every test gets its own throwaway database (mailtui_it_<random>) and its own accounts, dropped
afterwards, so tests can run beside each other and beside other users of the server.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailtui.model.answers import Answers, Database
from mailtui.stack import db
from mailtui.steps.base import Context
from mailtui.system.platform import Platform

HERE = Path(__file__).parent
ACCOUNT_HOSTS = ("localhost", "127.0.0.1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def mariadb() -> tuple[str, tuple[int, ...]]:
    """The local server's (flavor, version); fails when it is not running."""
    if os.geteuid() != 0:
        pytest.skip("integration tests need root: MariaDB's root logs in through unix_socket as the system's root")
    if db.local_socket() is None:
        pytest.fail(f"MariaDB is not running on this machine (no socket at {' or '.join(db.SOCKET_PATHS)}). "
                    "scripts/test starts it; by hand: service mariadb start > /tmp/mariadb-start.log 2>&1")
    try:
        conn = db.root_connection(Database())
    except db.ConnectFailed as exc:
        pytest.fail(f"MariaDB is not usable for the integration tests: {exc}")
    with db.closing(conn):
        return db.server_version(conn)


def root_sql(*statements: str, params: tuple[object, ...] | None = None) -> list[tuple]:
    """Run statements as root over the socket (test setup only); return the last result."""
    rows: list[tuple] = []
    with db.closing(db.root_connection(Database())) as conn:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement, params)
                rows = list(cur.fetchall())
        conn.commit()
    return rows


class Names:
    """Throwaway names for one test."""

    def __init__(self) -> None:
        token = secrets.token_hex(4)
        self.database = f"mailtui_it_{token}"
        self.user = f"mtu_{token}"
        self.admin_user = f"mta_{token}"
        self.extra_users: list[str] = []  # more accounts a test creates (dropped too)

    def all_users(self) -> list[str]:
        return [self.user, self.admin_user, *self.extra_users]


@pytest.fixture
def names(mariadb: tuple[str, tuple[int, ...]]) -> Iterator[Names]:
    n = Names()
    yield n
    statements = [f"DROP DATABASE IF EXISTS `{n.database}`"]
    statements += [f"DROP USER IF EXISTS '{u}'@'{h}'" for u in n.all_users() for h in ACCOUNT_HOSTS]
    root_sql(*statements)


@pytest.fixture
def make_answers(names: Names) -> Callable[..., Answers]:
    def make(**kwargs: object) -> Answers:
        database = Database(
            name=names.database, user=names.user, admin_user=names.admin_user,
            password="Lookup-" + secrets.token_hex(8), admin_password="Admin-" + secrets.token_hex(8),
        )
        return Answers(hostname="mail.example.org", database=database, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def platform() -> Platform:
    return Platform.detect()


@pytest.fixture
def context(platform: Platform) -> Callable[[Answers], Context]:
    def make(answers: Answers, events: list | None = None) -> Context:
        emit = events.append if events is not None else (lambda e: None)
        return Context(answers, platform, emit=emit)

    return make
