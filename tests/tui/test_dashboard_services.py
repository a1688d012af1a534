"""The dashboard's Services tab, driven by keyboard on an in-memory engine (OpsEngine)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.dashboard.services import ServicesPanel
from textual.widgets import Button, DataTable, TabbedContent

from mailtui.api.types import CertificateStatus
from tests.tui.conftest import make_app, screen_plain, screen_text, wait_for
from tests.tui.fakes_ops import OpsEngine, default_services

PROBLEMS = ["postfix check: warning: /etc/postfix/main.cf, line 42: overriding earlier entry: relayhost=",
            "doveconf -n: Error: ssl_cert: Can't open file /etc/ssl/mail.pem: No such file or directory"]


def line_of(app, word: str) -> str:  # noqa: ANN001
    """The screen line where `word` first shows (the table row of a service)."""
    for line in screen_plain(app).splitlines():
        line = " ".join(line.split())
        if word in line:
            return line
    return ""


def flat(app) -> str:  # noqa: ANN001
    """The screen's text with every run of spaces and line ends as one space (wrapped lines join)."""
    return " ".join(screen_plain(app).split())


def tab_label(app) -> str:  # noqa: ANN001
    return str(app.screen.query_one(TabbedContent).get_tab("tab-services").label)


async def open_services(pilot) -> None:  # noqa: ANN001
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
    app.screen.show_tab("services")
    await wait_for(pilot, lambda: "Postfix" in line_of(app, "Postfix") and "running" in flat(app)
                   and "checking postfix check" not in flat(app))


def panel(app) -> ServicesPanel:  # noqa: ANN001
    return app.screen.query_one(ServicesPanel)


async def select(pilot, name: str) -> None:  # noqa: ANN001
    table = pilot.app.screen.query_one("#services-table", DataTable)
    table.move_cursor(row=["postfix", "dovecot", "mariadb"].index(name))
    await pilot.pause()
    assert panel(pilot.app).selected_name() == name


async def test_lists_the_services_with_state_pid_uptime_and_ports() -> None:
    services = default_services()
    services["dovecot"].running = False
    app = make_app(OpsEngine(services=services))
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        assert line_of(app, "Postfix running") == "Postfix running 812 3d04h 25, 465, 587"
        assert line_of(app, "Dovecot") == "Dovecot stopped - - -"
        assert line_of(app, "MariaDB") == "MariaDB running 455 3d04h 3306"
        assert "stopped: Dovecot" in screen_text(app)
        assert app.focused is app.screen.query_one("#services-table")
        footer = screen_plain(app).splitlines()[-1]
        assert "s Start" in footer and "t Stop" in footer and "r Restart" in footer and "l Reload" in footer


async def test_stop_asks_first_cancel_changes_nothing_and_confirming_stops_it() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: "Stop Postfix?" in screen_text(app))
        assert "No mail comes in or goes out" in screen_text(app)
        assert app.focused is not None and app.focused.id == "confirm-cancel"  # the safe answer is the default
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Stop Postfix?" not in screen_text(app))
        assert engine.calls_of("control_service") == []
        assert engine.services["postfix"].running

        await pilot.press("t")
        await wait_for(pilot, lambda: "Stop Postfix?" in screen_text(app))
        await pilot.click("#confirm-stop")
        await wait_for(pilot, lambda: "✓ Postfix stopped" in flat(app)
                       and "Postfix stopped" in line_of(app, "Postfix stopped -"))
        assert engine.calls_of("control_service") == [("control_service", "postfix", "stop")]
        assert "Stopping Postfix Mail Transport Agent: postfix." in flat(app)
        assert line_of(app, "Postfix stopped -") == "Postfix stopped - - -"
        assert "stopped: Postfix" in screen_text(app)


async def test_restart_asks_first_and_shows_the_new_pid() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await select(pilot, "dovecot")
        await pilot.press("r")
        await wait_for(pilot, lambda: "Restart Dovecot?" in screen_text(app))
        await pilot.press("shift+tab", "enter")  # from Cancel to Restart
        await wait_for(pilot, lambda: "✓ Dovecot restarted" in flat(app))
        assert engine.calls_of("control_service") == [("control_service", "dovecot", "restart")]
        await wait_for(pilot, lambda: line_of(app, "Dovecot running") == "Dovecot running 2001 1s 143, 993")


async def test_a_failing_start_shows_the_error_and_the_table_stays_stopped() -> None:
    services = default_services()
    services["mariadb"].running = False
    engine = OpsEngine(services=services)
    engine.fail[("control", "mariadb", "start")] = ("MariaDB did not start:\nJob for mariadb.service failed because "
                                                    "the control process exited with error code.")
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await select(pilot, "mariadb")
        await pilot.press("s")  # start asks nothing
        await wait_for(pilot, lambda: "✗ MariaDB: start failed: MariaDB did not start:" in flat(app))
        assert "Job for mariadb.service failed" in flat(app)
        assert line_of(app, "MariaDB") == "MariaDB stopped - - -"
        assert engine.calls_of("control_service") == [("control_service", "mariadb", "start")]
        assert not app.screen.query_one("#services-start", Button).disabled  # usable again


async def test_start_by_button_starts_a_stopped_service() -> None:
    services = default_services()
    services["postfix"].running = False
    engine = OpsEngine(services=services)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await pilot.click("#services-start")
        await wait_for(pilot, lambda: "✓ Postfix started" in flat(app)
                       and line_of(app, "Postfix running").startswith("Postfix running 2001"))
        assert "Starting Postfix Mail Transport Agent" in flat(app)


async def test_reload_of_a_stopped_service_shows_the_engine_error() -> None:
    services = default_services()
    services["dovecot"].running = False
    engine = OpsEngine(services=services)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await select(pilot, "dovecot")
        await pilot.press("l")
        await wait_for(pilot, lambda: "Dovecot is not running: start it instead of reloading it"
                       in flat(app))
        assert "✗ Dovecot: reload failed" in flat(app)


async def test_reload_of_a_running_service_shows_its_output() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await pilot.press("l")
        await wait_for(pilot, lambda: "✓ Postfix reloaded" in flat(app))
        assert "Reloading Postfix configuration...done." in flat(app)
        assert engine.calls_of("control_service") == [("control_service", "postfix", "reload")]


async def test_buttons_are_disabled_while_an_action_runs() -> None:
    services = default_services()
    services["postfix"].running = False
    engine = OpsEngine(services=services)
    engine.gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: "starting Postfix…" in screen_text(app))
        buttons = list(app.screen.query("#services-bar Button").results(Button))
        assert buttons and all(b.disabled for b in buttons)
        await pilot.press("s", "d")  # refused while busy
        await pilot.pause(0.1)
        engine.gate.set()
        await wait_for(pilot, lambda: "✓ Postfix started" in flat(app))
        await wait_for(pilot, lambda: not any(b.disabled for b in buttons))
        assert engine.calls_of("control_service") == [("control_service", "postfix", "start")]
        assert engine.calls_of("set_dovecot_debug") == []


async def test_problems_are_shown_and_checked_again() -> None:
    engine = OpsEngine(problems=PROBLEMS)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        said = screen_text(app)
        assert "⚠ postfix check: warning: /etc/postfix/main.cf, line 42" in said
        assert "✗ doveconf -n: Error: ssl_cert: Can't open file" in said
        engine.problems = []
        await pilot.press("c")
        await wait_for(pilot, lambda: "no problems from postfix check and doveconf -n" in screen_text(app))
        assert len(engine.calls_of("config_problems")) == 2
        engine.fail[("problems",)] = "`postfix check` timed out"
        await pilot.press("c")
        await wait_for(pilot, lambda: "✗ could not check the configuration: `postfix check` timed out"
                       in screen_text(app))


async def test_no_problems_says_so() -> None:
    app = make_app(OpsEngine())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        assert "✓ no problems from postfix check and doveconf -n" in flat(app)


async def test_debug_switch_shows_a_reminder_until_turned_off() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        assert "debug logging is ON" not in flat(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: "Dovecot debug logging is ON — turn it off when done (d)" in screen_text(app))
        assert engine.debug is True
        assert "set auth_debug = yes" in flat(app) and "doveadm reload" in flat(app)
        assert tab_label(app) == "F3 Services (debug ON)"
        assert "Debug off" in screen_text(app)
        await pilot.press("d")
        await wait_for(pilot, lambda: "✓ Dovecot debug logging is off" in flat(app))
        assert engine.debug is False
        assert "turn it off when done" not in screen_text(app)
        assert tab_label(app) == "F3 Services"
        assert engine.calls_of("set_dovecot_debug") == [("set_dovecot_debug", True), ("set_dovecot_debug", False)]


async def test_debug_left_on_is_reminded_on_every_tab() -> None:
    app = make_app(OpsEngine(debug=True))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Services (debug ON)" in flat(app))
        assert app.screen.query_one(TabbedContent).active == "tab-accounts"
        await open_services(pilot)
        assert "Dovecot debug logging is ON" in screen_text(app)


async def test_debug_switch_failure_shows_the_error_and_no_reminder() -> None:
    engine = OpsEngine()
    engine.fail[("debug",)] = "mailtui has not installed this machine yet"
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: "✗ could not turn Dovecot debug logging on: mailtui has not installed"
                       in flat(app))
        assert "turn it off when done" not in screen_text(app)
        assert tab_label(app) == "F3 Services"


async def test_unreadable_services_show_the_error() -> None:
    engine = OpsEngine()
    engine.fail[("statuses",)] = "/proc is not mounted"
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DashboardScreen))
        app.screen.show_tab("services")
        await wait_for(pilot, lambda: "could not read the services: /proc is not mounted" in screen_text(app))


async def test_validation_errors_are_shown_not_raised() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        panel(app).action_control("exim", "start")
        await wait_for(pilot, lambda: "✗ exim: start failed: service: 'exim' is not one of" in flat(app))


async def test_the_table_refreshes_by_itself_while_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ServicesPanel, "REFRESH_SECONDS", 0.2)
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        engine.services["mariadb"].running = False  # stopped behind our back
        await wait_for(pilot, lambda: line_of(app, "MariaDB") == "MariaDB stopped - - -")
        app.screen.show_tab("accounts")
        await pilot.pause(0.3)
        asked = len(engine.calls_of("service_statuses"))
        await pilot.pause(0.6)
        assert len(engine.calls_of("service_statuses")) == asked  # not while another tab is shown


async def test_g_refreshes_now() -> None:
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        engine.services["postfix"].running = False
        await pilot.press("g")
        await wait_for(pilot, lambda: line_of(app, "Postfix stopped") == "Postfix stopped - - -")


def test_services_snapshot(snap_compare) -> None:  # noqa: ANN001
    services = default_services()
    services["dovecot"].running = False
    engine = OpsEngine(services=services, problems=PROBLEMS[:1])

    async def run_before(pilot) -> None:  # noqa: ANN001
        await open_services(pilot)

    assert snap_compare(make_app(engine), terminal_size=(80, 24), run_before=run_before)


async def test_shows_the_served_certificate_its_expiry_and_what_is_wrong() -> None:
    """The certificate line: the fakes' self-signed one (fine), then an ACME server whose last order failed
    (a warning naming it) — read again with c."""
    engine = OpsEngine()
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_services(pilot)
        await wait_for(pilot, lambda: "Certificate for mail.example.org self-signed: expires" in flat(app))
        assert "✓ Certificate for" in flat(app)
        expiry = datetime.now(timezone.utc) + timedelta(days=800)
        engine.certificate = CertificateStatus("mail.example.org", "self-signed (until the CA's is there)",
                                               "/etc/ssl/mailtui/cert.pem", expiry,
                                               problem="the last order failed: Connection refused")
        await pilot.press("c")
        await wait_for(pilot, lambda: "the last order failed: Connection refused" in flat(app))
        assert "⚠ Certificate for mail.example.org self-signed (until the CA's is there)" in flat(app)
        engine.fail[("certificate",)] = "not installed yet"
        await pilot.press("c")
        await wait_for(pilot, lambda: "✗ could not read the certificate: not installed yet" in flat(app))
