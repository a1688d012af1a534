"""Aliases proven by delivery: a catch-all (@domain) takes unknown local parts but never a real mailbox's
mail, and a forward to an outside address leaves through the relay (the test host's loopback sink)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.e2e.conftest import SINK_DIR, Installed
from tests.e2e.test_mail import ALICE, BOB, send_port25, wait_for_delivery

pytestmark = pytest.mark.e2e


def wait_in_sink(inst: Installed, marker: str, timeout: float = 30) -> str:
    """The dumped message holding `marker` that reached the outbound relay (the sink)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = inst.host.run(["grep", "-rl", marker, SINK_DIR], check=False).stdout.split()
        if found:
            return inst.host.run(["cat", found[0]]).stdout
        time.sleep(0.3)
    log = inst.host.run("tail -n 40 /var/log/mail.log", check=False).stdout
    raise AssertionError(f"{marker} never reached the relay on {inst.release}; mail.log:\n{log}")


def test_catch_all_takes_unknown_local_parts_but_not_existing_mailboxes(installed: Installed) -> None:
    added = installed.mailtui("alias", "add", "@other.test", ALICE, check=False)
    assert added.returncode == 0, added.stdout + added.stderr
    try:
        stray, to_bob = uuid.uuid4().hex, uuid.uuid4().hex
        send_port25(installed, f"anything-{stray[:6]}@other.test", stray)
        send_port25(installed, BOB, to_bob)
        wait_for_delivery(installed, ALICE, stray)
        wait_for_delivery(installed, BOB, to_bob)
        # Bob's message went to Bob only: the catch-all did not swallow an existing mailbox.
        leaked = installed.host.run(["grep", "-rl", to_bob, "/var/mail/vhosts/example.test/alice"], check=False)
        assert leaked.stdout == "", leaked.stdout
    finally:
        installed.mailtui("alias", "remove", "@other.test", ALICE, "--yes", check=False)
    # Without the catch-all, an unknown local part is refused again.
    import smtplib

    with smtplib.SMTP(installed.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.mail("someone@sender.test")
        code, text = smtp.rcpt(f"nobody-{uuid.uuid4().hex[:6]}@other.test")
    assert 500 <= code < 600, (code, text)


def test_forward_to_an_outside_address_leaves_through_the_relay(installed: Installed) -> None:
    source, outside = "forward@example.test", "someone@outside.test"
    added = installed.mailtui("alias", "add", source, outside, check=False)
    assert added.returncode == 0, added.stdout + added.stderr
    try:
        marker = uuid.uuid4().hex
        send_port25(installed, source, marker)
        dumped = wait_in_sink(installed, marker)
        assert f"<{outside}>" in dumped or outside in dumped, dumped[:2000]
        log = installed.host.run(["grep", "-F", f"to=<{outside}>", "/var/log/mail.log"], check=False).stdout
        assert f"orig_to=<{source}>" in log and "status=sent" in log, log[-2000:]
    finally:
        installed.mailtui("alias", "remove", source, outside, "--yes", check=False)
