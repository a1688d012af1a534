"""Mail accounts: domains, mailboxes (users) and aliases, through the management database account.

The engine behind `mailtui domain|user|alias …` and the dashboard:

* every input is validated and canonicalised (lower case, IDN -> punycode) with mailtui.validate;
  a refused input raises ValidationError({field: reason}) and changes nothing;
* every write is one transaction (all or nothing); a write that targets something that does not
  exist raises NotFound, one that would duplicate something raises AlreadyExists;
* lists are filtered (LIKE, with % and _ matched literally) and paged (LIMIT/OFFSET) in SQL, so
  100,000 mailboxes cost one page per screen, never a full load;
* mailbox passwords are stored as '{SHA512-CRYPT}$6$…' (mailtui.passwords), which Dovecot and
  `doveadm pw -t` verify; existing bare '$6$…' hashes from the tutorial verify too.

An Accounts object holds one PyMySQL connection: use one per thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pymysql

from mailtui.errors import ValidationError
from mailtui.model import passwords, validate
from mailtui.model.answers import Answers
from mailtui.model.defaults import ROLE_ADDRESSES
from mailtui.ops.account_db import AccountDb
from mailtui.ops.account_types import (
    ALIAS_ORDERS,
    DOMAIN_ORDERS,
    USER_ORDERS,
    AliasRow,
    AlreadyExists,
    DomainRow,
    NotFound,
    RemovalSummary,
    UserRow,
    alias_fields,
    check_page,
    checked_domain,
    checked_email,
    checked_mailbox,
    checked_source,
    chunks,
    domain_of,
    is_alias_message,
    mailbox_exists_message,
    marks,
    no_domain_message,
    order_by_sql,
)
from mailtui.stack import db
from mailtui.stack.dovecot_cache import flush_auth_cache

# Above this many mailboxes, one change flushes Dovecot's whole auth cache instead of naming each user.
_FLUSH_ALL_ABOVE = 50


class Accounts(AccountDb):
    """Domains, mailboxes and aliases over one connection as the management account."""

    def __init__(
        self,
        conn: db.Connection,
        *,
        hostname: str = "",
        reconnect: Callable[[], db.Connection] | None = None,
        on_credentials_changed: Callable[[Sequence[str] | None], None] | None = None,
    ) -> None:
        super().__init__(conn, reconnect)
        # Called after a mailbox is added, removed or gets a new password (None: many changed), so
        # that Dovecot's auth cache never answers with the old state.
        self._on_credentials_changed = on_credentials_changed
        self.hostname = validate.canonical_domain(hostname) if hostname else ""

    @classmethod
    def connect(cls, answers: Answers) -> Accounts:
        """Log in as the management account of the answers' database (raises db.ConnectFailed)."""
        database = answers.database

        return cls(db.admin_connection(database), hostname=answers.hostname,
                   reconnect=lambda: db.admin_connection(database), on_credentials_changed=flush_auth_cache)

    def _credentials_changed(self, users: Sequence[str] | None) -> None:
        if self._on_credentials_changed is not None:
            self._on_credentials_changed(users)

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ domains

    def list_domains(self, filter: str = "", limit: int = 100, offset: int = 0,
                     order: str | None = None) -> list[DomainRow]:
        """Domains with their mailbox and alias counts, sorted by name (or `order`: one of DOMAIN_ORDERS,
        "-" in front for descending; ties by name)."""
        check_page(filter, limit, offset)
        order_by = order_by_sql(order, DOMAIN_ORDERS, "name")
        where, params = self._domain_where(filter)
        # The counts are correlated subqueries over the domain_id index: computed for this page only.
        rows = self._read(
            "SELECT d.name,"
            " (SELECT COUNT(*) FROM virtual_users u WHERE u.domain_id = d.id),"
            " (SELECT COUNT(*) FROM virtual_aliases a WHERE a.domain_id = d.id)"
            f" FROM virtual_domains d{where} ORDER BY {order_by} LIMIT %s OFFSET %s", (*params, limit, offset))
        return [DomainRow(str(n), int(u), int(a)) for n, u, a in rows]

    def _domain_where(self, filter: str) -> tuple[str, list[Any]]:
        if not filter:
            return "", []
        return " WHERE name LIKE %s ESCAPE '!'", [db.like_pattern(filter)]

    def count_domains(self, filter: str = "") -> int:
        check_page(filter, 1, 0)
        where, params = self._domain_where(filter)
        return int(self._scalar(f"SELECT COUNT(*) FROM virtual_domains{where}", params))

    def domain_names(self) -> list[str]:
        """Every domain served, sorted (the DNS report covers each)."""
        return [str(row[0]) for row in self._read("SELECT name FROM virtual_domains ORDER BY name")]

    def domain_exists(self, name: str) -> bool:
        name = checked_domain(name)
        return self._scalar("SELECT 1 FROM virtual_domains WHERE name = %s", (name,)) is not None

    def add_domain(self, name: str, role_aliases_to: str | None = None) -> str:
        """Add a domain to serve (its canonical name back); with role_aliases_to, its ROLE_ADDRESSES too."""
        name = checked_domain(name)
        if role_aliases_to is not None:
            role_aliases_to = checked_email(role_aliases_to, "role_aliases_to")
        if name in validate.LOCAL_NAMES:
            raise ValidationError({"name": f"{name} is a local name Postfix treats as its own (mydestination)"})
        if self.hostname and name == self.hostname:
            raise ValidationError({"name": f"{name} is the mail server's own hostname, which Postfix delivers "
                                           f"locally; use a hostname such as mail.{name} instead"})
        with self._write() as cur:
            if self._one(cur, "SELECT id FROM virtual_domains WHERE name = %s", (name,)) is not None:
                raise AlreadyExists({"name": f"the domain {name} already exists"})
            if role_aliases_to is not None:
                self._check_role_target(cur, name, role_aliases_to)
            cur.execute("INSERT INTO virtual_domains (name) VALUES (%s)", (name,))
            if role_aliases_to is not None:
                cur.executemany("INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (%s, %s, %s)",
                                [(cur.lastrowid, f"{role}@{name}", role_aliases_to) for role in ROLE_ADDRESSES])
        return name

    def _check_role_target(self, cur: pymysql.cursors.Cursor, domain: str, target: str) -> None:
        """The role aliases' destination: outside the served domains (a forward), or a mailbox or alias here."""
        if domain_of(target) == domain or self._would_bounce(cur, target):
            raise ValidationError({"role_aliases_to": f"{target} is neither a mailbox nor an alias here: "
                                                      "postmaster and abuse mail to it would bounce"})

    def _would_bounce(self, cur: pymysql.cursors.Cursor, address: str) -> bool:
        """Is the address in a served domain but neither a mailbox nor an alias there?"""
        return self._one(cur, "SELECT id FROM virtual_domains WHERE name = %s", (domain_of(address),)) is not None \
            and self._one(cur, "SELECT 1 FROM virtual_users WHERE email = %s UNION ALL "
                          "SELECT 1 FROM virtual_aliases WHERE source = %s LIMIT 1", (address, address)) is None

    def _removal_summary(self, cur: pymysql.cursors.Cursor, name: str) -> tuple[int, RemovalSummary]:
        domain_id = self._one(cur, "SELECT id FROM virtual_domains WHERE name = %s", (name,))
        if domain_id is None:
            raise NotFound(f"the domain {name} does not exist", "name")
        users = int(self._one(cur, "SELECT COUNT(*) FROM virtual_users WHERE domain_id = %s", (domain_id,)))
        aliases = int(self._one(cur, "SELECT COUNT(*) FROM virtual_aliases WHERE domain_id = %s", (domain_id,)))
        cur.execute("SELECT email FROM virtual_users WHERE domain_id = %s ORDER BY email LIMIT 10", (domain_id,))
        sample = tuple(str(r[0]) for r in cur.fetchall())
        return int(domain_id), RemovalSummary(name, users, aliases, sample)

    def removal_preview(self, name: str) -> RemovalSummary:
        """What remove_domain(name) would take with it, without removing anything."""
        name = checked_domain(name)
        with self._write() as cur:
            return self._removal_summary(cur, name)[1]

    def remove_domain(self, name: str) -> RemovalSummary:
        """Remove a domain with all its mailboxes and aliases (the mail on disk stays)."""
        name = checked_domain(name)
        with self._write() as cur:
            domain_id, summary = self._removal_summary(cur, name)
            # Explicit, so an adopted database without ON DELETE CASCADE loses nothing to orphans.
            cur.execute("DELETE FROM virtual_aliases WHERE domain_id = %s", (domain_id,))
            cur.execute("DELETE FROM virtual_users WHERE domain_id = %s", (domain_id,))
            cur.execute("DELETE FROM virtual_domains WHERE id = %s", (domain_id,))
        self._credentials_changed(None)
        return summary

    # ------------------------------------------------------------ users (mailboxes)

    @staticmethod
    def _where(conditions: list[str]) -> str:
        return f" WHERE {' AND '.join(conditions)}" if conditions else ""

    def _user_where(self, filter: str, domain: str | None) -> tuple[str, list[Any]]:
        # No JOIN: the domain is the address's domain part, and ORDER BY email then walks the
        # unique email index (a page costs its offset in index entries, not a sort of the table).
        conditions: list[str] = []
        params: list[Any] = []
        if filter:
            conditions.append("email LIKE %s ESCAPE '!'")
            params.append(db.like_pattern(filter))
        if domain is not None:
            conditions.append("domain_id = (SELECT id FROM virtual_domains WHERE name = %s)")
            params.append(checked_domain(domain, "domain"))
        return self._where(conditions), params

    def list_users(self, filter: str = "", domain: str | None = None, limit: int = 100,
                   offset: int = 0, order: str | None = None) -> list[UserRow]:
        """Mailboxes sorted by address ("-email": descending), optionally of one domain."""
        check_page(filter, limit, offset)
        order_by = order_by_sql(order, USER_ORDERS, "email")
        where, params = self._user_where(filter, domain)
        rows = self._read(f"SELECT email FROM virtual_users{where} ORDER BY {order_by} LIMIT %s OFFSET %s",
                          (*params, limit, offset))
        return [UserRow(str(e), domain_of(str(e))) for (e,) in rows]

    def count_users(self, filter: str = "", domain: str | None = None) -> int:
        check_page(filter, 1, 0)
        where, params = self._user_where(filter, domain)
        return int(self._scalar(f"SELECT COUNT(*) FROM virtual_users{where}", params))

    def user_exists(self, email: str) -> bool:
        email = checked_email(email)
        return self._scalar("SELECT 1 FROM virtual_users WHERE email = %s", (email,)) is not None

    def add_user(self, email: str, password: str) -> str:
        """Add a mailbox with a password (stored as a SHA512-CRYPT hash); returns the canonical address."""
        email = checked_mailbox(email, password)
        return self._insert_user(email, passwords.hash_password(password))

    def add_user_hash(self, email: str, password_hash: str) -> str:
        """Add a mailbox with an existing hash ('$6$…' or '{SHA512-CRYPT}$6$…', e.g. from `doveadm pw`)."""
        problems = {}
        try:
            email = checked_email(email)
        except ValidationError as exc:
            problems.update(exc.problems)
        if not passwords.is_hash(password_hash.strip()):
            problems["password_hash"] = "must be a SHA512-CRYPT hash ($6$…, as `doveadm pw -s SHA512-CRYPT`)"
        if problems:
            raise ValidationError(problems)
        return self._insert_user(email, passwords.normalize_hash(password_hash.strip()))

    def _insert_user(self, email: str, stored_hash: str) -> str:
        domain = domain_of(email)
        with self._write() as cur:
            domain_id = self._one(cur, "SELECT id FROM virtual_domains WHERE name = %s", (domain,))
            if domain_id is None:
                raise ValidationError({"email": no_domain_message(domain)})
            if self._one(cur, "SELECT id FROM virtual_users WHERE email = %s", (email,)) is not None:
                raise AlreadyExists({"email": mailbox_exists_message(email)})
            cur.execute("SELECT destination FROM virtual_aliases WHERE source = %s ORDER BY destination LIMIT 3",
                        (email,))
            targets = [str(r[0]) for r in cur.fetchall()]
            if targets:
                raise ValidationError({"email": is_alias_message(email, targets)})
            cur.execute("INSERT INTO virtual_users (domain_id, password, email) VALUES (%s, %s, %s)",
                        (domain_id, stored_hash, email))
        self._credentials_changed([email])  # a failed login before may be cached as "unknown user"
        return email

    # ------------------------------------------------------------ many mailboxes at once (CSV import)

    def _new_mailbox_problems(self, cur: pymysql.cursors.Cursor,
                              emails: Sequence[str]) -> tuple[dict[str, int], dict[str, str]]:
        """For canonical addresses: the ids of their domains that are served here, and for each address
        that _insert_user would refuse, its reason (the same words). A few IN (…) queries, not one per row."""
        domain_ids: dict[str, int] = {}
        for chunk in chunks(sorted({domain_of(e) for e in emails})):
            cur.execute(f"SELECT name, id FROM virtual_domains WHERE name IN ({marks(chunk)})", chunk)
            domain_ids.update((str(n).lower(), int(i)) for n, i in cur.fetchall())
        existing: set[str] = set()
        targets: dict[str, list[str]] = {}
        for chunk in chunks(sorted(set(emails))):
            cur.execute(f"SELECT email FROM virtual_users WHERE email IN ({marks(chunk)})", chunk)
            existing.update(str(e).lower() for (e,) in cur.fetchall())
            cur.execute(f"SELECT source, destination FROM virtual_aliases WHERE source IN ({marks(chunk)})"
                        " ORDER BY source, destination", chunk)
            for source, destination in cur.fetchall():
                targets.setdefault(str(source).lower(), []).append(str(destination))
        problems = {}
        for email in emails:
            domain = domain_of(email)
            if domain not in domain_ids:
                problems[email] = no_domain_message(domain)
            elif email in existing:
                problems[email] = mailbox_exists_message(email)
            elif email in targets:
                problems[email] = is_alias_message(email, targets[email][:3])
        return domain_ids, problems

    def new_mailbox_problems(self, emails: Sequence[str]) -> dict[str, str]:
        """Which of these canonical addresses add_user would refuse for what the database holds (domain
        not served, mailbox exists, address is an alias), with the reason. Changes nothing."""
        if not emails:
            return {}
        with self._write() as cur:
            return self._new_mailbox_problems(cur, emails)[1]

    def mailbox_problem(self, email: str, *, new: bool) -> dict[str, str]:
        """What is wrong with `email` before a password is asked for: {} when a new mailbox could be added
        (new=True) or the mailbox exists (new=False); else {"email": why}. Changes nothing."""
        email = checked_email(email)  # ValidationError naming "email"
        if new:
            problem = self.new_mailbox_problems([email]).get(email)
        else:
            problem = None if self.user_exists(email) else f"the mailbox {email} does not exist"
        return {"email": problem} if problem else {}

    def add_user_hashes(self, rows: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Add many mailboxes, each (address, stored hash) as add_user_hash takes them, in one
        transaction with one multi-row INSERT. A row add_user would refuse (see new_mailbox_problems,
        checked again inside the transaction) or a repeated address is left out: returned with its
        reason; the others are added. Dovecot's auth cache hears of the change once."""
        problems: dict[str, str] = {}
        checked: list[tuple[str, str]] = []
        for email, stored_hash in rows:
            email = checked_email(email)
            if not passwords.is_hash(stored_hash.strip()):
                raise ValidationError({"password_hash": f"{email}: must be a SHA512-CRYPT hash ($6$…)"})
            checked.append((email, passwords.normalize_hash(stored_hash.strip())))
        seen: set[str] = set()
        unique = []
        for email, stored_hash in checked:
            if email in seen:
                problems[email] = f"{email} is listed more than once"
            else:
                seen.add(email)
                unique.append((email, stored_hash))
        if not unique:
            return problems
        with self._write() as cur:
            domain_ids, refused = self._new_mailbox_problems(cur, [e for e, _ in unique])
            values = [(domain_ids[domain_of(e)], h, e) for e, h in unique if e not in refused]
            if values:
                cur.executemany("INSERT INTO virtual_users (domain_id, password, email) VALUES (%s, %s, %s)", values)
        problems.update(refused)
        added = [e for _, _, e in values]
        if added:  # a failed login before may be cached as "unknown user"
            self._credentials_changed(added if len(added) <= _FLUSH_ALL_ABOVE else None)
        return problems

    def set_password(self, email: str, password: str) -> None:
        email = checked_mailbox(email, password)
        stored_hash = passwords.hash_password(password)
        with self._write() as cur:
            if self._one(cur, "SELECT id FROM virtual_users WHERE email = %s", (email,)) is None:
                raise NotFound(f"the mailbox {email} does not exist", "email")
            cur.execute("UPDATE virtual_users SET password = %s WHERE email = %s", (stored_hash, email))
        self._credentials_changed([email])

    def remove_user(self, email: str) -> RemovalSummary:
        """Remove a mailbox and the alias rows pointing to it (the mail on disk stays)."""
        email = checked_email(email)
        with self._write() as cur:
            user_id = self._one(cur, "SELECT id FROM virtual_users WHERE email = %s", (email,))
            if user_id is None:
                raise NotFound(f"the mailbox {email} does not exist", "email")
            aliases = cur.execute("DELETE FROM virtual_aliases WHERE destination = %s", (email,))
            cur.execute("DELETE FROM virtual_users WHERE id = %s", (user_id,))
        self._credentials_changed([email])
        return RemovalSummary(email, 1, int(aliases), (email,))

    def verify_password(self, email: str, password: str) -> bool:
        """Does the mailbox's stored hash accept this password? (NotFound for an unknown mailbox.)"""
        email = checked_email(email)
        stored = self._scalar("SELECT password FROM virtual_users WHERE email = %s", (email,))
        if stored is None:
            raise NotFound(f"the mailbox {email} does not exist", "email")
        return passwords.verify_password(password, str(stored))

    # ------------------------------------------------------------ aliases

    def _alias_where(self, filter: str, domain: str | None) -> tuple[str, list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        if filter:
            pattern = db.like_pattern(filter)
            conditions.append("(source LIKE %s ESCAPE '!' OR destination LIKE %s ESCAPE '!')")
            params += [pattern, pattern]
        if domain is not None:
            conditions.append("domain_id = (SELECT id FROM virtual_domains WHERE name = %s)")
            params.append(checked_domain(domain, "domain"))
        return self._where(conditions), params

    def list_aliases(self, filter: str = "", domain: str | None = None, limit: int = 100,
                     offset: int = 0, order: str | None = None) -> list[AliasRow]:
        """Aliases sorted by source then destination (or `order`: "destination" sorts by destination then
        source; "-" in front for descending); the filter matches either side."""
        check_page(filter, limit, offset)
        order_by = order_by_sql(order, ALIAS_ORDERS, "source")
        where, params = self._alias_where(filter, domain)
        rows = self._read(f"SELECT source, destination FROM virtual_aliases{where}"
                          f" ORDER BY {order_by} LIMIT %s OFFSET %s", (*params, limit, offset))
        return [AliasRow(str(s), str(d)) for s, d in rows]

    def count_aliases(self, filter: str = "", domain: str | None = None) -> int:
        check_page(filter, 1, 0)
        where, params = self._alias_where(filter, domain)
        return int(self._scalar(f"SELECT COUNT(*) FROM virtual_aliases{where}", params))

    def add_alias(self, source: str, destination: str) -> AliasRow:
        """Add source -> destination. source may be '@domain' (catch-all); a destination outside the
        local domains forwards; one inside them must be a mailbox or another alias."""
        source, destination = alias_fields(source, destination)
        domain = domain_of(source)
        with self._write() as cur:
            domain_id = self._one(cur, "SELECT id FROM virtual_domains WHERE name = %s", (domain,))
            if domain_id is None:
                raise ValidationError({"source": f"the domain {domain} is not served here; add it first"})
            if not source.startswith("@") and self._one(
                    cur, "SELECT id FROM virtual_users WHERE email = %s", (source,)) is not None:
                raise ValidationError({"source": f"{source} is a mailbox; an alias would divert its mail"})
            if self._would_bounce(cur, destination):
                raise ValidationError({"destination": f"{destination} is in a domain served here but is neither a "
                                                      "mailbox nor an alias: mail to it would bounce"})
            if self._one(cur, "SELECT id FROM virtual_aliases WHERE source = %s AND destination = %s",
                         (source, destination)) is not None:
                raise AlreadyExists({"source": f"the alias {source} -> {destination} already exists"})
            cur.execute("INSERT INTO virtual_aliases (domain_id, source, destination) VALUES (%s, %s, %s)",
                        (domain_id, source, destination))
        return AliasRow(source, destination)

    def remove_alias(self, source: str, destination: str | None = None) -> int:
        """Remove source -> destination, or every destination of source; returns the rows removed."""
        problems = {}
        try:
            source = checked_source(source)
        except ValidationError as exc:
            problems.update(exc.problems)
        if destination is not None:
            try:
                destination = checked_email(destination, "destination")
            except ValidationError as exc:
                problems.update(exc.problems)
        if problems:
            raise ValidationError(problems)
        with self._write() as cur:
            if destination is None:
                count = cur.execute("DELETE FROM virtual_aliases WHERE source = %s", (source,))
            else:
                count = cur.execute("DELETE FROM virtual_aliases WHERE source = %s AND destination = %s",
                                    (source, destination))
            if count == 0:
                what = f"{source} -> {destination}" if destination else source
                raise NotFound(f"the alias {what} does not exist", "source")
        return int(count)
