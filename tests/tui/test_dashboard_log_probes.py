"""The Mail log tab folds the lines of mailtui's own probes (`mailtui check`: LogEvent.probe) away by default,
says how many it hides, and shows them dimmed on t — and hides them again."""

from __future__ import annotations

from mailtui.screens.dashboard.log import MailLogPanel

from tests.tui.conftest import make_app, screen_plain, wait_for
from tests.tui.fakes_log import LogEngine, ev, sample_events
from tests.tui.test_dashboard_log import lines, open_log, status

PROBE_LINES = [
    "Nov 25 15:44:40 mail postfix/submissions/smtpd[5101]: connect from unknown[127.0.0.2]",
    "Nov 25 15:44:40 mail postfix/submissions/smtpd[5101]: disconnect from unknown[127.0.0.2] ehlo=1 quit=1"
    " commands=2",
    "Nov 25 15:44:41 mail dovecot: imap-login: Info: Login aborted: Logged out (no auth attempts in 0 secs)"
    " (no_auth_attempts): user=<>, rip=127.0.0.2, lip=127.0.0.1, TLS, session=<Ab12Cd34>",
]


async def test_probe_lines_are_folded_and_t_shows_them_dimmed() -> None:
    engine = LogEngine(sample_events() + [ev(line) for line in PROBE_LINES])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot, "18 of 21 lines")  # the probes' 3 lines are folded away
        assert status(app).endswith("18 of 21 lines · 3 probe lines hidden (t)")  # whole at 80 columns
        assert "3 probe lines hidden (t)" in screen_plain(app)
        assert "127.0.0.2" not in screen_plain(app)
        assert not any(event.probe for _, event in lines(app).lines)

        await pilot.press("t")
        await wait_for(pilot, lambda: "21 of 21 lines · 3 probe lines dimmed (t)" in status(app))
        view = lines(app)
        shown = [i for i, (_, event) in enumerate(view.lines) if event.probe]
        assert len(shown) == 3 and "unknown[127.0.0.2]" in screen_plain(app)
        assert {str(span.style) for i in shown for span in view.line_text(i).spans} == {"dim"}

        # a new probe line while they are shown comes in dimmed; hidden again, it is counted
        engine.feed(["Nov 25 15:44:58 mail postfix/smtpd[5200]: connect from unknown[127.0.0.2]"])
        await wait_for(pilot, lambda: "22 of 22 lines · 4 probe lines dimmed" in status(app))
        await pilot.press("t")
        await wait_for(pilot, lambda: "18 of 22 lines · 4 probe lines hidden (t)" in status(app))
        assert not app.screen.query_one(MailLogPanel).show_probes


async def test_a_log_of_probes_only_says_so() -> None:
    app = make_app(LogEngine([ev(line) for line in PROBE_LINES]))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_log(pilot, "0 of 3 lines")
        await wait_for(pilot, lambda: "only mailtui's own probe lines so far" in screen_plain(app))
        await pilot.press("t")
        await wait_for(pilot, lambda: "3 of 3 lines" in status(app))
