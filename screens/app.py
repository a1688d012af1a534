"""The Textual application (the wizard and dashboard are built in their own issues)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

from mailtui import __version__


class MailtuiApp(App[int]):
    TITLE = "mailtui"
    SUB_TITLE = f"mail server installer and console {__version__}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "mailtui's install engine is ready on the command line:\n\n"
            "  mailtui install --answers FILE [--dry-run]\n"
            "  mailtui check\n"
            "  mailtui domain|user|alias …\n\n"
            "The step-by-step wizard and the dashboard come next.",
            id="welcome",
        )
        yield Footer()


def run_app() -> int:
    MailtuiApp().run()
    return 0
