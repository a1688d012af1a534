"""Write an SVG screenshot of each wizard stage to docs/screenshots/ for the README (fake engine, 80x24).

    .venv/bin/python -m tests.tui.screenshots
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.tui.conftest import make_app, screen_text, type_into, wait_for, walk_to
from tests.tui.fakes import STEP_NAMES, FakeEngine, failing_run, ok_run

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def shoot() -> list[Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    engine = FakeEngine(runs=[failing_run(STEP_NAMES, "postfix", "postfix-mysql is not available"),
                              ok_run(STEP_NAMES[3:])])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:

        def save(name: str) -> None:
            saved.append(Path(app.save_screenshot(filename=f"{name}.svg", path=str(OUT))))

        await pilot.pause()
        save("01-welcome")
        for i, stage in enumerate(["packages", "database", "postfix", "users", "dovecot", "tls", "webmail",
                                   "firewall"], 2):
            await walk_to(pilot, stage)
            await pilot.pause()
            save(f"{i:02d}-{stage}")
        await pilot.press("pageup", "pageup", "pageup", "pageup", "pageup")
        await pilot.pause()
        await type_into(pilot, "hostname", "localhost")
        save("10-inline-error")
        await type_into(pilot, "hostname", "mail.example.org")
        await walk_to(pilot, "review")
        await wait_for(pilot, lambda: "5 changes" in screen_text(app))
        save("11-review")
        await pilot.click("#review-confirm")
        await wait_for(pilot, lambda: "Failed in postfix" in screen_text(app))
        save("12-apply-failed")
        await pilot.click("#apply-retry")
        await wait_for(pilot, lambda: "Install finished" in screen_text(app))
        save("13-apply-done")
        await pilot.click("#apply-continue")
        await wait_for(pilot, lambda: "DNS records" in screen_text(app))
        save("14-verify")
    return saved


if __name__ == "__main__":
    for path in asyncio.run(shoot()):
        print(path)
