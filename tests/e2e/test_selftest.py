"""The wizard's verify stage for real: mailtui.stack.roundtrip.roundtrip() inside a freshly installed test host
sends a message over SMTP and reads it back over IMAPS (Debian 12 and 13)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import PASSWORDS, Installed
from tests.harness.testhost import MAILTUI_PYTHONPATH

pytestmark = pytest.mark.e2e

ALICE = "alice@example.test"

# Runs inside the test host; the password comes over stdin, never on a command line.
ROUNDTRIP = """
import json, sys
from mailtui.stack.roundtrip import roundtrip
args = json.load(sys.stdin)
checks = roundtrip(args["email"], args["password"], timeout=args["timeout"])
print(json.dumps([{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]))
"""


def roundtrip_inside(inst: Installed, email: str, password: str, timeout: float = 60) -> list[dict]:
    result = inst.host.run(["python3", "-c", ROUNDTRIP], env={"PYTHONPATH": MAILTUI_PYTHONPATH},
                           input=json.dumps({"email": email, "password": password, "timeout": timeout}),
                           timeout=timeout + 60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def selftest_messages_in(inst: Installed, maildir: str) -> list[str]:
    """Message files (not Dovecot's index/cache, which may keep a trace) holding a self-test message."""
    found = inst.host.run(["grep", "-rl", "^X-Mailtui-Selftest:", f"{maildir}/cur", f"{maildir}/new"], check=False)
    return found.stdout.split()


def test_roundtrip_delivers_and_reads_back_then_cleans_up(installed: Installed) -> None:
    before = selftest_messages_in(installed, "/var/mail/vhosts/example.test/alice")
    accepted, delivered = roundtrip_inside(installed, ALICE, PASSWORDS[ALICE])
    assert accepted["ok"], accepted
    assert accepted["name"] == "message accepted by Postfix" and accepted["detail"].startswith("queued as ")
    assert delivered["ok"], delivered
    assert delivered["name"].startswith("message delivered and read back over IMAPS (")
    seconds = float(delivered["name"].rsplit("(", 1)[1].removesuffix(" s)"))
    print(f"\n[{installed.release}] self-test round trip took {seconds:.1f} s")
    assert seconds < 30
    # The test message was deleted after it was read back (nothing new stays in the mailbox).
    assert selftest_messages_in(installed, "/var/mail/vhosts/example.test/alice") == before


def test_roundtrip_with_a_wrong_password_fails_with_the_reason(installed: Installed) -> None:
    accepted, delivered = roundtrip_inside(installed, ALICE, "not-" + PASSWORDS[ALICE], timeout=30)
    assert accepted["ok"], accepted  # Postfix takes the message; reading it back is what fails
    assert not delivered["ok"]
    assert delivered["name"] == "message delivered and read back over IMAPS"
    assert delivered["detail"].startswith(f"IMAPS login as {ALICE} refused: ")
    assert "AUTHENTICATIONFAILED" in delivered["detail"] or "Authentication failed" in delivered["detail"], delivered


def test_roundtrip_to_an_unknown_mailbox_gives_postfixs_reply(installed: Installed) -> None:
    accepted, delivered = roundtrip_inside(installed, "nobody@example.test", "whatever-Password-1", timeout=30)
    assert not accepted["ok"] and not delivered["ok"]
    assert accepted["detail"].startswith("RCPT TO <nobody@example.test> refused: 550 5.1.1 "), accepted
    assert "User unknown" in accepted["detail"], accepted
    assert "not tried" in delivered["detail"]


PREFLIGHT = """
import dataclasses, json
from mailtui.install.preflight import run_preflight
p = run_preflight()
out = dataclasses.asdict(p)
out["suggested"] = {"hostname": p.suggested_answers().hostname, "domains": p.suggested_answers().domain_names}
print(json.dumps(out))
"""


def test_preflight_on_the_installed_host_sees_the_stack(installed: Installed) -> None:
    """What the welcome screen shows when mailtui starts again on a machine it installed."""
    result = installed.host.run(["python3", "-c", PREFLIGHT], env={"PYTHONPATH": MAILTUI_PYTHONPATH})
    p = json.loads(result.stdout.strip().splitlines()[-1])
    assert p["is_root"] and p["supported"] and p["problems"] == []
    assert p["postfix_version"] and p["dovecot_version"] and p["mariadb_version"]
    ports = {port["port"]: port for port in p["ports"]}
    assert ports[25]["in_use"] and ports[25]["by"] == "master"
    assert ports[587]["by"] == "master" and ports[465]["by"] == "master"
    assert ports[993]["in_use"] and ports[993]["by"] == "dovecot"
    assert not ports[143]["in_use"] and not ports[110]["in_use"]
    assert p["mailname"] == "mail.example.test" and p["mail_log"] == "/var/log/mail.log"
    assert p["ufw_installed"] and p["ufw_active"]
    assert p["earlier_install"] and p["install_state"] == "done" and p["tutorial_database"]
    assert p["suggested"] == {"hostname": "mail.example.test", "domains": ["example.test", "other.test"]}
