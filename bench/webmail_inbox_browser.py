"""Time Roundcube's inbox page in a real browser: runs INSIDE a browser test host (for bench/webmail).

    python3 /root/webmail_inbox_browser.py < job.json

Next to tests/e2e/webmail_browser_driver.py (copied to the same directory: its browser() and Driver are used,
headless Chromium through Debian's chromedriver, nothing but the test network). The job (JSON on stdin) names
the host, the user, its password, how many rows the inbox's first page holds ("rows") and the mode:

  "time": log in once, then load the inbox `loads` times; each load counts until `rows` rows of the message list
          are in the page (Roundcube fetches the list after the page has loaded). The last stdout line is JSON:
          per load, the wall time around WebDriver's get + wait, the in-page time the list was there
          (performance.now(), from the navigation's start) and the Navigation Timing entry's responseStart,
          domContentLoadedEventEnd and loadEventEnd.
  "busy": log in, touch /root/busy-started, then load the inbox again and again until /root/busy-stop exists
          (or `seconds` have passed); the last stdout line is JSON with the loads' times.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from webmail_browser_driver import Driver, browser  # noqa: E402

INBOX = "/?_task=mail&_mbox=INBOX"
STARTED, STOP = Path("/root/busy-started"), Path("/root/busy-stop")
# Resolves with performance.now() (ms since the navigation started) once the list has `rows` rows.
LIST_READY = """
const [rows, done] = arguments;
(function check() {
  if (document.querySelectorAll('#messagelist tbody tr').length >= rows) done(performance.now());
  else setTimeout(check, 5);
})();
"""
NAVIGATION = """
const n = performance.getEntriesByType('navigation')[0];
return n ? {responseStart: n.responseStart, domContentLoadedEventEnd: n.domContentLoadedEventEnd,
            loadEventEnd: n.loadEventEnd} : null;
"""


def load_inbox(driver: Driver, rows: int) -> dict[str, Any]:
    """One load of the inbox page, timed; again (not counted) if Chromium dropped it (ERR_NETWORK_CHANGED)."""
    d = driver.d
    for _ in range(5):
        began = time.perf_counter()
        d.get(driver.base + INBOX)
        if "ERR_NETWORK_CHANGED" in d.page_source:
            driver.log("ERR_NETWORK_CHANGED: loading again")
            time.sleep(1)
            continue
        listed = d.execute_async_script(LIST_READY, rows)
        wall = (time.perf_counter() - began) * 1000
        return {"wall_ms": wall, "list_ms": listed, **(d.execute_script(NAVIGATION) or {})}
    raise AssertionError("the inbox never loaded (ERR_NETWORK_CHANGED five times)")


def main() -> int:
    job = json.loads(sys.stdin.read())
    d = browser()
    d.set_script_timeout(60)
    driver = Driver(d, job)
    seen: dict[str, Any] = {"loads": []}
    try:
        driver.login(job["password"])
        driver.wait("the inbox after the login",
                    lambda dr: len(dr.find_elements(By.CSS_SELECTOR, "#messagelist tbody tr")) >= job["rows"], 60)
        driver.wait("the inbox's URL", ec.url_contains("_task=mail"))
        load_inbox(driver, job["rows"])  # warm: the first load after the login is not counted
        if job["mode"] == "time":
            for _ in range(job["loads"]):
                seen["loads"].append(load_inbox(driver, job["rows"]))
        else:
            STARTED.touch()
            deadline = time.monotonic() + job.get("seconds", 600)
            while not STOP.exists() and time.monotonic() < deadline:
                seen["loads"].append(load_inbox(driver, job["rows"]))
        seen["ok"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the summary
        seen["ok"] = False
        seen["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    finally:
        STARTED.touch()  # (busy mode: never leave the runner waiting)
        d.quit()
    print(json.dumps(seen))
    return 0 if seen["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
