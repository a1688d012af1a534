"""Screenshots of the webmail for the README, from a real browser (as root: it brings up a test network).

    sudo .venv/bin/python -m tests.e2e.webmail_screenshots

A Debian 12 test host installed by mailtui with [webmail] on, a message sent to alice over SMTP, then the same
browser walk as tests/e2e/test_webmail.py (webmail_browser_driver.py, Chromium inside a test host of its own).
The login, inbox, message and out-of-office pages go to docs/screenshots/webmail-*.png.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

from tests.e2e.conftest import HOSTNAME, PASSWORDS, start_sink
from tests.e2e.test_webmail import (
    BOB,
    BROWSER_DRIVER,
    ENV,
    WEBMAIL_ANSWERS,
    send_from_outside,
)
from tests.harness.testhost import browser_layer, stack_layer, test_network

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WANTED = {"login": "webmail-login", "inbox": "webmail-inbox", "message": "webmail-message",
          "vacation": "webmail-vacation"}
RELEASE = "bookworm"
ALICE = "alice@example.test"


def main() -> int:
    with test_network() as net:
        host = net.host(RELEASE, "mail", hostname=HOSTNAME, layers=[stack_layer(RELEASE, WEBMAIL_ANSWERS)])
        host.write_file("/root/answers.toml", WEBMAIL_ANSWERS, mode=0o600)
        host.run(["python3", "-m", "mailtui", "install", "--answers", "/root/answers.toml", "--yes"], env=ENV,
                 timeout=900)
        start_sink(host)
        send_from_outside(host, "", subject="Lunch on Friday?",
                          body="Hi Alice,\n\nshall we try the new café on Friday? Grüße, Olga\n")
        send_from_outside(host, "", subject="Quarterly report", sender="paul@elsewhere.test",
                          body="The figures are attached.\n")
        browser = net.host(RELEASE, "browser", layers=[browser_layer(RELEASE)])
        browser.run(["sh", "-c", f"echo '{host.ip} {HOSTNAME}' >> /etc/hosts"])
        browser.write_file("/root/webmail_browser_driver.py", BROWSER_DRIVER.read_text())
        job = {"hostname": HOSTNAME, "user": ALICE, "password": PASSWORDS[ALICE], "inbox_subject": "Lunch on Friday?",
               "to": BOB, "sent_subject": "Re: Lunch", "sent_body": "Friday works.",
               "vacation_subject": "Out of office", "vacation_body": "I am back on Monday."}
        run = browser.run(["python3", "/root/webmail_browser_driver.py"], input=json.dumps(job), check=False,
                          timeout=600)
        seen = json.loads(run.stdout.strip().splitlines()[-1])
        if not seen.get("ok"):
            print(seen.get("error"), file=sys.stderr)
            return 1
        OUT.mkdir(parents=True, exist_ok=True)
        for shot in browser.run(["sh", "-c", "ls /root/webmail-shots/*.png"]).stdout.split():
            stage = Path(shot).stem.split("-", 1)[1]
            if stage in WANTED:
                target = OUT / f"{WANTED[stage]}.png"
                target.write_bytes(base64.b64decode(browser.run(["base64", "-w0", shot]).stdout))
                print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
