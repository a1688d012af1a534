"""What the dashboard's panels share: sizes and errors as text, the confirm dialog, the output log of what
actions said, and the base of the tabs built around a table, a bar of action buttons and that log."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from mailtui.screens.widgets.fields import with_label
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, DataTable, RichLog, Static
from textual.worker import get_current_worker

from mailtui.api.operations import Operations
from mailtui.errors import ValidationError

TAB_KEYS = (("accounts", "Accounts"), ("services", "Services"), ("queue", "Queue"), ("mail-log", "Mail log"),
            ("bans", "Bans"), ("dns", "DNS"), ("spam", "Spam"))  # F2 … F8, in this order


def tab_title(tab: str, title: str) -> Content:
    """A dashboard tab's title with its key ("F3 Services")."""
    key = 2 + [t for t, _ in TAB_KEYS].index(tab)
    return Content.from_markup(f"[dim]F{key}[/] {title}")


def error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def describe(exc: BaseException) -> str:
    """An engine error as the operator reads it (a ValidationError's problems with their fields)."""
    if isinstance(exc, ValidationError) and exc.problems:
        return "; ".join(with_label(k, v) for k, v in exc.problems.items())
    return error_text(exc)


# ---------------------------------------------------------------- dialogs

class Confirm(ModalScreen[str | None]):
    """A question with a few answers (button id without its 'confirm-' prefix); Esc answers None."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, message: str, buttons: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.buttons = buttons

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(self.title_text, classes="pane-title")
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="buttons"):
                for bid, label, variant in self.buttons:
                    yield Button(label, id=f"confirm-{bid}", variant=variant, compact=True)  # type: ignore[arg-type]
                yield Button("Cancel", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel").focus()  # the safe answer is the default

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answer = (event.button.id or "").removeprefix("confirm-")
        self.dismiss(None if answer == "cancel" else answer)


# ---------------------------------------------------------------- panels

class OutputLog(RichLog):
    """What the actions said: each one a "▶ what" line, the tool's output, then "✓ …" or a red "✗ …"."""

    DEFAULT_CSS = """
    OutputLog {
        height: 1fr;
        min-height: 3;
        background: $boost;
        scrollbar-size-vertical: 1;
    }
    """

    # Not focusable: when the tab is hidden with the table focused, Textual hands focus to a focusable
    # sibling of the table — which would switch the TabbedContent straight back to this tab.
    can_focus = False

    def __init__(self, placeholder: str, *, id: str) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, min_width=20, max_lines=2000)
        self.placeholder = placeholder
        self.empty = True

    def on_mount(self) -> None:
        self.write(Text(self.placeholder, style="dim"))

    def _first(self) -> None:
        if self.empty:
            self.clear()
            self.empty = False

    def command(self, title: str) -> None:
        self._first()
        self.write(Text(f"▶ {title}", style="bold"))

    def output(self, text: str) -> None:
        text = text.strip("\n")
        if text.strip():
            self._first()
            self.write(Text(text))

    def ok(self, text: str) -> None:
        self._first()
        self.write(Text(f"✓ {text}", style="green"))

    def fail(self, text: str) -> None:
        self._first()
        self.write(Text(f"✗ {text}", style="bold red"))

    def plain_lines(self) -> list[str]:
        return [strip.text for strip in self.lines]


class RefreshWhileShown:
    """Mixin for a dashboard panel (put it before the Widget base): calls `refresh_now()` when the panel
    is shown and every REFRESH_SECONDS while it stays shown, on the current screen, with nothing of its
    own running (`busy`); never while it is hidden."""

    REFRESH_SECONDS: float = 5.0
    busy: object = ""
    _refresh_timer: Timer | None = None
    _shown = False

    def refresh_now(self) -> None:
        raise NotImplementedError

    def start_refreshing(self) -> None:
        """Call from on_mount: the timer starts paused and runs while the panel is shown."""
        self._refresh_timer = self.set_interval(self.REFRESH_SECONDS, self._tick, pause=True)  # type: ignore[attr-defined]

    def on_show(self) -> None:
        self._shown = True
        if self._refresh_timer is not None:
            self._refresh_timer.resume()
        self.refresh_now()

    def on_hide(self) -> None:
        self._shown = False
        if self._refresh_timer is not None:
            self._refresh_timer.pause()

    @property
    def showing(self) -> bool:
        """Shown now. `_shown` follows the Show and Hide events, which arrive after a tab switch has already
        hidden the pane (its `display` is set at once): an answer that lands in between must not pull the
        focus into the pane being left (TabbedContent would switch back to it)."""
        return self._shown and all(node.display for node in self.ancestors_with_self  # type: ignore[attr-defined]
                                   if isinstance(node, Widget))

    def _tick(self) -> None:
        if self.showing and self.screen.is_current and not self.busy:  # type: ignore[attr-defined]
            self.refresh_now()


class ActionTablePanel(RefreshWhileShown, Vertical):
    """A dashboard tab built around a table, a bar of action buttons and an OutputLog of what they said.

    The panel's id is ID_PREFIX and its widgets' ids start with it: "<prefix>-table", "<prefix>-bar" (the
    buttons "<prefix>-<name>", then "<prefix>-busy" that says what runs) and "<prefix>-output". Every engine
    call runs in a thread worker: a read posts its answer with `post_read` / `post_list`; an action starts
    with `start_action` (refused while another one runs, else the panel is busy: the bar's DISABLED_WHILE_BUSY
    buttons disabled, the ACTIONS dimmed) and its worker's answer ends it with `finish_action`.
    """

    ID_PREFIX: ClassVar[str]
    ACTIONS: ClassVar[frozenset[str]] = frozenset()  # the actions shown dimmed while an action runs
    DISABLED_WHILE_BUSY: ClassVar[str] = "Button"  # a selector for the bar's buttons disabled meanwhile

    def __init__(self, ops: Operations) -> None:
        super().__init__(id=self.ID_PREFIX)
        self.ops = ops
        self.busy = ""  # what runs now ("" when nothing does)

    # ------------------------------------------------------------ the widgets (for compose)

    def new_table(self, **options: Any) -> DataTable:
        return DataTable(id=f"{self.ID_PREFIX}-table", cursor_type="row", **options)

    def new_action_bar(self, buttons: Iterable[tuple[str, str]], status: Static | None = None) -> Horizontal:
        """A compact button for each (label, name), with the id "<prefix>-<name>", then the Static that says
        what runs (by default an empty "<prefix>-busy")."""
        prefix = self.ID_PREFIX
        if status is None:
            status = Static("", id=f"{prefix}-busy")
        return Horizontal(*(Button(label, id=f"{prefix}-{name}", compact=True) for label, name in buttons), status,
                          id=f"{prefix}-bar")

    def new_output_log(self, placeholder: str) -> OutputLog:
        return OutputLog(placeholder, id=f"{self.ID_PREFIX}-output")

    @property
    def table(self) -> DataTable:
        return self.query_one(f"#{self.ID_PREFIX}-table", DataTable)

    @property
    def log_pane(self) -> OutputLog:
        return self.query_one(f"#{self.ID_PREFIX}-output", OutputLog)

    def selected_key(self) -> str | None:
        """The key of the row under the table's cursor (None when the table is empty)."""
        table = self.table
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        except Exception:
            return None
        return str(key) if key is not None else None

    def fill_rows(self, rows: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        """Replace the table's rows with (key, cells); the cursor stays on the same key when it is still
        there, else on the same row number (within the new rows)."""
        table = self.table
        before_key, before_row = self.selected_key(), table.cursor_row
        table.clear()
        keys = []
        for key, cells in rows:
            table.add_row(*cells, key=key)
            keys.append(key)
        if keys:
            row = keys.index(before_key) if before_key in keys else min(max(before_row, 0), len(keys) - 1)
            table.move_cursor(row=row, scroll=True)

    # ------------------------------------------------------------ reading (in thread workers)

    def post_read(self, read: Callable[[], Message], failed: Callable[[str], Message]) -> None:
        """Post the message `read()` makes, or `failed(why)` when it raises — unless this worker was cancelled
        meanwhile (a newer read of the same group took its place)."""
        worker = get_current_worker()
        try:
            message = read()
        except Exception as exc:
            message = failed(describe(exc))
        if not worker.is_cancelled:
            self.post_message(message)

    def post_list(self, read: Callable[[], Iterable[Any]], loaded: Callable[..., Message]) -> None:
        """post_read for an engine call that lists: posts `loaded(the list)`, or `loaded(None, why)`."""
        self.post_read(lambda: loaded(list(read())), lambda why: loaded(None, why))

    # ------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ACTIONS and self.busy:
            return None  # shown dimmed while an action runs
        return True

    def refuse_when_busy(self) -> bool:
        """True, after saying so, while an action runs."""
        if self.busy:
            self.notify(f"Wait: {self.busy} first", severity="warning")
            return True
        return False

    def start_action(self, busy: str, title: str) -> bool:
        """Before an action's worker starts: False (and said) while another action runs; else True, with the
        panel busy ("`busy`…") and "▶ `title`" in the output log."""
        if self.refuse_when_busy():
            return False
        self.set_busy(busy)
        self.log_pane.command(title)
        return True

    def finish_action(self, done: str, error: str, output: str = "") -> None:
        """When an action's worker answered: its output, then "✓ `done`" or "✗ `error`"; the panel is no
        longer busy."""
        pane = self.log_pane
        pane.output(output)
        if error:
            pane.fail(error)
        else:
            pane.ok(done)
        self.set_busy("")

    def set_busy(self, what: str) -> None:
        self.busy = what
        focused = self.screen.focused
        for button in self.query(f"#{self.ID_PREFIX}-bar {self.DISABLED_WHILE_BUSY}").results(Button):
            button.disabled = bool(what)
            if what and button is focused:
                self.table.focus()  # a disabled button drops the focus: the panel's keys must keep working
        self.show_busy(what)
        self.refresh_bindings()

    def show_busy(self, what: str) -> None:
        """Say what runs ("" once nothing does) in the bar's "<prefix>-busy"."""
        self.query_one(f"#{self.ID_PREFIX}-busy", Static).update(what + "…" if what else "")
