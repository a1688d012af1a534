"""The wizard's Webmail step: Roundcube on or off and the daily security updates, what the webmail sets up in
words (following the hostname and the database typed on earlier forms), and the answers model's problem with a
remote database shown on the webmail's checkbox, where the review sends you."""

from __future__ import annotations

from mailtui.screens.widgets.fields import FORM_STAGES, STAGES, CheckRow, StepList
from mailtui.screens.wizard.apply import STEP_STAGE

from mailtui.api.types import MANAGESIEVE_ADDRESS, MANAGESIEVE_PORT
from mailtui.model.answers import Alias, Answers, Domain, Updates, User, Webmail
from mailtui.steps.order import ENGINE_ORDER
from tests.tui.conftest import (
    make_app,
    screen_plain,
    stage,
    text_of,
    type_into,
    wait_for,
    walk_to,
    words,
)
from tests.tui.fakes import FakeEngine, Preflight
from tests.tui.test_wizard_help import help_shows
from tests.tui.test_wizard_keyboard import keyboard_to_review, press_keys, type_passwords

WIDTH, HEIGHT = 80, 24
MANAGESIEVE = f"{MANAGESIEVE_ADDRESS}:{MANAGESIEVE_PORT}"


def row(app, key: str) -> CheckRow:  # noqa: ANN001
    return next(r for r in app.screen.query(CheckRow) if r.key == key)


def facts(app) -> str:  # noqa: ANN001
    return " ".join(text_of(app.screen.query_one("#webmail-facts")).split())


def row_error(app, key: str) -> str:  # noqa: ANN001
    r = row(app, key)
    return text_of(r.error) if r.error.display else ""


def test_the_webmail_step_sits_between_ssl_tls_and_the_firewall() -> None:
    ids = [sid for sid, _ in STAGES]
    assert ids.index("tls") + 1 == ids.index("webmail") == ids.index("firewall") - 1
    assert FORM_STAGES.index("tls") + 1 == FORM_STAGES.index("webmail") == FORM_STAGES.index("firewall") - 1
    assert "webmail" in ENGINE_ORDER and STEP_STAGE["webmail"] == "webmail" and STEP_STAGE["updates"] == "webmail"
    assert set(STEP_STAGE) <= set(ENGINE_ORDER) and set(STEP_STAGE.values()) <= set(ids)


async def test_the_form_loads_the_answers_and_stores_what_is_ticked() -> None:
    earlier = Answers(hostname="mx.old.example", domains=[Domain("old.example")], users=[User("boss@old.example")],
                      aliases=[Alias("postmaster@old.example", "boss@old.example")],
                      webmail=Webmail(enabled=False), updates=Updates(enabled=False))
    app = make_app(FakeEngine(preflight=Preflight(earlier_install=True, install_state="done", suggested=earlier)))
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await walk_to(pilot, "packages")
        assert not app.screen.query("#packages #cb-webmail, #packages #cb-updates")  # moved off Packages
        await walk_to(pilot, "webmail")
        said = screen_plain(app)
        assert "7 · Webmail" in said and "Roundcube serves webmail over HTTPS." in said  # heading, the step's why
        assert row(app, "webmail.enabled").value is False and row(app, "updates.enabled").value is False
        assert "No webmail" in facts(app) and "Ports 80 and 443 stay closed" in facts(app)
        answers = app.screen.build_answers()
        assert (answers.webmail.enabled, answers.updates.enabled) == (False, False)
        row(app, "webmail.enabled").value = True
        row(app, "updates.enabled").value = True
        await pilot.pause()
        assert "Address: https://mx.old.example/" in facts(app)
        answers = app.screen.build_answers()
        assert (answers.webmail.enabled, answers.updates.enabled) == (True, True)
        assert answers.hostname == "mx.old.example"  # the rest of the answers as the other forms hold them


async def test_switching_the_webmail_off_changes_what_it_says_it_sets_up() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await walk_to(pilot, "postfix")
        await type_into(pilot, "hostname", "mx.example.net")
        await walk_to(pilot, "webmail")
        assert app.focused is row(app, "webmail.enabled").input  # the form's first field
        on = facts(app)
        assert "Address: https://mx.example.net/" in on  # the hostname typed on the Postfix form
        assert "Roundcube on nginx + PHP-FPM" in on and "local MariaDB" in on
        assert f"ManageSieve on {MANAGESIEVE}" in on and "own password" in on
        assert "autoconfig and autodiscover" in on and "Ports 80 and 443: the firewall step opens them" in on
        assert "another server" not in on
        await press_keys(pilot, "space")
        off = facts(app)
        assert row(app, "webmail.enabled").value is False
        assert "No webmail: nginx, PHP-FPM and Roundcube are not installed" in off
        assert "mailtui user passwd" in off and "Ports 80 and 443 stay closed" in off
        assert "https://" not in off and MANAGESIEVE not in off
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "changes in" in words(app))
        assert engine.plans[-1].webmail.enabled is False and engine.plans[-1].updates.enabled is True
        assert "Webmail: off · Security updates: daily (unattended-upgrades)" in words(app)


async def test_a_remote_database_marks_the_webmail_and_the_review_sends_you_back_to_it() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await walk_to(pilot, "database")
        await type_into(pilot, "database.host", "db.example.net")
        await walk_to(pilot, "webmail")
        assert "The mail database is on another server" in facts(app)
        assert row_error(app, "webmail.enabled") == ""  # the whole answers are checked at the review
        await walk_to(pilot, "firewall")
        await press_keys(pilot, "pagedown")  # to the review: the answers model finds the problem
        await wait_for(pilot, lambda: stage(app) == "webmail" and app.focused is row(app, "webmail.enabled").input)
        assert "needs database.host = 127.0.0.1" in row_error(app, "webmail.enabled")
        assert "needs database.host = 127.0.0.1" in words(app)  # on the screen, under the checkbox
        assert app.screen.query_one(StepList).states["webmail"] == "todo"  # to do again (shown ▶: here)
        assert "Review" in text_of(app.screen.query_one("#nav-next"))
        assert not engine.plans  # no plan was made of answers that do not fit together
        await press_keys(pilot, "pagedown")  # unchanged: the review sends you back again
        await wait_for(pilot, lambda: stage(app) == "webmail" and row_error(app, "webmail.enabled"))
        await press_keys(pilot, "space")  # the webmail off: the problem goes with it
        assert row_error(app, "webmail.enabled") == ""
        await press_keys(pilot, "pagedown")  # straight back to the review
        await wait_for(pilot, lambda: stage(app) == "review" and "changes in" in words(app))
        assert engine.plans[-1].webmail.enabled is False and engine.plans[-1].database.host == "db.example.net"


async def test_the_keyboard_alone_reaches_the_webmail_step_and_its_help() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await pilot.pause()
        for _ in range(10):
            if stage(app) == "webmail":
                break
            if stage(app) == "users":
                await type_passwords(pilot)
            await press_keys(pilot, "pagedown")
        assert stage(app) == "webmail", screen_plain(app)
        assert "▶ Webmail" in text_of(app.screen.query_one(StepList))
        assert app.focused is not None and app.focused.id == "cb-webmail"
        await press_keys(pilot, "space", "tab")  # webmail off; Tab to the updates' checkbox
        assert app.focused is not None and app.focused.id == "cb-updates"
        await press_keys(pilot, "space")
        await help_shows(pilot, "f1", "webmail")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "firewall" and "✓ Webmail" in text_of(app.screen.query_one(StepList))
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "changes in" in words(app))
        assert engine.plans[-1].webmail.enabled is False and engine.plans[-1].updates.enabled is False
        assert "Webmail: off · Security updates: off" in words(app)
