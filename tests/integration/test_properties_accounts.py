"""Model-based property test of the account engine against the real local MariaDB.

Random sequences of add/remove/password operations, with input that is often bad (random unicode, SQL
and shell metacharacters, over-long, empty, whitespace, mixed case, IDN), run against a real per-test
database and, beside it, a small model of what mailtui.accounts promises. After every operation:

* the outcome is the model's (done, or refused naming the same fields, or NotFound) — a refusal is a
  ValidationError or NotFound, never another exception;
* a refused operation changed no row of the three tables;
* the tables hold exactly the model's domains, mailboxes and aliases, every name canonical, every
  mailbox and alias in an existing domain of the right name (no orphans, also after a domain is
  removed), no address twice (case-insensitively), no alias source that is also a mailbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mailtui.errors import ValidationError
from mailtui.model import passwords, validate
from mailtui.model.answers import Database
from mailtui.ops.account_types import NotFound
from mailtui.ops.accounts import Accounts
from mailtui.stack import db
from mailtui.steps.database import DatabaseStep
from tests.unit.test_properties_validate import INJECTIONS, METACHARACTERS

TABLES = ("virtual_domains", "virtual_users", "virtual_aliases")
OUTCOMES: Counter[str] = Counter()  # operation: outcome, over a whole run (to prove every path was taken)

# ---------------------------------------------------------------- input: a few names, written many ways

DOMAINS = ["example.org", "example.net", "bücher.example", "xn--bcher-kva.example", "mail.example.org",
           "localhost.localdomain", "faß.de"]
LOCALS = ["alice", "alice", "bob", "info", "x+tag"]
MAIL_DOMAINS = ["example.org", "example.org", "bücher.example", "xn--bcher-kva.example", "example.net"]


@st.composite
def typed(draw: st.DrawFn, base: str) -> str:
    """`base` the way an operator might type it: case, padding, a trailing dot — or broken (1 in 3)."""
    how = draw(st.sampled_from(["as is", "as is", "case", "pad", "dot", "insert", "inject", "long"]))
    if how == "case":
        return "".join(c.upper() if draw(st.booleans()) else c for c in base)
    if how == "pad":
        return draw(st.sampled_from([" ", "\t", "\n "])) + base + draw(st.sampled_from([" ", "\r\n", ""]))
    if how == "dot":
        return base + "."
    if how == "insert":
        i = draw(st.integers(0, len(base)))
        return base[:i] + draw(st.sampled_from(METACHARACTERS)) + base[i:]
    if how == "inject":
        return base + draw(st.sampled_from(INJECTIONS))
    if how == "long":
        return draw(st.sampled_from(["x" * 64 + ".", "y" * 300, "z." * 130, "w" * 60 + "@"])) + base
    return base


def pool_or_garbage(pool: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a known name as typed (so operations meet each other), sometimes random text."""
    return st.one_of(pool.flatmap(typed), pool.flatmap(typed), pool.flatmap(typed), st.text(max_size=12))


domains = pool_or_garbage(st.sampled_from(DOMAINS))
addresses = st.one_of(
    pool_or_garbage(st.tuples(st.sampled_from(LOCALS), st.sampled_from(MAIL_DOMAINS)).map("@".join)),
    st.sampled_from(["friend@elsewhere.net", "Friend@Elsewhere.NET"]),
)
sources = st.one_of(addresses, pool_or_garbage(st.sampled_from(MAIL_DOMAINS).map(lambda d: "@" + d)))
mailbox_passwords = st.one_of(st.sampled_from(["a good password", "another one!", "pässwörd 🔑"]),
                              st.sampled_from(["a good password", "another one!", "pässwörd 🔑"]),
                              st.text(max_size=12))


# ---------------------------------------------------------------- the model


class Refused(Exception):
    """What the model expects instead of success: the fields named (ValidationError) or NotFound."""

    def __init__(self, fields: set[str] | None) -> None:
        super().__init__(fields)
        self.fields = fields  # None: NotFound


def _checked(**values: tuple[Callable[[Any, str], Any], Any]) -> dict[str, Any]:
    """Run check_* per field; Refused naming every field that fails."""
    out, bad = {}, set()
    for name, (check, value) in values.items():
        try:
            out[name] = check(value, name)
        except ValidationError:
            bad.add(name)
    if bad:
        raise Refused(bad)
    return out


class Model:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.domains: set[str] = set()
        self.users: dict[str, str] = {}  # address -> password
        self.aliases: set[tuple[str, str]] = set()

    @staticmethod
    def domain_of(address: str) -> str:
        return address.rsplit("@", 1)[1]

    def add_domain(self, raw: Any) -> None:
        name = _checked(name=(validate.check_domain, raw))["name"]
        if name in validate.LOCAL_NAMES or name == self.hostname or name in self.domains:
            raise Refused({"name"})
        self.domains.add(name)

    def remove_domain(self, raw: Any) -> None:
        name = _checked(name=(validate.check_domain, raw))["name"]
        if name not in self.domains:
            raise Refused(None)
        self.domains.discard(name)
        self.users = {u: p for u, p in self.users.items() if self.domain_of(u) != name}
        self.aliases = {a for a in self.aliases if self.domain_of(a[0]) != name}

    def add_user(self, email: Any, password: Any) -> None:
        email = _checked(email=(validate.check_address, email), password=(validate.check_mailbox_password, password))[
            "email"]
        if (self.domain_of(email) not in self.domains or email in self.users
                or any(s == email for s, _ in self.aliases)):
            raise Refused({"email"})
        self.users[email] = password

    def set_password(self, email: Any, password: Any) -> None:
        email = _checked(email=(validate.check_address, email), password=(validate.check_mailbox_password, password))[
            "email"]
        if email not in self.users:
            raise Refused(None)
        self.users[email] = password

    def remove_user(self, email: Any) -> None:
        email = _checked(email=(validate.check_address, email))["email"]
        if email not in self.users:
            raise Refused(None)
        del self.users[email]
        self.aliases = {a for a in self.aliases if a[1] != email}

    def add_alias(self, source: Any, destination: Any) -> None:
        values = _checked(source=(validate.check_alias_source, source),
                          destination=(validate.check_destination, destination))
        source, destination = values["source"], values["destination"]
        if source == destination:
            raise Refused({"destination"})
        if self.domain_of(source) not in self.domains or source in self.users:
            raise Refused({"source"})
        if (self.domain_of(destination) in self.domains and destination not in self.users
                and not any(s == destination for s, _ in self.aliases)):
            raise Refused({"destination"})
        if (source, destination) in self.aliases:
            raise Refused({"source"})
        self.aliases.add((source, destination))

    def remove_alias(self, source: Any, destination: Any) -> None:
        checks: dict[str, Any] = {"source": (validate.check_alias_source, source)}
        if destination is not None:
            checks["destination"] = (validate.check_destination, destination)
        values = _checked(**checks)
        gone = {a for a in self.aliases if a[0] == values["source"] and values.get("destination") in (None, a[1])}
        if not gone:
            raise Refused(None)
        self.aliases -= gone


# ---------------------------------------------------------------- the machine


class AccountsMachine(RuleBasedStateMachine):
    def __init__(self, accounts: Accounts, root: db.Connection, database: str) -> None:
        super().__init__()
        self.accounts = accounts
        self.root = root
        self.q = db.quote_identifier(database)
        for table in reversed(TABLES):
            self.sql(f"DELETE FROM {self.q}.`{table}`")
        self.model = Model(accounts.hostname)

    def sql(self, statement: str) -> list[tuple]:
        with self.root.cursor() as cur:
            cur.execute(statement)
            rows = list(cur.fetchall())
        self.root.commit()  # a new snapshot next time (REPEATABLE READ)
        return rows

    def snapshot(self) -> tuple:
        return tuple(tuple(self.sql(f"SELECT * FROM {self.q}.`{t}` ORDER BY id")) for t in TABLES)

    def run(self, operation: str, *args: Any) -> None:
        """Do the operation on both sides and compare what happened."""
        try:
            getattr(self.model, operation)(*args)
            expected: Refused | None = None
        except Refused as refused:
            expected = refused
        before = self.snapshot()
        try:
            getattr(self.accounts, operation)(*args)
        except ValidationError as exc:
            assert expected is not None and expected.fields is not None, (operation, args, exc.problems)
            assert set(exc.problems) == expected.fields, (operation, args, exc.problems)
            assert all(isinstance(m, str) and m.strip() for m in exc.problems.values())
            assert self.snapshot() == before, f"a refused {operation}{args!r} changed the tables"
            OUTCOMES[f"{operation}: refused"] += 1
            return
        except NotFound as exc:
            assert expected is not None and expected.fields is None, (operation, args, str(exc))
            assert str(exc).strip() and exc.field
            assert self.snapshot() == before, f"a refused {operation}{args!r} changed the tables"
            OUTCOMES[f"{operation}: not found"] += 1
            return
        OUTCOMES[f"{operation}: done"] += 1
        assert expected is None, (operation, args, f"expected a refusal naming {expected.fields}")
        if operation in ("add_user", "set_password"):
            email = validate.check_address(args[0])
            assert self.accounts.verify_password(email, args[1])

    @initialize()
    def some_accounts(self) -> None:
        """Start from a few accounts, so that the random operations often meet existing ones."""
        self.run("add_domain", "example.org")
        self.run("add_domain", "Bücher.Example")
        self.run("add_user", "alice@example.org", "alice's password")
        self.run("add_alias", "info@example.org", "alice@example.org")

    @rule(name=domains)
    def add_domain(self, name: Any) -> None:
        self.run("add_domain", name)

    @rule(name=domains)
    def remove_domain(self, name: Any) -> None:
        self.run("remove_domain", name)

    @rule(email=addresses, password=mailbox_passwords)
    def add_user(self, email: Any, password: Any) -> None:
        self.run("add_user", email, password)

    @rule(email=addresses, password=mailbox_passwords)
    def set_password(self, email: Any, password: Any) -> None:
        self.run("set_password", email, password)

    @rule(email=addresses)
    def remove_user(self, email: Any) -> None:
        self.run("remove_user", email)

    @rule(source=sources, destination=addresses)
    def add_alias(self, source: Any, destination: Any) -> None:
        self.run("add_alias", source, destination)

    @rule(source=sources, destination=st.one_of(st.none(), addresses))
    def remove_alias(self, source: Any, destination: Any) -> None:
        self.run("remove_alias", source, destination)

    @invariant()
    def tables_match_the_model_and_hang_together(self) -> None:
        domain_rows = self.sql(f"SELECT id, name FROM {self.q}.virtual_domains")
        names = {i: str(n) for i, n in domain_rows}
        users = self.sql(f"SELECT domain_id, email, password FROM {self.q}.virtual_users")
        aliases = self.sql(f"SELECT domain_id, source, destination FROM {self.q}.virtual_aliases")

        assert set(names.values()) == self.model.domains
        assert {str(e) for _, e, _ in users} == set(self.model.users)
        assert {(str(s), str(d)) for _, s, d in aliases} == self.model.aliases

        for name in names.values():
            assert validate.check_domain(name) == name
        emails = [str(e) for _, e, _ in users]
        assert len({e.lower() for e in emails}) == len(emails), "an address twice"
        for domain_id, email, stored in users:
            assert names.get(domain_id) == Model.domain_of(str(email)), f"{email} in the wrong or a missing domain"
            assert validate.check_address(str(email)) == email
            assert passwords.is_hash(str(stored))
        for domain_id, source, destination in aliases:
            assert names.get(domain_id) == Model.domain_of(str(source)), f"{source} in the wrong or a missing domain"
            assert validate.check_alias_source(str(source)) == source
            assert validate.check_destination(str(destination)) == destination
            assert str(source) not in emails, f"{source} is both a mailbox and an alias"


@pytest.fixture
def accounts_and_root(make_answers, context, names):
    answers = make_answers()
    DatabaseStep().apply(context(answers))
    # No auth cache flush: this machine's Dovecot (if any) has nothing to do with this database.
    accounts = Accounts(db.admin_connection(answers.database), hostname=answers.hostname)
    root = db.root_connection(Database())
    try:
        yield accounts, root, names.database
    finally:
        accounts.close()
        with db.closing(root):
            pass


def test_random_operations_keep_the_database_consistent(accounts_and_root) -> None:
    accounts, root, database = accounts_and_root
    OUTCOMES.clear()
    run_state_machine_as_test(
        lambda: AccountsMachine(accounts, root, database),
        settings=settings(max_examples=100, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
    # The run met the interesting paths (not only refusals of garbage).
    for operation in ("add_domain", "remove_domain", "add_user", "add_alias"):
        assert OUTCOMES[f"{operation}: done"] > 0 and OUTCOMES[f"{operation}: refused"] > 0, sorted(OUTCOMES.items())
