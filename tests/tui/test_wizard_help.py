"""F1 on the wizard: the current step's own help. Every field label a step's form renders is named in that
step's help (the labels are read off the mounted forms, not listed here), and F1 / ? on a step shows that
step's help, by keyboard alone; Escape returns to the field that had the focus."""

from __future__ import annotations

from mailtui.screens.widgets.dialogs import HELP, HelpScreen
from mailtui.screens.widgets.fields import FORM_STAGES, STAGES
from mailtui.screens.wizard.step_help import HELP_WIDTH, MAX_LINES, step_help, step_text
from mailtui.screens.wizard.wizard import WizardScreen
from textual.widget import Widget

from tests.tui.conftest import PASSWORD, make_app, screen_plain, screen_text, stage, text_of, wait_for
from tests.tui.test_wizard_keyboard import press_keys, type_text

WIDTH, HEIGHT = 80, 24
TITLES = dict(STAGES)


def flat(text: str) -> str:
    """Whitespace folded: a label may wrap across two lines of the help."""
    return " ".join(text.split())


def field_labels(pane: Widget) -> list[str]:
    """Every label the pane renders for a field: a FieldRow's label, a checkbox's, a radio button's."""
    labels = [text_of(label) for label in pane.query("Label.field-label")]
    labels += [str(toggle.label) for toggle in pane.query("Checkbox, RadioButton")]
    return [flat(label) for label in labels if label.strip()]


async def test_every_field_label_of_a_step_is_named_in_that_steps_help() -> None:
    app = make_app()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.preflight_done)
        missing: dict[str, list[str]] = {}
        counted = 0
        for stage_id, _ in STAGES:
            labels = field_labels(app.screen.query_one(f"#{stage_id}"))
            if stage_id in FORM_STAGES:
                assert labels, f"no field labels found on {stage_id}: the query no longer finds them"
            counted += len(labels)
            text = flat(step_text(stage_id))
            gone = [label for label in labels if label not in text]
            if gone:
                missing[stage_id] = gone
        assert not missing, f"labels the step's help does not name: {missing}"
        assert counted > 25  # every form's fields, checkboxes and radio buttons were read


def test_every_stage_has_help_that_fits_the_dialog() -> None:
    for stage_id, label in STAGES:
        text, title = step_help(stage_id)
        own = step_text(stage_id)
        assert title == f"Help: {label}"
        assert text.startswith(own) and text.endswith(HELP)  # the general keys stay reachable below it
        lines = own.splitlines()
        assert len(lines) <= MAX_LINES, f"{stage_id}: {len(lines)} lines"
        wide = [line for line in lines if len(line) > HELP_WIDTH]
        assert not wide, f"{stage_id}: wider than the help dialog: {wide}"


async def walk_to(pilot, target: str) -> None:  # noqa: ANN001
    """PgDn to `target`; on Users the first user's password is typed where Tab leads (Email → Password → Again)."""
    await pilot.pause()
    for _ in range(20):
        if stage(pilot.app) == target:
            return
        if stage(pilot.app) == "users":
            await press_keys(pilot, "tab")
            await type_text(pilot, PASSWORD)
            await press_keys(pilot, "tab")
            await type_text(pilot, PASSWORD)
        await press_keys(pilot, "pagedown")
        await pilot.pause(0.05)
    assert stage(pilot.app) == target, screen_plain(pilot.app)


async def help_shows(pilot, key: str, stage_id: str) -> str:  # noqa: ANN001
    """Press `key`: the help of `stage_id` (and no other step's) opens, its title on screen; Escape returns
    to the wizard with the focus where it was. Returns what the help said."""
    app = pilot.app
    focused = app.focused
    await press_keys(pilot, key)
    await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
    shown = screen_plain(app)
    assert f"Help: {TITLES[stage_id]}" in shown and "Close" in shown  # at 80x24, title and button both show
    said = screen_text(app)
    assert step_text(stage_id) in said
    assert "F1 or ?" in said  # the general keys follow
    for other, _ in STAGES:
        if other != stage_id:
            assert step_text(other) not in said, f"{other}'s help shown on {stage_id}"
    await press_keys(pilot, "escape")
    await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen))
    assert stage(app) == stage_id
    assert app.focused is focused, f"focus went to {app.focused!r}, not back to {focused!r}"
    return said


async def test_f1_shows_the_current_steps_help_and_escape_returns_to_the_field() -> None:
    app = make_app()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WizardScreen) and app.screen.preflight_done)
        await help_shows(pilot, "question_mark", "welcome")  # focus on Next: ? works too
        await walk_to(pilot, "postfix")
        await press_keys(pilot, "tab")  # Hostname → First domain
        assert app.focused is not None and app.focused.id == "in-domains-0-name"
        said = await help_shows(pilot, "f1", "postfix")
        assert "[smtp.example.net]:587" in said  # shown as written, not taken for markup
        await walk_to(pilot, "tls")
        await help_shows(pilot, "f1", "tls")
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "changes in" in screen_text(app))
        await help_shows(pilot, "f1", "review")
