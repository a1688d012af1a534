"""The accounts' rows and errors, and the checks every input goes through before it reaches SQL
(canonical names, page bounds, the whitelisted sort orders)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mailtui.errors import NotFound as NotFound  # the domain, mailbox or alias does not exist (re-exported)
from mailtui.errors import ValidationError
from mailtui.model import validate

MAX_PAGE = 1000
# The columns a list may be sorted by (ORDER BY in SQL, then LIMIT/OFFSET): `order` names one of these,
# with a leading "-" for descending. Anything else is refused, so no text from outside reaches the SQL.
# Each maps the name to the ORDER BY columns (the later ones break ties).
DOMAIN_ORDERS = {"name": ("d.name",), "mailboxes": ("2", "d.name"), "aliases": ("3", "d.name")}
USER_ORDERS = {"email": ("email",)}
ALIAS_ORDERS = {"source": ("source", "destination"), "destination": ("destination", "source")}
# Rows per IN (…) list when checking many addresses at once.
IN_CHUNK = 500


class AlreadyExists(ValidationError):
    """The domain, mailbox or alias is already there (a ValidationError keyed by the field)."""


@dataclass(frozen=True)
class DomainRow:
    name: str
    users: int
    aliases: int


@dataclass(frozen=True)
class UserRow:
    email: str
    domain: str


@dataclass(frozen=True)
class AliasRow:
    source: str
    destination: str

    @property
    def is_catch_all(self) -> bool:
        return self.source.startswith("@")


@dataclass(frozen=True)
class RemovalSummary:
    """What a removal takes with it. For a domain: its mailboxes and aliases; for a mailbox: itself
    and the alias rows that pointed to it. `user_sample` holds the first few addresses (sorted)."""

    name: str
    users: int
    aliases: int
    user_sample: tuple[str, ...] = ()

    def __str__(self) -> str:
        users = f"{self.users} mailbox{'es' if self.users != 1 else ''}"
        aliases = f"{self.aliases} alias{'es' if self.aliases != 1 else ''}"
        return f"{users} and {aliases}"


# ---------------------------------------------------------------- input checks

def checked_domain(value: str, field: str = "name") -> str:
    name = validate.canonical_domain(value)
    problem = validate.domain_problem(name)
    if problem:
        raise ValidationError({field: problem})
    return name


def checked_email(value: str, field: str = "email") -> str:
    address = validate.canonical_address(value)
    problem = validate.address_problem(address)
    if problem:
        raise ValidationError({field: problem})
    return address


def checked_source(value: str) -> str:
    source = validate.canonical_address(value)
    problem = validate.alias_source_problem(source)
    if problem:
        raise ValidationError({"source": problem})
    return source


def check_page(filter: str, limit: int, offset: int) -> None:
    problems = {}
    if not isinstance(filter, str) or len(filter) > 320:
        problems["filter"] = "must be text of at most 320 characters"
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        problems["limit"] = f"must be between 1 and {MAX_PAGE}"
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        problems["offset"] = "must be 0 or more"
    if problems:
        raise ValidationError(problems)


def order_by_sql(order: str | None, allowed: dict[str, tuple[str, ...]], default: str) -> str:
    """The ORDER BY clause for a whitelisted `order` ("name" or "-name" for descending): the exact
    reverse of the ascending order, so paging backwards through either is consistent."""
    name = order or default
    if not isinstance(name, str) or name.removeprefix("-") not in allowed:
        raise ValidationError({"order": f"must be one of {', '.join(allowed)} (a leading - sorts descending)"})
    direction = " DESC" if name.startswith("-") else ""
    return ", ".join(f"{column}{direction}" for column in allowed[name.removeprefix("-")])


def checked_mailbox(email: str, password: str) -> str:
    """The canonical address, or ValidationError naming every problem with the address and password."""
    problems = {}
    try:
        email = checked_email(email)
    except ValidationError as exc:
        problems.update(exc.problems)
    password_problem = validate.mailbox_password_problem(password)
    if password_problem:
        problems["password"] = password_problem
    if problems:
        raise ValidationError(problems)
    return email


def alias_fields(source: str, destination: str) -> tuple[str, str]:
    """Canonical (source, destination) of an alias, or ValidationError naming every field's problem.
    Syntax only: whether the domains and addresses exist is the database's business."""
    problems = {}
    try:
        source = checked_source(source)
    except ValidationError as exc:
        problems.update(exc.problems)
    try:
        destination = checked_email(destination, "destination")
    except ValidationError as exc:
        problems.update(exc.problems)
    if not problems and source == destination:
        problems["destination"] = "an alias cannot point to itself"
    if problems:
        raise ValidationError(problems)
    return source, destination


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[1]


def no_domain_message(domain: str) -> str:
    return f"the domain {domain} is not served here; add it first"


def mailbox_exists_message(email: str) -> str:
    return f"the mailbox {email} already exists"


def is_alias_message(email: str, targets: Sequence[str]) -> str:
    return (f"{email} is an alias (-> {', '.join(targets)}); an alias takes precedence over a mailbox, "
            "so remove the alias first")


def chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def marks(chunk: Sequence[object]) -> str:
    return ", ".join(["%s"] * len(chunk))
