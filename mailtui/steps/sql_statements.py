"""The SQL the database step writes: statements with their masked display, a resource's plan, the GRANT
and account statements, and the tutorial's schema (assets/schema.sql) parsed into table specs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources as importlib_resources

from mailtui.stack import db as dbmod

MASK = "'***'"


# ---------------------------------------------------------------- statements and their display

@dataclass(frozen=True)
class Sql:
    """One statement with %s parameters (PyMySQL escapes them). `secret` lists the positions of
    parameters never shown (passwords, hashes). `expect` is the row count an INSERT/UPDATE must hit."""

    text: str
    params: tuple[object, ...] = ()
    secret: frozenset[int] = frozenset()
    expect: int | None = None

    def render(self) -> str:
        if not self.params:
            return self.text + ";"
        shown = tuple(MASK if i in self.secret else dbmod.literal(p) for i, p in enumerate(self.params))
        return (self.text % shown) + ";"

    def with_param(self, old: object, new: object) -> Sql:
        return Sql(self.text, tuple(new if p == old else p for p in self.params), self.secret, self.expect)


def one_line(text: str, width: int = 160) -> str:
    """A statement for a progress line: whitespace collapsed, cut at `width`."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def render(statements: Sequence[Sql]) -> str:
    return "\n".join(s.render() for s in statements)


@dataclass
class SqlPlan:
    """What one resource would do. Empty (falsy) when the resource is in place."""

    summary: str = ""
    statements: list[Sql] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, not fixed by mailtui
    blocker: str = ""  # cannot be brought into place automatically: apply fails with this

    def __bool__(self) -> bool:
        return bool(self.statements or self.notes or self.blocker)

    def text(self) -> str:
        parts = [render(self.statements)] if self.statements else []
        parts += [f"-- note: {n}" for n in self.notes]
        if self.blocker:
            parts.append(f"-- cannot continue: {self.blocker}")
        return "\n".join(parts)


def create_user_sql(user: str, host: str, password: str) -> list[Sql]:
    return [
        Sql("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, host, password), frozenset({2})),
        # For an account that already existed with another password (IF NOT EXISTS kept it).
        Sql("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password), frozenset({2})),
    ]


def grant_sql(privileges: Sequence[str], database: str, user: str, host: str) -> Sql:
    return Sql(f"GRANT {', '.join(privileges)} ON {dbmod.grant_database(database)}.* TO %s@%s", (user, host))


def revoke_sql(privileges: Sequence[str], stored_schema: str, user: str, host: str) -> Sql:
    # stored_schema is the grant's database pattern as the server keeps it (e.g. mail\_db).
    return Sql(f"REVOKE {', '.join(privileges)} ON `{stored_schema}`.* FROM %s@%s", (user, host))


# ---------------------------------------------------------------- the schema (assets/schema.sql)

@dataclass(frozen=True)
class TableSpec:
    name: str
    create: str  # CREATE TABLE IF NOT EXISTS `name` (…) as in schema.sql (unqualified)
    columns: tuple[str, ...]
    varchar: dict[str, int]  # column -> length
    unique: dict[str, tuple[str, ...]]  # key name -> columns

    def qualified_create(self, database: str) -> str:
        q = dbmod.quote_identifier(database)
        text = self.create.replace(f"CREATE TABLE IF NOT EXISTS `{self.name}`",
                                   f"CREATE TABLE IF NOT EXISTS {q}.`{self.name}`", 1)
        return re.sub(r"REFERENCES `(\w+)`", lambda m: f"REFERENCES {q}.`{m.group(1)}`", text)


_COLUMN = re.compile(r"^\s*`(\w+)`\s+(\w+)(?:\((\d+)\))?")
_UNIQUE = re.compile(r"^\s*UNIQUE KEY `(\w+)` \(([^)]*)\)")
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS `(\w+)`")


def schema_text() -> str:
    return (importlib_resources.files("mailtui.assets") / "schema.sql").read_text(encoding="utf-8")


def parse_schema(text: str) -> list[TableSpec]:
    statements = []
    current: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("--") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    specs = []
    for statement in statements:
        match = _TABLE.search(statement)
        if not match:
            continue
        columns, varchar, unique = [], {}, {}
        for line in statement.splitlines()[1:]:
            if (u := _UNIQUE.match(line)) is not None:
                unique[u.group(1)] = tuple(c.strip().strip("`") for c in u.group(2).split(","))
            elif (c := _COLUMN.match(line)) is not None:
                columns.append(c.group(1))
                if c.group(2).lower() == "varchar":
                    varchar[c.group(1)] = int(c.group(3))
        specs.append(TableSpec(match.group(1), statement, tuple(columns), varchar, unique))
    return specs
