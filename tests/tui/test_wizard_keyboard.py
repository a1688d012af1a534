"""The wizard with the keyboard alone, as an admin over SSH at 80x24 uses it: keys pressed, no clicks, no
focus() calls; what the screen shows is read back from the terminal's text."""

from __future__ import annotations

import threading

from mailtui.screens.widgets.fields import StepList
from mailtui.screens.wizard.diff_view import CONTINUED, DiffScreen, unwrapped
from textual.widgets import Log

from mailtui.model.answers import Alias, Answers, Domain, User
from tests.tui.conftest import PASSWORD, make_app, screen_plain, screen_text, stage, text_of, wait_for, walk_to
from tests.tui.fakes import STEP_NAMES, FakeEngine, Preflight, long_plan, ok_run

WIDTH, HEIGHT = 80, 24
DIFF_STEP = 12  # lines scrolled between two reads of a diff's 21-line body


def rows(app) -> list[str]:  # noqa: ANN001
    return [row.rstrip() for row in screen_plain(app).splitlines()]


async def press_keys(pilot, *keys: str) -> None:  # noqa: ANN001
    for key in keys:
        await pilot.press(key)
        await pilot.pause()


async def press_in_a_row(pilot, *keys: str) -> None:  # noqa: ANN001
    """Keys pressed in a row as fast as a person types: each handled before the next (Textual's own press),
    the whole screen settled once at the end (a settle per key costs ~0.1 s of CPU on the wizard's screen)."""
    await pilot.press(*keys)
    await pilot.pause()


async def type_text(pilot, text: str) -> None:  # noqa: ANN001
    await press_in_a_row(pilot, *(c if c != " " else "space" for c in text))


async def focus_by_tab(pilot, widget_id: str) -> None:  # noqa: ANN001
    for _ in range(12):
        if pilot.app.focused is not None and pilot.app.focused.id == widget_id:
            return
        await press_keys(pilot, "tab")
    raise AssertionError(f"Tab never reaches #{widget_id}")


async def type_passwords(pilot) -> None:  # noqa: ANN001
    """From Email: Tab to Password and type it, Tab to Again and type it again."""
    await press_keys(pilot, "tab")
    await type_text(pilot, PASSWORD)
    await press_keys(pilot, "tab")
    await type_text(pilot, PASSWORD)


async def keyboard_to_review(pilot, *, passwords: bool = True) -> None:  # noqa: ANN001
    """On to Review with PgDn; on Users (focus on Email) the first user's password typed where Tab leads,
    unless `passwords` is False (typed already)."""
    await pilot.pause()
    for _ in range(12):
        if stage(pilot.app) == "review":
            return
        if stage(pilot.app) == "users" and passwords:
            await type_passwords(pilot)
        await press_keys(pilot, "pagedown")
        await pilot.pause()
    assert stage(pilot.app) == "review", screen_plain(pilot.app)


async def read_whole_diff(pilot) -> set[str]:  # noqa: ANN001
    """Every line the diff screen shows, scrolling down one line at a time until nothing moves; wrapped
    lines joined back (each line and its continuations are on the screen together at some point)."""
    seen: set[str] = set()
    previous: list[str] = []
    for _ in range(400):
        screen = rows(pilot.app)
        # Below the title and the hint, above the footer; one column of padding, two of scrollbar.
        body = [row[1:WIDTH - 2].rstrip() for row in screen[2:HEIGHT - 1]]
        seen.update(unwrapped(body))
        if screen == previous:
            return seen
        previous = screen
        # Read every DIFF_STEP lines: consecutive reads overlap by the rest of the body (a wrapped line
        # and its continuations, shorter than that, are on the screen together in one of them).
        await press_in_a_row(pilot, *["down"] * DIFF_STEP)
    raise AssertionError("the diff never stopped scrolling")


async def test_the_quick_walk_gives_the_answers_the_keyboard_walk_gives() -> None:
    """Most wizard tests reach a form with conftest's `walk_to` (Next called, no keystrokes); PgDn and Tab
    typed through every form must reach the same Review with the same answers and the same steps marked done."""
    seen = []
    for keyboard in (False, True):
        engine = FakeEngine()
        app = make_app(engine)
        async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
            await (keyboard_to_review(pilot) if keyboard else walk_to(pilot, "review"))
            await wait_for(pilot, lambda: "changes in" in screen_text(pilot.app))
            steps = text_of(app.screen.query_one(StepList))
            seen.append((engine.plans[-1], steps, app.focused.id if app.focused else None))
    assert seen[0] == seen[1]
    assert seen[0][0].users[0].password == PASSWORD


async def test_review_opens_on_the_first_change_and_enter_reads_its_diff() -> None:
    engine = FakeEngine(plan=long_plan())
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in 7 steps" in screen_plain(app))
        # Focus is on the list (not on Back): Enter on a change without a diff says so and stays here.
        await press_keys(pilot, "enter")
        assert stage(app) == "review" and not isinstance(app.screen, DiffScreen)
        await press_keys(pilot, *["down"] * 9)  # past packages, database, TLS to Postfix's main.cf diff
        await press_keys(pilot, "enter")
        assert isinstance(app.screen, DiffScreen), screen_plain(app)
        shown = rows(app)
        assert shown[0].strip() == "Postfix: set 9 parameters of main.cf"
        assert any(row.startswith(f" {CONTINUED}") for row in shown), "a long line goes on, marked"
        await press_keys(pilot, "n", "escape")
        assert stage(app) == "review" and not isinstance(app.screen, DiffScreen)
        await press_keys(pilot, "enter")  # the list kept the diff shown last: master.cf
        assert rows(app)[0].strip() == "Postfix: add the submission service (587) to master.cf"


async def test_the_whole_wizard_by_keyboard_reading_every_change_and_every_diff_line() -> None:
    plan = long_plan()
    engine = FakeEngine(plan=plan, runs=[ok_run(STEP_NAMES)])
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in 7 steps" in screen_plain(app))
        # Every change's line, moving down the list to its end.
        listed = set()
        for _ in range(60):
            listed.update(row[21:].strip() for row in rows(app))
            await press_keys(pilot, "down")
        text = " ".join(listed)
        for step in plan:
            assert step.title in text
            for change in step.changes:
                assert f"{change.kind}: {change.summary}"[:30] in text, change.summary
        # Every line of every diff: open the first, read it, n to the next until the last.
        await press_keys(pilot, "home")
        for _ in range(30):
            await press_keys(pilot, "enter")
            if isinstance(app.screen, DiffScreen):
                break
            await press_keys(pilot, "down")
        diffs = [change for step in plan for change in step.changes if change.diff]
        for number, change in enumerate(diffs, 1):
            assert f"diff {number} of {len(diffs)}" in rows(app)[1]
            seen = await read_whole_diff(pilot)
            missing = [line for line in change.diff.expandtabs(8).splitlines() if line.rstrip() not in seen]
            assert not missing, f"never shown of {change.target}: {missing}"
            await press_keys(pilot, "n")
        await press_keys(pilot, "escape")
        # The end of the review: Tab to Confirm & install, Enter — the install starts.
        await focus_by_tab(pilot, "review-confirm")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: stage(app) == "apply")
        assert engine.started and engine.started[0][0].users[0].password == PASSWORD


async def to_users(pilot) -> None:  # noqa: ANN001
    await pilot.pause()
    while stage(pilot.app) != "users":
        await press_keys(pilot, "pagedown")


async def test_alias_targets_follow_the_first_mailbox_until_edited() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await to_users(pilot)
        await type_text(pilot, "alice@example.org")  # over admin@example.org (focus selects it)
        await type_passwords(pilot)
        # Tab past Generate to alias 1's source and target; the target is edited by hand.
        await press_keys(pilot, "tab", "tab", "tab")
        await type_text(pilot, "carol@elsewhere.test")
        await press_keys(pilot, *["shift+tab"] * 5)  # back to Email
        await press_keys(pilot, "end", *["backspace"] * len("alice@example.org"))  # emptied, then retyped
        await type_text(pilot, "bob@example.org")  # the first mailbox changes again
        plain = screen_plain(app)
        assert "carol@elsewhere.test" in plain, plain
        assert plain.count("bob@example.org") == 2, plain  # Email and abuse@'s target; none left at alice@/admin@
        assert "admin@example.org" not in plain and "alice@example.org" not in plain
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        answers = engine.plans[0]
        assert answers.users[0].email == "bob@example.org"
        assert [(a.source, a.destination) for a in answers.aliases] == [
            ("postmaster@example.org", "carol@elsewhere.test"), ("abuse@example.org", "bob@example.org")]


async def test_a_problem_found_at_review_focuses_its_field() -> None:
    """The review finds an alias going nowhere and goes back to Users: what is typed next lands in that
    field, not in the password field that had the focus."""
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await to_users(pilot)
        await type_passwords(pilot)
        await press_keys(pilot, "tab", "tab", "tab")  # alias 1's target
        await type_text(pilot, "nobody@example.org")
        await press_keys(pilot, "shift+tab", "shift+tab", "shift+tab")  # back in Again
        for _ in range(5):  # Dovecot, SSL/TLS, Webmail, Firewall, Review: back to Users
            await press_keys(pilot, "pagedown")
        assert stage(app) == "users", screen_plain(app)
        assert "goes to: nobody@example.org is in a" in screen_plain(app), screen_plain(app)
        await type_text(pilot, "admin@example.org")
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        answers = engine.plans[0]
        assert answers.users[0].password == PASSWORD
        assert answers.aliases[0].destination == "admin@example.org"


async def test_passwords_that_differ_are_marked_as_typed_and_on_leaving() -> None:
    app = make_app()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await to_users(pilot)
        await press_keys(pilot, "tab")
        await type_text(pilot, PASSWORD)
        await press_keys(pilot, "tab")
        await type_text(pilot, PASSWORD[:4])  # a beginning of it: nothing to say yet
        assert "does not match" not in screen_plain(app)
        await type_text(pilot, "X")  # can no longer become the password: said at once
        assert "Again: does not match the password" in screen_plain(app)
        await press_keys(pilot, "backspace")
        assert "does not match" not in screen_plain(app)
        await press_keys(pilot, "tab")  # left half typed: differs
        assert "Again: does not match the password" in screen_plain(app)
        await press_keys(pilot, "shift+tab")
        await type_text(pilot, PASSWORD)  # (focus selected it: typed over)
        assert "does not match" not in screen_plain(app)


async def test_a_second_run_keeps_the_first_mailboxs_password_unless_one_is_typed() -> None:
    earlier = Answers(hostname="mx.old.example", domains=[Domain("old.example")],
                      users=[User("boss@old.example", password_hash="$6$salt$hash")],
                      aliases=[Alias("postmaster@old.example", "boss@old.example")])
    engine = FakeEngine(preflight=Preflight(earlier_install=True, install_state="done", suggested=earlier),
                        plan_refuses={"users[0].password": "is empty, and boss@old.example has no mailbox yet"})
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await to_users(pilot)
        assert "unchanged (type a new one" in screen_plain(app)
        while stage(app) != "firewall":  # nothing typed: no "Password is empty" on the way
            await press_keys(pilot, "pagedown")
        await press_keys(pilot, "pagedown")
        # The engine finds no such mailbox (this fake says so once): back on Users, the field marked.
        await wait_for(pilot, lambda: stage(app) == "users")
        assert engine.plans[0].users == [User("boss@old.example", keep_password=True)]
        assert "has no mailbox yet" in screen_plain(app)
        await keyboard_to_review(pilot, passwords=False)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        assert engine.plans[1].users == [User("boss@old.example", keep_password=True)]
        # Another first mailbox needs a password of its own.
        await focus_by_tab(pilot, "review-back")
        await press_keys(pilot, "enter")  # → Firewall
        while stage(app) != "users":
            await press_keys(pilot, "pageup")
        await type_text(pilot, "new@old.example")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "users" and "Password is empty" in screen_plain(app)


async def test_the_live_log_keeps_following_after_a_layout_change() -> None:
    """Textual's Log follows only while it is at its end; the install's log follows whatever happened to
    the box (here: scrolled back to its start, as a layout change left it), unless the operator is in it."""
    run = ok_run(STEP_NAMES)
    run.hold = hold = threading.Event()
    run.events, run.after_hold = run.events[:6], run.events[6:]
    engine = FakeEngine(runs=[run])
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        await focus_by_tab(pilot, "review-confirm")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: "==> Database" in "\n".join(app.screen.query_one("#apply-log", Log).lines))
        log = app.screen.query_one("#apply-log", Log)
        log.scroll_home(animate=False, immediate=True)
        hold.set()
        await wait_for(pilot, lambda: "Install finished" in screen_plain(app))
        assert "verify: working" in screen_plain(app), screen_plain(app)


async def test_verify_scrolls_with_pgdn_at_once() -> None:
    """The results are longer than the screen: PgDn reads on without a Tab first."""
    engine = FakeEngine(runs=[ok_run(STEP_NAMES)])
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        await focus_by_tab(pilot, "review-confirm")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: "Install finished" in screen_plain(app)
                       and getattr(app.focused, "id", None) == "apply-continue")
        await press_keys(pilot, "enter")  # Continue has the focus
        await wait_for(pilot, lambda: "check failed" in screen_plain(app) or "checks failed" in screen_plain(app))
        assert "Mail client settings" not in screen_plain(app)
        for _ in range(4):
            await press_keys(pilot, "pagedown")
        assert "Mail client settings" in screen_plain(app), screen_plain(app)


async def test_after_a_problem_at_review_next_goes_straight_back_to_review() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await to_users(pilot)
        await type_passwords(pilot)
        await press_keys(pilot, "tab", "tab", "tab")  # alias 1's target
        await type_text(pilot, "nobody@example.org")
        while stage(app) != "firewall":
            await press_keys(pilot, "pagedown")
        await press_keys(pilot, "pagedown")
        assert stage(app) == "users"
        assert "Review" in screen_plain(app).splitlines()[-2]  # the Next button says where it goes
        await type_text(pilot, "admin@example.org")
        await press_keys(pilot, "pagedown")  # one key: no Dovecot, SSL/TLS, Webmail, Firewall again
        assert stage(app) == "review"
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        assert engine.plans[-1].aliases[0].destination == "admin@example.org"


async def back_and_forth(pilot) -> None:  # noqa: ANN001
    await focus_by_tab(pilot, "review-back")
    await press_keys(pilot, "enter")
    assert stage(pilot.app) == "firewall"
    await press_keys(pilot, "pagedown")
    assert stage(pilot.app) == "review"


async def test_returning_to_review_keeps_the_plan_until_an_answer_or_the_machine_changes() -> None:
    """The plan takes seconds on a real machine: Back and forward again makes no new one while nothing
    changed; an edited answer, a change on disk or `r` does."""
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await keyboard_to_review(pilot)
        await wait_for(pilot, lambda: "changes in" in screen_plain(app))
        assert len(engine.plans) == 1
        await back_and_forth(pilot)  # to Firewall (Back) and on again (PgDn)
        await wait_for(pilot, lambda: "nothing changed since" in screen_plain(app))
        assert len(engine.plans) == 1
        await press_keys(pilot, "r")  # work it out again on request
        await wait_for(pilot, lambda: len(engine.plans) == 2 and "changes in" in screen_plain(app))
        assert "nothing changed since" not in screen_plain(app)
        engine.disk += 1  # something changed a file the plan reads
        await back_and_forth(pilot)
        await wait_for(pilot, lambda: len(engine.plans) == 3 and "changes in" in screen_plain(app))
        await focus_by_tab(pilot, "review-back")
        await press_keys(pilot, "enter")  # Firewall: a new SSH port
        assert stage(app) == "firewall"
        field = app.screen.query_one("#in-firewall-ssh_port")
        field.focus()
        await press_keys(pilot, "end", "backspace", "3", "pagedown")
        await wait_for(pilot, lambda: len(engine.plans) == 4 and "changes in" in screen_plain(app))
        assert engine.plans[-1].firewall.ssh_port == 2223


async def test_welcome_focuses_next_so_enter_goes_on() -> None:
    """The focus never lands on a hidden widget: on Welcome (no earlier install, so its "Adopt it" checkbox
    is hidden) it is on Next, and Enter goes on to Packages."""
    app = make_app(FakeEngine())
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_for(pilot, lambda: pilot.app.focused is not None)
        await pilot.pause()
        assert pilot.app.focused is not None and pilot.app.focused.id == "nav-next", pilot.app.focused
        await press_keys(pilot, "enter")
        assert stage(app) == "packages", screen_plain(app)
