"""The Database form: where the mail database lives and its two accounts (passwords generated when empty)."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import FieldRow, int_problem
from mailtui.screens.widgets.toggles import Checkbox
from mailtui.screens.wizard.form import (
    FormPane,
    optional_check,
    secret_check,
)
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Answers


class DatabaseForm(FormPane):
    stage = "database"
    heading = "2 · Database"
    step_name = "database"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Server", "database.host", problem=validate.host_problem)
        yield FieldRow("Port", "database.port", problem=int_problem(validate.port_problem))
        yield FieldRow("Database", "database.name", problem=lambda v: validate.identifier_problem(v, 64))
        yield FieldRow("Lookup user", "database.user", problem=lambda v: validate.identifier_problem(v, 32))
        yield FieldRow("Its password", "database.password", password=True, problem=secret_check)
        yield FieldRow("Admin user", "database.admin_user", problem=lambda v: validate.identifier_problem(v, 32))
        yield FieldRow("Its password", "database.admin_password", password=True, problem=secret_check)
        yield Checkbox("Show the passwords", False, id="cb-db-show", compact=True)
        yield Static("Remote server only — an account that may create the database (used once, never saved):",
                     classes="note")
        yield FieldRow("Remote admin", "database.root_user", optional=True,
                       problem=optional_check(lambda v: validate.identifier_problem(v, 32)))
        yield FieldRow("Its password", "database.root_password", password=True, optional=True)

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        db = a.database
        values = {
            "database.host": db.host, "database.port": str(db.port), "database.name": db.name,
            "database.user": db.user, "database.password": db.password or self.ops.generate_password(),
            "database.admin_user": db.admin_user,
            "database.admin_password": db.admin_password or self.ops.generate_password(),
            "database.root_user": db.root_user, "database.root_password": db.root_password,
        }
        for f in self.fields():
            f.value = values[f.key]

    def _v(self, key: str) -> str:
        f = self.field_for(key)
        assert f is not None
        return f.value

    def store(self, a: Answers) -> Answers:
        port = self._v("database.port").strip()
        return replace(a, database=replace(
            a.database, host=self._v("database.host").strip(), port=validate.whole_number(port) or 0,
            name=self._v("database.name").strip(), user=self._v("database.user").strip(),
            password=self._v("database.password"), admin_user=self._v("database.admin_user").strip(),
            admin_password=self._v("database.admin_password"), root_user=self._v("database.root_user").strip(),
            root_password=self._v("database.root_password")))

    def extra_problems(self) -> dict[str, str]:
        if self._v("database.user").strip() == self._v("database.admin_user").strip():
            return {"database.admin_user": "must differ from the lookup user (that one is read-only)"}
        return {}

    @on(Checkbox.Changed, "#cb-db-show")
    def show_passwords(self, event: Checkbox.Changed) -> None:
        for key in ("database.password", "database.admin_password", "database.root_password"):
            f = self.field_for(key)
            if f is not None:
                f.input.password = not event.value
