"""Files that hold secrets are private, and `mailtui check` says so when one is not.

The secret-bearing files are not taken from a list mailtui keeps: every file on the host is searched for
every secret (the mailbox, relay and database passwords, the generated ones read back from the saved
answers), and the set found must be exactly the expected one, each with its expected owner and mode.
Control: a secret planted in a world-readable file is found by the same search.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtui.policy import maps
from tests.e2e.conftest import Installed
from tests.harness.testhost import TestHost
from tests.reliability.conftest import ANSWERS_PATH, PASSWORDS, SAVED_ANSWERS, Secrets
from tests.reliability.helpers import CheckRun, mailtui_check, scan_host

pytestmark = pytest.mark.reliability

DB_PW, ADMIN_PW, RELAY_PW = "database.password", "database.admin_password", "outbound.password"
MAILBOX_PWS = frozenset(f"password of {email}" for email in PASSWORDS)
STATE_DIR = "/var/lib/mailtui"
PENDING_ANSWERS = f"{STATE_DIR}/install/answers.toml"
DOVECOT_SQL = "/etc/dovecot/mailtui-sql.conf.ext"
RELAY_FILE = "/etc/postfix/sasl_passwd"
TLS_KEY = "/etc/ssl/mailtui/key.pem"
MAPS = [lookup.path for lookup in maps.MAPS]

# path -> (the secrets it holds, owner, mode). /root/answers.toml is the operator's own input file.
HOLDERS: dict[str, tuple[frozenset[str], str, int]] = {
    **{path: (frozenset({DB_PW}), "root:postfix", 0o640) for path in MAPS},
    DOVECOT_SQL: (frozenset({DB_PW}), "root:root", 0o600),
    RELAY_FILE: (frozenset({RELAY_PW}), "root:root", 0o600),
    SAVED_ANSWERS: (frozenset({DB_PW, ADMIN_PW, RELAY_PW}), "root:root", 0o600),
    PENDING_ANSWERS: (frozenset({DB_PW, ADMIN_PW, RELAY_PW}), "root:root", 0o600),
    ANSWERS_PATH: (MAILBOX_PWS | {RELAY_PW}, "root:root", 0o600),
}
# Dovecot 2.4 (Debian 13) keeps its parsed configuration, the SQL login included, in a root-only cache.
DOVECOT_24_CACHE = "/run/dovecot/dovecot.conf.binary"
HOLDERS_24 = {DOVECOT_24_CACHE: (frozenset({DB_PW}), "root:root", 0o600)}
# Secret, but not a password (so not found by the search), or guarding secrets: owner and mode.
GUARDS: dict[str, tuple[str, int]] = {
    TLS_KEY: ("root:root", 0o600),
    STATE_DIR: ("root:root", 0o700),
    f"{STATE_DIR}/install": ("root:root", 0o700),
    f"{STATE_DIR}/backups": ("root:root", 0o700),
}
# What `mailtui check` must notice: every secret file mailtui wrote, and the state directory.
CHECKED = [*MAPS, DOVECOT_SQL, RELAY_FILE, TLS_KEY, SAVED_ANSWERS, PENDING_ANSWERS, STATE_DIR]


def stat(host: TestHost, path: str) -> tuple[str, int]:
    owner, mode = host.run(["stat", "-c", "%U:%G %a", "--", path]).stdout.split()
    return owner, int(mode, 8)


@pytest.fixture
def restore_modes(secured: Installed) -> Iterator[list[str]]:
    """Paths a test damages; their owner and mode are put back afterwards, whatever happens."""
    damaged: list[str] = []
    before = {path: stat(secured.host, path) for path in CHECKED}
    yield damaged
    for path in damaged:
        owner, mode = before[path]
        secured.host.run(["chown", owner, "--", path])
        secured.host.run(["chmod", f"{mode:o}", "--", path])


def test_the_search_finds_a_planted_secret(secured: Installed) -> None:
    secrets = Secrets.of(secured.host)
    planted = "/var/log/reliability-planted.log"
    secured.host.write_file(planted, f"some text {secrets.values[ADMIN_PW]} more text\n", mode=0o644)
    try:
        found = scan_host(secured.host, secrets.values)
    finally:
        secured.host.run(["rm", "-f", planted])
    assert planted in found and found[planted].labels == {ADMIN_PW} and found[planted].world_readable


def expected_holders(release: str) -> dict[str, tuple[frozenset[str], str, int]]:
    return {**HOLDERS, **(HOLDERS_24 if release == "trixie" else {})}


def test_exactly_the_expected_files_hold_secrets_each_private(secured: Installed) -> None:
    found = scan_host(secured.host, Secrets.of(secured.host).values)
    expected = expected_holders(secured.release)
    assert {path: set(h.labels) for path, h in found.items()} == {path: set(h[0]) for path, h in expected.items()}
    for path, (_, owner, mode) in expected.items():
        assert (found[path].owner, found[path].mode) == (owner, mode), f"{path}: {found[path]}"
        assert not found[path].world_readable
    for path, (owner, mode) in GUARDS.items():
        assert stat(secured.host, path) == (owner, mode), path
    print(f"\n[{secured.release}] secrets found in: " + ", ".join(
        f"{path} ({found[path].owner} {found[path].mode:04o})" for path in sorted(found)))


def _assert_named(run: CheckRun, paths: list[str]) -> None:
    assert not run.ok and run.returncode == 1
    unnamed = [path for path in paths if not run.failures_naming(path)]
    assert not unnamed, f"`mailtui check` does not name {unnamed}; its failures: {run.failed}"
    # Nothing else broke: every failure is about one of the damaged paths.
    stray = [c for c in run.failed if not any(c in run.failures_naming(path) for path in paths)]
    assert not stray, stray


def test_check_names_a_world_readable_secret_file_and_passes_once_it_is_private_again(
        secured: Installed, restore_modes: list[str]) -> None:
    host = secured.host
    assert mailtui_check(host).ok
    restore_modes.append(DOVECOT_SQL)
    host.run(["chmod", "o+r", DOVECOT_SQL])
    _assert_named(mailtui_check(host), [DOVECOT_SQL])
    host.run(["chmod", "o-r", DOVECOT_SQL])
    run = mailtui_check(host)
    assert run.ok, run.failed


def test_check_names_every_secret_file_others_may_read(secured: Installed, restore_modes: list[str]) -> None:
    host = secured.host
    for path in CHECKED:
        restore_modes.append(path)
        host.run(["chmod", "o+rx" if path == STATE_DIR else "o+r", "--", path])
    _assert_named(mailtui_check(host), CHECKED)


def test_check_names_every_secret_file_owned_by_someone_else(secured: Installed, restore_modes: list[str]) -> None:
    host = secured.host
    for path in CHECKED:
        restore_modes.append(path)
        host.run(["chown", "nobody", "--", path])
    _assert_named(mailtui_check(host), CHECKED)
    for path in reversed(restore_modes):
        owner, mode = stat(host, path)
        assert owner.startswith("nobody:") and not mode & 0o004, path  # the mode was left as it was
