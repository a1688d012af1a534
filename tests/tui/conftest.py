from __future__ import annotations

import asyncio
import inspect
import io

import pytest
from mailtui.screens.app import MailtuiApp
from rich.console import Console
from textual.app import App
from textual.widgets import Input

from tests.guard import machine_guard  # noqa: F401  (autouse: TUI tests never touch the machine)
from tests.screen_reading import screen_text, text_of  # noqa: F401  (the tests import them from here)
from tests.scripted import only_scripted_operations  # noqa: F401  (autouse)
from tests.tui.fakes import FakeEngine


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A focused Input's cursor stays on instead of blinking every 0.5 s: a snapshot taken a moment
    later or earlier on a loaded machine would otherwise differ by the cursor cell alone."""

    def keep_visible(self: Input) -> None:
        self._cursor_visible = True

    monkeypatch.setattr(Input, "_toggle_cursor", keep_visible)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


def make_app(engine: FakeEngine | None = None) -> MailtuiApp:
    return MailtuiApp(ops=engine or FakeEngine(), clock=lambda: 1_800_000_000.0)


def screen_plain(app: App) -> str:
    """The whole terminal as plain text (what an operator sees, minus colours) — for debugging and
    for assertions on layout (e.g. that a line fits in 80 columns)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


# ---------------------------------------------------------------- driving the wizard by keyboard

PASSWORD = "hunter22ok"


def field(app: App, key: str):  # noqa: ANN201
    from mailtui.screens.widgets.fields import FieldRow

    for f in app.screen.query(FieldRow):
        if f.key == key:
            return f
    raise LookupError(key)


def error_of(app, key: str) -> str:  # noqa: ANN001
    """The inline error shown under a form field ("" when none is shown)."""
    f = field(app, key)
    return text_of(f.error) if f.error.display else ""


async def type_into(pilot, key: str, text: str) -> None:  # noqa: ANN001
    """Focus a field (its text gets selected) and type over it, key by key."""
    f = field(pilot.app, key)
    f.input.focus()
    await pilot.pause()
    f.input.select_all()
    await pilot.press("backspace", *(c if c != " " else "space" for c in text))
    await pilot.pause()


def stage(app: App) -> str:
    from textual.widgets import ContentSwitcher

    return app.screen.query_one(ContentSwitcher).current or ""


async def walk_to(pilot, target: str) -> None:  # noqa: ANN001
    """From Welcome to `target` the way Next (PgDn) goes — the same `action_next` with its checks and side
    effects, the first user's password set on Users — without a keystroke or a repaint per form: a keyboard
    walk costs ~6 s a test. The keyboard itself is walked in test_wizard_keyboard.py and test_wizard_help.py,
    and test_wizard_keyboard's `test_the_quick_walk_gives_the_answers_the_keyboard_walk_gives` holds the two
    to the same answers."""
    import time

    from mailtui.screens.wizard.wizard import WizardScreen

    app = pilot.app
    deadline = time.monotonic() + 20
    while not (isinstance(app.screen, WizardScreen) and app.screen.preflight_done):
        assert time.monotonic() < deadline, f"the wizard never finished its checks:\n{screen_plain(app)}"
        await asyncio.sleep(0.01)
    screen = app.screen
    for _ in range(12):
        if stage(app) == target:
            break
        if stage(app) == "users" and not field(app, "users[0].password").value:
            field(app, "users[0].password").input.value = PASSWORD
            field(app, "users[0].password2").input.value = PASSWORD
        before = stage(app)
        screen.action_next()
        assert stage(app) != before, f"Next did not leave {before}:\n{screen_plain(app)}"
    await pilot.pause()
    await pilot.pause()
    assert stage(app) == target, f"stuck on {stage(app)}:\n{screen_plain(app)}"


async def wait_for(pilot, condition, timeout: float = 20.0) -> None:  # noqa: ANN001
    """Wait until condition() holds, then until the screen stops changing (workers may still be posting
    their last messages: a snapshot taken mid-update differs from run to run on a loaded machine)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; the screen shows:\n{screen_plain(pilot.app)}")
        # The app runs its own loop meanwhile (messages, refreshes, workers' answers). Not pilot.pause():
        # that asks each of the screen's widgets (~500 on the wizard's) to process a callback, every 20 ms.
        await asyncio.sleep(0.02)
    await settle(pilot, deadline)


async def settle(pilot, deadline: float) -> None:  # noqa: ANN001
    import time

    await pilot.wait_for_scheduled_animations()
    previous, stable = screen_plain(pilot.app), 0
    while stable < 3 and time.monotonic() < deadline:
        await pilot.pause(0.05)
        current = screen_plain(pilot.app)
        stable = stable + 1 if current == previous else 0
        previous = current


def words(app) -> str:  # noqa: ANN001
    """The screen's text with every run of spaces and line ends as one space (wrapped lines join)."""
    return " ".join(screen_text(app).split())


async def review_answers(pilot, engine):  # noqa: ANN001, ANN201
    """Walk on to the Review; the answers the plan was made from."""
    await walk_to(pilot, "review")
    await wait_for(pilot, lambda: "changes in" in screen_text(pilot.app))
    return engine.plans[-1]
