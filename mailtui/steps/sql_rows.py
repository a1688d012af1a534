"""The answers' own rows — domains, mailboxes, aliases — as SQL resources of the database step: added when
missing, a mailbox's hash replaced when it no longer verifies, never removed."""

from __future__ import annotations

from collections.abc import Sequence

from mailtui.errors import ValidationError
from mailtui.model import passwords
from mailtui.model.answers import Alias, User
from mailtui.steps.sql_resources import SqlResource
from mailtui.steps.sql_session import (
    SqlSession,
    select_in,
    table_exists,
)
from mailtui.steps.sql_statements import (
    Sql,
    SqlPlan,
)


class DomainRowsResource(SqlResource):
    """The answers' domains in virtual_domains (added when missing; never removed)."""

    needs_root = False

    def __init__(self, session: SqlSession, names: Sequence[str]) -> None:
        super().__init__(session)
        self.names = list(dict.fromkeys(names))

    @property
    def target(self) -> str:
        return f"rows {self.db.name}.virtual_domains"

    def insert(self, name: str) -> Sql:
        return Sql(f"INSERT INTO {self.qdb}.`virtual_domains` (`name`) VALUES (%s)", (name,), expect=1)

    def plan_for(self, missing: list[str]) -> SqlPlan:
        if not missing:
            return SqlPlan()
        return SqlPlan(f"add {len(missing)} domain(s): {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
                       [self.insert(n) for n in missing])

    def want_all(self) -> SqlPlan:
        return self.plan_for(self.names)

    def compare(self) -> SqlPlan:
        with self.session.reader() as conn:
            if conn is None or not table_exists(conn, self.db.name, "virtual_domains"):
                return self.want_all()
            have = {str(r[0]).lower() for r in select_in(
                conn, f"SELECT `name` FROM {self.qdb}.`virtual_domains` WHERE `name` IN ({{in}})", self.names)}
        return self.plan_for([n for n in self.names if n not in have])


class UserRowsResource(SqlResource):
    """The answers' mailboxes in virtual_users. A stored hash that verifies against the answers'
    password is left alone; otherwise the hash is replaced. A user with keep_password keeps whatever is
    stored (it must exist: there is no password to give a new mailbox)."""

    needs_root = False

    def __init__(self, session: SqlSession, users: Sequence[User]) -> None:
        super().__init__(session)
        self.users = list({u.email: u for u in users}.values())
        self.index = {u.email: i for i, u in reversed(list(enumerate(users)))}  # as answers.problems() names them

    @property
    def target(self) -> str:
        return f"rows {self.db.name}.virtual_users"

    @staticmethod
    def wanted_hash(user: User) -> str:
        if user.password_hash:
            return passwords.normalize_hash(user.password_hash)
        return passwords.hash_password(user.password)

    @staticmethod
    def in_place(user: User, stored: str) -> bool:
        # With the plain password at hand, any hash of it will do (salts differ from run to run).
        if user.password:
            return passwords.verify_password(user.password, stored)
        strip = passwords.SCHEME_PREFIX
        return stored.removeprefix(strip) == user.password_hash.removeprefix(strip)

    def insert(self, user: User) -> Sql:
        return Sql(f"INSERT INTO {self.qdb}.`virtual_users` (`domain_id`, `password`, `email`) "
                   f"SELECT `id`, %s, %s FROM {self.qdb}.`virtual_domains` WHERE `name` = %s",
                   (self.wanted_hash(user), user.email, user.domain), frozenset({0}), expect=1)

    def update(self, user: User) -> Sql:
        return Sql(f"UPDATE {self.qdb}.`virtual_users` SET `password` = %s WHERE `email` = %s",
                   (self.wanted_hash(user), user.email), frozenset({0}))

    def plan_for(self, missing: list[User], changed: list[User]) -> SqlPlan:
        kept = [u for u in missing if u.keep_password]
        if kept:
            raise ValidationError({f"users[{self.index[u.email]}].password":
                                   f"is empty, and {u.email} has no mailbox yet: only an existing mailbox keeps "
                                   "its password" for u in kept})
        changed = [u for u in changed if not u.keep_password]
        if not missing and not changed:
            return SqlPlan()
        parts = []
        if missing:
            parts.append(f"add {len(missing)} mailbox(es): " + ", ".join(u.email for u in missing[:5])
                         + (" …" if len(missing) > 5 else ""))
        if changed:
            parts.append(f"set the password of {len(changed)} mailbox(es): "
                         + ", ".join(u.email for u in changed[:5]) + (" …" if len(changed) > 5 else ""))
        return SqlPlan("; ".join(parts), [*(self.insert(u) for u in missing), *(self.update(u) for u in changed)])

    def want_all(self) -> SqlPlan:
        return self.plan_for(self.users, [])

    def compare(self) -> SqlPlan:
        with self.session.reader() as conn:
            if conn is None or not table_exists(conn, self.db.name, "virtual_users"):
                return self.want_all()
            stored = {str(r[0]).lower(): str(r[1]) for r in select_in(
                conn, f"SELECT `email`, `password` FROM {self.qdb}.`virtual_users` WHERE `email` IN ({{in}})",
                [u.email for u in self.users])}
        missing = [u for u in self.users if u.email not in stored]
        changed = [u for u in self.users if u.email in stored and not self.in_place(u, stored[u.email])]
        return self.plan_for(missing, changed)


class AliasRowsResource(SqlResource):
    """The answers' aliases in virtual_aliases (added when missing; never removed)."""

    needs_root = False

    def __init__(self, session: SqlSession, aliases: Sequence[Alias]) -> None:
        super().__init__(session)
        self.pairs = list(dict.fromkeys((a.source, a.destination) for a in aliases))

    @property
    def target(self) -> str:
        return f"rows {self.db.name}.virtual_aliases"

    def insert(self, source: str, destination: str) -> Sql:
        domain = source.rsplit("@", 1)[1]
        return Sql(f"INSERT INTO {self.qdb}.`virtual_aliases` (`domain_id`, `source`, `destination`) "
                   f"SELECT `id`, %s, %s FROM {self.qdb}.`virtual_domains` WHERE `name` = %s",
                   (source, destination, domain), expect=1)

    def plan_for(self, missing: list[tuple[str, str]]) -> SqlPlan:
        if not missing:
            return SqlPlan()
        shown = ", ".join(f"{s} -> {d}" for s, d in missing[:5]) + (" …" if len(missing) > 5 else "")
        return SqlPlan(f"add {len(missing)} alias(es): {shown}", [self.insert(s, d) for s, d in missing])

    def want_all(self) -> SqlPlan:
        return self.plan_for(self.pairs)

    def compare(self) -> SqlPlan:
        with self.session.reader() as conn:
            if conn is None or not table_exists(conn, self.db.name, "virtual_aliases"):
                return self.want_all()
            have = {(str(s).lower(), str(d).lower()) for s, d in select_in(
                conn, f"SELECT `source`, `destination` FROM {self.qdb}.`virtual_aliases` WHERE `source` IN ({{in}})",
                list(dict.fromkeys(s for s, _ in self.pairs)))}
        return self.plan_for([p for p in self.pairs if p not in have])
