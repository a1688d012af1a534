"""The dashboard's Accounts tab, driven by keyboard on an in-memory accounts fake (FakeAccounts)."""

from __future__ import annotations

import pytest
from mailtui.screens.dashboard import AccountsPanel, DashboardScreen
from mailtui.screens.wizard import WizardScreen
from textual.widgets import Input

from .conftest import make_app, screen_plain, screen_text, wait_for
from .fakes import DashboardEngine, FakeAccounts, FakeEngine, State


def big() -> DashboardEngine:
    return DashboardEngine(FakeAccounts(generated=100_000))


def status(app) -> str:  # noqa: ANN001
    return screen_text(app).split("rows ")[-1] if "rows " in screen_text(app) else ""


async def loaded(pilot, text: str) -> None:  # noqa: ANN001
    await wait_for(pilot, lambda: text in screen_text(pilot.app))


async def view(pilot, key: str, count: str) -> None:  # noqa: ANN001
    pilot.app.screen.query_one("#accounts-table").focus()
    await pilot.press(key)
    await loaded(pilot, count)


async def fill(pilot, selector: str, text: str) -> None:  # noqa: ANN001
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    await pilot.pause()
    box.select_all()
    await pilot.press("backspace", *(c if c != " " else "space" for c in text))


async def test_installed_machine_opens_the_dashboard_and_the_wizard_stays_reachable() -> None:
    app = make_app(DashboardEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "rows 1–2 of 2")
        assert isinstance(app.screen, DashboardScreen)
        said = screen_text(app)
        assert "Domains (2)" in said and "Mailboxes (3)" in said and "Aliases (1)" in said
        assert "example.org" in screen_plain(app)
        app.action_wizard()
        await pilot.pause()
        assert isinstance(app.screen, WizardScreen)
        app.action_dashboard()
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


@pytest.mark.parametrize("engine", [FakeEngine(), DashboardEngine(installed=False),
                                    DashboardEngine(state=State("running", 1, alive=True))])
async def test_not_installed_or_installing_opens_the_wizard(engine: FakeEngine) -> None:
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen_stack[0], WizardScreen) or isinstance(app.screen, WizardScreen)
        assert app.dashboard is None


async def test_placeholder_tabs_say_what_is_coming() -> None:
    app = make_app(DashboardEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "rows 1–2 of 2")
        from textual.widgets import TabbedContent

        app.screen.query_one(TabbedContent).active = "tab-queue"
        await wait_for(pilot, lambda: "postqueue -j" in screen_text(app))


async def test_100k_mailboxes_show_the_first_page_and_the_count_asking_only_for_pages() -> None:
    engine = big()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "Mailboxes (100,003)")
        await view(pilot, "2", "of 100,003")
        panel = app.screen.query_one(AccountsPanel)
        page = panel.limit
        assert 5 <= page <= 20  # fits 80x24
        assert f"rows 1–{page} of 100,003" in screen_text(app)
        plain = screen_plain(app)
        assert "admin@example.org" in plain and "user000000@big.example" in plain
        assert f"user{page - 3:06d}@big.example" not in plain
        lists = [c for c in engine.accounts.calls if c[0].startswith("list_")]
        assert lists and all(c[2] <= 30 for c in lists), lists
        # maildir stats only for the rows shown
        assert len(engine.stats_asked) <= 2 * page

        await pilot.press("pagedown")
        await loaded(pilot, f"rows {page + 1}–{2 * page} of 100,003")
        assert f"user{page - 3:06d}@big.example" in screen_plain(app)
        assert ("list_users", "", page, page) in engine.accounts.calls
        await pilot.press("pageup")
        await loaded(pilot, f"rows 1–{page} of 100,003")


async def test_filter_narrows_as_you_type() -> None:
    engine = big()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "of 100,003")
        await pilot.press("slash", *"user09999")
        await loaded(pilot, "rows 1–10 of 10 matching “user09999”")
        plain = screen_plain(app)
        assert "user099990@big.example" in plain and "admin@example.org" not in plain
        await fill(pilot, "#accounts-filter", "carol")
        await loaded(pilot, "rows 1–1 of 1 matching “carol”")
        assert "carol@example.net" in screen_plain(app)
        await fill(pilot, "#accounts-filter", "nobody-like-this")
        await loaded(pilot, "nothing matches")


async def test_add_mailbox_with_mismatching_passwords_shows_inline_error_and_adds_nothing() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-email", "dave@example.org")
        await fill(pilot, "#in-password", "correct-horse-1")
        await fill(pilot, "#in-password2", "correct-horse-2")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Again: does not match the password" in screen_text(app))
        assert "dave@example.org" not in engine.accounts.users
        assert not [c for c in engine.accounts.calls if c[0] == "add_user"]

        # the engine's own problems land under their fields too
        await fill(pilot, "#in-email", "dave@nowhere.example")
        await fill(pilot, "#in-password2", "correct-horse-1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not served here" in screen_text(app))
        assert "dave@nowhere.example" not in engine.accounts.users


async def test_add_valid_mailbox_appears() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-email", "Dave@Example.org")
        await fill(pilot, "#in-password", "correct-horse-1")
        await fill(pilot, "#in-password2", "correct-horse-1")
        await pilot.press("enter")
        await loaded(pilot, "rows 1–4 of 4")
        assert isinstance(app.screen, DashboardScreen)
        assert "dave@example.org" in screen_plain(app)
        assert engine.accounts.passwords["dave@example.org"] == "correct-horse-1"


async def test_generated_password_is_shown_once() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-email", "erin@example.org")
        await pilot.click("#form-generate")
        await pilot.pause()
        assert "Generated password, shown only now: Generated-Secret-01" in screen_text(app)
        assert "Generated-Secret-01" in screen_plain(app)
        await pilot.click("#form-ok")
        await loaded(pilot, "rows 1–4 of 4")
        assert engine.accounts.passwords["erin@example.org"] == "Generated-Secret-01"
        assert "Generated-Secret-01" not in screen_plain(app)


async def test_change_password() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("p")
        await pilot.pause()
        assert "New password for admin@example.org" in screen_text(app)
        await fill(pilot, "#in-password", "short")
        await fill(pilot, "#in-password2", "short")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(line.startswith(("Password ", "Password:"))
                                          for line in screen_text(app).splitlines()))
        assert engine.accounts.passwords["admin@example.org"] == "x"
        await fill(pilot, "#in-password", "a-much-longer-one-7")
        await fill(pilot, "#in-password2", "a-much-longer-one-7")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await wait_for(pilot, lambda: engine.accounts.passwords["admin@example.org"] == "a-much-longer-one-7")


async def test_remove_mailbox_asks_first_and_cancel_keeps_it() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("x")
        await wait_for(pilot, lambda: "Remove the mailbox admin@example.org?" in screen_text(app))
        assert "Keep its mail on disk" in screen_text(app)
        await pilot.press("enter")  # the focused default is Cancel
        await pilot.pause()
        assert "admin@example.org" in engine.accounts.users
        assert "rows 1–3 of 3" in screen_text(app)

        await pilot.press("x")
        await wait_for(pilot, lambda: "Remove the mailbox" in screen_text(app))
        await pilot.click("#confirm-keep")
        await loaded(pilot, "rows 1–2 of 2")
        assert "admin@example.org" not in engine.accounts.users
        assert engine.deleted_maildirs == []
        assert "admin@example.org" not in screen_plain(app)

        await pilot.press("x")
        await wait_for(pilot, lambda: "Remove the mailbox bob@example.org?" in screen_text(app))
        await pilot.click("#confirm-delete")
        await loaded(pilot, "rows 1–1 of 1")
        assert engine.deleted_maildirs == ["bob@example.org"]


async def test_remove_alias_asks_first() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "3", "rows 1–1 of 1")
        await pilot.press("x")
        await wait_for(pilot, lambda: "postmaster@example.org → admin@example.org" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
        assert engine.accounts.aliases
        await pilot.press("x")
        await wait_for(pilot, lambda: "Remove this alias?" in screen_text(app))
        await pilot.click("#confirm-remove")
        await loaded(pilot, "none yet")
        assert not engine.accounts.aliases


async def test_remove_domain_shows_what_goes_with_it() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "rows 1–2 of 2")  # example.net, example.org
        await pilot.press("down", "x")
        await wait_for(pilot, lambda: "Remove the domain example.org?" in screen_text(app))
        assert "This also removes 2 mailboxes and 1 alias" in screen_text(app)
        assert "admin@example.org" in screen_text(app)
        assert "example.org" in engine.accounts.domains  # a preview changes nothing
        await pilot.click("#confirm-remove")
        await loaded(pilot, "rows 1–1 of 1")
        assert "example.org" not in engine.accounts.domains
        assert "Domains (1)" in screen_text(app)


async def test_add_domain_and_catch_all_alias_forwarding_outside() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "1", "rows 1–2 of 2")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-name", "Example.COM")
        await pilot.press("enter")
        await loaded(pilot, "rows 1–3 of 3")
        assert "example.com" in engine.accounts.domains
        await view(pilot, "3", "rows 1–1 of 1")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-source", "@example.com")
        await fill(pilot, "#in-destination", "someone@gmail.com")
        await pilot.press("enter")
        await loaded(pilot, "rows 1–2 of 2")
        assert ("@example.com", "someone@gmail.com") in engine.accounts.aliases
        assert "catch-all" in screen_plain(app)


async def test_bad_alias_input_shows_the_field_error_and_adds_nothing() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "3", "rows 1–1 of 1")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-source", "not an address")
        await fill(pilot, "#in-destination", "someone@gmail.com")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(line.startswith("Source") and len(line) > 7
                                          for line in screen_text(app).splitlines()))
        assert len(engine.accounts.aliases) == 1
        assert not [c for c in engine.accounts.calls if c[0] == "add_alias"]


async def test_engine_errors_become_a_notification() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        engine.accounts.users.discard("admin@example.org")  # removed behind our back (by the CLI)
        await pilot.press("x")
        await wait_for(pilot, lambda: "Remove the mailbox" in screen_text(app))
        await pilot.click("#confirm-keep")
        await wait_for(pilot, lambda: any("does not exist" in str(n.message) for n in app._notifications))


def test_accounts_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await loaded(pilot, "rows 1–3 of 3")
        await view(pilot, "2", "of 100,003")

    assert snap_compare(make_app(big()), terminal_size=(80, 24), run_before=run_before)
