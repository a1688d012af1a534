"""The dashboard's Accounts tab: the view of domains, mailboxes and aliases (accounts_view.py) and the actions
that change them — add, change a password, remove (asking first), import a CSV file."""

from __future__ import annotations

from collections.abc import Callable

from mailtui.screens.dashboard.account_forms import AddAliasForm, AddDomainForm, ImportForm, PasswordForm
from mailtui.screens.dashboard.accounts_view import AccountsView
from mailtui.screens.dashboard.common import Confirm, error_text
from mailtui.screens.dashboard.import_report import ImportReportScreen
from mailtui.screens.widgets.fields import with_label
from textual import on, work
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import Button

from mailtui.api.types import RemovalSummary
from mailtui.errors import ValidationError

# How many aliases the remove-mailbox confirmation names before an ellipsis.
ALIASES_NAMED = 5

class AccountsPanel(AccountsView):
    """The accounts view with its actions."""

    BINDINGS = [
        Binding("n", "add", "Add"),
        Binding("p", "password", "Password"),
        Binding("x", "remove", "Remove"),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "filter", "Filter"),
        # Sorting is done by the database, so only its columns sort (not Messages, Size, Last login).
        Binding("o", "sort", "Sort", tooltip="Sort by the next column (or click a column's title)"),
        Binding("O", "reverse", "Reverse the sort", show=False),
        Binding("i", "import", "Import", tooltip="Add mailboxes from a CSV file of email,password lines"),
        Binding("1", "view('domains')", "Domains", show=False),
        Binding("2", "view('mailboxes')", "Mailboxes", show=False),
        Binding("3", "view('aliases')", "Aliases", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Passwords and imports are the mailboxes' (hidden from the footer on the other views)."""
        if action in ("password", "import"):
            return self.view == "mailboxes"
        return True

    # ------------------------------------------------------------ actions

    def selected(self) -> str | None:
        table = self.table
        if table.row_count == 0 or self.shown_view != self.view:
            self.notify("Nothing selected", severity="warning")
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return str(key) if key is not None else None

    def changed(self, message: str | None) -> None:
        if message:
            self.notify(message)
            self.reload(counts=True)

    @on(Button.Pressed, "#accounts-add")
    def action_add(self) -> None:
        form = {"domains": AddDomainForm, "mailboxes": PasswordForm, "aliases": AddAliasForm}[self.view]
        self.app.push_screen(form(self.ops), self.changed)

    @on(Button.Pressed, "#accounts-import")
    def action_import(self) -> None:
        if self.view != "mailboxes":
            self.action_view("mailboxes")
        form = ImportForm(self.ops)

        def done(message: str | None) -> None:
            if message and form.report is not None:
                self.changed(message)
                self.app.push_screen(ImportReportScreen(form.report))

        self.app.push_screen(form, done)

    @on(Button.Pressed, "#accounts-password")
    def action_password(self) -> None:
        if self.view != "mailboxes":
            self.notify("Passwords belong to mailboxes: press 2 for the mailboxes", severity="warning")
            return
        email = self.selected()
        if email:
            self.app.push_screen(PasswordForm(self.ops, email), self.changed)

    @on(Button.Pressed, "#accounts-remove")
    def action_remove(self) -> None:
        key = self.selected()
        if key is None:
            return
        if self.view == "mailboxes":
            self.preview_mailbox(key)
        elif self.view == "aliases":
            source, destination = key.split("\n", 1)

            def answered_alias(choice: str | None) -> None:
                if choice == "remove":
                    self.run_change(lambda: self._remove_alias(source, destination))

            self.app.push_screen(Confirm("Remove this alias?", f"{source} → {destination}",
                                         [("remove", "Remove", "error")]), answered_alias)
        else:
            self.preview_domain(key)

    @work(thread=True, group="accounts-preview")
    def preview_mailbox(self, email: str) -> None:
        """The aliases that deliver to the mailbox (they go with it), named in the confirmation."""
        try:
            rows = self.ops.list_aliases(email, limit=ALIASES_NAMED + 50)
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_text(exc), title="Not changed", severity="error")
            return
        sources = [row.source for row in rows if row.destination == email]
        self.app.call_from_thread(self._confirm_mailbox, email, sources)

    def _confirm_mailbox(self, email: str, alias_sources: list[str]) -> None:
        if alias_sources:
            named = ", ".join(alias_sources[:ALIASES_NAMED]) + ("…" if len(alias_sources) > ALIASES_NAMED else "")
            aliases = f"These aliases stop delivering to it (their rows to it go too): {named}."
        else:
            aliases = "No alias delivers to it."
        message = f"Its login stops working. {aliases}\nKeep its mail on disk (the maildir), or delete it as well?"

        def answered(choice: str | None) -> None:
            if choice in ("keep", "delete"):
                self.run_change(lambda: self._remove_user(email, choice == "delete"))

        self.app.push_screen(Confirm(
            f"Remove the mailbox {email}?", message,
            [("keep", "Remove, keep mail", "warning"), ("delete", "Remove and delete mail", "error")]), answered)

    def _remove_user(self, email: str, delete: bool) -> str:
        summary = self.ops.remove_user(email)
        aliases = f" and {summary.aliases} alias{'es' if summary.aliases != 1 else ''}" if summary.aliases else ""
        if delete:
            path = self.ops.delete_maildir(email)
            return f"Removed {email}{aliases}; deleted its mail" + (f" ({path})" if path else " (there was none)")
        return f"Removed {email}{aliases}; its mail stays on disk"

    def _remove_alias(self, source: str, destination: str) -> str:
        self.ops.remove_alias(source, destination)
        return f"Removed the alias {source} → {destination}"

    @work(thread=True, group="accounts-preview")
    def preview_domain(self, name: str) -> None:
        try:
            summary = self.ops.removal_preview(name)
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_text(exc), title="Not changed", severity="error")
            return
        self.app.call_from_thread(self._confirm_domain, name, summary)

    def _confirm_domain(self, name: str, summary: RemovalSummary) -> None:
        sample = ", ".join(summary.user_sample[:3])
        more = "…" if summary.users > 3 else ""
        message = f"This also removes {summary}" + (f" ({sample}{more})" if sample else "") + \
            ".\nTheir mail stays on disk."

        def answered(choice: str | None) -> None:
            if choice == "remove":
                self.run_change(lambda: f"Removed {name} with {self.ops.remove_domain(name)}")

        self.app.push_screen(Confirm(f"Remove the domain {name}?", message, [("remove", "Remove", "error")]),
                             answered)

    @work(thread=True, group="accounts-change")
    def run_change(self, change: Callable[[], str]) -> None:
        try:
            message = change()
        except ValidationError as exc:
            text = "\n".join(with_label(k, v) for k, v in exc.problems.items())
            self.app.call_from_thread(self.notify, text, title="Not changed", severity="error")
            return
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_text(exc), title="Not changed", severity="error")
            return
        self.app.call_from_thread(self.changed, message)
