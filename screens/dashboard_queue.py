"""The dashboard's Queue tab (being built: the text says what comes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:
    from .engine import Engine

COMING = ("Coming next: the mail queue (postqueue -j) with sender, recipients, size, age and the\n"
             "reason for deferral; flush, hold / release and delete.\n\n")


class QueuePanel(Vertical):
    def __init__(self, engine: Engine) -> None:
        super().__init__(id="queue")
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield Static(COMING, classes="coming")
