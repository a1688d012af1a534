"""The Accounts tab's view: domains, mailboxes and aliases, one page at a time, filtered and sorted in the
database (the panel in accounts.py adds the actions that change them).

Every list is one page asked through the operations (filter, sort, limit, offset in SQL): 100,000
mailboxes cost one screenful. The calls run in thread workers (one database connection per thread).

Sorting happens in the database (ORDER BY a whitelisted column, then LIMIT/OFFSET), so only the
columns the database holds sort: a domain's name and its mailbox and alias counts, a mailbox's
address, an alias's source and destination. A mailbox's Messages, Size (its maildir) and Last login
(the mail log) are read for the page on screen only, after the page, and cannot order 100,000 rows.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from mailtui.screens.dashboard.common import error_text
from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, DataTable, Input, Label, Static, Tab, Tabs
from textual.widgets.data_table import CellDoesNotExist
from textual.worker import get_current_worker

from mailtui.api.operations import Operations
from mailtui.format import clip, human_size

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


# ---------------------------------------------------------------- the accounts panel

class AccountsView(Vertical):
    """Domains / Mailboxes / Aliases: one DataTable, one page at a time, filtered and sorted in the database.
    Its keys are bound by the panel (accounts.py), in the order the footer and the help show them."""

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

    def __init__(self, ops: Operations) -> None:
        super().__init__(id="accounts")
        self.ops = ops
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
        e = self.ops
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
            logins: dict[str, Any] | None = self.ops.last_logins(emails)
        except Exception:
            logins = None
        if not worker.is_cancelled:
            self.post_message(self.LoginsLoaded(page, logins))

    def on_accounts_view_logins_loaded(self, message: LoginsLoaded) -> None:
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
            counts = {"domains": self.ops.count_domains(""), "mailboxes": self.ops.count_users(""),
                      "aliases": self.ops.count_aliases("")}
        except Exception:
            return  # the page load reports the error
        self.post_message(self.CountsLoaded(counts))

    def on_accounts_view_counts_loaded(self, message: CountsLoaded) -> None:
        for view, count in message.counts.items():
            self.query_one(f"#view-{view}", Tab).label = f"{VIEW_TITLES[view]} ({count:,})"

    def on_accounts_view_page_loaded(self, message: PageLoaded) -> None:
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
                cells = (clip(cells[0], address_width), *cells[1:])
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
            self.refresh_bindings()  # the footer offers only what the view can do
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
