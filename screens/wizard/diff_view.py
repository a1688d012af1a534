"""A diff, full screen, for the keyboard: every line readable at 80 columns (long lines wrap, their
continuation marked `↪`), ↑↓ PgUp PgDn Home End scroll, n/p the next/previous diff of the review."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

CONTINUED = "↪ "  # starts the rest of a line too long for the screen (a diff line never starts with it)


@dataclass(frozen=True)
class DiffEntry:
    title: str  # what changes, e.g. "Postfix: add the submission service (587) to master.cf"
    diff: str


def line_style(line: str) -> str:
    if line.startswith("+") and not line.startswith("+++"):
        return "green"
    if line.startswith("-") and not line.startswith("---"):
        return "red"
    return "cyan" if line.startswith("@@") else ""


def wrapped_diff(diff: str, width: int) -> Text:
    """The diff coloured line by line (never parsed as markup); a line wider than `width` goes on in
    lines that start with CONTINUED, so nothing is cut at the right edge."""
    width = max(width, 8)
    out = Text(no_wrap=True, overflow="ignore")
    for raw in diff.expandtabs(8).splitlines():
        style = line_style(raw)
        out.append(raw[:width] + "\n", style=style)
        rest = raw[width:]
        while rest:
            step = width - len(CONTINUED)
            out.append(CONTINUED, style="dim")
            out.append(rest[:step] + "\n", style=style)
            rest = rest[step:]
    out.rstrip()
    return out


def unwrapped(lines: list[str]) -> list[str]:
    """The diff's own lines back from screen lines (CONTINUED lines joined to the line they continue)."""
    joined: list[str] = []
    for line in lines:
        if line.startswith(CONTINUED) and joined:
            joined[-1] += line[len(CONTINUED):]
        else:
            joined.append(line)
    return joined


class DiffScroll(VerticalScroll):
    """Keeps the diff wrapped to its width."""

    def __init__(self, diff: str) -> None:
        super().__init__(id="diff-scroll")
        self.diff = diff

    def compose(self) -> ComposeResult:
        yield Static(id="diff-body")

    def show(self, diff: str) -> None:
        self.diff = diff
        self._render_diff()
        self.scroll_home(animate=False)

    def on_resize(self, _event: Resize) -> None:
        self._render_diff()

    def _render_diff(self) -> None:
        width = self.scrollable_content_region.width
        if width > 0:
            self.query_one("#diff-body", Static).update(wrapped_diff(self.diff, width))


class DiffScreen(ModalScreen[int]):
    """One diff of the review at a time; dismissed with the index shown last (the review highlights it)."""

    BINDINGS = [
        Binding("escape", "close", "Back to the review"),
        Binding("q", "close", "Back", show=False),
        Binding("n", "move(1)", "Next diff"),
        Binding("p", "move(-1)", "Previous diff"),
    ]

    def __init__(self, entries: list[DiffEntry], index: int) -> None:
        super().__init__(id="diff-screen")
        self.entries = entries
        self.index = index

    def compose(self) -> ComposeResult:
        yield Static(id="diff-title")
        yield DiffScroll(self.entries[self.index].diff)
        yield Footer()

    def on_mount(self) -> None:
        self._show()
        self.query_one(DiffScroll).focus()

    def _show(self) -> None:
        entry = self.entries[self.index]
        self.query_one("#diff-title", Static).update(Text.assemble(
            (entry.title, "bold"), "\n",
            (f"diff {self.index + 1} of {len(self.entries)} · ↑↓ PgUp PgDn Home End scroll · "
             "n/p next/previous diff · Esc back", "dim")))
        self.query_one(DiffScroll).show(entry.diff)

    def action_move(self, delta: int) -> None:
        index = self.index + delta
        if 0 <= index < len(self.entries):
            self.index = index
            self._show()
        else:
            self.notify("That was the last diff." if delta > 0 else "This is the first diff.")

    def action_close(self) -> None:
        self.dismiss(self.index)
