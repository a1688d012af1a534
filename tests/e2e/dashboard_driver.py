"""Drive the dashboard with Pilot against the real installed stack: runs INSIDE an installed test host.

    PYTHONPATH=/opt/mailtui/app:/opt/mailtui/deps python3 /root/dashboard_driver.py < password

The operator's day, by keyboard: add a mailbox on the Accounts tab, send it a message over SMTP, see the
delivery in the Mail log tab and the mailbox's message count go up; stop Dovecot on the Services tab
(confirming the question), send again and see the deferral in the Queue tab; start Dovecot, flush the
queue and see it drain into the mailbox. An SVG screenshot of each stage goes to /root/dash-shots/; the
last stdout line is a JSON summary; the exit status is 0 only if every stage was seen on the screen.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import sys
import time
import traceback
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailtui.screens.app import MailtuiApp
from mailtui.screens.dashboard.common import Confirm
from mailtui.screens.dashboard.dashboard import DashboardScreen
from mailtui.screens.dashboard.log import MailLogPanel
from mailtui.screens.dashboard.queue import QueuePanel
from mailtui.screens.dashboard.services import ServicesPanel
from textual.widgets import DataTable, Input

from mailtui.api.live import LiveOperations

USER = "dashuser@example.test"
SHOTS = Path("/root/dash-shots")


class DriverError(RuntimeError):
    pass


def screen_plain(app: MailtuiApp) -> str:
    """The whole terminal as plain text (what the operator reads), from Textual's own compositor."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def send(to: str, marker: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "someone@sender.test", to, f"dashboard {marker}"
    msg["Message-ID"] = f"<{marker}@sender.test>"
    msg.set_content(f"hello {marker}\n")
    with smtplib.SMTP("127.0.0.1", 25, timeout=30) as smtp:
        smtp.send_message(msg)


class Driver:
    def __init__(self, app: MailtuiApp, pilot: Any, password: str) -> None:
        self.app, self.pilot, self.password = app, pilot, password
        self.began = time.monotonic()
        self.seen: dict[str, Any] = {"stages": []}

    def log(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f} s] {text}", flush=True)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(exist_ok=True)
        self.app.save_screenshot(filename=f"{len(self.seen['stages']):02d}-{name}.svg", path=str(SHOTS))
        self.seen["stages"].append(name)
        self.log(f"stage {name}")

    async def until(self, what: str, cond: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if cond():
                    return
            except Exception:  # noqa: BLE001 - the screen may be mid-update
                pass
            if time.monotonic() > deadline:
                self.shot(f"timeout-{what.replace(' ', '-')}")
                raise DriverError(f"timed out waiting for {what}; the screen shows:\n{screen_plain(self.app)}")
            await self.pilot.pause(0.1)

    @property
    def dash(self) -> DashboardScreen:
        screen = self.app.screen
        assert isinstance(screen, DashboardScreen), type(screen).__name__
        return screen

    def screen_has(self, text: str) -> bool:
        return text in screen_plain(self.app)

    async def type(self, selector: str, text: str) -> None:
        box = self.app.screen.query_one(selector, Input)
        box.focus()
        await self.pilot.pause()
        box.value = ""
        await self.pilot.press(*(c if c != " " else "space" for c in text))

    # ------------------------------------------------------------ accounts

    def mailbox_row(self) -> list[str] | None:
        table = self.dash.query_one("#accounts-table", DataTable)
        for i in range(table.row_count):
            row = [str(c) for c in table.get_row_at(i)]
            if row and row[0].startswith(USER):
                return row
        return None

    async def messages_of_user(self) -> int | None:
        row = self.mailbox_row()
        return int(row[1]) if row and row[1].strip().isdigit() else None

    async def show_mailbox(self) -> None:
        """Filter the Mailboxes view to the user (reloads its page: counts come fresh from the maildir)."""
        self.dash.show_tab("accounts")
        await self.until("the accounts table", lambda: self.app.focused is not None
                         and self.app.focused.id == "accounts-table")
        await self.pilot.press("2")
        await self.type("#accounts-filter", "")
        await self.pilot.pause(0.5)
        await self.type("#accounts-filter", USER.split("@")[0])

    async def add_user(self) -> None:
        await self.until("the dashboard", lambda: isinstance(self.app.screen, DashboardScreen)
                         and self.screen_has("Mailboxes ("))
        self.dash.query_one("#accounts-table").focus()
        await self.pilot.press("2")
        await self.until("the Mailboxes view", lambda: self.screen_has("alice@example.test"))
        self.shot("accounts")
        await self.pilot.press("n")
        await self.until("the add form", lambda: bool(self.app.screen.query("#in-email")))
        await self.type("#in-email", USER)
        await self.type("#in-password", self.password)
        await self.type("#in-password2", self.password)
        self.shot("add-form")
        await self.pilot.press("enter")
        await self.until("the new mailbox", lambda: isinstance(self.app.screen, DashboardScreen)
                         and self.screen_has(USER))
        await self.show_mailbox()
        await self.until("0 messages", lambda: self.mailbox_row() is not None and self.mailbox_row()[1] == "0")
        self.seen["messages_before"] = 0
        self.shot("added")

    # ------------------------------------------------------------ mail log

    def log_events(self) -> list[Any]:
        panel = self.dash.query_one(MailLogPanel)
        return [e for _, e in panel.lines.lines]

    async def delivery_in_log(self, marker_rcpt: str) -> str:
        self.dash.show_tab("mail-log")
        found: dict[str, str] = {}

        def delivered() -> bool:
            for e in self.log_events():
                if e.outcome == "delivered" and e.recipient == marker_rcpt and e.service.startswith("postfix/"):
                    found["qid"] = e.queue_id
            return "qid" in found and self.screen_has(found["qid"])

        await self.until("the delivery in the live log", delivered)
        return found["qid"]

    # ------------------------------------------------------------ services and queue

    async def control_dovecot(self, verb: str, key: str, confirm: bool) -> None:
        self.dash.show_tab("services")
        panel = self.dash.query_one(ServicesPanel)
        table = self.dash.query_one("#services-table", DataTable)
        await self.until("the services table", lambda: table.row_count >= 3 and self.app.focused is table)
        table.move_cursor(row=["postfix", "dovecot", "mariadb"].index("dovecot"))
        await self.until("dovecot selected", lambda: panel.selected_name() == "dovecot")
        await self.pilot.press(key)
        if confirm:
            await self.until("the confirm dialog", lambda: isinstance(self.app.screen, Confirm))
            self.shot(f"confirm-{verb}")
            await self.pilot.click(f"#confirm-{verb}")
        state = "stopped" if verb == "stop" else "running"
        await self.until(f"Dovecot {state}", lambda: any(
            "Dovecot" in line and state in line for line in screen_plain(self.app).splitlines()))
        self.shot(f"dovecot-{verb}")

    def queue_panel(self) -> QueuePanel:
        return self.dash.query_one(QueuePanel)


async def drive(password: str) -> dict[str, Any]:
    app = MailtuiApp(LiveOperations())
    async with app.run_test(size=(80, 24)) as pilot:
        d = Driver(app, pilot, password)
        await d.add_user()

        first = uuid.uuid4().hex
        send(USER, first)
        qid = await d.delivery_in_log(USER)
        d.seen["delivered_qid"] = qid
        d.shot("log-delivery")
        await d.show_mailbox()
        await d.until("the message count to go up", lambda: d.mailbox_row() is not None
                      and d.mailbox_row()[1] == "1")
        d.shot("count-up")

        await d.control_dovecot("stop", "t", confirm=True)
        second = uuid.uuid4().hex
        send(USER, second)
        d.dash.show_tab("queue")
        panel = d.queue_panel()

        def deferred() -> bool:
            return any(m.queue == "deferred" and USER in m.recipients and m.reason for m in panel.messages.values())

        await d.until("the deferral in the queue view", lambda: deferred() and d.screen_has("deferred"), timeout=90)
        reason = next(m.reason for m in panel.messages.values() if m.queue == "deferred")
        d.seen["deferral_reason"] = reason
        d.shot("queue-deferred")

        await d.control_dovecot("start", "s", confirm=False)
        d.dash.show_tab("queue")
        await d.until("the queue table", lambda: app.focused is not None and app.focused.id == "queue-table")
        await pilot.press("F")  # flush all
        await d.until("the queue to drain", lambda: not panel.messages and d.screen_has("The queue is empty"),
                      timeout=90)
        d.shot("queue-drained")
        await d.show_mailbox()
        await d.until("both messages in the mailbox", lambda: d.mailbox_row() is not None
                      and d.mailbox_row()[1] == "2")
        d.shot("count-two")
        d.seen["ok"] = True
        return d.seen


def main() -> int:
    password = sys.stdin.readline().rstrip("\n")
    try:
        seen = asyncio.run(drive(password))
    except Exception as exc:  # noqa: BLE001 - reported as JSON for the test
        traceback.print_exc()
        print(json.dumps({"ok": False, "error": str(exc)[-4000:]}))
        return 1
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
