"""What the dashboard's panels share: sizes and errors as text, and the confirm dialog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Static


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------- dialogs

class Confirm(ModalScreen[str | None]):
    """A question with a few answers (button id without its 'confirm-' prefix); Esc answers None."""

    BINDINGS = [("escape", "cancel", "Cancel")]

    def __init__(self, title: str, message: str, buttons: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.buttons = buttons

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(self.title_text, classes="pane-title")
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="buttons"):
                for bid, label, variant in self.buttons:
                    yield Button(label, id=f"confirm-{bid}", variant=variant, compact=True)  # type: ignore[arg-type]
                yield Button("Cancel", id="confirm-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel").focus()  # the safe answer is the default

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        answer = (event.button.id or "").removeprefix("confirm-")
        self.dismiss(None if answer == "cancel" else answer)


class RefreshWhileShown:
    """Mixin for a dashboard panel (put it before the Widget base): calls `refresh_now()` when the panel
    is shown and every REFRESH_SECONDS while it stays shown, on the current screen, with nothing of its
    own running (`busy`); never while it is hidden."""

    REFRESH_SECONDS: float = 5.0
    busy: object = ""
    _refresh_timer: Timer | None = None
    _shown = False

    def refresh_now(self) -> None:
        raise NotImplementedError

    def start_refreshing(self) -> None:
        """Call from on_mount: the timer starts paused and runs while the panel is shown."""
        self._refresh_timer = self.set_interval(self.REFRESH_SECONDS, self._tick, pause=True)  # type: ignore[attr-defined]

    def on_show(self) -> None:
        self._shown = True
        if self._refresh_timer is not None:
            self._refresh_timer.resume()
        self.refresh_now()

    def on_hide(self) -> None:
        self._shown = False
        if self._refresh_timer is not None:
            self._refresh_timer.pause()

    def _tick(self) -> None:
        if self._shown and self.screen.is_current and not self.busy:  # type: ignore[attr-defined]
            self.refresh_now()
