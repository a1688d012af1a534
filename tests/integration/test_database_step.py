"""The database step against the real local MariaDB: create, idempotence, adoption, accounts."""

from __future__ import annotations

import dataclasses
import secrets

import pymysql
import pytest

from mailtui.errors import StepFailed, ValidationError
from mailtui.model import passwords
from mailtui.model.answers import Alias, Database, Domain, User
from mailtui.ops.accounts import Accounts
from mailtui.stack import db
from mailtui.steps.database import DatabaseStep
from tests.integration.conftest import root_sql

MAILBOX_PW = "alice-mailbox-pw"


def seeded(make_answers):
    return make_answers(
        domains=[Domain("example.org"), Domain("example.net")],
        users=[User("alice@example.org", MAILBOX_PW),
               User("bob@example.net", password_hash=passwords.hash_password("bob-password-1"))],
        aliases=[Alias("info@example.org", "alice@example.org"), Alias("@example.net", "bob@example.net"),
                 Alias("fwd@example.org", "someone@elsewhere.test")],
    )


def columns(database: str, table: str) -> dict[str, str]:
    rows = root_sql("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", params=(database, table))
    return {r[0]: r[1] for r in rows}


def unique_keys(database: str, table: str) -> set[tuple[str, ...]]:
    rows = root_sql("SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_NAME = %s AND NON_UNIQUE = 0 AND INDEX_NAME <> 'PRIMARY' "
                    "ORDER BY INDEX_NAME, SEQ_IN_INDEX", params=(database, table))
    keys: dict[str, tuple[str, ...]] = {}
    for name, column in rows:
        keys[name] = (*keys.get(name, ()), column)
    return set(keys.values())


def count(database: str, table: str) -> int:
    return int(root_sql(f"SELECT COUNT(*) FROM `{database}`.`{table}`")[0][0])


def sql_changes(changes):
    return [c for c in changes if c.kind == "sql"]


def test_apply_on_empty_server_creates_everything(make_answers, context, names) -> None:
    answers = seeded(make_answers)
    ctx = context(answers)
    step = DatabaseStep()
    planned = sql_changes(step.plan(ctx))
    assert len(planned) == 11
    assert step.apply(ctx) is True

    assert root_sql("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
                    params=(names.database,)) == [("utf8mb4",)]
    assert columns(names.database, "virtual_users")["password"] == "varchar(255)"
    assert unique_keys(names.database, "virtual_aliases") == {("source", "destination")}
    hosts = root_sql("SELECT User, Host FROM mysql.user WHERE User IN (%s, %s) ORDER BY User, Host",
                     params=(names.user, names.admin_user))
    assert set(hosts) == {(u, h) for u in (names.user, names.admin_user) for h in ("localhost", "127.0.0.1")}
    assert count(names.database, "virtual_domains") == 2
    assert count(names.database, "virtual_users") == 2
    assert count(names.database, "virtual_aliases") == 3

    # Second run: nothing to do, nothing done; every check passes.
    assert step.plan(ctx) == []
    assert step.apply(ctx) is False
    assert all(c.ok for c in step.verify(ctx)), [c for c in step.verify(ctx) if not c.ok]

    with Accounts.connect(answers) as accounts:
        assert accounts.verify_password("alice@example.org", MAILBOX_PW)
        assert accounts.verify_password("bob@example.net", "bob-password-1")


def test_progress_never_shows_a_secret(make_answers, context) -> None:
    answers = seeded(make_answers)
    events: list = []
    DatabaseStep().apply(context(answers, events))
    text = "\n".join(e.message for e in events)
    assert "GRANT SELECT ON" in text
    for secret in (answers.database.password, answers.database.admin_password, MAILBOX_PW, "$6$"):
        assert secret not in text


def test_lookup_account_is_select_only_and_management_can_write(make_answers, context) -> None:
    answers = seeded(make_answers)
    DatabaseStep().apply(context(answers))
    with db.closing(db.lookup_connection(answers.database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT password FROM virtual_users WHERE email = %s", ("alice@example.org",))
        assert passwords.verify_password(MAILBOX_PW, cur.fetchone()[0])
        with pytest.raises(pymysql.err.OperationalError) as info:
            cur.execute("INSERT INTO virtual_domains (name) VALUES ('evil.example')")
        assert info.value.args[0] == 1142  # INSERT command denied
    with db.closing(db.admin_connection(answers.database)) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO virtual_domains (name) VALUES ('new.example')")
        conn.rollback()
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("DROP TABLE virtual_aliases")


def test_accounts_passwords_follow_the_answers(make_answers, context, names) -> None:
    answers = make_answers()
    step = DatabaseStep()
    step.apply(context(answers))
    # Someone changed both accounts behind mailtui's back / the answers got a new password.
    root_sql(f"ALTER USER '{names.user}'@'127.0.0.1' IDENTIFIED BY 'changed-elsewhere-1'",
             f"ALTER USER '{names.admin_user}'@'localhost' IDENTIFIED BY 'changed-elsewhere-2'")
    targets = [c.target for c in step.plan(context(answers))]
    assert targets == [f"account {names.user}@127.0.0.1 (lookup)", f"account {names.admin_user}@localhost (management)"]
    step.apply(context(answers))
    assert step.plan(context(answers)) == []

    new = dataclasses.replace(answers, database=dataclasses.replace(answers.database, password="New-lookup-pw-42"))
    assert len(step.plan(context(new))) == 2  # both lookup accounts
    step.apply(context(new))
    db.lookup_connection(new.database).close()
    with pytest.raises(db.ConnectFailed, match=f"as {names.user}: .*Access denied"):
        db.lookup_connection(answers.database)


def test_extra_privileges_of_the_lookup_account_are_revoked(make_answers, context, names) -> None:
    answers = make_answers()
    step = DatabaseStep()
    step.apply(context(answers))
    escaped = names.database.replace("_", "\\_")
    root_sql(f"GRANT INSERT, DELETE ON `{escaped}`.* TO '{names.user}'@'localhost'")
    [change] = step.plan(context(answers))
    assert "revoke DELETE, INSERT" in change.summary
    step.apply(context(answers))
    assert step.plan(context(answers)) == []


def test_user_passwords_are_idempotent_and_updated(make_answers, context, names) -> None:
    answers = seeded(make_answers)
    step = DatabaseStep()
    step.apply(context(answers))
    alice = f"SELECT password FROM `{names.database}`.virtual_users WHERE email = 'alice@example.org'"
    stored = root_sql(alice)
    step.apply(context(answers))
    assert root_sql(alice) == stored

    users = [User("alice@example.org", "a-new-password"), answers.users[1]]
    changed = dataclasses.replace(answers, users=users)
    [change] = step.plan(context(changed))
    assert change.target.endswith("virtual_users") and "set the password of 1 mailbox" in change.summary
    assert "a-new-password" not in change.diff and "'***'" in change.diff
    step.apply(context(changed))
    with Accounts.connect(changed) as accounts:
        assert accounts.verify_password("alice@example.org", "a-new-password")
        assert not accounts.verify_password("alice@example.org", MAILBOX_PW)
    bob = root_sql(f"SELECT password FROM `{names.database}`.virtual_users WHERE email = 'bob@example.net'")[0][0]
    assert bob == passwords.normalize_hash(answers.users[1].password_hash)


def test_keep_password_leaves_a_mailbox_as_it_is_and_refuses_one_that_is_not_there(
        make_answers, context, names) -> None:
    """A second wizard run leaves the first mailbox's password empty: the password set since (e.g. in the
    dashboard) stays. A mailbox that does not exist has no password to keep: the plan names the field."""
    answers = seeded(make_answers)
    step = DatabaseStep()
    step.apply(context(answers))
    with Accounts.connect(answers) as accounts:
        accounts.set_password("alice@example.org", "changed-in-the-dashboard")
    kept = dataclasses.replace(answers, users=[answers.users[1], User("alice@example.org", keep_password=True)])
    assert sql_changes(step.plan(context(kept))) == []
    step.apply(context(kept))
    with Accounts.connect(answers) as accounts:
        assert accounts.verify_password("alice@example.org", "changed-in-the-dashboard")
    # Positive control: the same answers with the old password would set it back.
    assert "set the password of 1 mailbox" in sql_changes(step.plan(context(answers)))[0].summary

    missing = dataclasses.replace(answers, users=[answers.users[0], User("carol@example.org", keep_password=True)])
    with pytest.raises(ValidationError) as refused:
        step.plan(context(missing))
    assert refused.value.problems == {
        "users[1].password": "is empty, and carol@example.org has no mailbox yet: only an existing mailbox keeps "
                             "its password"}
    with pytest.raises(ValidationError):
        step.apply(context(missing))
    assert not root_sql(f"SELECT email FROM `{names.database}`.virtual_users WHERE email = 'carol@example.org'")


TUTORIAL_DDL = """
CREATE TABLE `virtual_domains` (
  `id` int(11) NOT NULL auto_increment,
  `name` varchar(50) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE `virtual_users` (
  `id` int(11) NOT NULL auto_increment,
  `domain_id` int(11) NOT NULL,
  `password` varchar(106) NOT NULL,
  `email` varchar(120) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `email` (`email`),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE `virtual_aliases` (
  `id` int(11) NOT NULL auto_increment,
  `domain_id` int(11) NOT NULL,
  `source` varchar(100) NOT NULL,
  `destination` varchar(100) NOT NULL,
  PRIMARY KEY (`id`),
  FOREIGN KEY (domain_id) REFERENCES virtual_domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
INSERT INTO `virtual_domains` (`id` ,`name`) VALUES ('1', 'example.com'), ('2', 'hostname.example.com');
INSERT INTO `virtual_users` (`id`, `domain_id`, `password` , `email`) VALUES
  ('1', '1', ENCRYPT('password', CONCAT('$6$', SUBSTRING(SHA(RAND()), -16))), 'email1@example.com'),
  ('2', '1', ENCRYPT('password', CONCAT('$6$', SUBSTRING(SHA(RAND()), -16))), 'email2@example.com');
INSERT INTO `virtual_aliases` (`id`, `domain_id`, `source`, `destination`) VALUES
  ('1', '1', 'alias@example.com', 'email1@example.com');
"""


def create_tutorial_database(names, *extra: str) -> None:
    """The tutorial's literal statements (its GRANT … IDENTIFIED BY creates the lookup account)."""
    statements = [f"CREATE DATABASE `{names.database}`", f"USE `{names.database}`"]
    statements += [s.strip() for s in TUTORIAL_DDL.split(";") if s.strip()]
    escaped = names.database.replace("_", "\\_")
    statements.append(f"GRANT SELECT ON `{escaped}`.* TO '{names.user}'@'127.0.0.1' IDENTIFIED BY 'mailuserpass'")
    root_sql(*statements, *extra)


def test_adopts_a_tutorial_database_keeping_its_rows(make_answers, context, names) -> None:
    create_tutorial_database(names)
    hashes = root_sql(f"SELECT id, email, password FROM `{names.database}`.virtual_users ORDER BY id")
    assert all(len(h[2]) == 106 for h in hashes)  # the tutorial's bare $6$ hash

    answers = make_answers(domains=[Domain("example.com"), Domain("example.org")],
                           users=[User("new@example.org", MAILBOX_PW)],
                           aliases=[Alias("alias@example.com", "email1@example.com")])
    step = DatabaseStep()
    changes = {c.target: c for c in step.plan(context(answers))}
    assert f"database {names.database}" not in changes
    users_change = changes[f"table {names.database}.virtual_users"]
    assert "widen password varchar(106) -> varchar(255)" in users_change.summary
    assert "add unique key" not in users_change.summary  # the tutorial has UNIQUE KEY email
    assert "add unique key (source, destination)" in changes[f"table {names.database}.virtual_aliases"].summary
    assert "add unique key (name)" in changes[f"table {names.database}.virtual_domains"].summary
    assert "set the password" in changes[f"account {names.user}@127.0.0.1 (lookup)"].summary
    assert changes[f"rows {names.database}.virtual_domains"].summary == "add 1 domain(s): example.org"
    assert f"rows {names.database}.virtual_aliases" not in changes  # already there

    step.apply(context(answers))
    assert step.plan(context(answers)) == []
    assert columns(names.database, "virtual_users")["password"] == "varchar(255)"
    assert columns(names.database, "virtual_users")["email"] == "varchar(320)"
    assert unique_keys(names.database, "virtual_domains") == {("name",)}
    assert unique_keys(names.database, "virtual_aliases") == {("source", "destination")}
    # The tutorial's rows are all there, untouched.
    assert root_sql(f"SELECT id, email, password FROM `{names.database}`.virtual_users "
                    "WHERE id <= 2 ORDER BY id") == hashes
    assert count(names.database, "virtual_users") == 3
    assert count(names.database, "virtual_domains") == 3
    with Accounts.connect(answers) as accounts:
        assert accounts.verify_password("email1@example.com", "password")  # tutorial's ENCRYPT() hash
        accounts.add_user("long-name@example.com", "another-password")
        assert accounts.count_users() == 4
    # The tutorial's lookup account now has the answers' password (and a localhost twin).
    db.lookup_connection(answers.database).close()


def test_duplicates_block_a_unique_key_and_are_reported(make_answers, context, names) -> None:
    create_tutorial_database(
        names, f"INSERT INTO `{names.database}`.virtual_aliases (domain_id, source, destination) "
               "VALUES (1, 'alias@example.com', 'email1@example.com')")
    answers = make_answers()
    step = DatabaseStep()
    change = next(c for c in step.plan(context(answers)) if c.target.endswith("virtual_aliases"))
    assert "cannot add unique key (source, destination): duplicates" in change.summary
    assert "alias@example.com -> email1@example.com (2×)" in change.diff
    events: list = []
    step.apply(context(answers, events))  # does not fail: reported, not fixed
    assert any("warning:" in e.message and "Remove the duplicate rows" in e.message for e in events)
    assert count(names.database, "virtual_aliases") == 2
    assert unique_keys(names.database, "virtual_aliases") == set()
    # The other tables were adopted all the same.
    assert unique_keys(names.database, "virtual_domains") == {("name",)}


def test_a_foreign_table_of_the_same_name_stops_the_step(make_answers, context, names) -> None:
    root_sql(f"CREATE DATABASE `{names.database}`",
             f"CREATE TABLE `{names.database}`.virtual_users (id int PRIMARY KEY, login varchar(20))")
    step = DatabaseStep()
    [change] = [c for c in step.plan(context(make_answers())) if c.target.endswith("virtual_users")]
    assert "not the tutorial's table" in change.summary
    with pytest.raises(StepFailed, match="has no column domain_id, password, email"):
        step.apply(context(make_answers()))
    assert columns(names.database, "virtual_users") == {"id": "int(11)", "login": "varchar(20)"}


@dataclasses.dataclass
class RemoteDatabase(Database):
    """The local server reached the way a remote one is (TCP, no socket, no local service)."""

    @property
    def is_local(self) -> bool:
        return False


def remote_answers(make_answers, names, root_user: str = "", root_password: str = ""):
    local = seeded(make_answers)
    remote = RemoteDatabase(**{f.name: getattr(local.database, f.name) for f in dataclasses.fields(Database)})
    remote.root_user, remote.root_password = root_user, root_password
    return dataclasses.replace(local, database=remote)


def test_remote_server_without_root_fails_naming_what_is_missing(make_answers, context, names) -> None:
    answers = remote_answers(make_answers, names)
    step = DatabaseStep()
    assert step.services_for(context(answers)) == ()
    planned = step.plan(context(answers))
    assert all(c.kind == "sql" for c in planned)
    [problem] = step.preflight(context(answers))
    with pytest.raises(StepFailed) as info:
        step.apply(context(answers))
    message = str(info.value)
    assert message == problem
    assert f"create the database {names.database}" in message
    assert f"create the lookup account {names.user}" in message
    assert "database.root_user and database.root_password" in message
    assert answers.database.password not in message
    assert not root_sql("SHOW DATABASES LIKE %s", params=(names.database,))  # nothing was changed


def test_remote_server_with_root_creates_what_is_missing(make_answers, context, names) -> None:
    root_user, root_password = f"mtr_{secrets.token_hex(4)}", "Root-" + secrets.token_hex(8)
    names.extra_users.append(root_user)
    root_sql(f"CREATE USER '{root_user}'@'localhost' IDENTIFIED BY '{root_password}'",
             f"GRANT ALL PRIVILEGES ON *.* TO '{root_user}'@'localhost' WITH GRANT OPTION")
    answers = remote_answers(make_answers, names, root_user, root_password)
    step = DatabaseStep()
    step.apply(context(answers))
    # Accounts for this machine as the server sees it (USER(): 127.0.0.1 resolves to localhost here).
    hosts = root_sql("SELECT User, Host FROM mysql.user WHERE User IN (%s, %s)", params=(names.user, names.admin_user))
    assert set(hosts) == {(names.user, "localhost"), (names.admin_user, "localhost")}
    assert count(names.database, "virtual_users") == 2
    # Without root now: everything is in place, so nothing is needed from it.
    without_root = dataclasses.replace(answers, database=dataclasses.replace(answers.database, root_user="",
                                                                             root_password=""))
    assert isinstance(without_root.database, RemoteDatabase)
    assert step.plan(context(without_root)) == []
    assert step.preflight(context(without_root)) == []
    assert step.apply(context(without_root)) is False
    assert all(c.ok for c in step.verify(context(without_root)))
    assert not any(c.name.startswith("service ") for c in step.verify(context(without_root)))
