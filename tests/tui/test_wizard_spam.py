"""The wizard's spam filter (answers [spam]) on the Packages form: rspamd's scores, greylisting and the hourly limit,
checked with the engine's own rules, and what the Review says of them."""

from __future__ import annotations

from mailtui.screens.wizard.review import spam_text

from mailtui.model.answers import Alias, Answers, Domain, Spam, User
from tests.tui.conftest import error_of, field, make_app, review_answers, stage, type_into, walk_to, words
from tests.tui.fakes import FakeEngine, Preflight

KEYS = ("spam.reject", "spam.add_header", "spam.greylist", "spam.hourly_limit")


def test_texts() -> None:
    assert spam_text(Spam()) == "on (rspamd: greylist at 4, Junk at 6, refuse at 15; 200 recipients an hour a user)"
    assert spam_text(Spam(greylisting=False, hourly_limit=0, add_header=5.5)) == (
        "on (rspamd: no greylisting, Junk at 5.5, refuse at 15; no hourly limit)")
    assert spam_text(Spam(enabled=False)) == "off"
    assert spam_text(Spam(dnsbl=("key.zen.dq.spamhaus.net=127.0.0.[2..11]*3",))) == (
        "on (rspamd: greylist at 4, Junk at 6, refuse at 15; 200 recipients an hour a user; "
        "block lists: key.zen.dq.spamhaus.net)")
    assert spam_text(Spam(dnsbl=())).endswith("; block lists: none)")


async def test_defaults_reach_the_plan_and_the_review() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        assert [field(app, k).value for k in KEYS] == ["15", "6", "4", "200"]
        assert app.screen.query_one("#cb-greylisting").value is True
        answers = await review_answers(pilot, engine)
        assert answers.spam == Spam()
        assert "Spam filter: on (rspamd: greylist at 4, Junk at 6, refuse at 15; 200 recipients an hour a user)" \
            in words(app)


async def test_typed_scores_and_limit_are_used() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await type_into(pilot, "spam.reject", "12")
        await type_into(pilot, "spam.add_header", "5.5")
        await type_into(pilot, "spam.greylist", "3")
        await type_into(pilot, "spam.hourly_limit", "50")
        assert all(error_of(app, k) == "" for k in KEYS)
        answers = await review_answers(pilot, engine)
        assert answers.spam == Spam(True, 3.0, 5.5, 12.0, True, 50)


async def test_bad_numbers_are_named_and_block_next() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await type_into(pilot, "spam.reject", "lots")
        assert error_of(app, "spam.reject") == "Refuse at must be a number (a score, e.g. 6 or 6.5)"
        await type_into(pilot, "spam.greylist", "0.1")
        assert error_of(app, "spam.greylist") == "Greylist at must be a score from 0.5 to 1000"
        await type_into(pilot, "spam.hourly_limit", "-1")
        assert error_of(app, "spam.hourly_limit") == "Hourly limit must be a whole number (0: no limit)"
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "packages"  # nothing moves on
        assert app.focused is field(app, "spam.reject").input  # the first wrong field
        # each number fine on its own, but out of order: the whole answers' check names the field as it is typed
        await type_into(pilot, "spam.reject", "15")
        await type_into(pilot, "spam.greylist", "4")
        await type_into(pilot, "spam.hourly_limit", "0")
        await type_into(pilot, "spam.add_header", "20")
        assert [error_of(app, k) for k in KEYS] == [
            "", "Junk at must be below reject (15): a message is junked before it is refused", "", ""]
        await pilot.press("pagedown")
        await pilot.pause()
        assert stage(app) == "packages" and engine.plans == []
        await type_into(pilot, "spam.add_header", "8")
        answers = await review_answers(pilot, engine)
        assert answers.spam == Spam(True, 4.0, 8.0, 15.0, True, 0)
        assert "no hourly limit" in words(app)


async def test_greylisting_off_leaves_its_score_alone_and_filter_off_asks_nothing() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        await pilot.click("#cb-greylisting")
        await pilot.pause()
        assert field(app, "spam.greylist").input.disabled
        await type_into(pilot, "spam.reject", "0")
        assert error_of(app, "spam.reject")
        await pilot.click("#cb-spam")
        await pilot.pause()
        assert all(field(app, k).input.disabled for k in KEYS)
        assert app.screen.query_one("#cb-greylisting").disabled
        assert error_of(app, "spam.reject") == ""
        answers = await review_answers(pilot, engine)
        assert answers.spam == Spam(enabled=False, greylisting=False)  # the unusable 0 was not taken
        assert "Spam filter: off" in words(app)


async def test_adopted_answers_fill_the_fields() -> None:
    earlier = Answers(hostname="mx.old.example", domains=[Domain("old.example")], users=[User("boss@old.example")],
                      aliases=[Alias("postmaster@old.example", "boss@old.example")],
                      spam=Spam(True, 5.0, 7.5, 20.0, False, 30))
    engine = FakeEngine(preflight=Preflight(earlier_install=True, install_state="done", suggested=earlier))
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to(pilot, "packages")
        assert [field(app, k).value for k in KEYS] == ["20", "7.5", "5", "30"]
        assert app.screen.query_one("#cb-greylisting").value is False
        assert field(app, "spam.greylist").input.disabled
        answers = await review_answers(pilot, engine)
        assert answers.spam == Spam(True, 5.0, 7.5, 20.0, False, 30)
