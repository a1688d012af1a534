"""One message's journey: its Postfix lines and Dovecot's LMTP delivery, with the chosen line in full below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailtui.screens.dashboard.log_lines import (
    LogLines,
)
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class JourneyScreen(ModalScreen[None]):
    """The lines of one message, coloured like the log; Esc closes."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("home", "first", "First line", show=False),
        Binding("end", "last", "Last line", show=False),
    ]
    DEFAULT_CSS = """
    JourneyScreen {
        align: center middle;
    }
    JourneyScreen #journey {
        width: 100%;
        height: 100%;
        margin: 1 1;
        border: round $primary;
        background: $panel;
        padding: 0 1;
    }
    JourneyScreen #journey-title {
        text-style: bold;
        height: 1;
    }
    JourneyScreen #journey-detail {
        height: auto;
        max-height: 8;  /* a whole lmtp or smtp delivery line (~250 characters) at 80 columns, and the rule */
        border-top: solid $primary 50%;
    }
    JourneyScreen #journey-note {
        color: $text-muted;
        height: 1;
    }
    """

    def __init__(self, queue_id: str, events: Sequence[Any]) -> None:
        super().__init__()
        self.queue_id = queue_id
        self.events = list(events)

    def compose(self) -> ComposeResult:
        with Vertical(id="journey"):
            yield Static(f"Journey of {self.queue_id}", id="journey-title")
            yield LogLines(id="journey-lines")
            yield Static("", id="journey-detail")
            yield Static(self._note(), id="journey-note")

    def _note(self) -> str:
        postfix = sum(1 for e in self.events if e.queue_id == self.queue_id)
        dovecot = len(self.events) - postfix
        delivery = f", {dovecot} of Dovecot's delivery" if dovecot else ""
        return f"{postfix} Postfix line{'s' if postfix != 1 else ''}{delivery} · Esc closes"

    def on_mount(self) -> None:
        lines = self.query_one(LogLines)
        lines.set_lines(list(enumerate(self.events)), cursor_at_end=False)
        lines.focus()

    def on_log_lines_cursor_moved(self, message: LogLines.CursorMoved) -> None:
        """The chosen line in full (the list shows only what fits in a row)."""
        current = message.lines.current
        self.query_one("#journey-detail", Static).update(Text(current[1].raw if current else ""))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_first(self) -> None:
        self.query_one(LogLines).move_cursor(0)

    def action_last(self) -> None:
        lines = self.query_one(LogLines)
        lines.move_cursor(len(lines.lines) - 1)
