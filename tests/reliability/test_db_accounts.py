"""The database account Postfix and Dovecot hold (answers [database] user) can only read the mail database;
writes go through the separate management account (database.admin_user), which only mailtui holds.

The statements run inside the test host with the `mariadb` client and a root-only defaults file: no
password on a command line. Control: the same INSERT that the lookup account is refused succeeds with the
management account, and the lookup account does log in and read (so the refusal is not a failed login).
"""

from __future__ import annotations

import re

import pytest
import tomllib

from mailtui.policy import maps
from tests.e2e.conftest import Installed
from tests.reliability.conftest import SAVED_ANSWERS
from tests.reliability.helpers import mariadb, mariadb_login

pytestmark = pytest.mark.reliability

DOVECOT_SQL = "/etc/dovecot/mailtui-sql.conf.ext"
PROBE = "probe-reliability@example.test"
INSERT = (f"INSERT INTO virtual_users (domain_id, email, password) SELECT id, '{PROBE}', '{{SHA512-CRYPT}}$6$x' "
          "FROM virtual_domains WHERE name = 'example.test'")
DENIED = {
    INSERT: "INSERT command denied",
    "UPDATE virtual_users SET password = 'x' WHERE email = 'alice@example.test'": "UPDATE command denied",
    "DELETE FROM virtual_users WHERE email = 'alice@example.test'": "DELETE command denied",
    "CREATE TABLE probe_reliability (id int)": "CREATE command denied",
    "SELECT COUNT(*) FROM mysql.global_priv": "SELECT command denied",
}


def _setting(text: str, key: str) -> str:
    found = re.findall(rf"(?:^|\s){key}\s*=\s*(\S+)", text, flags=re.M)
    assert len(set(found)) == 1, f"expected one {key} in:\n{text}"
    return found[0]


def _saved_database(inst: Installed) -> dict:
    return tomllib.loads(inst.host.read_file(SAVED_ANSWERS))["database"]


def test_postfix_and_dovecot_hold_the_select_only_account_not_the_management_one(secured: Installed) -> None:
    db = _saved_database(secured)
    assert db["user"] != db["admin_user"]
    holders = [lookup.path for lookup in maps.MAPS] + [DOVECOT_SQL]
    for path in holders:
        text = secured.host.read_file(path)
        assert _setting(text, "user") == db["user"], path
        assert _setting(text, "password") == db["password"], path
        assert db["admin_password"] not in text, f"{path} holds the management account's password"


def test_the_lookup_account_can_only_select(secured: Installed) -> None:
    host, db = secured.host, _saved_database(secured)
    # The login Postfix really uses, read from its map file.
    postfix_map = host.read_file(maps.by_file("mysql-virtual-mailbox-maps.cf").path)
    user, password = _setting(postfix_map, "user"), _setting(postfix_map, "password")
    with mariadb_login(host, user, password, db["name"]) as lookup, \
            mariadb_login(host, db["admin_user"], db["admin_password"], db["name"]) as admin:
        # Control: the lookup account logs in and reads.
        count = mariadb(host, lookup, "SELECT COUNT(*) FROM virtual_users")
        assert count.returncode == 0, count.stderr
        users_before = int(count.stdout)
        assert users_before >= 2
        for sql, why in DENIED.items():
            result = mariadb(host, lookup, sql)
            assert result.returncode != 0, f"the lookup account ran: {sql}"
            assert "ERROR 1142" in result.stderr and why in result.stderr, (sql, result.stderr)
        # The same INSERT with the management account goes through.
        try:
            inserted = mariadb(host, admin, f"{INSERT}; SELECT ROW_COUNT()")
            assert inserted.returncode == 0, inserted.stderr
            assert inserted.stdout.split() == ["1"]
            seen = mariadb(host, lookup, f"SELECT email FROM virtual_users WHERE email = '{PROBE}'")
            assert seen.stdout.split() == [PROBE]  # and the lookup account sees the new row
        finally:
            removed = mariadb(host, admin, f"DELETE FROM virtual_users WHERE email = '{PROBE}'")
            assert removed.returncode == 0, removed.stderr
        assert int(mariadb(host, lookup, "SELECT COUNT(*) FROM virtual_users").stdout) == users_before


def test_every_host_entry_of_the_lookup_account_has_select_on_the_mail_database_only(secured: Installed) -> None:
    host, db = secured.host, _saved_database(secured)
    hosts = host.run(["mariadb", "--batch", "--skip-column-names"],
                     input=f"SELECT Host FROM mysql.user WHERE User = '{db['user']}'").stdout.split()
    assert hosts, f"no account {db['user']}"
    for account_host in hosts:
        grants = host.run(["mariadb", "--batch", "--skip-column-names"],
                          input=f"SHOW GRANTS FOR '{db['user']}'@'{account_host}'").stdout.splitlines()
        privileges = sorted(re.sub(r" TO .*", "", g) for g in grants)
        assert privileges == [f"GRANT SELECT ON `{db['name']}`.*", "GRANT USAGE ON *.*"], (account_host, grants)
    print(f"\n[{secured.release}] {db['user']} exists for {', '.join(sorted(hosts))}: SELECT on {db['name']}.* only")
