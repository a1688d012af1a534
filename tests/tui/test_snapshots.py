"""SVG snapshots of every screen at 80x24 (pytest-textual-snapshot). A regenerated snapshot proves
nothing by itself: test_wizard.py's text assertions carry the meaning; these catch layout drift."""

from __future__ import annotations

import pytest

from mailtui.model.answers import Answers, Domain, User
from tests.tui.conftest import error_of, make_app, screen_plain, screen_text, type_into, wait_for, walk_to
from tests.tui.fakes import STEP_NAMES, FakeEngine, Preflight, State, failing_run, ok_run

SIZE = (80, 24)


def at(target: str):  # noqa: ANN201
    async def run_before(pilot) -> None:  # noqa: ANN001
        await walk_to(pilot, target)
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("target", ["welcome", "packages", "database", "postfix", "users", "dovecot", "tls",
                                    "webmail", "firewall"])
def test_form_snapshots(snap_compare, target: str) -> None:  # noqa: ANN001
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=at(target))


def test_validation_error_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await walk_to(pilot, "postfix")
        await type_into(pilot, "hostname", "localhost")
        await type_into(pilot, "outbound.relayhost", "smtp:99999")
        app = pilot.app
        await wait_for(pilot, lambda: error_of(app, "hostname") and error_of(app, "outbound.relayhost"))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_tls_acme_snapshot(snap_compare) -> None:  # noqa: ANN001
    """ACME chosen: its fields alive, the files' fields off, what must be true first below them."""

    async def run_before(pilot) -> None:  # noqa: ANN001
        await walk_to(pilot, "tls")
        await pilot.press("down", "down", "space", "tab")
        await type_into(pilot, "tls.email", "certs@example.org")
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#tls-acme-note").display)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_adopt_snapshot(snap_compare) -> None:  # noqa: ANN001
    pf = Preflight(earlier_install=True, install_state="done", tutorial_database=True, postfix_version="3.7.11",
                   dovecot_version="2.3.19", mariadb_version="10.11.6")
    assert snap_compare(make_app(FakeEngine(preflight=pf)), terminal_size=SIZE)


def test_not_root_snapshot(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(make_app(FakeEngine(root=False)), terminal_size=SIZE)


def test_help_snapshot(snap_compare) -> None:  # noqa: ANN001
    assert snap_compare(make_app(), terminal_size=SIZE, press=["f1"])


def test_review_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "5 changes" in screen_text(pilot.app))

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


async def _confirm(pilot) -> None:  # noqa: ANN001
    await walk_to(pilot, "review")
    await wait_for(pilot, lambda: not pilot.app.screen.query_one("#review-confirm").disabled)
    await pilot.click("#review-confirm")


def test_apply_failed_snapshot(snap_compare) -> None:  # noqa: ANN001
    engine = FakeEngine(runs=[failing_run(STEP_NAMES, "postfix", "postfix-mysql is not available")])

    async def run_before(pilot) -> None:  # noqa: ANN001
        await _confirm(pilot)
        # The failure box takes the live log's place below the step rows (nine since DKIM joined), the log's
        # last lines in it. Settled: the focus moved to Retry (after the status text changes).
        await wait_for(pilot, lambda: "Failed in postfix" in screen_text(pilot.app)
                       and "Last output" in screen_plain(pilot.app)
                       and getattr(pilot.app.focused, "id", None) == "apply-retry")

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=run_before)


def test_apply_done_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _confirm(pilot)
        # ... and the log pane has scrolled to its last line (written from a worker thread).
        await wait_for(pilot, lambda: "Install finished" in screen_text(pilot.app)
                       and "verify: working" in screen_plain(pilot.app)
                       and getattr(pilot.app.focused, "id", None) == "apply-continue")

    assert snap_compare(make_app(FakeEngine(runs=[ok_run()])), terminal_size=SIZE, run_before=run_before)


def test_verify_snapshot(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _confirm(pilot)
        # ... and the log pane has scrolled to its last line (written from a worker thread).
        await wait_for(pilot, lambda: "Install finished" in screen_text(pilot.app)
                       and "verify: working" in screen_plain(pilot.app)
                       and getattr(pilot.app.focused, "id", None) == "apply-continue")
        await pilot.click("#apply-continue")
        await wait_for(pilot, lambda: "DNS records" in screen_text(pilot.app))

    assert snap_compare(make_app(FakeEngine(runs=[ok_run()])), terminal_size=SIZE, run_before=run_before)


def test_resume_snapshot(snap_compare) -> None:  # noqa: ANN001
    pending = Answers(hostname="mail.example.org", domains=[Domain("example.org")], users=[User("a@example.org")])
    state = State("failed", 1, steps={"packages": "done", "database": "failed"},
                  error="MariaDB did not start: see journalctl -u mariadb", failed_step="database")
    assert snap_compare(make_app(FakeEngine(state=state, pending=pending)), terminal_size=SIZE)
