"""The journal as the mail log where there is no mail log file, on a real systemd.

Debian 12 and 13 have no syslog daemon: a stock Postfix and Dovecot log through syslog(3) into systemd's
journal and nothing writes /var/log/mail.log. That is the server after apt installed the stack and before
mailtui's Postfix step makes Postfix and Dovecot write the mail log themselves (and any Debian server whose
stock Postfix an operator points mailtui at). There `mailtui logs` and the dashboard's Mail log tab read the
journal: the last lines, a filter, one message's journey, and new lines as they come.

On the cached "packages installed" layer (the stock packages as apt installed and started them on systemd).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.harness.testhost import MAILTUI_PYTHONPATH, TestHost, stack_layer, test_host
from tests.reliability.conftest import ANSWERS as EVERYTHING_ON

pytestmark = pytest.mark.e2e

HOSTNAME = "mail.example.test"
ENV = {"PYTHONPATH": MAILTUI_PYTHONPATH}


@pytest.fixture(scope="module", params=["bookworm", "trixie"])
def stock(request: pytest.FixtureRequest) -> Iterator[TestHost]:
    with test_host(request.param, hostname=HOSTNAME, layers=[stack_layer(request.param, EVERYTHING_ON)]) as host:
        # Positive control of the premise: systemd, the stock Postfix running, no mail log file.
        assert host.systemd
        assert host.run(["systemctl", "is-active", "postfix"], check=False).stdout.strip() == "active"
        assert host.run(["test", "-e", "/var/log/mail.log"], check=False).returncode == 1
        yield host


def local_message(marker: str) -> str:
    """A message to root whose Message-ID carries `marker` (cleanup logs it)."""
    return f"From: admin@{HOSTNAME}\nTo: root@{HOSTNAME}\nSubject: {marker}\nMessage-ID: <{marker}@{HOSTNAME}>\n\nhi\n"


def send_local(host: TestHost, marker: str) -> None:
    """A message to root through the stock Postfix (sendmail → pickup → cleanup → qmgr → local)."""
    host.run(["/usr/sbin/sendmail", "-t", "-i"], input=local_message(marker))


def logs(host: TestHost, *args: str) -> list[dict[str, object]]:
    out = host.run(["python3", "-m", "mailtui", "logs", "--json", *args], env=ENV, timeout=120).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def wait_logs(host: TestHost, what: str, cond: Callable[[list[dict[str, object]]], bool], *args: str,
              timeout: float = 30) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:
        events = logs(host, *args)
        if cond(events):
            return events
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not in `mailtui logs {' '.join(args)}` within {timeout} s: {events[-10:]}")
        time.sleep(0.5)


def delivered(events: list[dict[str, object]]) -> bool:
    return any(e["outcome"] == "delivered" and str(e["service"]).startswith("postfix/local") for e in events)


def test_mailtui_logs_reads_the_journal_where_there_is_no_mail_log(stock: TestHost) -> None:
    marker = f"journal-{uuid.uuid4().hex[:10]}"
    send_local(stock, marker)
    # The filter finds cleanup's line naming the message; its queue id leads to the whole journey.
    found = wait_logs(stock, "the message's cleanup line", lambda ev: any(e["queue_id"] for e in ev), "--grep", marker)
    qid = str(next(e["queue_id"] for e in found if e["queue_id"]))
    assert all(marker in str(e["raw"]) for e in found), found
    journey = wait_logs(stock, "the local delivery", delivered, "--queue-id", qid)
    services = [str(e["service"]) for e in journey]
    assert {"postfix/pickup", "postfix/cleanup", "postfix/qmgr", "postfix/local"} <= set(services), services
    # The plain read is the journal too: the last lines hold the delivery, as the file would.
    assert delivered(logs(stock, "-n", "20"))
    # Positive control: the same read of a mail log file that does not exist is refused by name.
    missing = stock.run(["python3", "-m", "mailtui", "logs", "--file", "/var/log/mail.log"], env=ENV, check=False)
    assert missing.returncode != 0 and "/var/log/mail.log" in missing.stdout + missing.stderr


def test_mailtui_logs_follows_the_journal(stock: TestHost) -> None:
    marker = f"follow-{uuid.uuid4().hex[:10]}"
    pid = stock.start_daemon(["/bin/sh", "-c", f"PYTHONPATH={MAILTUI_PYTHONPATH} exec python3 -m mailtui logs "
                              f"-f -n 0 --json --grep {marker} > /root/follow.jsonl"])
    try:
        time.sleep(2)  # journalctl -f is reading; a line sent before it started would be among the last 0 anyway
        send_local(stock, marker)
        deadline = time.monotonic() + 30
        while True:
            text = stock.run(["cat", "/root/follow.jsonl"], check=False).stdout
            events = [json.loads(line) for line in text.splitlines() if line.strip()]
            if events:
                break
            assert time.monotonic() < deadline, "no line of the new message came through `mailtui logs -f`"
            time.sleep(0.5)
        assert all(marker in str(e["raw"]) for e in events), events
        assert events[0]["service"] == "postfix/cleanup", events
    finally:
        stock.run(["kill", str(pid)], check=False)


# Inside the host: the dashboard's Mail log tab on the real journal (the machine has no mailtui install, so
# the app opens on the wizard: the dashboard is opened the way its command does).
TAB = r"""
import asyncio, json, subprocess, sys
from mailtui.api.live import LiveOperations
from mailtui.screens.app import MailtuiApp
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.dashboard.log import MailLogPanel

marker, mail = sys.argv[1], sys.argv[2]

async def main():
    app = MailtuiApp(LiveOperations())
    result = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)
        app.action_dashboard()
        await pilot.pause(0.5)
        app.screen.show_tab("mail-log")
        panel = app.screen.query_one(MailLogPanel)
        for _ in range(200):
            await pilot.pause(0.05)
            if panel.source:
                break
        result["source"] = panel.source
        subprocess.run(["/usr/sbin/sendmail", "-t", "-i"], input=mail, text=True, check=True)
        for _ in range(600):
            await pilot.pause(0.05)
            events = [e for _, e in panel.lines.lines]
            if any(e.outcome == "delivered" and e.service == "postfix/local" and e.queue_id
                   and any(marker in x.raw and x.queue_id == e.queue_id for x in events) for e in events):
                result["delivered"] = True
                break
        result["status"] = panel.status_text()
        result["screen"] = type(app.screen).__name__
    print(json.dumps(result))

asyncio.run(main())
"""


def test_the_mail_log_tab_follows_the_journal(stock: TestHost) -> None:
    marker = f"tab-{uuid.uuid4().hex[:10]}"
    stock.write_file("/root/journal_tab.py", TAB)
    run = stock.run(["python3", "/root/journal_tab.py", marker, local_message(marker)], env=ENV, check=False,
                    timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["screen"] == "DashboardScreen", result
    assert result["source"] == "journal", result
    assert result.get("delivered"), result
    assert result["status"].startswith("journal · following"), result
