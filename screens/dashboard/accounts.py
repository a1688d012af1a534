"""The dashboard's Accounts tab: domains, mailboxes and aliases, and the forms that change them.

Every list is one page asked from the engine (filter, sort, limit, offset in SQL): 100,000 mailboxes
cost one screenful. Engine calls run in thread workers (the Engine keeps one connection per thread).

Sorting happens in the database (ORDER BY a whitelisted column, then LIMIT/OFFSET), so only the
columns the database holds sort: a domain's name and its mailbox and alias counts, a mailbox's
address, an alias's source and destination. A mailbox's Messages, Size (its maildir) and Last login
(the mail log) are read for the page on screen only, after the page, and cannot order 100,000 rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mailtui.screens.dashboard.common import Confirm, error_text, human_size
from mailtui.screens.widgets.fields import FieldRow, with_label
from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Static, Tab, Tabs
from textual.widgets.data_table import CellDoesNotExist
from textual.worker import get_current_worker

from mailtui.errors import ValidationError

if TYPE_CHECKING:
    from mailtui.screens.engine import Engine

VIEWS = ("domains", "mailboxes", "aliases")
VIEW_TITLES = {"domains": "Domains", "mailboxes": "Mailboxes", "aliases": "Aliases"}
COLUMNS = {
    "domains": ("Domain", "Mailboxes", "Aliases"),
    "mailboxes": ("Address", "Messages", "Size", "Last login"),
    "aliases": ("Source", "Destination", ""),
}
# The columns each view sorts by, in the database: (the engine's order name, the column's title).
SORTS = {
    "domains": (("name", "Domain"), ("mailboxes", "Mailboxes"), ("aliases", "Aliases")),
    "mailboxes": (("email", "Address"),),
    "aliases": (("source", "Source"), ("destination", "Destination")),
}
UP, DOWN = "↑", "↓"
LOGIN_WIDTH = 16  # "2026-11-25 14:03"
# What the mailbox columns right of the address take at most (Messages, Size "1023.9 KiB", Last login),
# each with its cell padding, plus the address's own padding: the address gets the rest of the width
# (36 of the table's 78 cells at 80 columns), longer ones end in "…".
MAILBOX_FIXED_WIDTH = (8 + 2) + (10 + 2) + (LOGIN_WIDTH + 2) + 2
TABLE_WIDTH_AT_80 = 78
MIN_ADDRESS_WIDTH = 20
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


class ImportForm(AccountForm):
    """Mailboxes from a CSV file on this machine. "Check only" runs the import as a dry run and shows
    its report (the form stays); Import adds every valid row and closes with the report in `report`."""

    ok_label = "Import"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, "Import mailboxes from a CSV file",
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
            report = self.engine.import_users(path.strip(), dry_run=dry_run, progress=progress)
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


class ImportReportScreen(ModalScreen[None]):
    """What an import did: how many rows were (or, on a dry run, would be) imported, then every rejected
    row with its line and reason, scrollable."""

    BINDINGS = [("escape", "close", "Close")]
    DEFAULT_CSS = """
    ImportReportScreen #import-rejected {
        height: auto;
        max-height: 12;
        margin-top: 1;
        border: round $primary-darken-2;
    }
    ImportReportScreen #import-rejected:focus {
        border: round $accent;
    }
    """

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        report = self.report
        title = ("Checked: nothing was changed" if report.dry_run else "Import finished")
        with Vertical(classes="dialog", id="import-report"):
            yield Static(title, classes="pane-title")
            yield Static(Text(report.summary().capitalize()), id="import-summary")
            if report.rejected:
                with VerticalScroll(id="import-rejected"):
                    yield Static(Text("\n".join(str(r) for r in report.rejected)), id="import-rejected-rows")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="import-close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#import-report").styles.width = 78  # wider than the shared .dialog: reasons are long
        if self.report.rejected:
            self.query_one("#import-rejected").focus()
        else:
            self.query_one("#import-close").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#import-close")
    def close(self) -> None:
        self.dismiss(None)


class StatusLine(Static):
    """The list's status line: of the texts given to say(), the first that fits the width it has at the
    time it is drawn (the buttons beside it come and go with the view)."""

    variants: tuple[str, ...] = ()
    _said: object = None

    def say(self, *variants: str) -> None:
        self.variants = variants
        self._said = Text(variants[0])
        self.update(self._said)

    def render(self) -> RenderResult:
        width = self.content_size.width
        if self.variants and self.content is self._said and width:
            return Text(next((v for v in self.variants if cell_len(v) <= width), self.variants[-1]))
        return super().render()


def login_text(when: datetime | None) -> str:
    """A last login as shown: local date and time to the minute, "—" when none was found."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M") if when is not None else "—"


def truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(1, width - 1)] + "…"


# ---------------------------------------------------------------- the accounts panel

class AccountsPanel(Vertical):
    """Domains / Mailboxes / Aliases: one DataTable, one page at a time, filtered in the engine."""

    BINDINGS = [
        Binding("n", "add", "Add"),
        Binding("p", "password", "Password"),
        Binding("x", "remove", "Remove"),
        Binding("delete", "remove", "Remove", show=False),
        Binding("slash", "filter", "Filter"),
        # Sorting is done by the database, so only its columns sort (not Messages, Size, Last login).
        Binding("o", "sort", "Sort", tooltip="Sort by the next column (or click a column's title)"),
        Binding("O", "reverse", "Reverse", tooltip="Reverse the sort"),
        Binding("i", "import", "Import", tooltip="Add mailboxes from a CSV file of email,password lines"),
        Binding("1", "view('domains')", "Domains", show=False),
        Binding("2", "view('mailboxes')", "Mailboxes", show=False),
        Binding("3", "view('aliases')", "Aliases", show=False),
    ]

    class PageLoaded(Message):
        def __init__(self, view: str, filter: str, offset: int, limit: int, total: int,
                     rows: list[tuple[str, tuple[Any, ...]]], error: str = "", order: str = "") -> None:
            super().__init__()
            self.view, self.filter, self.offset, self.limit = view, filter, offset, limit
            self.total, self.rows, self.error, self.order = total, rows, error, order

    class LoginsLoaded(Message):
        def __init__(self, page: tuple[Any, ...], logins: dict[str, Any] | None) -> None:
            super().__init__()
            self.page, self.logins = page, logins

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
        self.sorts = {view: (SORTS[view][0][0], False) for view in VIEWS}  # (order name, descending)
        self.total = 0
        self.limit = DEFAULT_PAGE
        self.shown_view = ""
        self.shown_page: tuple[Any, ...] = ()  # what the table shows: (view, filter, order, offset, keys)
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(VIEW_TITLES[v], id=f"view-{v}") for v in VIEWS), id="account-views")
        with Horizontal(id="accounts-filter-row"):
            yield Label("Filter", id="accounts-filter-label")
            yield Input(placeholder="type to filter (part of a name or address)", id="accounts-filter",
                        compact=True)
        yield DataTable(id="accounts-table", cursor_type="row")
        with Horizontal(id="accounts-bar"):
            yield StatusLine("loading…", id="accounts-status")
            yield Button("Add", id="accounts-add", compact=True)
            yield Button("Import", id="accounts-import", compact=True)
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
        self.query_one("#accounts-import").display = False
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

    def order(self, view: str | None = None) -> str:
        """The engine's order argument for a view: its sort column, "-" in front when descending."""
        name, descending = self.sorts[view or self.view]
        return f"-{name}" if descending else name

    def reload(self, *, counts: bool = False) -> None:
        self.limit = self._page_size()
        self.load_page(self.view, self.filters[self.view], self.offsets[self.view], self.limit, self.order())
        if counts:
            self.load_counts()

    @work(thread=True, exclusive=True, group="accounts-page")
    def load_page(self, view: str, filter: str, offset: int, limit: int, order: str = "") -> None:
        worker = get_current_worker()
        try:
            total, rows = self._fetch(view, filter, offset, limit, order)
            if offset and offset >= total:  # the last page emptied (a removal, a narrower filter)
                offset = max(0, (total - 1) // limit * limit)
                total, rows = self._fetch(view, filter, offset, limit, order)
        except Exception as exc:
            if not worker.is_cancelled:
                self.post_message(self.PageLoaded(view, filter, offset, limit, 0, [], error_text(exc), order))
            return
        if not worker.is_cancelled:
            self.post_message(self.PageLoaded(view, filter, offset, limit, total, rows, order=order))

    def _fetch(self, view: str, filter: str, offset: int, limit: int,
               order: str = "") -> tuple[int, list[tuple[str, tuple]]]:
        e = self.engine
        sort = order or None
        if view == "domains":
            total = e.count_domains(filter)
            return total, [(d.name, (d.name, d.users, d.aliases))
                           for d in e.list_domains(filter, limit, offset, order=sort)]
        if view == "mailboxes":
            total = e.count_users(filter)
            rows = []
            for u in e.list_users(filter, limit, offset, order=sort):
                try:  # for this page only: a maildir walk per mailbox
                    st = e.mailbox_stats(u.email)
                    messages, size = st.messages, human_size(st.bytes)
                except Exception:
                    messages, size = "?", "?"  # type: ignore[assignment]
                rows.append((u.email, (u.email, messages, size, "…")))  # the last login follows (load_logins)
            return total, rows
        total = e.count_aliases(filter)
        return total, [(f"{a.source}\n{a.destination}",
                        (a.source, a.destination, "catch-all" if a.source.startswith("@") else ""))
                       for a in e.list_aliases(filter, limit, offset, order=sort)]

    @work(thread=True, exclusive=True, group="accounts-logins")
    def load_logins(self, page: tuple[Any, ...], emails: list[str]) -> None:
        """The page's last logins, from the mail log (after the page is on screen: a log scan may take
        a moment)."""
        worker = get_current_worker()
        try:
            logins: dict[str, Any] | None = self.engine.last_logins(emails)
        except Exception:
            logins = None
        if not worker.is_cancelled:
            self.post_message(self.LoginsLoaded(page, logins))

    def on_accounts_panel_logins_loaded(self, message: LoginsLoaded) -> None:
        if message.page != self.shown_page:
            return  # another page is on screen by now
        table = self.table
        for email in message.page[-1]:
            when = message.logins.get(email) if message.logins is not None else None
            text = login_text(when) if message.logins is not None else "?"
            with suppress(CellDoesNotExist):
                table.update_cell(email, "Last login", Text(text, style="" if when else "dim"))

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
        status = self.query_one("#accounts-status", StatusLine)
        if message.error:
            self.notify(message.error, title="Could not read the accounts", severity="error")
            status.update(Text("could not read the accounts", style="red"))
            return
        if message.order and message.order != self.order():
            return  # sorted the old way
        self.offsets[self.view] = message.offset
        self.total = message.total
        table = self.table
        row_before = table.cursor_row
        if self.shown_view != self.view:
            table.clear(columns=True)
            sort_name, descending = self.sorts[self.view]
            sorted_title = dict(SORTS[self.view]).get(sort_name)
            for title in COLUMNS[self.view]:
                label = f"{title} {DOWN if descending else UP}" if title == sorted_title else title
                table.add_column(label, key=title or "kind", width=LOGIN_WIDTH if title == "Last login" else None)
            self.shown_view = self.view
            row_before = 0
        else:
            table.clear()
        address_width = max(MIN_ADDRESS_WIDTH, (table.size.width or TABLE_WIDTH_AT_80) - MAILBOX_FIXED_WIDTH)
        for key, cells in message.rows:
            if self.view == "mailboxes":  # Messages, Size and Last login must stay in sight at 80 columns
                cells = (truncate(cells[0], address_width), *cells[1:])
            table.add_row(*(Text(str(c), justify="right") if isinstance(c, int) else c for c in cells), key=key)
        if message.rows:
            table.move_cursor(row=min(row_before, len(message.rows) - 1))
        keys = tuple(key for key, _ in message.rows)
        self.shown_page = (self.view, message.filter, message.order, message.offset, keys)
        if self.view == "mailboxes" and keys:
            self.load_logins(self.shown_page, list(keys))
        what = f" matching “{message.filter}”" if message.filter else ""
        if message.total == 0:
            status.update("nothing matches" + what if message.filter else "none yet: n adds one")
        else:
            first, last = message.offset + 1, message.offset + len(message.rows)
            text = f"rows {first:,}–{last:,} of {message.total:,}{what}"
            sort = self.sort_text()
            status.say(f"{text} · sorted by {sort}", f"{text} · by {sort}")

    def sort_text(self) -> str:
        """The sort as the status line says it: "address ↑"."""
        name, descending = self.sorts[self.view]
        title = dict(SORTS[self.view])[name]
        return f"{title.lower()} {DOWN if descending else UP}"

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
            self.query_one("#accounts-import").display = view == "mailboxes"
            self.filter_input.value = self.filters[view]
            self.query_one("#accounts-status", Static).update("loading…")
            self.reload()

    def action_view(self, view: str) -> None:
        self.query_one("#account-views", Tabs).active = f"view-{view}"
        self.switch_view(view)

    # ------------------------------------------------------------ sorting (in the database)

    def set_sort(self, name: str, descending: bool) -> None:
        self.sorts[self.view] = (name, descending)
        self.offsets[self.view] = 0
        self.shown_view = ""  # the column titles show the sort: rebuilt with the page
        self.query_one("#accounts-status", Static).update("sorting…")
        self.reload()

    def action_sort(self) -> None:
        """The next sortable column of this view, ascending."""
        names = [name for name, _ in SORTS[self.view]]
        if len(names) == 1:
            self.notify("Mailboxes sort by address only (O reverses): Messages, Size and Last login are read "
                        "from disk and the mail log for the page on screen, not from the database.",
                        title="Sort", severity="information")
            return
        current, _ = self.sorts[self.view]
        self.set_sort(names[(names.index(current) + 1) % len(names)], False)

    def action_reverse(self) -> None:
        name, descending = self.sorts[self.view]
        self.set_sort(name, not descending)

    @on(DataTable.HeaderSelected, "#accounts-table")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column's title sorts by it; a second click reverses."""
        event.stop()
        title = str(event.column_key.value or "")
        by_title = {t: n for n, t in SORTS[self.view]}
        if title not in by_title:
            self.notify(f"{title or 'This column'} cannot sort: only what the database holds sorts "
                        f"({', '.join(t for _, t in SORTS[self.view])}).", title="Sort", severity="information")
            return
        name, descending = self.sorts[self.view]
        self.set_sort(by_title[title], not descending if by_title[title] == name else False)

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

    @on(Button.Pressed, "#accounts-import")
    def action_import(self) -> None:
        if self.view != "mailboxes":
            self.action_view("mailboxes")
        form = ImportForm(self.engine)

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
