"""The report of a CSV import: how many mailboxes were imported, and each rejected row with its line and reason."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ImportReportScreen(ModalScreen[None]):
    """What an import did: how many rows were (or, on a dry run, would be) imported, then every rejected
    row with its line and reason, scrollable."""

    BINDINGS = [("escape", "close", "Close")]
    DEFAULT_CSS = """
    ImportReportScreen #import-rejected {
        height: auto;
        max-height: 12;
        margin-top: 1;
        border: round $primary-darken-2;
    }
    ImportReportScreen #import-rejected:focus {
        border: round $accent;
    }
    """

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        report = self.report
        title = ("Checked: nothing was changed" if report.dry_run else "Import finished")
        with Vertical(classes="dialog", id="import-report"):
            yield Static(title, classes="pane-title")
            yield Static(Text(report.summary().capitalize()), id="import-summary")
            if report.rejected:
                with VerticalScroll(id="import-rejected"):
                    yield Static(Text("\n".join(str(r) for r in report.rejected)), id="import-rejected-rows")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="import-close", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#import-report").styles.width = 78  # wider than the shared .dialog: reasons are long
        if self.report.rejected:
            self.query_one("#import-rejected").focus()
        else:
            self.query_one("#import-close").focus()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#import-close")
    def close(self) -> None:
        self.dismiss(None)
