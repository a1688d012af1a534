"""The dashboard's Accounts tab, driven by keyboard on an in-memory accounts fake (FakeAccounts)."""

from __future__ import annotations

import pytest
from mailtui.screens.dashboard.dashboard import AccountsPanel, DashboardScreen
from mailtui.screens.wizard.wizard import WizardScreen
from textual.widgets import Input

from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes import DashboardEngine, FakeAccounts, FakeEngine, State


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


async def test_the_other_tabs_are_reachable() -> None:
    # (their panels have tests of their own: test_dashboard_services/queue/log.py)
    app = make_app(DashboardEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "rows 1–2 of 2")

        app.screen.show_tab("queue")
        await wait_for(pilot, lambda: app.screen.query_one("#tab-queue").display
                       and not app.screen.query_one("#tab-accounts").display)


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


async def test_add_mailbox_error_focuses_the_marked_field() -> None:
    """The engine refuses the address: the next keys typed go into Address, not into Again."""
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"dave@nowhere.example", "tab", *"correct-horse-1", "tab", *"correct-horse-2")
        await pilot.pause()
        assert "Again: does not match the password" in screen_plain(app)  # said while typing
        await pilot.press("backspace", "1", "enter")
        await wait_for(pilot, lambda: "not served here" in screen_text(app))
        await pilot.press("ctrl+shift+a", "backspace", *"dave@example.org", "enter", "enter", "enter")
        await wait_for(pilot, lambda: "dave@example.org" in engine.accounts.users)


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
        named = {s for s, d in engine.accounts.aliases if d == "admin@example.org"}
        assert named and all(source in screen_text(app) for source in named)  # the aliases that go with it
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
        assert "No alias delivers to it." in screen_text(app)
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
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#in-role_aliases_to", Input).value)
        await fill(pilot, "#in-name", "Example.COM")
        await pilot.press("enter")  # on to "Role aliases to", which suggests the first mailbox
        await pilot.press("enter")
        await loaded(pilot, "rows 1–3 of 3")
        assert "example.com" in engine.accounts.domains
        first = engine.accounts.list_users(limit=1)[0].email
        assert {("postmaster@example.com", first), ("abuse@example.com", first)} <= engine.accounts.aliases
        await view(pilot, "3", "rows 1–3 of 3")
        await pilot.press("n")
        await pilot.pause()
        await fill(pilot, "#in-source", "@example.com")
        await fill(pilot, "#in-destination", "someone@gmail.com")
        await pilot.press("enter")
        await loaded(pilot, "rows 1–4 of 4")
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


# ---------------------------------------------------------------- last login, sorting, CSV import


LONG = "a-very-long-mailbox-name-that-goes-on-and-on@example.org"


async def test_last_login_column_fills_in_after_the_page_and_fits_80_columns() -> None:
    import threading
    from datetime import datetime

    engine = DashboardEngine(FakeAccounts(users=("admin@example.org", "bob@example.org", LONG)))
    engine.logins = {"admin@example.org": datetime(2026, 11, 25, 14, 3).astimezone()}
    engine.logins_gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        plain = screen_plain(app)
        assert "Last login" in plain and "…" in plain  # the page is there before the log was read
        assert "2026-11-25 14:03" not in plain
        engine.logins_gate.set()
        await wait_for(pilot, lambda: "2026-11-25 14:03" in screen_plain(app))
        plain = screen_plain(app)
        header = next(line for line in plain.splitlines() if "Address" in line)
        assert all(h in header for h in ("Messages", "Size", "Last login"))
        assert all(len(line.rstrip()) <= 80 for line in plain.splitlines())
        bob = next(line for line in plain.splitlines() if "bob@example.org" in line)
        assert bob.rstrip().endswith("—")  # no login in the scanned log
        long_line = next(line for line in plain.splitlines() if "a-very-long" in line)
        assert LONG not in long_line and "…" in long_line and long_line.rstrip().endswith("—")
        table = app.screen.query_one("#accounts-table")
        assert LONG[:35] + "…" in long_line  # 36 cells for the address at 80 columns
        assert table.virtual_size.width <= table.size.width  # nothing scrolls sideways
        # only the page's addresses were looked up
        assert engine.logins_asked and all(asked == [LONG, "admin@example.org", "bob@example.org"]
                                           for asked in engine.logins_asked)
        # the row still stands for the whole address
        await pilot.press("home", "p")
        await wait_for(pilot, lambda: f"New password for {LONG}" in screen_text(app))


async def test_sort_keys_sort_in_the_engine_and_the_status_says_how() -> None:
    engine = DashboardEngine(FakeAccounts(
        domains=("example.org", "example.net", "empty.example"),
        aliases=(("postmaster@example.org", "admin@example.org"), ("abuse@example.net", "carol@example.net"))))
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "rows 1–3 of 3 · sorted by domain ↑")
        table = app.screen.query_one("#accounts-table")
        assert "Domain ↑" in screen_plain(app)
        await pilot.press("o")
        await loaded(pilot, "sorted by mailboxes ↑")
        assert ("list_domains", "mailboxes") in engine.accounts.orders
        assert [table.get_row_at(i)[0] for i in range(3)] == ["empty.example", "example.net", "example.org"]
        assert "Mailboxes ↑" in screen_plain(app)
        await pilot.press("O")
        await loaded(pilot, "sorted by mailboxes ↓")
        assert engine.accounts.orders[-1] == ("list_domains", "-mailboxes")
        assert [table.get_row_at(i)[0] for i in range(3)] == ["example.org", "example.net", "empty.example"]
        await pilot.press("o", "o")
        await loaded(pilot, "sorted by domain ↑")

        await view(pilot, "2", "rows 1–3 of 3 · sorted by address ↑")
        await pilot.press("O")
        await loaded(pilot, "sorted by address ↓")
        assert engine.accounts.orders[-1] == ("list_users", "-email")
        assert [table.get_row_at(i)[0] for i in range(3)] == ["carol@example.net", "bob@example.org",
                                                              "admin@example.org"]
        await pilot.press("o")  # Messages / Size / Last login do not come from the database
        await wait_for(pilot, lambda: any("sort by address only" in str(n.message) for n in app._notifications))
        assert "sorted by address ↓" in screen_text(app)

        await view(pilot, "3", "sorted by source ↑")
        await pilot.press("o")
        await loaded(pilot, "rows 1–2 of 2 · sorted by destination ↑")
        assert engine.accounts.orders[-1] == ("list_aliases", "destination")
        assert table.get_row_at(0)[1] == "admin@example.org"
        # each view keeps its own sort
        await view(pilot, "2", "sorted by address ↓")


async def test_sort_is_kept_while_paging_through_100k() -> None:
    engine = big()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "of 100,003")
        page = app.screen.query_one(AccountsPanel).limit
        await pilot.press("O")
        await loaded(pilot, f"rows 1–{page} of 100,003 · by address ↓")  # "sorted" makes way at 80 columns
        assert "user099999@big.example" in screen_plain(app)
        await pilot.press("pagedown")
        await loaded(pilot, f"rows {page + 1}–{2 * page} of 100,003")
        assert f"user{99999 - page:06d}@big.example" in screen_plain(app)
        assert engine.accounts.orders[-1] == ("list_users", "-email")
        assert all(c[2] <= 30 for c in engine.accounts.calls if c[0] == "list_users")


async def test_clicking_a_column_title_sorts_by_it() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, "sorted by domain ↑")
        table = app.screen.query_one("#accounts-table")
        first = list(table.columns.values())[0].get_render_width(table)
        await pilot.click("#accounts-table", offset=(first + 2, 0))  # the Mailboxes title
        await loaded(pilot, "sorted by mailboxes ↑")
        first = list(table.columns.values())[0].get_render_width(table)
        await pilot.click("#accounts-table", offset=(first + 2, 0))
        await loaded(pilot, "sorted by mailboxes ↓")
        await view(pilot, "2", "sorted by address ↑")
        first = list(table.columns.values())[0].get_render_width(table)
        await pilot.click("#accounts-table", offset=(first + 2, 0))  # Messages: read from disk, not sortable
        await wait_for(pilot, lambda: any("cannot sort" in str(n.message) for n in app._notifications))
        assert engine.accounts.orders[-1] == ("list_users", "email")


def write_csv(tmp_path, text: str):  # noqa: ANN001, ANN201
    path = tmp_path / "mailboxes.csv"
    path.write_text(text)
    return path


async def test_import_form_adds_the_valid_rows_and_reports_the_rejected(tmp_path) -> None:  # noqa: ANN001
    path = write_csv(tmp_path, "email,password\ndave@example.org,correct-horse-1\nerin@example.net,correct-horse-2\n"
                               "bob@nowhere.test,correct-horse-3\nfrank@example.org,short\n"
                               "admin@example.org,correct-horse-4\ngina@example.org,correct-horse-5\n")
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("i")
        await wait_for(pilot, lambda: "Import mailboxes from a CSV file" in screen_text(app))
        await fill(pilot, "#in-file", str(path))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Import finished" in screen_text(app))
        said = screen_text(app)
        assert "Imported 3, rejected 3" in said
        assert "line 4 bob@nowhere.test: the domain nowhere.test is not served here; add it first" in said
        assert "line 5 frank@example.org: password must be at least 8 characters" in said
        assert "line 6 admin@example.org: the mailbox admin@example.org already exists" in said
        assert "correct-horse" not in screen_plain(app) and "short" not in said
        assert {"dave@example.org", "erin@example.net", "gina@example.org"} <= engine.accounts.users
        assert engine.accounts.passwords["dave@example.org"].startswith("{SHA512-CRYPT}$6$")
        await pilot.press("escape")
        await loaded(pilot, "rows 1–6 of 6")
        assert isinstance(app.screen, DashboardScreen)
        assert "Mailboxes (6)" in screen_text(app)
        assert "gina@example.org" in screen_plain(app)


async def test_import_bad_path_or_bad_file_shows_an_inline_error_and_changes_nothing(tmp_path) -> None:  # noqa: ANN001
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("i")
        await wait_for(pilot, lambda: "Import mailboxes from a CSV file" in screen_text(app))
        await fill(pilot, "#in-file", str(tmp_path / "missing.csv"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "does not exist" in screen_text(app))
        assert any(line.startswith("CSV file") and "missing.csv does not exist" in line
                   for line in screen_text(app).splitlines())
        bad = write_csv(tmp_path, "dave@example.org,correct-horse-1\nerin@example.org;correct-horse-2\n")
        await fill(pilot, "#in-file", str(bad))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "line 2 has 1 column" in screen_text(app))
        assert not [c for c in engine.accounts.calls if c[0] in ("add_user_hashes", "new_mailbox_problems")]
        assert len(engine.accounts.users) == 3
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_import_check_only_reports_without_changing_and_a_long_report_scrolls(tmp_path) -> None:  # noqa: ANN001
    rows = "".join(f"user{i}@nowhere.test,correct-horse-{i}\n" for i in range(40))
    path = write_csv(tmp_path, "dave@example.org,correct-horse-1\n" + rows)
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.press("i")
        await wait_for(pilot, lambda: "Import mailboxes from a CSV file" in screen_text(app))
        await fill(pilot, "#in-file", str(path))
        await pilot.click("#form-dry-run")
        await wait_for(pilot, lambda: "Checked: nothing was changed" in screen_text(app))
        assert "Would import 1, rejected 40" in screen_text(app)
        assert "dave@example.org" not in engine.accounts.users
        assert not [c for c in engine.accounts.calls if c[0] == "add_user_hashes"]
        plain = screen_plain(app)
        assert "line 2 user0@nowhere.test" in plain and "line 41 user39@nowhere.test" not in plain
        scroller = app.screen.query_one("#import-rejected")
        assert app.focused is scroller
        await pilot.press("end")
        await wait_for(pilot, lambda: "line 41 user39@nowhere.test" in screen_plain(app))
        assert scroller.scroll_y > 0
        await pilot.press("escape")  # back to the form, which still holds the path
        await wait_for(pilot, lambda: "Import mailboxes from a CSV file" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert len(engine.accounts.users) == 3


async def test_a_running_import_keeps_its_form_until_the_report_is_there(tmp_path) -> None:  # noqa: ANN001
    import threading

    path = write_csv(tmp_path, "dave@example.org,correct-horse-1\n")
    engine = DashboardEngine()
    engine.import_gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "2", "rows 1–3 of 3")
        await pilot.click("#accounts-import")
        await wait_for(pilot, lambda: "Import mailboxes from a CSV file" in screen_text(app))
        await fill(pilot, "#in-file", str(path))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Checking the file…" in screen_text(app))
        await pilot.press("escape")  # not now: the import runs
        await pilot.press("enter")  # nor twice
        await pilot.pause()
        assert "Import mailboxes from a CSV file" in screen_text(app)
        engine.import_gate.set()
        await wait_for(pilot, lambda: "Import finished" in screen_text(app))
        assert "Imported 1, rejected 0" in screen_text(app)
        assert [c for c in engine.accounts.calls if c[0] == "add_user_hashes"] == [("add_user_hashes", 1)]
        await pilot.press("enter")  # Close has the focus when nothing was rejected
        await loaded(pilot, "rows 1–4 of 4")


async def test_add_domain_role_aliases_can_be_refused_and_an_empty_target_is_named() -> None:
    """The add-domain dialog says what the domain accepts, offers postmaster@/abuse@ on by default, names an
    empty target (adding nothing) and, unticked, adds the domain alone."""
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await view(pilot, "1", "rows 1–2 of 2")
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#in-role_aliases_to", Input).value)
        said = screen_plain(app)
        assert "refused (550)" in said and "DNS tab" in said
        aliases_before = set(engine.accounts.aliases)
        await fill(pilot, "#in-role_aliases_to", "")
        await fill(pilot, "#in-name", "new.example")
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: "untick the box" in screen_plain(app))
        assert "new.example" not in engine.accounts.domains
        assert pilot.app.focused is pilot.app.screen.query_one("#in-role_aliases_to", Input)
        await pilot.press("shift+tab", "space")  # untick "Add postmaster@ and abuse@"
        await pilot.pause()
        assert pilot.app.screen.query_one("#in-role_aliases_to", Input).is_disabled
        await pilot.press("shift+tab", "enter")  # Enter on Domain: the only field left, so OK
        await loaded(pilot, "rows 1–3 of 3")
        assert "new.example" in engine.accounts.domains
        assert engine.accounts.aliases == aliases_before
