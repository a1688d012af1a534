"""The account engine against the real local MariaDB (through the management account)."""

from __future__ import annotations

import subprocess
import time

import pytest

from mailtui.errors import ValidationError
from mailtui.model import passwords
from mailtui.ops.accounts import Accounts, AliasRow, AlreadyExists, DomainRow, NotFound, RemovalSummary, UserRow
from mailtui.steps.database import DatabaseStep
from mailtui.system.commands import which
from tests.integration.conftest import root_sql


@pytest.fixture
def answers(make_answers, context):
    answers = make_answers()
    DatabaseStep().apply(context(answers))
    return answers


@pytest.fixture
def accounts(answers):
    with Accounts.connect(answers) as accounts:
        yield accounts


def snapshot(names) -> tuple:
    """Every row of the three tables (to prove a refused call changed nothing)."""
    return tuple(tuple(root_sql(f"SELECT * FROM `{names.database}`.`{t}` ORDER BY id"))
                 for t in ("virtual_domains", "virtual_users", "virtual_aliases"))


def populate(accounts: Accounts) -> None:
    accounts.add_domain("example.org")
    accounts.add_domain("Example.NET")
    accounts.add_user("alice@example.org", "alice-password")
    accounts.add_user("bob@example.org", "bob-password-1")
    accounts.add_user("carol@example.net", "carol-password")
    accounts.add_alias("info@example.org", "alice@example.org")
    accounts.add_alias("info@example.org", "bob@example.org")
    accounts.add_alias("@example.net", "carol@example.net")


def test_crud(accounts: Accounts) -> None:
    populate(accounts)
    assert accounts.list_domains() == [DomainRow("example.net", 1, 1), DomainRow("example.org", 2, 2)]
    assert accounts.count_domains() == 2
    assert accounts.domain_exists("EXAMPLE.org")
    assert accounts.list_users() == [UserRow("alice@example.org", "example.org"),
                                     UserRow("bob@example.org", "example.org"),
                                     UserRow("carol@example.net", "example.net")]
    assert accounts.list_users(domain="example.net") == [UserRow("carol@example.net", "example.net")]
    assert accounts.count_users(domain="example.org") == 2
    assert accounts.user_exists("Alice@Example.org")
    assert not accounts.user_exists("nobody@example.org")
    assert accounts.list_aliases() == [AliasRow("@example.net", "carol@example.net"),
                                       AliasRow("info@example.org", "alice@example.org"),
                                       AliasRow("info@example.org", "bob@example.org")]
    assert accounts.list_aliases()[0].is_catch_all
    assert accounts.count_aliases(domain="example.org") == 2

    accounts.set_password("bob@example.org", "a-brand-new-one")
    assert accounts.verify_password("bob@example.org", "a-brand-new-one")
    assert not accounts.verify_password("bob@example.org", "bob-password-1")

    assert accounts.remove_alias("info@example.org", "bob@example.org") == 1
    assert accounts.count_aliases() == 2
    summary = accounts.remove_user("alice@example.org")
    assert summary == RemovalSummary("alice@example.org", 1, 1, ("alice@example.org",))
    assert accounts.count_aliases() == 1  # info -> alice went with alice
    assert accounts.remove_alias("@example.net") == 1


def test_forwarding_catch_all_and_alias_chains(accounts: Accounts) -> None:
    populate(accounts)
    assert accounts.add_alias("fwd@example.org", "Someone@Elsewhere.test") == AliasRow(
        "fwd@example.org", "someone@elsewhere.test")
    assert accounts.add_alias("@example.org", "alice@example.org").is_catch_all
    # a destination served here may be another alias
    accounts.add_alias("sales@example.org", "info@example.org")
    with pytest.raises(ValidationError) as info:
        accounts.add_alias("help@example.org", "nobody@example.org")
    assert "neither a mailbox nor an alias" in info.value.problems["destination"]
    with pytest.raises(ValidationError) as info:
        accounts.add_alias("alice@example.org", "bob@example.org")
    assert "is a mailbox" in info.value.problems["source"]
    with pytest.raises(ValidationError) as info:
        accounts.add_user("info@example.org", "info-password")
    assert "is an alias" in info.value.problems["email"]


def test_duplicates_and_missing_items(accounts: Accounts) -> None:
    populate(accounts)
    with pytest.raises(AlreadyExists):
        accounts.add_domain("EXAMPLE.ORG")
    with pytest.raises(AlreadyExists):
        accounts.add_user("alice@example.org", "whatever-pass")
    with pytest.raises(AlreadyExists):
        accounts.add_alias("info@example.org", "alice@example.org")
    with pytest.raises(NotFound, match="the domain nope.example does not exist"):
        accounts.remove_domain("nope.example")
    with pytest.raises(NotFound, match="the mailbox zed@example.org does not exist"):
        accounts.remove_user("zed@example.org")
    with pytest.raises(NotFound):
        accounts.set_password("zed@example.org", "long-enough-pw")
    with pytest.raises(NotFound):
        accounts.verify_password("zed@example.org", "long-enough-pw")
    with pytest.raises(NotFound):
        accounts.remove_alias("info@example.org", "zed@example.org")
    with pytest.raises(NotFound):
        accounts.remove_alias("nothing@example.org")


def test_a_new_domain_gets_role_aliases_in_one_transaction(accounts: Accounts) -> None:
    """RFC 2142: postmaster@ and abuse@ of a new domain reach a person; without a target, none are made."""
    populate(accounts)
    assert accounts.add_domain("New.Example", "alice@example.org") == "new.example"
    assert {(a.source, a.destination) for a in accounts.list_aliases("new.example")} == {
        ("postmaster@new.example", "alice@example.org"), ("abuse@new.example", "alice@example.org")}
    accounts.add_domain("bare.example")
    assert accounts.list_aliases("bare.example") == []
    accounts.add_domain("fwd.example", "someone@elsewhere.test")  # a forward outside is fine
    assert len(accounts.list_aliases("fwd.example")) == 2
    with pytest.raises(ValidationError) as refused:
        accounts.add_domain("other.example", "nobody@example.org")
    assert set(refused.value.problems) == {"role_aliases_to"}
    assert "other.example" not in {d.name for d in accounts.list_domains()}


@pytest.mark.parametrize("call", [
    lambda a: a.add_domain("bad_domain"),
    lambda a: a.add_domain("mail.example.org"),  # the server's hostname
    lambda a: a.add_domain("example.org"),  # exists
    lambda a: a.add_user("dave@unknown.example", "dave-password"),  # domain not served
    lambda a: a.add_domain("new.example", "missing@example.org"),  # role aliases to nothing: the domain not added
    lambda a: a.add_domain("new.example", "admin@new.example"),  # role aliases into the new, empty domain
    lambda a: a.add_domain("new.example", "not an address"),
    lambda a: a.add_user("dave@example.org", "short"),
    lambda a: a.add_user("dave..x@example.org", "dave-password"),
    lambda a: a.add_user_hash("dave@example.org", "$6$notahash"),
    lambda a: a.set_password("alice@example.org", " padded-password "),
    lambda a: a.add_alias("x@unknown.example", "alice@example.org"),
    lambda a: a.add_alias("x@example.org", "missing@example.org"),
    lambda a: a.add_alias("x@example.org", "x@example.org"),
    lambda a: a.add_alias("@example.org", "not-an-address"),
    lambda a: a.remove_domain("ex ample.org"),
    lambda a: a.remove_user("missing@example.org"),
    lambda a: a.remove_alias("missing@example.org"),
])
def test_refused_input_changes_nothing(accounts: Accounts, names, call) -> None:
    populate(accounts)
    before = snapshot(names)
    with pytest.raises((ValidationError, NotFound)):
        call(accounts)
    assert snapshot(names) == before


def test_filter_and_paging_in_sql(accounts: Accounts) -> None:
    accounts.add_domain("a-b.example")
    accounts.add_domain("axb.example")
    for i in range(25):
        accounts.add_user(f"user{i:02d}@axb.example", "some-password")
    accounts.add_user("a_b@a-b.example", "some-password")
    accounts.add_user("axb@a-b.example", "some-password")
    accounts.add_user("a.b@a-b.example", "some-password")

    # _ and % are literal, not LIKE wildcards
    assert [u.email for u in accounts.list_users("a_b")] == ["a_b@a-b.example"]
    assert accounts.count_users("a_b") == 1
    assert accounts.list_users("%") == [] and accounts.count_users("%") == 0
    assert accounts.count_users("!") == 0
    assert [d.name for d in accounts.list_domains("a-b")] == ["a-b.example"]
    assert accounts.count_domains("axb") == 1

    pages = [accounts.list_users(domain="axb.example", limit=10, offset=o) for o in (0, 10, 20)]
    assert [len(p) for p in pages] == [10, 10, 5]
    emails = [u.email for p in pages for u in p]
    assert emails == sorted(emails) and len(set(emails)) == 25
    assert accounts.list_users(domain="axb.example", limit=10, offset=30) == []
    assert accounts.count_users("user1") == 10

    accounts.add_alias("team@axb.example", "user01@axb.example")
    accounts.add_alias("list_x@axb.example", "user02@axb.example")
    assert [a.source for a in accounts.list_aliases("t_x")] == ["list_x@axb.example"]
    assert accounts.count_aliases("user01") == 1  # matches the destination side


def test_remove_domain_takes_its_users_and_aliases(accounts: Accounts, names) -> None:
    populate(accounts)
    accounts.add_alias("fwd@example.net", "alice@example.org")
    preview = accounts.removal_preview("example.org")
    assert preview == RemovalSummary("example.org", 2, 2, ("alice@example.org", "bob@example.org"))
    assert accounts.count_users() == 3  # the preview removed nothing
    assert accounts.remove_domain("example.org") == preview
    assert accounts.list_domains() == [DomainRow("example.net", 1, 2)]
    assert accounts.count_users() == 1
    assert root_sql(f"SELECT COUNT(*) FROM `{names.database}`.virtual_users WHERE domain_id NOT IN "
                    f"(SELECT id FROM `{names.database}`.virtual_domains)")[0][0] == 0


def test_hashes_verify_with_passlib_and_doveadm(accounts: Accounts, names) -> None:
    populate(accounts)
    stored = root_sql(f"SELECT password FROM `{names.database}`.virtual_users "
                      "WHERE email = 'alice@example.org'")[0][0]
    assert stored.startswith("{SHA512-CRYPT}$6$") and len(stored) == 120
    assert passwords.verify_password("alice-password", stored)
    assert accounts.verify_password("alice@example.org", "alice-password")
    if which("doveadm") is None:
        pytest.skip("doveadm is not installed (apt-get install dovecot-core)")
    # The password goes on stdin, never on the command line.
    def doveadm_verifies(password: str) -> bool:
        result = subprocess.run(["doveadm", "pw", "-t", stored], input=password + "\n", capture_output=True,
                                text=True, timeout=30, check=False)
        return result.returncode == 0 and "(verified)" in result.stdout

    assert doveadm_verifies("alice-password")
    assert not doveadm_verifies("wrong-password")


def test_existing_hash_from_doveadm_is_accepted(accounts: Accounts) -> None:
    accounts.add_domain("example.org")
    bare = passwords.hash_password("from-doveadm-1").removeprefix("{SHA512-CRYPT}")
    accounts.add_user_hash("eve@example.org", bare)
    assert accounts.verify_password("eve@example.org", "from-doveadm-1")


def test_reconnects_after_the_server_dropped_an_idle_connection(accounts: Accounts) -> None:
    accounts.add_domain("example.org")
    old = accounts.conn
    root_sql(f"KILL CONNECTION {old.thread_id()}")
    accounts._used = time.monotonic() - 3600  # idle for an hour
    assert accounts.count_domains() == 1
    assert accounts.conn is not old


def test_sees_changes_made_elsewhere(accounts: Accounts, answers) -> None:
    assert accounts.count_domains() == 0
    with Accounts.connect(answers) as other:
        other.add_domain("example.org")
    assert accounts.count_domains() == 1  # no stale REPEATABLE READ snapshot


def test_pages_stay_fast_with_100000_mailboxes(accounts: Accounts, names, mariadb) -> None:
    if mariadb[0] != "mariadb":
        pytest.skip("bulk load uses MariaDB's SEQUENCE engine")
    accounts.add_domain("big.example")
    stored = passwords.hash_password("bulk-password")
    root_sql(f"INSERT INTO `{names.database}`.virtual_users (domain_id, password, email) "
             f"SELECT (SELECT id FROM `{names.database}`.virtual_domains), %s, CONCAT('user', seq, '@big.example') "
             f"FROM `{names.database}`.seq_1_to_100000", params=(stored,))
    started = time.monotonic()
    page = accounts.list_users(domain="big.example", limit=50, offset=50000)
    assert len(page) == 50
    assert accounts.count_users("user9999") == 11
    assert accounts.list_domains() == [DomainRow("big.example", 100000, 0)]
    assert [u.email for u in accounts.list_users("user12345@")] == ["user12345@big.example"]
    assert time.monotonic() - started < 2.0


def test_credential_changes_are_announced_for_dovecots_auth_cache(accounts: Accounts) -> None:
    """Dovecot caches logins: every change to who may log in, and with what, must flush that cache."""
    seen: list[object] = []
    accounts._on_credentials_changed = seen.append
    accounts.add_domain("example.org")
    accounts.add_user("alice@example.org", "alice-password")
    accounts.set_password("alice@example.org", "alice-password-2")
    accounts.add_alias("info@example.org", "alice@example.org")  # aliases do not change logins
    accounts.remove_user("alice@example.org")
    accounts.remove_domain("example.org")
    assert seen == [["alice@example.org"], ["alice@example.org"], ["alice@example.org"], None]
