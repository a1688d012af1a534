"""What a Textual screen says, as plain text: shared by the TUI tier (tests/tui/conftest.py) and the e2e wizard
driver (tests/e2e/wizard_driver.py), which runs inside a test host as a file of its own with this one beside it
(tests/e2e/test_wizard_real.py copies both). Textual and Rich only: no test package, no pytest."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.widgets import Button, Input, Label, Static


def text_of(widget: object) -> str:
    """An Input's value, a Button's label, else what the widget renders (a Rich renderable printed)."""
    if isinstance(widget, Input):
        return widget.value
    if isinstance(widget, Button):
        return str(widget.label)
    rendered = widget.render()  # type: ignore[attr-defined]
    if isinstance(rendered, Text):
        return rendered.plain
    renderable = getattr(rendered, "_renderable", None)  # a Rich renderable (e.g. a Table) in a RichVisual
    if renderable is not None and not isinstance(renderable, str):
        console = Console(width=200, file=io.StringIO(), color_system=None, legacy_windows=False)
        with console.capture() as captured:
            console.print(renderable)
        return "\n".join(line.rstrip() for line in captured.get().splitlines())
    return str(rendered)


def screen_text(app: App, *, skip_blank: bool = False) -> str:
    """The text of every displayed Static/Label/Button of the active screen (what an operator reads)."""
    parts = []
    for w in app.screen.query("Static, Label, Button"):
        if isinstance(w, (Static, Label, Button)) and all(
                a.display for a in w.ancestors_with_self if hasattr(a, "display")):
            parts.append(text_of(w))
    return "\n".join(p for p in parts if p.strip() or not skip_blank)
