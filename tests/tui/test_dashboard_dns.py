"""The dashboard's DNS tab: the records for every domain served (one added in the Accounts tab too), from
the one source the Verify screen and `mailtui dns` use; written to a file on request; in the palette."""

from __future__ import annotations

from pathlib import Path

from mailtui.screens.dashboard.common import Confirm
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.widgets.ask_path import AskPathScreen
from textual.widgets import TabbedContent

from tests.tui.conftest import make_app, screen_plain, wait_for
from tests.tui.fakes import DashboardEngine


async def open_dns(pilot) -> None:  # noqa: ANN001
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    await pilot.press(*"dns records")
    await pilot.pause(0.5)
    await pilot.press("enter")
    await wait_for(pilot, lambda: "DNS records to publish" in screen_plain(pilot.app))


async def test_palette_dns_shows_every_domain_served_including_one_added_later() -> None:
    engine = DashboardEngine()
    engine.accounts.add_domain("added-later.test")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dns(pilot)
        assert app.screen.query_one(TabbedContent).active == "tab-dns"
        plain = screen_plain(app)
        assert "3 domains: example.org, added-later.test, example.net" in plain
        assert "mail.example.org A 192.0.2.10" in plain
        seen = plain
        for _ in range(12):  # the records of the domain added later, scrolling with the keyboard
            await pilot.press("pagedown")
            await pilot.pause()
            seen += screen_plain(app)
        assert "added-later.test MX 10 mail.example.org" in seen
        assert "Incoming mail (IMAP) server: mail.example.org" in seen


async def test_write_to_a_file_asks_for_a_path_and_refuses_a_relative_one() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dns(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, AskPathScreen))
        assert app.screen.query_one("#save-path").value == "/root/mailtui-dns.txt"
        await pilot.press("ctrl+shift+a", "backspace", *"/tmp/dns.txt", "enter")
        await wait_for(pilot, lambda: bool(engine.dns_written))
        report, path = engine.dns_written[0]
        assert path == Path("/tmp/dns.txt") and "example.net" in report.domains
        await wait_for(pilot, lambda: any("DNS records written to /tmp/dns.txt" in str(n.message)
                                          for n in app._notifications))
        # A relative path: the dialog comes back saying why, and nothing is written.
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, AskPathScreen))
        await pilot.press("ctrl+shift+a", "backspace", *"dns.txt", "enter")
        await pilot.pause()
        assert isinstance(app.screen, AskPathScreen) and "absolute path" in screen_plain(app)
        assert len(engine.dns_written) == 1


async def test_check_dns_shows_each_record_published_or_what_differs() -> None:
    engine = DashboardEngine()
    engine.dns_changes[("example.org", "MX")] = ["10 mx.elsewhere.test"]
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dns(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: "DNS check (asked 192.0.2.53)" in screen_plain(app))
        assert engine.dns_checked == [None]  # this machine's resolver: the engine chooses it
        plain = screen_plain(app)
        assert "1 of " in plain and "record(s) not as printed" in plain
        assert "✗ MX example.org: the MX of example.org names mx.elsewhere.test" in " ".join(plain.split())
        assert "✓ SPF example.org: published" in plain
        # Fixed in DNS: checked again, every record passes.
        engine.dns_changes.clear()
        await pilot.click("#dns-check-button")
        await wait_for(pilot, lambda: "every record is published as printed" in screen_plain(app))
        assert "✗" not in screen_plain(app)


async def test_rotate_dkim_asks_which_domain_then_the_standby_signs_and_a_new_one_is_listed() -> None:
    engine = DashboardEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dns(pilot)
        await wait_for(pilot, lambda: "2 domains: example.org" in screen_plain(app))
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        plain = screen_plain(app)
        assert "example.org: 202612a signs now; 202612b (standby) would sign" in plain
        assert app.focused is not None and app.focused.id == "confirm-cancel"  # the safe answer first
        await pilot.press("escape")  # cancelled: nothing rotates
        await pilot.pause()
        assert engine.rotated == []
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm))
        await pilot.click("#confirm-d0")
        await wait_for(pilot, lambda: engine.rotated == ["example.org"])
        await wait_for(pilot, lambda: any("202612b signs now" in str(n.message) for n in app._notifications))
        # The records are read again: the new standby (202612c) is listed, to publish before the next rotation.
        seen = ""
        for _ in range(12):
            seen += screen_plain(app)
            if "202612c._domainkey.example.org" in seen:
                break
            await pilot.press("pagedown")
            await pilot.pause()
        assert "202612c._domainkey.example.org" in seen
