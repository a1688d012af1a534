"""The dashboard against the real installed stack: the app opens on the dashboard, its real engine
pages mailboxes out of MariaDB, and a mailbox added through it can log in over IMAPS at once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import PASSWORDS, Installed
from tests.e2e.test_mail import imap_login
from tests.harness.testhost import MAILTUI_PYTHONPATH

pytestmark = pytest.mark.e2e

SCRIPT = r'''
import asyncio, json, sys
from mailtui.screens.app import MailtuiApp
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.api.live import LiveOperations

password = sys.stdin.readline().rstrip("\n")
engine = LiveOperations()
result = {"count": engine.count_users(), "page": [u.email for u in engine.list_users("", limit=10, offset=0)]}
result["added"] = engine.add_user("dash@example.test", password)
result["stats"] = engine.mailbox_stats("alice@example.test").messages

def table_cells(app):
    from textual.widgets import DataTable

    cells = []
    for table in app.screen.query(DataTable):
        for i in range(table.row_count):
            cells += [str(c) for c in table.get_row_at(i)]
    return cells

async def main():
    app = MailtuiApp(LiveOperations())
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if isinstance(app.screen, DashboardScreen) and "alice@example.test" in table_cells(app):
                break
        await pilot.press("2")  # the Mailboxes view
        for _ in range(200):
            await pilot.pause(0.05)
            if "alice@example.test" in table_cells(app):
                break
        result["screen"] = type(app.screen).__name__
        result["cells"] = table_cells(app)[:20]
        result["shows_alice"] = "alice@example.test" in table_cells(app)

asyncio.run(main())
print(json.dumps(result))
'''


def test_dashboard_with_the_real_engine(installed: Installed) -> None:
    host = installed.host
    host.write_file("/root/dashboard_check.py", SCRIPT)
    password = "dash-Secret-555"
    run = host.run(["python3", "/root/dashboard_check.py"], input=password + "\n",
                   env={"PYTHONPATH": MAILTUI_PYTHONPATH}, check=False, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    try:
        assert result["count"] >= 2
        assert "alice@example.test" in result["page"]
        assert result["added"] == "dash@example.test"
        assert result["stats"] >= 0
        assert result["screen"] == "DashboardScreen"
        assert result["shows_alice"], result["cells"]
        imap_login(installed, "dash@example.test", password).logout()
        imap_login(installed, "alice@example.test", PASSWORDS["alice@example.test"]).logout()
    finally:
        installed.mailtui("user", "remove", "dash@example.test", "--yes", check=False)


DRIVER = Path(__file__).with_name("dashboard_driver.py")


def test_the_operators_day_in_the_dashboard(installed: Installed, tmp_path: Path) -> None:
    """Add a mailbox on the Accounts tab, mail it over SMTP, see the delivery in the live log and the count
    go up; stop Dovecot on the Services tab, see the deferral in the Queue tab; start it, flush, drained."""
    host = installed.host
    host.write_file("/root/dashboard_driver.py", DRIVER.read_text())
    began = time.monotonic()
    try:
        run = host.run(["python3", "/root/dashboard_driver.py"], input="dash-Day-Secret-77\n",
                       env={"PYTHONPATH": MAILTUI_PYTHONPATH}, check=False, timeout=600)
    finally:
        installed.mailtui("service", "start", "dovecot", check=False)
        installed.mailtui("user", "remove", "dashuser@example.test", "--yes", "--delete-maildir", check=False)
        shots = host.run(["sh", "-c", "ls /root/dash-shots/*.svg 2>/dev/null"], check=False).stdout.split()
        for shot in shots:
            (tmp_path / Path(shot).name).write_text(host.run(["cat", shot]).stdout)
    output = run.stdout + run.stderr
    try:
        summary = json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"the dashboard driver printed no JSON summary (exit {run.returncode}):\n{output[-6000:]}")
    assert run.returncode == 0 and summary.get("ok"), output[-6000:]
    print(f"\n[{installed.release}] dashboard day driven in {time.monotonic() - began:.1f} s; "
          f"deferral seen: {summary['deferral_reason']!r}; screenshots in {tmp_path}")
    assert "dovecot-lmtp" in summary["deferral_reason"] or "Connection refused" in summary["deferral_reason"]
    assert summary["stages"][-1] == "count-two"
