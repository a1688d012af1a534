"""The small forms of the Accounts tab: add a domain, an alias or a mailbox, change a password, import a CSV file.
Each OK runs one operation in a thread; its ValidationError problems are shown under the fields they name."""

from __future__ import annotations

from typing import Any

from mailtui.screens.dashboard.common import error_text
from mailtui.screens.dashboard.import_report import ImportReportScreen
from mailtui.screens.widgets.fields import PASSWORDS_DIFFER, FieldRow, PasswordPair
from mailtui.screens.widgets.toggles import Checkbox
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from mailtui.api.operations import Operations
from mailtui.errors import ValidationError
from mailtui.model.defaults import ROLE_ADDRESSES


class AccountForm(ModalScreen[str | None]):
    """A small form whose OK runs one engine call in a thread. The engine's ValidationError problems
    are shown under their fields and nothing changes; other errors become a notification. Dismisses
    with the message to show on success."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    ok_label = "Add"

    def __init__(self, ops: Operations, title: str, rows: list[FieldRow], note: str = "") -> None:
        super().__init__()
        self.ops = ops
        self.title_text = title
        self.note = note
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog account-form"):
            yield Static(self.title_text, classes="pane-title")
            if self.note:
                yield Static(self.note, classes="why")
            yield from self.body()
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield from self.extra_buttons()
                yield Button(self.ok_label, id="form-ok", variant="primary", compact=True)
                yield Button("Cancel", id="form-cancel", compact=True)

    def body(self) -> ComposeResult:
        yield from self.rows
        yield from self.extra()

    def extra(self) -> ComposeResult:
        yield from ()

    def extra_buttons(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.rows[0].input.focus()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#form-cancel")
    def cancel(self) -> None:
        self.dismiss(None)

    def values(self) -> dict[str, str]:
        return {row.key: row.value for row in self.rows}

    def local_problems(self, values: dict[str, str]) -> dict[str, str]:
        return {}

    def apply(self, values: dict[str, str]) -> str:
        """The engine call (runs in a worker thread); returns what to tell the operator."""
        raise NotImplementedError

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        inputs = [row.input for row in self.rows if not row.disabled]
        if event.input in inputs and event.input is not inputs[-1]:
            inputs[inputs.index(event.input) + 1].focus()
        else:
            self.submit()

    @on(Button.Pressed, "#form-ok")
    def submit(self) -> None:
        values = self.values()
        self.show_problems({})
        problems = self.local_problems(values)
        if problems:
            self.show_problems(problems)
            return
        self.run_apply(values)

    @work(thread=True, exclusive=True, group="account-form")
    def run_apply(self, values: dict[str, str]) -> None:
        try:
            message = self.apply(values)
        except ValidationError as exc:
            self.app.call_from_thread(self.show_problems, exc.problems)
            return
        except Exception as exc:
            self.app.call_from_thread(self.app.notify, error_text(exc), title="Not changed", severity="error")
            return
        self.app.call_from_thread(self.dismiss, message)

    def show_problems(self, problems: dict[str, str]) -> None:
        unplaced = []
        for row in self.rows:
            row.show_error(None)
        for key, message in problems.items():
            row = next((r for r in self.rows if key in r.keys), None)
            if row is not None:
                row.show_error(message)
            else:
                unplaced.append(message)
        error = self.query_one("#form-error", Static)
        error.update(Text("\n".join(unplaced), style="red"))
        error.display = bool(unplaced)
        marked = next((row for row in self.rows if row.has_class("has-error")), None)
        if marked is not None:
            marked.input.focus()  # the next keys typed go where the problem is


class AddDomainForm(AccountForm):
    """A new domain, and (on by default) its RFC 2142 role addresses postmaster@ and abuse@ as aliases of a
    mailbox, so bounces and complaints reach a person."""

    def __init__(self, ops: Operations) -> None:
        self.domain_row = FieldRow("Domain", "name", placeholder="example.org")
        self.role_row = FieldRow("Role aliases to", "role_aliases_to",
                                 placeholder="a mailbox here, or an address outside")
        super().__init__(ops, "Add a domain", [self.domain_row, self.role_row],
                         "Only its mailboxes and aliases receive mail: other addresses of the domain are refused "
                         "(550). Then publish its DNS records (the DNS tab, F7).")

    def body(self) -> ComposeResult:
        yield self.domain_row
        yield Checkbox(f"Add {' and '.join(f'{r}@' for r in ROLE_ADDRESSES)} as aliases (RFC 2142)", True,
                       id="cb-roles", compact=True)
        yield self.role_row

    def on_mount(self) -> None:
        super().on_mount()
        self.suggest_target()

    @work(thread=True, group="role-target")
    def suggest_target(self) -> None:
        """The first mailbox, as where role mail goes unless the operator types another address."""
        try:
            first = self.ops.list_users(limit=1)
        except Exception:  # noqa: BLE001 - only a suggestion: the field stays empty
            return
        if first:
            self.app.call_from_thread(self._suggest, first[0].email)

    def _suggest(self, email: str) -> None:
        if not self.role_row.value:
            self.role_row.value = email

    @on(Checkbox.Changed, "#cb-roles")
    def roles_switched(self, event: Checkbox.Changed) -> None:
        self.role_row.disabled = not event.value
        self.role_row.show_error(None)

    def values(self) -> dict[str, str]:
        values = super().values()
        if not self.query_one("#cb-roles", Checkbox).value:
            values.pop("role_aliases_to")
        return values

    def local_problems(self, values: dict[str, str]) -> dict[str, str]:
        if "role_aliases_to" in values and not values["role_aliases_to"].strip():
            return {"role_aliases_to": "is empty: give the mailbox that receives postmaster@ and abuse@ mail, "
                                       "or untick the box"}
        return {}

    def apply(self, values: dict[str, str]) -> str:
        target = values.get("role_aliases_to")
        name = self.ops.add_domain(values["name"], target)
        roles = f"; {' and '.join(f'{r}@{name}' for r in ROLE_ADDRESSES)} go to {target}" if target else ""
        return f"Added the domain {name}{roles}. Publish its DNS records: the DNS tab (F7)."


class AddAliasForm(AccountForm):
    def __init__(self, ops: Operations) -> None:
        super().__init__(ops, "Add an alias", [
            FieldRow("Source", "source", placeholder="name@domain, or @domain for a catch-all"),
            FieldRow("Destination", "destination", placeholder="a mailbox here, or any address outside"),
        ])

    def apply(self, values: dict[str, str]) -> str:
        row = self.ops.add_alias(values["source"], values["destination"])
        return f"Added the alias {row.source} → {row.destination}"


class PasswordForm(AccountForm):
    """Add a mailbox (email given) or change a mailbox's password (email fixed): the password typed
    twice, masked, or generated and shown once."""

    def __init__(self, ops: Operations, email: str | None = None) -> None:
        self.email = email
        rows = [] if email else [FieldRow("Address", "email", placeholder="name@example.org")]
        rows += [FieldRow("Password", "password", password=True),
                 FieldRow("Again", "password2", password=True)]
        title = f"New password for {email}" if email else "Add a mailbox"
        super().__init__(ops, title, rows)
        self.ok_label = "Save" if email else "Add"

    def extra(self) -> ComposeResult:
        yield Static("", id="generated", classes="generated")

    def extra_buttons(self) -> ComposeResult:
        yield Button("Generate", id="form-generate", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#generated").display = False
        self.pair = PasswordPair(*[row for row in self.rows if row.key in ("password", "password2")])

    @on(FieldRow.Edited)
    def passwords_edited(self, event: FieldRow.Edited) -> None:
        self.pair.follow(event.row)

    @on(Input.Blurred)
    def passwords_left(self, event: Input.Blurred) -> None:
        row = next((r for r in self.rows if r.input is event.input), None)
        if row is not None:
            self.pair.follow(row, final=True)

    @on(Button.Pressed, "#form-generate")
    def generate(self) -> None:
        password = self.ops.generate_password()
        for row in self.rows:
            if row.key in ("password", "password2"):
                row.value = password
        shown = self.query_one("#generated", Static)
        shown.update(f"Generated password, shown only now: {password}")
        shown.display = True

    def local_problems(self, values: dict[str, str]) -> dict[str, str]:
        if values["password"] != values["password2"]:
            return {"password2": PASSWORDS_DIFFER}
        return {}

    def apply(self, values: dict[str, str]) -> str:
        if self.email:
            self.ops.set_password(self.email, values["password"])
            return f"Changed the password of {self.email}"
        return f"Added the mailbox {self.ops.add_user(values['email'], values['password'])}"


class ImportForm(AccountForm):
    """Mailboxes from a CSV file on this machine. "Check only" runs the import as a dry run and shows
    its report (the form stays); Import adds every valid row and closes with the report in `report`."""

    ok_label = "Import"

    def __init__(self, ops: Operations) -> None:
        super().__init__(ops, "Import mailboxes from a CSV file",
                         [FieldRow("CSV file", "file", placeholder="/root/mailboxes.csv")],
                         "One mailbox per line: email,password (UTF-8; a first line email,password and lines "
                         "starting with # are skipped). Rows that cannot be added are listed with the reason; "
                         "the others are added.")
        self.report: Any = None
        self.busy = False
        self._dry_run = False

    def extra(self) -> ComposeResult:
        yield Static("", id="import-progress", classes="why")

    def extra_buttons(self) -> ComposeResult:
        yield Button("Check only", id="form-dry-run", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#import-progress").display = False

    @on(Button.Pressed, "#form-dry-run")
    def dry_run(self) -> None:
        self._dry_run = True
        self.submit()

    def run_apply(self, values: dict[str, str]) -> None:  # type: ignore[override]
        dry_run, self._dry_run = self._dry_run, False
        if self.busy:
            return
        self.set_busy(True)
        self.show_progress("Checking the file…")
        self.run_import(values["file"], dry_run)

    def set_busy(self, busy: bool) -> None:
        """While an import runs, the form stays: its report must have somewhere to land."""
        self.busy = busy
        for button in self.query(Button):
            button.disabled = busy

    def action_cancel(self) -> None:
        if self.busy:
            self.app.bell()
            return
        super().action_cancel()

    def show_progress(self, text: str) -> None:
        progress = self.query_one("#import-progress", Static)
        progress.update(text)
        progress.display = bool(text)

    @work(thread=True, exclusive=True, group="account-import")
    def run_import(self, path: str, dry_run: bool) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.show_progress, f"Hashing the passwords: {done:,} of {total:,}…")

        try:
            report = self.ops.import_users(path.strip(), dry_run=dry_run, progress=progress)
        except ValidationError as exc:
            self.app.call_from_thread(self.failed, exc.problems)
            return
        except Exception as exc:
            self.app.call_from_thread(self.failed, {}, error_text(exc))
            return
        self.app.call_from_thread(self.finished, report)

    def failed(self, problems: dict[str, str], error: str = "") -> None:
        self.set_busy(False)
        self.show_progress("")
        self.show_problems(problems)
        if error:
            self.app.notify(error, title="Not imported", severity="error")

    def finished(self, report: Any) -> None:
        self.set_busy(False)
        self.show_progress("")
        if report.dry_run:
            self.app.push_screen(ImportReportScreen(report))
            return
        self.report = report
        self.dismiss(report.summary().capitalize())
