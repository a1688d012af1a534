"""db.parse_server_version: what the MySQL/MariaDB handshake announces."""

from __future__ import annotations

import pytest

from mailtui.stack.db import parse_server_version


@pytest.mark.parametrize(("text", "expected"), [
    ("5.5.5-10.11.19-MariaDB-0+deb12u1", ("mariadb", (10, 11, 19))),  # Debian 12: compatibility prefix
    ("11.8.3-MariaDB-0+deb13u1 from Debian", ("mariadb", (11, 8, 3))),  # MariaDB 11 drops the prefix
    ("8.0.40-0ubuntu0.24.04.1", ("mysql", (8, 0, 40))),
    ("", ("mysql", ())),
])
def test_versions(text: str, expected: tuple) -> None:
    assert parse_server_version(text) == expected
