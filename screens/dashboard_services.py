"""The dashboard's Services tab (being built: the text says what comes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

if TYPE_CHECKING:
    from .engine import Engine

COMING = ("Coming next: Postfix, Dovecot and MariaDB — running or not, uptime, listening ports;\n"
                "start / stop / restart / reload with the command's output; `postfix check` and\n"
                "`doveconf -n` problems; the Dovecot debug-logging switch.\n\n")


class ServicesPanel(Vertical):
    def __init__(self, engine: Engine) -> None:
        super().__init__(id="services")
        self.engine = engine

    def compose(self) -> ComposeResult:
        yield Static(COMING, classes="coming")
