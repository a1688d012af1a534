"""Modal dialogs: help, quit confirm, save answers, resume an interrupted install."""

from __future__ import annotations

from typing import Any

from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.widgets.ask_path import AskPathScreen
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

__all__ = ["AskPathScreen", "ConfirmQuit", "DashboardScreen", "HelpScreen", "ResumeScreen", "SaveAnswersScreen"]

HELP = """\
Keys
  Tab / Shift+Tab   move between fields and buttons
  Enter             next field; press a focused button
  Space             tick a checkbox, choose an option
  PgDn / PgUp       Next / Back (on the forms)
  Ctrl+P            command palette (review, save answers, help…)
  F1 or ?           this help
  Ctrl+Q            quit (asks first while an install runs)
  Esc               close a dialog

Nothing on this machine changes until you press
"Confirm and install" on the Review page. The install
runs on its own: if your SSH connection drops, start
mailtui again and it re-attaches."""


class HelpScreen(ModalScreen[None]):
    """Keys and what to expect: the wizard's (default) or another screen's text (the dashboard's);
    the text scrolls when it is taller than the terminal."""

    BINDINGS = [("escape", "dismiss", "Close"), ("f1", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, text: str = HELP, title: str = "mailtui help") -> None:
        super().__init__()
        self.text = text
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Static(self.title_text, classes="pane-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(self.text, id="help-text", markup=False)  # help may show [brackets]
            yield Button("Close", id="help-close", variant="primary", compact=True)

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss()


class ConfirmQuit(ModalScreen[bool]):
    BINDINGS = [("escape", "cancel", "Stay")]

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-quit"):
            yield Static("Quit mailtui?", classes="pane-title")
            yield Static(self.message)
            with Horizontal(classes="buttons"):
                yield Button("Stay", id="quit-stay", variant="primary", compact=True)
                yield Button("Quit", id="quit-yes", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one("#quit-stay").focus()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit-yes")


class SaveAnswersScreen(AskPathScreen):
    """Ask where to save the answers file."""

    def __init__(self, default: str, error: str = "") -> None:
        super().__init__("Save answers", "For a later unattended `mailtui install --answers FILE`. Saved root-only "
                         "(0600); mailbox passwords only as hashes.", default, error)


class ResumeScreen(ModalScreen[str]):
    """An earlier install did not finish: resume it, start over, or quit."""

    def __init__(self, state: Any) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        s = self.state
        if s.status == "failed":
            what = f"The last install failed in {s.failed_step or '?'}:\n{s.error or 'no reason recorded'}"
        else:
            what = "The last install was interrupted before it finished (its worker is gone)."
        with Vertical(classes="dialog", id="resume"):
            yield Static("An install did not finish", classes="pane-title")
            yield Static(what, id="resume-what")
            yield Static("Resume runs it again from the first unfinished step (finished steps find nothing "
                         "to do). Start over walks the forms again, filled from its answers.")
            with Horizontal(classes="buttons"):
                yield Button("Resume", id="resume-resume", variant="primary", compact=True)
                yield Button("Start over", id="resume-fresh", compact=True)
                yield Button("Quit", id="resume-quit", compact=True)

    def on_mount(self) -> None:
        self.query_one("#resume-resume").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("resume-"))
