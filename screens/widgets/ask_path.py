"""Ask for the path of a file: to write (the answers, the DNS records) or to read (a message to learn)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class AskPathScreen(ModalScreen[str | None]):
    """Ask for a file's path (by default where to save one); returns the absolute path, or None."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, note: str, default: str, error: str = "", *, ok_label: str = "Save") -> None:
        super().__init__()
        self.ok_label = ok_label
        self.title_text = title
        self.note = note
        self.default = default
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="save-answers"):
            yield Static(self.title_text, classes="pane-title")
            yield Static(self.note)
            yield Input(self.default, id="save-path", compact=True)
            yield Static(Text(self.error, style="red"), id="save-error")
            with Horizontal(classes="buttons"):
                yield Button(self.ok_label, id="save-ok", variant="primary", compact=True)
                yield Button("Cancel", id="save-cancel", compact=True)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#save-ok")
    def ok(self) -> None:
        path = self.query_one("#save-path", Input).value.strip()
        if not path.startswith("/"):
            self.query_one("#save-error", Static).update(Text("Give an absolute path", style="red"))
            return
        self.dismiss(path)

    @on(Button.Pressed, "#save-cancel")
    def cancel(self) -> None:
        self.dismiss(None)
