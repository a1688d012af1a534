"""The database step without a server: SQL rendering, masking, the schema, the offline plan, and
the account engine's input validation (which must refuse before touching the database)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mailtui.errors import StepFailed, ValidationError
from mailtui.model import passwords
from mailtui.model.answers import Alias, Answers, Database, Domain, User
from mailtui.ops.accounts import Accounts, RemovalSummary
from mailtui.stack import db, lmtp_quiesce
from mailtui.steps import sql_session, sql_statements
from mailtui.steps.base import Context
from mailtui.steps.database import DatabaseStep, account_hosts, database_resources
from mailtui.steps.sql_resources import CLIENT_HOST, SCHEMA, AccountResource
from mailtui.steps.sql_rows import UserRowsResource
from mailtui.steps.sql_session import SqlSession
from mailtui.steps.sql_statements import Sql, SqlPlan, create_user_sql, grant_sql, parse_schema, revoke_sql
from mailtui.system.platform import Platform
from tests.state import use_state_dir

LOOKUP_PW = "Lookup-secret-123"
ADMIN_PW = "Admin-secret-4567"
MAILBOX_PW = "alice-mailbox-pw"


def make_answers(**database: object) -> Answers:
    return Answers(
        hostname="mail.example.org",
        database=Database(password=LOOKUP_PW, admin_password=ADMIN_PW, **database),  # type: ignore[arg-type]
        domains=[Domain("example.org"), Domain("example.net")],
        users=[User("alice@example.org", MAILBOX_PW),
               User("bob@example.net", password_hash=passwords.hash_password("bob-password-1"))],
        aliases=[Alias("info@example.org", "alice@example.org"), Alias("@example.net", "bob@example.net")],
    )


def platform() -> Platform:
    return Platform("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)", systemd=False)


@pytest.fixture
def server_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh machine: MariaDB not running. Any attempt to connect fails the test."""
    from mailtui.system import services

    monkeypatch.setattr(sql_session, "local_server_running", lambda: False)
    monkeypatch.setattr(services, "is_running", lambda name: False)
    monkeypatch.setattr(services, "has_systemd", lambda: False)

    def no_connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("the offline plan must not connect")

    monkeypatch.setattr(db.pymysql, "connect", no_connect)


# ---------------------------------------------------------------- rendering and masking

def test_render_inlines_parameters_and_masks_secrets() -> None:
    sql = Sql("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", ("mailuser", "127.0.0.1", "s3cr'et"),
              frozenset({2}))
    assert sql.render() == "CREATE USER IF NOT EXISTS 'mailuser'@'127.0.0.1' IDENTIFIED BY '***';"
    assert "s3cr" not in sql.render()


def test_render_escapes_quotes_in_literals() -> None:
    sql = Sql("INSERT INTO t (a, b) VALUES (%s, %s)", ("o'neil", 5))
    assert sql.render() == "INSERT INTO t (a, b) VALUES ('o\\'neil', 5);"


def test_render_without_parameters_keeps_text() -> None:
    assert Sql("ALTER TABLE `d`.`t` MODIFY `x` varchar(5) NOT NULL").render().endswith("NOT NULL;")


def test_account_statements() -> None:
    rendered = sql_statements.render([*create_user_sql("mailuser", "localhost", "pw-123456789012"),
                                     grant_sql(["SELECT"], "mail_db", "mailuser", "localhost")])
    assert rendered == (
        "CREATE USER IF NOT EXISTS 'mailuser'@'localhost' IDENTIFIED BY '***';\n"
        "ALTER USER 'mailuser'@'localhost' IDENTIFIED BY '***';\n"
        "GRANT SELECT ON `mail\\_db`.* TO 'mailuser'@'localhost';"
    )
    assert revoke_sql(["INSERT"], "mail\\_db", "u", "h").render() == "REVOKE INSERT ON `mail\\_db`.* FROM 'u'@'h';"


def test_with_param_substitutes_client_host() -> None:
    sql = grant_sql(["SELECT"], "mailserver", "mailuser", CLIENT_HOST).with_param(CLIENT_HOST, "10.0.0.5")
    assert sql.render() == "GRANT SELECT ON `mailserver`.* TO 'mailuser'@'10.0.0.5';"


def test_sql_plan_text_and_truth() -> None:
    assert not SqlPlan()
    assert SqlPlan(notes=["duplicates"])
    plan = SqlPlan("s", [Sql("SELECT 1")], ["n"], "b")
    assert plan.text() == "SELECT 1;\n-- note: n\n-- cannot continue: b"


def test_one_line() -> None:
    assert sql_statements.one_line("A\n  B\n C") == "A B C"
    assert len(sql_statements.one_line("x" * 500)) == 160


# ---------------------------------------------------------------- helpers in db.py

def test_quote_identifier_refuses_unsafe_names() -> None:
    assert db.quote_identifier("mailserver") == "`mailserver`"
    for bad in ("mail`server", "a b", "", "x;DROP", "a" * 65):
        with pytest.raises(ValueError):
            db.quote_identifier(bad)


def test_grant_database_escapes_wildcards() -> None:
    assert db.grant_database("mail_server") == "`mail\\_server`"
    assert db.grant_database("mailserver") == "`mailserver`"


def test_like_pattern_matches_metacharacters_literally() -> None:
    assert db.like_pattern("") == "%%"
    assert db.like_pattern("a_b") == "%a!_b%"
    assert db.like_pattern("100%") == "%100!%%"
    assert db.like_pattern("wow!") == "%wow!!%"


def test_literal() -> None:
    assert db.literal(None) == "NULL"
    assert db.literal(3) == "3"
    assert db.literal("a\\b'c") == "'a\\\\b\\'c'"


def test_native_password_hash_known_value() -> None:
    # SELECT PASSWORD('password') on MariaDB
    assert db.native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


def test_endpoint_describe() -> None:
    assert db.Endpoint("127.0.0.1", 3306).describe() == "127.0.0.1:3306"
    assert db.Endpoint("::1", 3306).describe() == "[::1]:3306"
    assert "UNIX socket" in db.Endpoint(socket="/run/mysqld/mysqld.sock").describe()


def test_tcp_endpoint_never_uses_localhost_socket() -> None:
    assert db.tcp_endpoint(Database(host="localhost")).host == "127.0.0.1"


def test_remote_root_connection_without_credentials_says_what_to_give() -> None:
    with pytest.raises(db.DatabaseError, match="database.root_user and database.root_password"):
        db.root_connection(Database(host="db.example.org"))


def test_connect_error_names_server_and_account() -> None:
    # A loopback port this test holds without listening: the connection is refused.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        with pytest.raises(db.ConnectFailed, match=rf"cannot connect to MariaDB at 127.0.0.1:{port} as mailadmin: ") \
                as info:
            db.connect(db.Endpoint("127.0.0.1", port), "mailadmin", "x", timeout=2)
    assert not info.value.access_denied


# ---------------------------------------------------------------- the schema asset

def test_schema_declares_the_tutorial_tables() -> None:
    tables = {t.name: t for t in SCHEMA.tables}
    assert list(tables) == ["virtual_domains", "virtual_users", "virtual_aliases"]
    assert tables["virtual_users"].columns == ("id", "domain_id", "password", "email")
    assert tables["virtual_users"].varchar["password"] == 255
    assert tables["virtual_domains"].unique == {"name": ("name",)}
    assert tables["virtual_users"].unique == {"email": ("email",)}
    assert tables["virtual_aliases"].unique == {"source_destination": ("source", "destination")}
    for t in tables.values():
        assert "ENGINE=InnoDB" in t.create and "utf8mb4" in t.create


def test_password_column_fits_the_stored_hash() -> None:
    assert len(passwords.hash_password("x" * 20)) <= SCHEMA.tables[1].varchar["password"]


def test_unique_keys_fit_innodb_limit() -> None:
    # utf8mb4: 4 bytes a character; InnoDB's index limit (DYNAMIC rows) is 3072 bytes.
    for t in SCHEMA.tables:
        for cols in t.unique.values():
            assert sum(t.varchar[c] for c in cols) * 4 <= 3072


def test_foreign_keys_cascade() -> None:
    for t in SCHEMA.tables[1:]:
        assert "REFERENCES `virtual_domains` (`id`) ON DELETE CASCADE" in t.create


def test_qualified_create() -> None:
    text = SCHEMA.tables[2].qualified_create("mail_db")
    assert text.startswith("CREATE TABLE IF NOT EXISTS `mail_db`.`virtual_aliases` (")
    assert "REFERENCES `mail_db`.`virtual_domains` (`id`)" in text


def test_parse_schema_ignores_comments() -> None:
    specs = parse_schema("-- x;\nCREATE TABLE IF NOT EXISTS `t` (\n  `a` varchar(7) NOT NULL,\n"
                         "  UNIQUE KEY `a` (`a`)\n) ENGINE=InnoDB;\n")
    assert specs[0].name == "t" and specs[0].varchar == {"a": 7} and specs[0].unique == {"a": ("a",)}


# ---------------------------------------------------------------- the plan on a fresh machine

@pytest.mark.usefixtures("server_down")
def test_offline_plan_describes_everything_to_create() -> None:
    answers = make_answers()
    changes = DatabaseStep().plan(Context(answers, platform(), dry_run=True))
    targets = [c.target for c in changes]
    assert targets == [
        "database mailserver",
        "table mailserver.virtual_domains",
        "table mailserver.virtual_users",
        "table mailserver.virtual_aliases",
        "account mailuser@localhost (lookup)",
        "account mailuser@127.0.0.1 (lookup)",
        "account mailadmin@localhost (management)",
        "account mailadmin@127.0.0.1 (management)",
        "rows mailserver.virtual_domains",
        "rows mailserver.virtual_users",
        "rows mailserver.virtual_aliases",
        "mariadb",
    ]
    assert changes[-1].kind == "service" and changes[-1].summary.startswith("start mariadb (it is not running")
    assert all(c.kind == "sql" for c in changes[:-1])
    everything = "\n".join(f"{c.summary}\n{c.diff}" for c in changes)
    assert "GRANT SELECT ON `mailserver`.* TO 'mailuser'@'127.0.0.1';" in everything
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON `mailserver`.* TO 'mailadmin'@'localhost';" in everything
    assert "INSERT INTO `mailserver`.`virtual_domains` (`name`) VALUES ('example.org');" in everything
    assert "'@example.net', 'bob@example.net'" in everything
    # No secret in the preview: database passwords, mailbox password, hashes.
    for secret in (LOOKUP_PW, ADMIN_PW, MAILBOX_PW, "$6$", "SHA512-CRYPT"):
        assert secret not in everything
    assert everything.count("'***'") == 4 * 2 + 2  # 4 accounts x (CREATE, ALTER) + 2 mailbox hashes


@pytest.mark.usefixtures("server_down")
def test_offline_plan_without_seed_rows() -> None:
    answers = Answers(hostname="mail.example.org", database=Database(password=LOOKUP_PW, admin_password=ADMIN_PW))
    targets = [c.target for c in DatabaseStep().plan(Context(answers, platform()))]
    assert not any(t.startswith("rows ") for t in targets)


@pytest.mark.usefixtures("server_down")
def test_verify_offline_reports_everything_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_state_dir(monkeypatch, tmp_path / "state")  # mailtui's own state: this test's, not the machine's
    monkeypatch.setattr(lmtp_quiesce, "lmtp_route", lambda: None)  # no Postfix here (scripted, not asked)
    checks = DatabaseStep().verify(Context(make_answers(), platform()))
    assert checks and not any(c.ok for c in checks)


def test_account_hosts() -> None:
    assert account_hosts(make_answers()) == ("localhost", "127.0.0.1")
    assert account_hosts(make_answers(host="::1")) == ("localhost", "127.0.0.1", "::1")
    assert account_hosts(make_answers(host="db.example.org")) == (None,)


def test_remote_resources_use_the_client_host_placeholder() -> None:
    answers = make_answers(host="db.example.org")
    session = SqlSession(answers.database, offline=True)
    resources = database_resources(session, answers)
    accounts = [r for r in resources if isinstance(r, AccountResource)]
    assert [a.target for a in accounts] == [f"account mailuser@{CLIENT_HOST} (lookup)",
                                            f"account mailadmin@{CLIENT_HOST} (management)"]
    assert all(r.needs_root for r in resources[:6]) and not any(r.needs_root for r in resources[6:])


def test_remote_step_has_no_local_service() -> None:
    ctx = Context(make_answers(host="db.example.org"), platform())
    assert DatabaseStep().services_for(ctx) == ()
    assert DatabaseStep().services_for(Context(make_answers(), platform())) == ("mariadb",)


def test_account_without_password_fails_clearly() -> None:
    session = SqlSession(Database(), offline=True)
    resource = AccountResource(session, "lookup", "mailuser", "", ("SELECT",), exact=True, host="localhost")
    with pytest.raises(StepFailed, match=r"database\.password"):
        resource.resolve(None, [])  # type: ignore[arg-type]


def test_user_rows_in_place_rules() -> None:
    stored = passwords.hash_password(MAILBOX_PW)
    assert UserRowsResource.in_place(User("a@example.org", MAILBOX_PW), stored)
    assert not UserRowsResource.in_place(User("a@example.org", "another-password"), stored)
    # a tutorial hash without the scheme prefix
    assert UserRowsResource.in_place(User("a@example.org", MAILBOX_PW), stored.removeprefix("{SHA512-CRYPT}"))
    assert UserRowsResource.in_place(User("a@example.org", password_hash=stored.removeprefix("{SHA512-CRYPT}")),
                                     stored)


# ---------------------------------------------------------------- account engine: validation first

class _NoConnection:
    """Stands in for a PyMySQL connection; any use fails the test."""

    host = "127.0.0.1"
    port = 3306
    unix_socket = None
    user = "mailadmin"

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"validation must refuse before using the connection ({name})")


@pytest.fixture
def offline_accounts() -> Accounts:
    return Accounts(_NoConnection(), hostname="mail.example.org")  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "field"), [
    (lambda a: a.add_domain("not a domain"), "name"),
    (lambda a: a.add_domain("localhost"), "name"),
    (lambda a: a.add_domain("mail.example.org"), "name"),
    (lambda a: a.add_user("no-at-sign", "long-enough-pw"), "email"),
    (lambda a: a.add_user("alice@example.org", "short"), "password"),
    (lambda a: a.add_user_hash("alice@example.org", "plaintext"), "password_hash"),
    (lambda a: a.set_password("alice@example.org", ""), "password"),
    (lambda a: a.remove_user("@example.org"), "email"),
    (lambda a: a.add_alias("info@", "alice@example.org"), "source"),
    (lambda a: a.add_alias("info@example.org", "@example.org"), "destination"),
    (lambda a: a.add_alias("info@example.org", "info@example.org"), "destination"),
    (lambda a: a.remove_alias("x y@example.org"), "source"),
    (lambda a: a.list_users(limit=0), "limit"),
    (lambda a: a.list_users(offset=-1), "offset"),
    (lambda a: a.list_domains(limit=5000), "limit"),
    (lambda a: a.list_users(domain="bad domain"), "domain"),
])
def test_accounts_refuse_invalid_input_before_touching_the_database(offline_accounts, call, field) -> None:
    with pytest.raises(ValidationError) as info:
        call(offline_accounts)
    assert field in info.value.problems


def test_removal_summary_reads_well() -> None:
    assert str(RemovalSummary("example.org", 1, 0)) == "1 mailbox and 0 aliases"
    assert str(RemovalSummary("example.org", 3, 1)) == "3 mailboxes and 1 alias"


def test_preflight_is_silent_for_a_local_server() -> None:
    assert DatabaseStep().preflight(Context(make_answers(), platform())) == []


def test_accounts_report_all_problems_at_once(offline_accounts) -> None:
    with pytest.raises(ValidationError) as info:
        offline_accounts.add_user("bad", "short")
    assert set(info.value.problems) == {"email", "password"}
