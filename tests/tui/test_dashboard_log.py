"""The dashboard's Mail log tab, driven by keyboard on a scripted mail log (LogEngine): colours by
outcome, following, filter, pause, jump to newest, a message's journey, the summary, a burst of lines,
a missing log file."""

from __future__ import annotations

import pytest
from mailtui.screens.dashboard import log
from mailtui.screens.dashboard.journey import JourneyScreen
from mailtui.screens.dashboard.log import MailLogPanel
from mailtui.screens.dashboard.log_lines import LogLines
from textual.widgets import Input, Sparkline, Static

from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes_log import DEFERRED_QID, QID, SESSION, LogEngine, delivered_line, ev

NEW_LINE = "Nov 25 15:44:59 mail postfix/smtpd[8800]: connect from host.outside.test[198.18.0.7]"
REJECT_NOW = ("Nov 25 15:45:00 mail postfix/smtpd[8800]: NOQUEUE: reject: RCPT from unknown[198.18.0.7]: 554 5.7.1"
              " <y@outside.test>: Relay access denied; from=<newcomer@outside.test> to=<y@outside.test>"
              " proto=ESMTP helo=<relay2.test>")


def panel(app) -> MailLogPanel:  # noqa: ANN001
    return app.screen.query_one(MailLogPanel)


def lines(app) -> LogLines:  # noqa: ANN001
    return app.screen.query_one("#log-lines", LogLines)


def status(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one("#log-status", Static).render())


async def open_log(pilot, count: str = "18 of 18 lines") -> None:  # noqa: ANN001
    """Switch to the Mail log tab with its key (F5): its lines get the focus."""
    await pilot.pause()
    await pilot.press("f5")
    await wait_for(pilot, lambda: count in status(pilot.app))
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, LogLines))


def row_of(app, needle: str) -> int:  # noqa: ANN001
    for i, (_, event) in enumerate(lines(app).lines):
        if needle in event.raw:
            return i
    raise LookupError(needle)


def colours(app, index: int) -> set[str]:  # noqa: ANN001
    """The colours of a line as the view renders it (its message part, not the dimmed time)."""
    view = lines(app)
    view.move_cursor(index)
    strip = view.render_line(index - view.scroll_offset.y)
    return {seg.style.color.name for seg in strip if seg.style and seg.style.color and seg.text.strip()
            and not seg.style.dim and seg.style.color != view.rich_style.color}


async def test_the_log_is_not_read_until_its_tab_is_shown() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Mailboxes (3)" in screen_text(app))
        assert engine.follow_calls == []
        await open_log(pilot)
        assert engine.follow_calls == [500]


async def test_lines_appear_coloured_by_outcome() -> None:
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        plain = screen_plain(app)
        assert "/var/log/mail.log · following · 18 of 18 lines" in status(app)
        assert f"15:44:30 lmtp       {DEFERRED_QID} to=<carol@example.test>" in plain
        delivered = row_of(app, "status=sent")
        deferred = row_of(app, "status=deferred")
        rejected = row_of(app, "Relay access denied")
        # the view's own text: time dimmed, the rest in the outcome's colour
        text = lines(app).line_text(delivered)
        assert text.plain.startswith(f"15:36:33 lmtp       {QID} to=<alice@example.test>")
        assert [str(s.style) for s in text.spans] == ["dim", "green"]
        assert [str(s.style) for s in lines(app).line_text(deferred).spans] == ["dim", "yellow"]
        # and as rendered on screen
        assert colours(app, delivered) == {"green"}
        assert colours(app, deferred) == {"yellow"}
        assert colours(app, rejected) == {"red"}
        assert colours(app, row_of(app, "SASL PLAIN")) == {"orchid"}  # a magenta unlike the theme's red
        assert colours(app, row_of(app, "Logged in")) == {"cyan"}
        assert colours(app, row_of(app, "mysql server")) == {"red"}  # error: bold red
        assert "bold" in str(lines(app).line_text(row_of(app, "mysql server")).spans[1].style)
        assert colours(app, row_of(app, "connect from unknown")) == set()  # info: default colour


async def test_new_lines_appear_while_following() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        engine.feed([NEW_LINE])
        await wait_for(pilot, lambda: "19 of 19 lines" in status(app))
        assert "15:44:59 smtpd                  connect from host.outside.test[198.18.0.7]" in screen_plain(app)
        view = lines(app)
        assert view.cursor == 18 and view.at_newest  # the cursor follows the newest line


async def test_filter_narrows_as_you_type_and_clearing_restores() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        await pilot.press("slash", *"ALICE")
        assert isinstance(app.focused, Input)
        await wait_for(pilot, lambda: "3 of 18 lines matching “alice”" in status(app))
        plain = screen_plain(app)
        assert "lmtp(alice@example.test)" in plain and "bob@example.test" not in plain
        assert "carol@example.test" not in plain
        # new lines are filtered too
        engine.feed([NEW_LINE, "Nov 25 15:44:59 mail dovecot: imap-login: Info: Login: user=<alice@example.test>,"
                     " method=PLAIN, rip=198.18.0.2, lip=198.18.0.1, mpid=2201, TLS, session=<AbCdEf12>"])
        await wait_for(pilot, lambda: "4 of 20 lines matching “alice”" in status(app))
        await pilot.press("escape")
        assert isinstance(app.focused, LogLines)
        await pilot.press("slash", *["backspace"] * 5)
        await wait_for(pilot, lambda: "20 of 20 lines" in status(app) and "matching" not in status(app))
        await pilot.press("escape", "slash", *"nothing-like-this")
        await wait_for(pilot, lambda: "no line matches “nothing-like-this”" in screen_text(app))
        assert "0 of 20 lines" in status(app)


async def test_pause_holds_new_lines_and_resume_shows_them() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: "paused — 0 new" in status(app))
        before = screen_plain(app)
        engine.feed([NEW_LINE, NEW_LINE.replace("198.18.0.7", "198.18.0.8")])
        await wait_for(pilot, lambda: "paused — 2 new" in status(app))
        assert "18 of 20 lines" in status(app)
        assert "198.18.0.7" not in screen_plain(app)
        assert screen_plain(app).splitlines()[3:19] == before.splitlines()[3:19]  # the view did not move
        await pilot.press("p")
        await wait_for(pilot, lambda: "following · 20 of 20 lines" in status(app))
        assert "198.18.0.8" in screen_plain(app)


async def test_scrolled_back_the_view_stays_and_end_jumps_to_the_newest() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        await pilot.press("home")
        await wait_for(pilot, lambda: "scrolled (End: newest)" in status(app))
        assert "15:36:29 dovecot" in screen_plain(app) and lines(app).cursor == 0
        await pilot.press("pagedown")  # the dashboard's PgDn pages accounts only on the Accounts tab
        assert lines(app).cursor > 5
        await pilot.press("home")
        engine.feed([NEW_LINE])
        await wait_for(pilot, lambda: "19 of 19 lines" in status(app))
        assert "198.18.0.7" not in screen_plain(app) and lines(app).cursor == 0
        await pilot.press("G")
        await wait_for(pilot, lambda: "following · 19 of 19" in status(app))
        assert "198.18.0.7" in screen_plain(app)
        # End also resumes a paused view
        await pilot.press("space")
        engine.feed([NEW_LINE.replace("198.18.0.7", "198.18.0.9")])
        await wait_for(pilot, lambda: "paused — 1 new" in status(app))
        await pilot.press("end")
        await wait_for(pilot, lambda: "following · 20 of 20" in status(app))
        assert "198.18.0.9" in screen_plain(app)


async def test_enter_follows_a_message_through_postfix_and_dovecot() -> None:
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        await pilot.press("slash", *"removed", "enter")  # Enter in the filter box: back to the lines
        await wait_for(pilot, lambda: "1 of 18 lines" in status(app) and isinstance(app.focused, LogLines))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JourneyScreen))
        assert f"Journey of {QID}" in screen_text(app)
        journey = [e.raw for _, e in app.screen.query_one(LogLines).lines]
        assert len(journey) == 6
        assert all(QID in raw for raw in journey if "postfix/" in raw)
        assert any("status=sent" in raw for raw in journey)
        assert any("lmtp(alice@example.test)" in raw and "saved mail to INBOX" in raw for raw in journey)
        assert not any("bob@example.test" in raw for raw in journey)  # another message's delivery
        plain = screen_plain(app)
        assert "client=unknown[127.0.0.1]" in plain and "lmtp(alice@example.test)" in plain
        assert "5 Postfix lines, 1 of Dovecot's delivery" in screen_text(app)
        view = app.screen.query_one(LogLines)
        assert [str(s.style) for s in view.line_text(journey.index(next(r for r in journey if "status=sent" in r)))
                .spans] == ["dim", "green"]
        await pilot.press("home", *["down"] * journey.index(next(r for r in journey if "status=sent" in r)))
        await pilot.pause()
        detail = "".join(line.strip() for line in screen_plain(app).splitlines()[-9:])
        assert f"{SESSION}Saved)" in detail.replace(" ", "")  # the whole delivery line, its end not cut
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, JourneyScreen))
        assert isinstance(app.focused, LogLines)


async def test_enter_on_dovecots_delivery_line_follows_its_message_by_session() -> None:
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        lines(app).move_cursor(row_of(app, "lmtp(alice@example.test)"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JourneyScreen))
        assert f"Journey of {QID}" in screen_text(app)


async def test_enter_on_a_line_without_queue_id_says_so() -> None:
    app = make_app(LogEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        for _ in range(len(lines(app).lines) - 1 - row_of(app, "Relay access denied")):
            await pilot.press("up")
        assert "Relay access denied" in lines(app).current[1].raw
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("has no queue id" in str(n.message) for n in app._notifications))
        assert not isinstance(app.screen, JourneyScreen)


async def test_summary_shows_sparklines_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log, "SUMMARY_EVERY", 0.2)  # recomputed every 0.2 s instead of 2 s: not waited out
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        await wait_for(pilot, lambda: "2/30m" in screen_text(app))
        said = screen_text(app)
        assert "delivered" in said and "auth fail" in said
        for key, counts in (("delivered", "0/1m 1/30m"), ("deferred", "0/1m 2/30m"), ("rejected", "0/1m 1/30m"),
                            ("auth-failure", "0/1m 1/30m")):
            assert str(app.screen.query_one(f"#count-{key}", Static).render()) == counts
        deferred = list(app.screen.query_one("#spark-deferred", Sparkline).data or [])
        assert len(deferred) == 30 and deferred[-1] == 0 and deferred[-2] == 1 and sum(deferred) == 2
        # new lines count in the summary (recomputed every SUMMARY_EVERY)
        engine.feed([REJECT_NOW])
        await wait_for(pilot, lambda: str(app.screen.query_one("#count-rejected", Static).render()) == "1/1m 2/30m")


async def test_a_burst_of_5000_lines_does_not_hang_the_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log, "SUMMARY_EVERY", 0.2)  # the summary catches up without a 2 s wait
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        engine.feed([ev(delivered_line(n, second=n % 60)) for n in range(5000)])
        await wait_for(pilot, lambda: "5,018 of 5,018 lines" in status(app), timeout=60)
        await wait_for(pilot, lambda: str(app.screen.query_one("#count-delivered", Static).render())
                       == "0/1m 5.0k/30m", timeout=30)
        assert sum(app.screen.query_one("#spark-delivered", Sparkline).data or []) == 5001
        assert "to=<user4999@example.test>" in screen_plain(app)  # following: the newest is on screen
        await pilot.press("slash", *"user4999@")
        await wait_for(pilot, lambda: "1 of 5,018 lines" in status(app))


async def test_a_missing_log_file_is_waited_for() -> None:
    app = make_app(LogEngine([], source="/nonexistent/mailtui-test/mail.log"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: "waiting for /nonexistent/mailtui-test/mail.log to appear" in screen_text(app))
        assert "0 of 0 lines" in status(app)


async def test_the_journal_is_named_as_the_source() -> None:
    app = make_app(LogEngine(source="journal"))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        assert status(app).startswith("journal · following")


async def test_following_stops_when_the_app_closes() -> None:
    engine = LogEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot)
        assert not engine.stopped.is_set()
    assert engine.stopped.wait(5)


def test_mail_log_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_log(pilot)
        await wait_for(pilot, lambda: "2/30m" in screen_text(pilot.app))
        await pilot.press("up", "up")
        pilot.app.clear_notifications()  # whatever another tab said while loading
        await wait_for(pilot, lambda: "scrolled" in status(pilot.app) and not pilot.app._notifications)

    assert snap_compare(make_app(LogEngine()), terminal_size=(80, 24), run_before=run_before)
