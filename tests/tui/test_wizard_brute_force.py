"""The wizard's brute-force option (answers [security]) on the Packages form, and what the Review says of it."""

from __future__ import annotations

from mailtui.screens.wizard.brute_force import duration_text, protection_line, protection_text

from mailtui.model.answers import Alias, Answers, Domain, Security, User
from tests.tui.conftest import (
    error_of,
    field,
    make_app,
    review_answers,
    screen_plain,
    stage,
    type_into,
    walk_to,
    words,
)
from tests.tui.fakes import FakeEngine, Preflight

KEYS = ("security.max_retry", "security.find_time", "security.ban_time")


def test_texts() -> None:
    assert [duration_text(s) for s in (59, 60, 90, 600, 3600, 5400, 86400, 172800, 31536000)] == [
        "59 s", "1 min", "90 s", "10 min", "1 h", "90 min", "1 day", "2 days", "365 days"]
    assert protection_text(Security()) == ("5 failed logins within 10 min ban the address for 1 h "
                                           "(fail2ban; never 127.0.0.1)")
    assert protection_text(Security(max_retry=1, ignore=("192.0.2.7", "198.51.100.0/24"))) == (
        "1 failed login within 10 min ban the address for 1 h (fail2ban; never 127.0.0.1, 192.0.2.7, "
        "198.51.100.0/24)")
    assert protection_text(Security(fail2ban=False)).startswith("off:")
    assert protection_line(Security()) == "→ 5 failed logins in 10 min: banned for 1 h"
    assert protection_line(Security(max_retry=100, find_time=86399, ban_time=31536000)) == (
        "→ 100 failed logins in 86399 s: banned for 365 days")
    assert protection_line(Security(fail2ban=False)) == "→ off: no address is banned"


async def test_defaults_are_on_and_reach_the_plan_and_the_review() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        assert app.screen.query_one("#cb-fail2ban").value is True
        assert [field(app, k).value for k in KEYS] == ["5", "600", "3600"]
        app.screen.query_one("#f2b-summary").scroll_visible(animate=False)  # below the spam filter's fields
        await pilot.pause()
        plain = screen_plain(app)
        assert "Ban addresses after failed logins (fail2ban)" in plain  # whole, at 80 columns
        assert "→ 5 failed logins in 10 min: banned for 1 h" in plain
        answers = await review_answers(pilot, engine)
        assert answers.security == Security(True, 5, 600, 3600, ())
        assert ("Brute-force protection: 5 failed logins within 10 min ban the address for 1 h "
                "(fail2ban; never 127.0.0.1)") in words(app)


async def test_typed_numbers_are_used_and_the_summary_follows_them() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await type_into(pilot, "security.max_retry", "3")
        await type_into(pilot, "security.find_time", "900")
        await type_into(pilot, "security.ban_time", "86400")
        assert "→ 3 failed logins in 15 min: banned for 1 day" in words(app)
        assert all(error_of(app, k) == "" for k in KEYS)
        answers = await review_answers(pilot, engine)
        assert answers.security == Security(True, 3, 900, 86400, ())
        assert "Brute-force protection: 3 failed logins within 15 min ban the address for 1 day" in words(app)


async def test_bad_numbers_are_named_and_block_next() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await type_into(pilot, "security.max_retry", "0")
        assert error_of(app, "security.max_retry") == (
            "Max retries must be a whole number from 1 to 100 (failed logins)")
        await type_into(pilot, "security.find_time", "ten")
        assert error_of(app, "security.find_time") == "Window (s) must be a whole number"
        await type_into(pilot, "security.ban_time", "59")
        assert error_of(app, "security.ban_time") == "Ban time (s) must be a whole number from 60 to 31536000 (seconds)"
        assert "→ fix the numbers above" in words(app)
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "packages"  # nothing moves on
        assert app.focused is field(app, "security.max_retry").input  # the first wrong field
        assert engine.plans == []
        await type_into(pilot, "security.max_retry", "101")
        assert "from 1 to 100" in error_of(app, "security.max_retry")
        await type_into(pilot, "security.max_retry", "10")
        await type_into(pilot, "security.find_time", "86400")
        await type_into(pilot, "security.ban_time", "31536000")
        assert all(error_of(app, k) == "" for k in KEYS)
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "database"
        answers = await review_answers(pilot, engine)
        assert answers.security == Security(True, 10, 86400, 31536000, ())


async def test_switched_off_the_numbers_are_not_asked_and_the_review_says_off() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await type_into(pilot, "security.max_retry", "0")
        assert error_of(app, "security.max_retry")
        await pilot.click("#cb-fail2ban")
        await pilot.pause()
        assert app.screen.query_one("#cb-fail2ban").value is False
        assert all(field(app, k).input.disabled for k in KEYS)
        assert error_of(app, "security.max_retry") == ""
        assert "→ off: no address is banned" in words(app)
        answers = await review_answers(pilot, engine)
        assert answers.security == Security(False, 5, 600, 3600, ())  # the unusable 0 was not taken
        assert "Brute-force protection: off" in words(app)
        # Back on: the numbers are asked again
        await pilot.click("#review-back")
        for _ in range(7):
            await pilot.press("pageup")
            await pilot.pause()
        assert stage(app) == "packages"
        app.screen.query_one("#cb-fail2ban").focus()  # below the fold now: reached by focus, ticked with space
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
        assert not field(app, "security.max_retry").input.disabled
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "packages"
        assert "from 1 to 100" in error_of(app, "security.max_retry")


async def test_adopted_answers_fill_the_option() -> None:
    earlier = Answers(hostname="mx.old.example", domains=[Domain("old.example")], users=[User("boss@old.example")],
                      aliases=[Alias("postmaster@old.example", "boss@old.example")],
                      security=Security(False, 8, 1200, 7200, ("192.0.2.7",)))
    engine = FakeEngine(preflight=Preflight(earlier_install=True, install_state="done", suggested=earlier))
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        assert app.screen.query_one("#cb-fail2ban").value is False
        assert [field(app, k).value for k in KEYS] == ["8", "1200", "7200"]
        app.screen.query_one("#f2b-summary").scroll_visible(animate=False)  # below the spam filter's fields
        await pilot.pause()
        await pilot.click("#cb-fail2ban")
        await pilot.pause()
        assert "→ 8 failed logins in 20 min: banned for 2 h" in words(app)
        answers = await review_answers(pilot, engine)
        assert answers.security == Security(True, 8, 1200, 7200, ("192.0.2.7",))  # the ignore list is kept
        assert "Brute-force protection: 8 failed logins within 20 min ban the address for 2 h (fail2ban; never " \
               "127.0.0.1, 192.0.2.7)" in words(app)
