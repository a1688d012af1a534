"""The dashboard's Mail log tab (being built: the text says what comes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:
    from .engine import Engine

COMING = ("Coming next: the live mail log — follows the log through rotation, colours each line\n"
                "by outcome, filters as you type and follows one message's journey.\n\n")


class MailLogPanel(Vertical):
    def __init__(self, engine: Engine) -> None:
        super().__init__(id="mail-log")
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield Static(COMING, classes="coming")
