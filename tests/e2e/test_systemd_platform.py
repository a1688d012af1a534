"""The platform real servers run: after the install on a host that boots systemd, nothing is left failed and
every service mailtui set up is enabled at boot and active — including ufw, whose unit `ufw enable` alone
leaves inactive for the current boot — although apt started Postfix, Dovecot, MariaDB and fail2ban from
their stock configuration during the packages step (fail2ban failing there on Debian 12). And after a
reboot everything comes back by itself.

The reboot test runs last on the shared installed host (this file sorts after the others that use it);
tests that might come after it run on a rebooted server, which must be just as good."""

from __future__ import annotations

import json
import time
import uuid

from tests.e2e.conftest import PASSWORDS, Installed, start_sink
from tests.e2e.test_aliases_real import wait_in_sink
from tests.e2e.test_mail import ALICE, _submission, imap_login, message, send_port25, wait_for_delivery
from tests.harness.testhost import MAILTUI_PYTHONPATH

SERVICES = ("postfix", "dovecot", "mariadb", "fail2ban", "ufw", "ssh")


def test_no_failed_units_and_every_service_enabled_and_active(installed: Installed) -> None:
    host = installed.host
    assert host.systemd
    failed = host.run(["systemctl", "--failed", "--no-legend", "--plain"]).stdout
    state = host.run(["systemctl", "is-system-running"], check=False).stdout.strip()
    assert not failed.strip() and state == "running", f"{state}: {failed}"
    for name in SERVICES:
        enabled = host.run(["systemctl", "is-enabled", name], check=False).stdout.strip()
        active = host.run(["systemctl", "is-active", name], check=False).stdout.strip()
        assert (enabled, active) == ("enabled", "active"), f"{name}: {enabled}/{active}"


def test_check_fails_when_a_unit_is_disabled_and_install_repairs_it(installed: Installed) -> None:
    host = installed.host
    host.run(["systemctl", "disable", "--quiet", "dovecot"])
    try:
        check = installed.mailtui("check", check=False, timeout=300)
        assert check.returncode != 0 and "dovecot's unit is disabled" in check.stdout, check.stdout[-3000:]
        code, output = installed.install()
        assert code == 0, output[-4000:]
        assert "enabling dovecot at boot" in output, output[-4000:]
    finally:
        host.run(["systemctl", "enable", "--quiet", "dovecot"], check=False)
    assert host.run(["systemctl", "is-enabled", "dovecot"], check=False).stdout.strip() == "enabled"
    assert installed.mailtui("check", check=False, timeout=300).returncode == 0


DASHBOARD = r"""
import asyncio, json
from mailtui.api.live import LiveOperations
from mailtui.screens.app import MailtuiApp
from mailtui.screens.dashboard.dashboard import DashboardScreen
from textual.widgets import DataTable

def cells(app):
    return [str(c) for t in app.screen.query(DataTable) for i in range(t.row_count) for c in t.get_row_at(i)]

async def main():
    app = MailtuiApp(LiveOperations())
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(400):
            await pilot.pause(0.05)
            if isinstance(app.screen, DashboardScreen):
                break
        await pilot.press("2")  # the Mailboxes view: read from MariaDB
        for _ in range(400):
            await pilot.pause(0.05)
            if "alice@example.test" in cells(app):
                break
        print(json.dumps({"screen": type(app.screen).__name__, "alice": "alice@example.test" in cells(app)}))

asyncio.run(main())
"""


def _firewall(installed: Installed) -> str:
    return installed.host.run(["ufw", "status", "verbose"]).stdout


def test_everything_comes_back_after_a_reboot(installed: Installed) -> None:
    host = installed.host
    rules = _firewall(installed)
    assert "Status: active" in rules
    took = host.reboot()
    booted = time.monotonic()
    start_sink(host)  # test scaffolding: the stand-in for the outside relay
    assert host.boot_state == "running", host.run(["systemctl", "--failed"], check=False).stdout
    timings = {"reboot to running": round(took, 1)}

    marker = uuid.uuid4().hex
    send_port25(installed, ALICE, marker)  # in
    wait_for_delivery(installed, ALICE, marker)
    timings["mail in"] = round(time.monotonic() - booted, 1)
    out = uuid.uuid4().hex
    with _submission(installed, 587) as smtp:  # out, through the relay
        smtp.login(ALICE, PASSWORDS[ALICE])
        smtp.send_message(message(ALICE, "someone@elsewhere.test", out))
    wait_in_sink(installed, out)
    timings["mail out"] = round(time.monotonic() - booted, 1)
    with imap_login(installed, ALICE, PASSWORDS[ALICE]) as imap:
        assert imap.select("INBOX")[0] == "OK"
    jails = host.run(["fail2ban-client", "status"]).stdout
    assert all(j in jails for j in ("dovecot", "postfix-sasl")), jails
    assert _firewall(installed) == rules
    assert host.run(["systemctl", "is-active", "ufw"], check=False).stdout.strip() == "active"
    check = installed.mailtui("check", check=False, timeout=300)
    assert check.returncode == 0, check.stdout[-3000:]
    timings["check passed"] = round(time.monotonic() - booted, 1)
    dash = host.run(["python3", "-c", DASHBOARD], env={"PYTHONPATH": MAILTUI_PYTHONPATH, "TERM": "xterm"},
                    timeout=120)
    seen = json.loads(dash.stdout.strip().splitlines()[-1])
    assert seen == {"screen": "DashboardScreen", "alice": True}, dash.stdout[-2000:] + dash.stderr[-2000:]
    timings["dashboard open"] = round(time.monotonic() - booted, 1)
    print(f"[{installed.release}] after the reboot: {timings}")
    assert timings["dashboard open"] <= 60, timings
