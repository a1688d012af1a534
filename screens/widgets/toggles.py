"""Checkboxes and radio buttons that read without colour: Textual draws the same `X` / `●` for on and off
and tells them apart by colour alone, which a monochrome or colour-blind terminal loses. These show
`✓` / `●` when on and a blank when off. Same names as Textual's, so forms and queries use them unchanged."""

from __future__ import annotations

from textual.widgets import Checkbox as TextualCheckbox
from textual.widgets import RadioButton as TextualRadioButton


class Checkbox(TextualCheckbox):
    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:  # noqa: N802 - Textual's name
        return "✓" if self.value else " "


class RadioButton(TextualRadioButton):
    @property  # type: ignore[override]
    def BUTTON_INNER(self) -> str:  # noqa: N802 - Textual's name
        return "●" if self.value else " "
