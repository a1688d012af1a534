"""The mail log as lines on screen: one line per event, coloured by its outcome, in a line-API view that renders
only the rows shown (20,000 lines cost no more than 20), with a row cursor to choose a line."""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

# Rich colour names: Textual shows the 16 ANSI ones through its terminal theme, where magenta is the same red
# as red (Monokai) — so auth failures get the 256-colour "orchid" (a magenta that stays one), and the spam
# filter's refusals the 256-colour "dark_orange" (apart from both red and yellow).
OUTCOME_STYLES: dict[str, str] = {
    "delivered": "green", "deferred": "yellow", "bounced": "red", "rejected": "red",
    "spam": "dark_orange", "auth-failure": "orchid", "error": "bold red", "login": "cyan", "info": "",
}


SERVICE_WIDTH = 10


QUEUE_ID_WIDTH = 11


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def short_service(service: str) -> str:
    """postfix/smtpd -> smtpd, postfix/submission/smtpd -> submission, dovecot/lmtp -> dovecot (Dovecot's
    message names its process itself: "lmtp(alice@…)")."""
    if service.startswith("dovecot"):
        return "dovecot"
    parts = service.split("/")
    if len(parts) >= 3:
        return parts[1]
    return parts[-1]


def line_columns(event: Any) -> tuple[str, str, str, str]:
    """(HH:MM:SS, service, queue id, message) of an event, padded to their columns. The message loses
    its leading "QUEUEID: " (the queue id has its own column)."""
    stamp = event.ts.strftime("%H:%M:%S") if event.ts is not None else " " * 8
    qid = event.queue_id or ""
    message = event.message if event.service else event.raw
    if qid and message.startswith(f"{qid}: "):
        message = message[len(qid) + 2:]
    message = _CONTROL.sub("\N{REPLACEMENT CHARACTER}", message.expandtabs())
    service = short_service(event.service)
    if len(service) > SERVICE_WIDTH:
        service = service[:SERVICE_WIDTH - 1] + "…"
    return stamp, f"{service:<{SERVICE_WIDTH}}", f"{qid:<{QUEUE_ID_WIDTH}}", message


def event_text(event: Any) -> Text:
    """One log line as shown: the time dimmed, the rest in its outcome's colour (a probe's line all dim)."""
    stamp, service, qid, message = line_columns(event)
    style = "dim" if getattr(event, "probe", False) else OUTCOME_STYLES.get(event.outcome, "")
    text = Text(no_wrap=True, end="")
    text.append(stamp, "dim")
    text.append(f" {service} {qid} {message}", style)
    return text


def line_width(event: Any) -> int:
    stamp, service, qid, message = line_columns(event)
    return len(stamp) + len(service) + len(qid) + len(message) + 3


class LogLines(ScrollView, can_focus=True, inherit_bindings=False):
    """Log lines with a row cursor; renders only what is on screen. Lines are (seq, event) pairs: seq
    numbers every event ever received, so the render cache survives trimming and filtering."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("left", "scroll_left", "Scroll left", show=False),
        Binding("right", "scroll_right", "Scroll right", show=False),
    ]
    COMPONENT_CLASSES = {"log-lines--cursor"}
    DEFAULT_CSS = """
    LogLines {
        background: $surface;
        overflow-x: auto;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
        height: 1fr;
    }
    LogLines > .log-lines--cursor {
        background: $foreground 12%;
    }
    LogLines:focus > .log-lines--cursor {
        background: $primary 45%;
    }
    """

    class CursorMoved(Message):
        """The cursor moved to another line (or the lines under it changed)."""

        def __init__(self, lines: LogLines) -> None:
            super().__init__()
            self.lines = lines

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines: list[tuple[int, Any]] = []
        self.cursor = 0
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(1024)

    # ------------------------------------------------------------ content

    @property
    def current(self) -> tuple[int, Any] | None:
        return self.lines[self.cursor] if 0 <= self.cursor < len(self.lines) else None

    @property
    def at_newest(self) -> bool:
        """The cursor is on the newest line and the view shows the bottom: new lines scroll in."""
        return not self.lines or (self.cursor >= len(self.lines) - 1 and self.is_vertical_scroll_end)

    def line_text(self, index: int) -> Text:
        return event_text(self.lines[index][1])

    def set_lines(self, lines: list[tuple[int, Any]], *, cursor_at_end: bool = True) -> None:
        self.lines = lines
        self._width = max((line_width(e) for _, e in lines), default=0)
        self._cache.clear()
        self._resize()
        if cursor_at_end:
            self.move_cursor(len(lines) - 1, end=True)
        else:
            self.move_cursor(0)
            self.scroll_to(x=0, y=0, animate=False, immediate=True)
        self.post_message(self.CursorMoved(self))
        self.refresh()

    def append(self, lines: list[tuple[int, Any]]) -> None:
        """Add lines at the end; they scroll into view only when the view was at the newest line."""
        if not lines:
            return
        follow = self.at_newest
        self.lines.extend(lines)
        self._width = max(self._width, max(line_width(e) for _, e in lines))
        self._resize()
        if follow:
            self.move_cursor(len(self.lines) - 1, end=True)
        self.refresh()

    def trim_before(self, seq: int) -> int:
        """Drop the lines older than `seq` (trimmed from the buffer); the view keeps its place."""
        n = bisect_left(self.lines, seq, key=lambda line: line[0])
        if n:
            del self.lines[:n]
            self.cursor = max(0, self.cursor - n)
            y = max(0, self.scroll_offset.y - n)
            self._resize()
            self.scroll_to(y=y, animate=False, immediate=True)
            self.refresh()
        return n

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self.lines))

    # ------------------------------------------------------------ cursor

    def move_cursor(self, index: int, *, end: bool = False) -> None:
        before = self.current
        self.cursor = max(0, min(index, len(self.lines) - 1))
        if self.current is not before:
            self.post_message(self.CursorMoved(self))
        if end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self._show_cursor()
        self.refresh()

    def _show_cursor(self) -> None:
        height = self.scrollable_content_region.height
        if height <= 0:
            return
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, step: int) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.move_cursor(self.cursor + step * height)

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < len(self.lines):
            self.move_cursor(index)

    def on_resize(self) -> None:
        if self.cursor >= len(self.lines) - 1:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self._show_cursor()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # ------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, base)
        seq, event = self.lines[index]
        strip = self._cache.get(seq)
        if strip is None:
            text = event_text(event)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._cache[seq] = strip
        style = base
        if index == self.cursor:
            cursor = self.get_component_rich_style("log-lines--cursor")
            style = base + Style(bgcolor=cursor.bgcolor)
        return strip.crop_extend(scroll_x, scroll_x + width, None).apply_style(style)
