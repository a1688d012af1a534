"""The Users form: the first mailbox (a password typed twice, or generated and shown once) and its aliases."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import PASSWORDS_DIFFER, FieldRow, PasswordPair
from mailtui.screens.wizard.form import (
    FormPane,
    optional_check,
)
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Static

from mailtui.api.operations import Operations
from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Alias, Answers, User

ALIAS_ROWS = 3


class UsersForm(FormPane):
    stage = "users"
    heading = "4 · First user and aliases"
    why_text = ("The first mailbox, and addresses that forward to it. Other mail servers expect "
                "postmaster@ and abuse@ to reach a person.")

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops)
        self.derived: dict[str, str] = {}  # field key -> the default it was given (kept in step with the domain)
        self.alias_rows = ALIAS_ROWS
        self.existing = ""  # the first mailbox of an earlier install: its password stays unless one is typed
        self.loaded_hash = ""  # the hash of the loaded answers' first user (no password typed since)
        self.continuing = False  # the answers are those of the install under way (re-attached), not a rerun

    def keeps_password(self) -> bool:
        """Password left empty for the mailbox an earlier install made: it keeps its password."""
        return bool(self.existing) and self._f("users[0].email").value.strip() == self.existing \
            and not self._f("users[0].password").value

    def password_problem(self, value: str) -> str | None:
        if not value and self.keeps_password():
            return None
        return validate.mailbox_password_problem(value)

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Email", "users[0].email", problem=validate.address_problem)
        yield FieldRow("Password", "users[0].password", password=True, problem=self.password_problem)
        yield FieldRow("Again", "users[0].password2", password=True)
        with Horizontal(classes="inline-buttons"):
            yield Button("Generate a password", id="btn-generate", compact=True)
        yield Static("", id="generated", classes="generated")
        yield Static("Aliases (address → where it goes; leave a row empty to skip it):", classes="note")
        for i in range(self.alias_rows):
            yield FieldRow(f"Alias {i + 1}", f"aliases[{i}].source", optional=True,
                           problem=optional_check(validate.alias_source_problem))
            yield FieldRow("  goes to", f"aliases[{i}].destination", optional=True,
                           problem=optional_check(validate.address_problem))

    def _f(self, key: str) -> FieldRow:
        f = self.field_for(key)
        assert f is not None, key
        return f

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        user = a.users[0] if a.users else User("")
        self.existing = user.email if (user.password_hash or user.keep_password) and not user.password else ""
        self.loaded_hash = user.password_hash if not user.password else ""
        self._f("users[0].email").value = user.email
        for key in ("users[0].password", "users[0].password2"):
            row = self._f(key)
            row.value = user.password
            row.input.placeholder = "unchanged (type a new one to change it)" if self.existing else ""
        for i in range(self.alias_rows):
            alias = a.aliases[i] if i < len(a.aliases) else Alias("", "")
            self._f(f"aliases[{i}].source").value = alias.source
            self._f(f"aliases[{i}].destination").value = alias.destination
        # Other servers expect postmaster@ and abuse@ to reach a person: offer them where missing.
        domain = a.domains[0].name if a.domains else ""
        if domain and user.email:
            sources = {x.source for x in a.aliases}
            free = [i for i in range(self.alias_rows) if not self._f(f"aliases[{i}].source").value]
            for local in ("postmaster", "abuse"):
                if f"{local}@{domain}" not in sources and free:
                    i = free.pop(0)
                    self._f(f"aliases[{i}].source").value = f"{local}@{domain}"
                    self._f(f"aliases[{i}].destination").value = user.email
        self.derived = {f.key: f.value for f in self.fields() if "password" not in f.key}
        self.domain_seen = a.domains[0].name if a.domains else ""
        self.email_seen = user.email

    def on_mount(self) -> None:
        self.pair = PasswordPair(self._f("users[0].password"), self._f("users[0].password2"))
        self.generated = ""
        self.query_one("#generated").display = False

    @on(FieldRow.Edited)
    def edited(self, event: FieldRow.Edited) -> None:
        self.pair.follow(event.row)
        self.follow_email(event)
        if event.row.key == "users[0].password" and self.generated and event.value != self.generated:
            self.generated = ""  # a password of the operator's own: the generated one is gone
            self.query_one("#generated").display = False

    @on(Input.Blurred)
    def passwords_left(self, event: Input.Blurred) -> None:
        row = next((f for f in self.fields() if f.input is event.input), None)
        if row is not None:
            self.pair.follow(row, final=True)

    def follow_email(self, event: FieldRow.Edited) -> None:
        """Alias targets nobody edited go where the first mailbox goes: type alice@ over admin@ and
        postmaster@ and abuse@ follow (an edited target stays as typed)."""
        if event.row.key != "users[0].email":
            return
        new = event.value.strip()
        if not new:
            return  # the field emptied to type a new address: the targets wait for it
        old = getattr(self, "email_seen", "")
        self.email_seen = new
        if not old or old == new:
            return
        for i in range(self.alias_rows):
            f = self._f(f"aliases[{i}].destination")
            if f.value == old and self.derived.get(f.key) == old:
                self.derived[f.key] = new
                f.value = new

    def follow_domain(self, domain: str) -> None:
        """Keep the addresses nobody edited (admin@, postmaster@, abuse@ …) in the domain typed on Postfix."""
        old = getattr(self, "domain_seen", "")
        self.domain_seen = domain
        if not domain or not old or domain == old:
            return
        for f in self.fields():
            if "password" in f.key:
                continue
            value = f.value
            if value == self.derived.get(f.key) and value.endswith(f"@{old}"):
                f.value = value[: -len(old)] + domain
                self.derived[f.key] = f.value

    @on(Button.Pressed, "#btn-generate")
    def generate(self) -> None:
        password = self.ops.generate_password()
        self._f("users[0].password").value = password
        self._f("users[0].password2").value = password
        shown = self.query_one("#generated", Static)
        shown.update(f"Generated password: {password}\nNote it now: it is not shown again.")
        shown.display = True
        self.generated = password

    def store(self, a: Answers) -> Answers:
        email = self._f("users[0].email").value.strip()
        if self.keeps_password() and self.continuing and self.loaded_hash:
            # The install under way (re-attached to its packages-only run): the password the operator
            # typed before the terminal went, as its hash — that mailbox does not exist yet to keep one.
            first = User(email, password_hash=self.loaded_hash)
        elif self.keeps_password():
            first = User(email, keep_password=True)
        else:
            first = User(email, self._f("users[0].password").value)
        aliases = []
        self.alias_keys: dict[str, str] = {}
        for i in range(self.alias_rows):
            src = self._f(f"aliases[{i}].source").value.strip()
            dst = self._f(f"aliases[{i}].destination").value.strip()
            if src or dst:
                n = len(aliases)
                self.alias_keys[f"aliases[{n}].source"] = f"aliases[{i}].source"
                self.alias_keys[f"aliases[{n}].destination"] = f"aliases[{i}].destination"
                aliases.append(Alias(src, dst))
        return replace(a, users=[first, *a.users[1:]], aliases=aliases + a.aliases[self.alias_rows:])

    def field_for(self, key: str) -> FieldRow | None:
        key = getattr(self, "alias_keys", {}).get(key, key)
        return super().field_for(key)

    def extra_problems(self) -> dict[str, str]:
        p: dict[str, str] = {}
        if self._f("users[0].password").value != self._f("users[0].password2").value:
            p["users[0].password2"] = PASSWORDS_DIFFER
        for i in range(self.alias_rows):
            src = self._f(f"aliases[{i}].source").value.strip()
            dst = self._f(f"aliases[{i}].destination").value.strip()
            if src and not dst:
                p[f"aliases[{i}].destination"] = "is empty (where should the alias go?)"
            if dst and not src:
                p[f"aliases[{i}].source"] = "is empty (which address forwards?)"
        return p
