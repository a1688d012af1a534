"""The dashboard's Accounts tab: domains, mailboxes and aliases, and the forms that change them.

Every list is one page asked from the engine (filter, limit, offset in SQL): 100,000 mailboxes cost
one screenful. Engine calls run in thread workers (the Engine keeps one connection per thread).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Static, Tab, Tabs
from textual.worker import get_current_worker

from mailtui.errors import ValidationError

from .dashboard_common import Confirm, error_text, human_size
from .widgets import FieldRow, with_label

if TYPE_CHECKING:
    from .engine import Engine

VIEWS = ("domains", "mailboxes", "aliases")
VIEW_TITLES = {"domains": "Domains", "mailboxes": "Mailboxes", "aliases": "Aliases"}
COLUMNS = {
    "domains": ("Domain", "Mailboxes", "Aliases"),
    "mailboxes": ("Address", "Messages", "Size"),
    "aliases": ("Source", "Destination", ""),
}
DEBOUNCE = 0.3
DEFAULT_PAGE = 10
MAX_PAGE = 1000


class AccountForm(ModalScreen[str | None]):
    """A small form whose OK runs one engine call in a thread. The engine's ValidationError problems
    are shown under their fields and nothing changes; other errors become a notification. Dismisses
    with the message to show on success."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    ok_label = "Add"

    def __init__(self, engine: Engine, title: str, rows: list[FieldRow], note: str = "") -> None:
        super().__init__()
        self.engine = engine
        self.title_text = title
        self.note = note
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog account-form"):
            yield Static(self.title_text, classes="pane-title")
            if self.note:
                yield Static(self.note, classes="why")
            yield from self.rows
            yield from self.extra()
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield from self.extra_buttons()
                yield Button(self.ok_label, id="form-ok", variant="primary", compact=True)
                yield Button("Cancel", id="form-cancel", compact=True)

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
        inputs = [row.input for row in self.rows]
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


class AddDomainForm(AccountForm):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, "Add a domain", [FieldRow("Domain", "name", placeholder="example.org")],
                         "Mail for every address of the domain is then accepted here.")

    def apply(self, values: dict[str, str]) -> str:
        return f"Added the domain {self.engine.add_domain(values['name'])}"


class AddAliasForm(AccountForm):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, "Add an alias", [
            FieldRow("Source", "source", placeholder="name@domain, or @domain for a catch-all"),
            FieldRow("Destination", "destination", placeholder="a mailbox here, or any address outside"),
        ])

    def apply(self, values: dict[str, str]) -> str:
        row = self.engine.add_alias(values["source"], values["destination"])
        return f"Added the alias {row.source} → {row.destination}"


class PasswordForm(AccountForm):
    """Add a mailbox (email given) or change a mailbox's password (email fixed): the password typed
    twice, masked, or generated and shown once."""

    def __init__(self, engine: Engine, email: str | None = None) -> None:
        self.email = email
        rows = [] if email else [FieldRow("Address", "email", placeholder="name@example.org")]
        rows += [FieldRow("Password", "password", password=True),
                 FieldRow("Again", "password2", password=True)]
        title = f"New password for {email}" if email else "Add a mailbox"
        super().__init__(engine, title, rows)
        self.ok_label = "Save" if email else "Add"

    def extra(self) -> ComposeResult:
        yield Static("", id="generated", classes="generated")

    def extra_buttons(self) -> ComposeResult:
        yield Button("Generate", id="form-generate", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#generated").display = False

    @on(Button.Pressed, "#form-generate")
    def generate(self) -> None:
        password = self.engine.generate_password()
        for row in self.rows:
            if row.key in ("password", "password2"):
                row.value = password
        shown = self.query_one("#generated", Static)
        shown.update(f"Generated password, shown only now: {password}")
        shown.display = True

    def local_problems(self, values: dict[str, str]) -> dict[str, str]:
        if values["password"] != values["password2"]:
            return {"password2": "does not match the password"}
        return {}

    def apply(self, values: dict[str, str]) -> str:
        if self.email:
            self.engine.set_password(self.email, values["password"])
            return f"Changed the password of {self.email}"
        return f"Added the mailbox {self.engine.add_user(values['email'], values['password'])}"


# ---------------------------------------------------------------- the accounts panel

class AccountsPanel(Vertical):
    """Domains / Mailboxes / Aliases: one DataTable, one page at a time, filtered in the engine."""

    BINDINGS = [
        Binding("n", "add", "Add"),
        Binding("p", "password", "Password"),
        Binding("x", "remove", "Remove"),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("1", "view('domains')", "Domains", show=False),
        Binding("2", "view('mailboxes')", "Mailboxes", show=False),
        Binding("3", "view('aliases')", "Aliases", show=False),
    ]

    class PageLoaded(Message):
        def __init__(self, view: str, filter: str, offset: int, limit: int, total: int,
                     rows: list[tuple[str, tuple[Any, ...]]], error: str = "") -> None:
            super().__init__()
            self.view, self.filter, self.offset, self.limit = view, filter, offset, limit
            self.total, self.rows, self.error = total, rows, error

    class CountsLoaded(Message):
        def __init__(self, counts: dict[str, int]) -> None:
            super().__init__()
            self.counts = counts

    def __init__(self, engine: Engine) -> None:
        super().__init__(id="accounts")
        self.engine = engine
        self.view = "domains"
        self.filters = dict.fromkeys(VIEWS, "")
        self.offsets = dict.fromkeys(VIEWS, 0)
        self.total = 0
        self.limit = DEFAULT_PAGE
        self.shown_view = ""
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(VIEW_TITLES[v], id=f"view-{v}") for v in VIEWS), id="account-views")
        with Horizontal(id="accounts-filter-row"):
            yield Label("Filter", id="accounts-filter-label")
            yield Input(placeholder="type to filter (part of a name or address)", id="accounts-filter",
                        compact=True)
        yield DataTable(id="accounts-table", cursor_type="row")
        with Horizontal(id="accounts-bar"):
            yield Static("loading…", id="accounts-status")
            yield Button("Add", id="accounts-add", compact=True)
            yield Button("Password", id="accounts-password", compact=True)
            yield Button("Remove", id="accounts-remove", compact=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#accounts-table", DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#accounts-filter", Input)

    def on_mount(self) -> None:
        self.query_one("#accounts-password").display = False
        self.call_after_refresh(self.reload)
        self.load_counts()

    def on_resize(self) -> None:
        self.call_after_refresh(self._maybe_repage)

    def _page_size(self) -> int:
        height = self.table.size.height
        return max(1, min(MAX_PAGE, height - 1)) if height > 1 else DEFAULT_PAGE

    def _maybe_repage(self) -> None:
        if self._page_size() != self.limit:
            self.reload()

    # ------------------------------------------------------------ loading

    def reload(self, *, counts: bool = False) -> None:
        self.limit = self._page_size()
        self.load_page(self.view, self.filters[self.view], self.offsets[self.view], self.limit)
        if counts:
            self.load_counts()

    @work(thread=True, exclusive=True, group="accounts-page")
    def load_page(self, view: str, filter: str, offset: int, limit: int) -> None:
        worker = get_current_worker()
        try:
            total, rows = self._fetch(view, filter, offset, limit)
            if offset and offset >= total:  # the last page emptied (a removal, a narrower filter)
                offset = max(0, (total - 1) // limit * limit)
                total, rows = self._fetch(view, filter, offset, limit)
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(self.PageLoaded(view, filter, offset, limit, 0, [], error_text(exc)))
            return
        if not worker.is_cancelled:
            self.post_message(self.PageLoaded(view, filter, offset, limit, total, rows))

    def _fetch(self, view: str, filter: str, offset: int, limit: int) -> tuple[int, list[tuple[str, tuple]]]:
        e = self.engine
        if view == "domains":
            total = e.count_domains(filter)
            return total, [(d.name, (d.name, d.users, d.aliases)) for d in e.list_domains(filter, limit, offset)]
        if view == "mailboxes":
            total = e.count_users(filter)
            rows = []
            for u in e.list_users(filter, limit, offset):
                try:  # for this page only: a maildir walk per mailbox
                    st = e.mailbox_stats(u.email)
                    messages, size = st.messages, human_size(st.bytes)
                except Exception:
                    messages, size = "?", "?"  # type: ignore[assignment]
                rows.append((u.email, (u.email, messages, size)))
            return total, rows
        total = e.count_aliases(filter)
        return total, [(f"{a.source}\n{a.destination}",
                        (a.source, a.destination, "catch-all" if a.source.startswith("@") else ""))
                       for a in e.list_aliases(filter, limit, offset)]

    @work(thread=True, exclusive=True, group="accounts-counts")
    def load_counts(self) -> None:
        try:
            counts = {"domains": self.engine.count_domains(""), "mailboxes": self.engine.count_users(""),
                      "aliases": self.engine.count_aliases("")}
        except Exception:
            return  # the page load reports the error
        self.post_message(self.CountsLoaded(counts))

    def on_accounts_panel_counts_loaded(self, message: CountsLoaded) -> None:
        for view, count in message.counts.items():
            self.query_one(f"#view-{view}", Tab).label = f"{VIEW_TITLES[view]} ({count:,})"

    def on_accounts_panel_page_loaded(self, message: PageLoaded) -> None:
        if message.view != self.view or message.filter != self.filters[self.view]:
            return  # an answer to an older question
        status = self.query_one("#accounts-status", Static)
        if message.error:
            self.notify(message.error, title="Could not read the accounts", severity="error")
            status.update(Text("could not read the accounts", style="red"))
            return
        self.offsets[self.view] = message.offset
        self.total = message.total
        table = self.table
        row_before = table.cursor_row
        if self.shown_view != self.view:
            table.clear(columns=True)
            for title in COLUMNS[self.view]:
                table.add_column(title, key=title or "kind")
            self.shown_view = self.view
            row_before = 0
        else:
            table.clear()
        for key, cells in message.rows:
            table.add_row(*(Text(str(c), justify="right") if isinstance(c, int) else c for c in cells), key=key)
        if message.rows:
            table.move_cursor(row=min(row_before, len(message.rows) - 1))
        what = f" matching “{message.filter}”" if message.filter else ""
        if message.total == 0:
            status.update("nothing matches" + what if message.filter else "none yet: n adds one")
        else:
            first, last = message.offset + 1, message.offset + len(message.rows)
            status.update(f"rows {first:,}–{last:,} of {message.total:,}{what}")

    # ------------------------------------------------------------ filter, views, pages

    @on(Input.Changed, "#accounts-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value == self.filters[self.view]:
            return
        self.filters[self.view] = event.value
        self.offsets[self.view] = 0
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(DEBOUNCE, self.reload)

    @on(Input.Submitted, "#accounts-filter")
    def filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.table.focus()

    def action_filter(self) -> None:
        self.filter_input.focus()

    @on(Tabs.TabActivated, "#account-views")
    def view_tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        self.switch_view((event.tab.id or "").removeprefix("view-"))

    def switch_view(self, view: str) -> None:
        if view in VIEWS and view != self.view:
            self.view = view
            self.query_one("#accounts-password").display = view == "mailboxes"
            self.filter_input.value = self.filters[view]
            self.query_one("#accounts-status", Static).update("loading…")
            self.reload()

    def action_view(self, view: str) -> None:
        self.query_one("#account-views", Tabs).active = f"view-{view}"
        self.switch_view(view)

    def page(self, direction: int) -> None:
        offset = self.offsets[self.view] + direction * self.limit
        if offset < 0 or offset >= self.total:
            self.app.bell()
            return
        self.offsets[self.view] = offset
        self.reload()

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
        self.app.push_screen(form(self.engine), self.changed)

    @on(Button.Pressed, "#accounts-password")
    def action_password(self) -> None:
        if self.view != "mailboxes":
            self.notify("Passwords belong to mailboxes: press 2 for the mailboxes", severity="warning")
            return
        email = self.selected()
        if email:
            self.app.push_screen(PasswordForm(self.engine, email), self.changed)

    @on(Button.Pressed, "#accounts-remove")
    def action_remove(self) -> None:
        key = self.selected()
        if key is None:
            return
        if self.view == "mailboxes":
            def answered(choice: str | None) -> None:
                if choice in ("keep", "delete"):
                    self.run_change(lambda: self._remove_user(key, choice == "delete"))

            self.app.push_screen(Confirm(
                f"Remove the mailbox {key}?",
                "Its login stops working and aliases pointing to it go too.\n"
                "Keep its mail on disk (the maildir), or delete it as well?",
                [("keep", "Remove, keep mail", "warning"), ("delete", "Remove and delete mail", "error")]),
                answered)
        elif self.view == "aliases":
            source, destination = key.split("\n", 1)

            def answered_alias(choice: str | None) -> None:
                if choice == "remove":
                    self.run_change(lambda: self._remove_alias(source, destination))

            self.app.push_screen(Confirm("Remove this alias?", f"{source} → {destination}",
                                         [("remove", "Remove", "error")]), answered_alias)
        else:
            self.preview_domain(key)

    def _remove_user(self, email: str, delete: bool) -> str:
        summary = self.engine.remove_user(email)
        aliases = f" and {summary.aliases} alias{'es' if summary.aliases != 1 else ''}" if summary.aliases else ""
        if delete:
            path = self.engine.delete_maildir(email)
            return f"Removed {email}{aliases}; deleted its mail" + (f" ({path})" if path else " (there was none)")
        return f"Removed {email}{aliases}; its mail stays on disk"

    def _remove_alias(self, source: str, destination: str) -> str:
        self.engine.remove_alias(source, destination)
        return f"Removed the alias {source} → {destination}"

    @work(thread=True, group="accounts-preview")
    def preview_domain(self, name: str) -> None:
        try:
            summary = self.engine.removal_preview(name)
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_text(exc), title="Not changed", severity="error")
            return
        self.app.call_from_thread(self._confirm_domain, name, summary)

    def _confirm_domain(self, name: str, summary: Any) -> None:
        sample = ", ".join(summary.user_sample[:3])
        more = "…" if summary.users > 3 else ""
        message = f"This also removes {summary}" + (f" ({sample}{more})" if sample else "") + \
            ".\nTheir mail stays on disk."

        def answered(choice: str | None) -> None:
            if choice == "remove":
                self.run_change(lambda: f"Removed {name} with {self.engine.remove_domain(name)}")

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
