"""Drive the whole install wizard with Pilot, for real: runs INSIDE a fresh test host, as root.

    PYTHONPATH=/opt/mailtui/app:/opt/mailtui/deps python3 /root/wizard_driver.py < password

The real `MailtuiApp()` (real engine: real packages, services, database) is walked by keyboard and mouse
like an operator would: Welcome → every form → Review → Confirm → Apply (packages first, then the Review
of the real diffs, then the rest) → Verify. An SVG screenshot of each stage goes to /root/shots/. The last
line of stdout is a JSON summary (the screens seen and what they said, the Verify checklist); the exit
status is 0 only if the install finished and every Verify check passed.

The first user's password comes on stdin (never on a command line). The wizard has no field for the
answers' `profile`; the driver sets `profile = "test"` on the wizard's base answers (the Answers the forms
are written over, see WizardScreen.build_answers) right after Welcome, as the only programmatic change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from mailtui.screens.app import MailtuiApp
from mailtui.screens.widgets.fields import FieldRow
from mailtui.screens.widgets.toggles import Checkbox
from textual.widgets import Button, ContentSwitcher, Static

from mailtui.api.live import LiveOperations

try:  # in the repo; in the test host this file and screen_reading.py are side by side in /root
    from tests import screen_reading
except ImportError:
    import screen_reading  # type: ignore[no-redef]

text_of = screen_reading.text_of

HOSTNAME = "mail.example.test"
DOMAIN = "example.test"
USER = "alice@example.test"
RELAYHOST = "[127.0.0.1]:2525"
SHOTS = Path("/root/shots")
APPLY_TIMEOUT = 600.0



WEBMAIL_BOXES = ("cb-webmail", "cb-updates")  # on the Webmail form; every other box is on the Packages form


def untick_on(form: str) -> list[str]:
    """The checkboxes WIZARD_UNTICK names that sit on `form`."""
    boxes = [b for b in os.environ.get("WIZARD_UNTICK", "").split(",") if b]
    return [b for b in boxes if (b in WEBMAIL_BOXES) == (form == "webmail")]

class DriverError(RuntimeError):
    pass


# ---------------------------------------------------------------- reading the screen


def screen_text(app: MailtuiApp) -> str:
    return screen_reading.screen_text(app, skip_blank=True)


def stage(app: MailtuiApp) -> str:
    return app.screen.query_one(ContentSwitcher).current or ""


def field(app: MailtuiApp, key: str) -> FieldRow:
    for f in app.screen.query(FieldRow):
        if f.key == key:
            return f
    raise DriverError(f"no field {key} on {stage(app)}")


class Driver:
    def __init__(self, app: MailtuiApp, pilot: Any, password: str) -> None:
        self.app, self.pilot, self.password = app, pilot, password
        self.seen: list[dict[str, str]] = []
        self.shots: list[str] = []
        self.timings: dict[str, float] = {}
        self.began = time.monotonic()

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f} s] {message}", flush=True)

    async def wait_for(self, what: str, condition: Any, timeout: float = 60.0, step: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise DriverError(f"timed out after {timeout:.0f} s waiting for {what}; the screen says:\n"
                                  f"{screen_text(self.app)}")
            await self.pilot.pause(step)

    def record(self, name: str) -> None:
        """Remember what the screen says now and save an SVG of it."""
        said = screen_text(self.app)
        self.seen.append({"stage": name, "pane": stage(self.app), "text": said})
        SHOTS.mkdir(parents=True, exist_ok=True)
        filename = f"{len(self.shots) + 1:02d}-{name}.svg"
        self.app.save_screenshot(filename=filename, path=str(SHOTS))
        self.shots.append(filename)
        titles = self.app.screen.query(f"#{stage(self.app)} .pane-title")
        title = text_of(titles.first()) if titles else ""
        self.log(f"screen {name}: {title!r}")

    async def click(self, selector: str) -> None:
        button = self.app.screen.query_one(selector, Button)
        if button.disabled or not button.display:
            raise DriverError(f"{selector} is not clickable now:\n{screen_text(self.app)}")
        self.app.screen.scroll_to_widget(button, animate=False)
        await self.pilot.pause()
        if not await self.pilot.click(selector):
            raise DriverError(f"clicking {selector} reached another widget:\n{screen_text(self.app)}")
        await self.pilot.pause()

    async def untick(self, selector: str) -> None:
        """Click a ticked checkbox, as an operator would, and see it unticked."""
        box = self.app.screen.query_one(selector, Checkbox)
        if not box.value:
            raise DriverError(f"{selector} is not ticked:\n{screen_text(self.app)}")
        self.app.screen.scroll_to_widget(box, animate=False)
        await self.pilot.pause()
        await self.pilot.click(selector)
        await self.pilot.pause()
        if box.value:
            raise DriverError(f"clicking {selector} left it ticked:\n{screen_text(self.app)}")

    async def type_into(self, key: str, text: str) -> None:
        """Focus a field and type over it, key by key (as tests/tui/conftest.py does)."""
        f = field(self.app, key)
        f.input.focus()
        await self.pilot.pause()
        f.input.select_all()
        await self.pilot.press("backspace", *(c if c != " " else "space" for c in text))
        await self.pilot.pause()
        if f.value != text:
            raise DriverError(f"typed {text!r} into {key} but it holds {f.value!r}")
        if f.error.display:
            raise DriverError(f"{key} shows an error after typing {text!r}: {text_of(f.error)}")

    async def next(self, expected: str) -> None:
        before = stage(self.app)
        await self.pilot.press("pagedown")
        await self.wait_for(f"{before} -> {expected}", lambda: stage(self.app) == expected, timeout=20)
        await self.pilot.pause()

    # ------------------------------------------------------------ the walk

    async def walk_forms(self) -> None:
        app = self.app
        wizard = app.wizard
        assert wizard is not None
        await self.wait_for("preflight", lambda: wizard.preflight_done, timeout=120)
        await self.pilot.pause()
        self.record("welcome")

        await self.next("packages")
        # The one answer no form asks: the test profile (no DNS lookups of the stack's own).
        wizard.base = dataclasses.replace(wizard.base, profile="test")
        for box in untick_on("packages"):  # WIZARD_UNTICK, e.g. cb-dkim,cb-srs
            await self.untick(f"#{box}")
        self.record("packages")

        await self.next("database")
        self.record("database")

        await self.next("postfix")
        await self.type_into("hostname", HOSTNAME)
        await self.type_into("domains[0].name", DOMAIN)
        await self.type_into("outbound.relayhost", RELAYHOST)
        self.record("postfix")

        await self.next("users")
        await self.type_into("users[0].email", USER)
        await self.type_into("users[0].password", self.password)
        await self.type_into("users[0].password2", self.password)
        for f in list(app.screen.query(FieldRow)):
            if f.key.startswith("aliases[") and f.key.endswith(".destination") and f.value:
                await self.type_into(f.key, USER)  # postmaster@ and abuse@ reach alice
        self.record("users")

        await self.next("dovecot")
        self.record("dovecot")
        await self.next("tls")
        self.record("tls")
        await self.next("webmail")
        for box in untick_on("webmail"):
            await self.untick(f"#{box}")
        self.record("webmail")
        await self.next("firewall")
        ssh = field(app, "firewall.ssh_port").value
        if ssh != "2222":
            raise DriverError(f"the firewall form did not detect SSH on 2222 (it says {ssh!r})")
        self.record("firewall")

        await self.next("review")

    async def review_and_confirm(self, name: str) -> None:
        review_confirm = self.app.screen.query_one("#review-confirm", Button)
        await self.wait_for("the plan", lambda: not review_confirm.disabled
                            or "could not be made" in screen_text(self.app), timeout=180)
        self.record(name)
        if review_confirm.disabled:
            raise DriverError("the review could not make the plan")
        await self.click("#review-confirm")
        await self.wait_for("the apply pane", lambda: stage(self.app) == "apply", timeout=20)

    async def apply(self) -> None:
        """Follow Apply until it ends; continue through the packages-only pause (Review of the real diffs)."""
        app = self.app
        screen = app.screen
        phase = 0
        began = time.monotonic()
        while True:
            phase += 1

            def ended() -> bool:
                return any(screen.query_one(f"#apply-{b}", Button).display for b in ("continue", "retry"))

            await self.wait_for("the install step(s) to end", ended,
                                timeout=max(30.0, APPLY_TIMEOUT - (time.monotonic() - began)), step=0.5)
            self.timings[f"apply phase {phase}"] = round(time.monotonic() - began, 1)
            after = screen.query_one("#apply").after  # type: ignore[attr-defined]
            self.record(f"apply-{phase}")
            if not screen.query_one("#apply-continue", Button).display:
                log = "\n".join(screen.query_one("#apply-log").lines[-40:])  # type: ignore[attr-defined]
                raise DriverError(f"the install failed:\n{screen_text(app)}\n--- log ---\n{log}")
            await self.click("#apply-continue")
            if after == "review":
                await self.wait_for("the review of the real diffs", lambda: stage(app) == "review", timeout=20)
                await self.review_and_confirm(f"review-{phase + 1}")
                continue
            await self.wait_for("the verify pane", lambda: stage(app) == "verify", timeout=20)
            return

    async def verify(self) -> list[dict[str, Any]]:
        app = self.app
        summary = app.screen.query_one("#verify-summary", Static)

        def done() -> bool:
            said = text_of(summary)
            return "Every check passed" in said or "failed" in said

        began = time.monotonic()
        await self.wait_for("the verify checklist", done, timeout=300, step=0.5)
        self.timings["verify"] = round(time.monotonic() - began, 1)
        await self.pilot.pause()
        self.record("verify")
        body = text_of(app.screen.query_one("#verify-body", Static))
        checks = []
        for line in body.splitlines():
            if line.startswith((" ✓ ", " ✗ ")):
                name, _, detail = line[3:].partition(" — ")
                checks.append({"name": name, "ok": line.startswith(" ✓ "), "detail": detail})
        return checks


async def main(password: str) -> int:
    app = MailtuiApp(LiveOperations())
    result: dict[str, Any] = {"installed": False, "verify_ok": False, "checks": [], "error": ""}
    driver: Driver | None = None
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            driver = Driver(app, pilot, password)
            try:
                await driver.walk_forms()
                await driver.review_and_confirm("review-1")
                await driver.apply()
                result["installed"] = True
                result["checks"] = checks = await driver.verify()
                result["verify_summary"] = text_of(app.screen.query_one("#verify-summary", Static))
                result["verify_ok"] = bool(checks) and all(c["ok"] for c in checks) and \
                    "Every check passed" in result["verify_summary"]
            except Exception as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
                try:
                    driver.record("error")
                except Exception:
                    traceback.print_exc()
    except Exception as exc:
        result["error"] = result["error"] or f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    if driver is not None:
        result.update(seen=driver.seen, shots=driver.shots, timings=driver.timings,
                      seconds=round(time.monotonic() - driver.began, 1))
    print(json.dumps(result), flush=True)
    return 0 if result["installed"] and result["verify_ok"] and not result["error"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.stdin.readline().rstrip("\n"))))
