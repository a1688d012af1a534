"""Services, the mail queue and Dovecot's debug switch on the real installed stack, through the CLI:
stop Dovecot, see a message defer (LMTP socket), hold/release it, start Dovecot, flush, see it land."""

from __future__ import annotations

import json
import smtplib
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Installed
from tests.e2e.test_mail import ALICE, message, wait_for_delivery

pytestmark = pytest.mark.e2e


def ok(inst: Installed, *args: str, input: str | None = None) -> str:
    result = inst.mailtui(*args, check=False, input=input, timeout=300)
    assert result.returncode == 0, f"mailtui {' '.join(args)} failed ({result.returncode}):\n" \
                                   f"{result.stdout}\n{result.stderr}"
    return result.stdout


def service_status(inst: Installed) -> dict[str, dict]:
    result = inst.mailtui("service", "status", "--json", check=False)
    data = json.loads(result.stdout)
    return {s["name"]: s for s in data["services"]} | {"_": data}


def queue(inst: Installed) -> list[dict]:
    return json.loads(ok(inst, "queue", "list", "--json"))


def find(inst: Installed, sender: str) -> dict | None:
    return next((m for m in queue(inst) if m["sender"] == sender), None)


def wait_until(what: str, predicate, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture
def stack_restored(installed: Installed) -> Iterator[Installed]:
    """Whatever a test does, the stack is running (and debug off) afterwards: other tests share the host."""
    yield installed
    installed.mailtui("debug", "off", check=False)
    for name in ("mariadb", "postfix", "dovecot"):
        if not service_status(installed)[name]["running"]:
            installed.mailtui("service", "start", name, check=False)
    installed.mailtui("queue", "flush", check=False)


def test_service_status_shows_pids_uptime_and_ports(stack_restored: Installed) -> None:
    inst = stack_restored
    status = service_status(inst)
    for name in ("postfix", "dovecot", "mariadb"):
        assert status[name]["running"] and status[name]["pid"], status[name]
        assert status[name]["uptime_seconds"] is not None and status[name]["uptime_seconds"] >= 0
    assert {25, 587, 465} <= set(status["postfix"]["ports"]), status["postfix"]
    assert 993 in status["dovecot"]["ports"] and 143 not in status["dovecot"]["ports"], status["dovecot"]
    assert 3306 in status["mariadb"]["ports"], status["mariadb"]
    # The test hosts have /etc/mtab like every installed Debian, so doveconf has nothing to say.
    assert not status["_"]["config_problems"], status["_"]
    text = ok(inst, "service", "status")
    assert "Postfix" in text and "25,465,587" in text, text
    print(f"\n[{inst.release}] service status:\n{text}")


def test_reload_and_restart_keep_the_stack_up(stack_restored: Installed) -> None:
    inst = stack_restored
    before = service_status(inst)["postfix"]["pid"]
    ok(inst, "service", "reload", "postfix")
    assert service_status(inst)["postfix"]["pid"] == before  # a reload keeps the master
    ok(inst, "service", "restart", "dovecot")
    assert 993 in wait_until("dovecot back on 993", lambda: service_status(inst)["dovecot"]["ports"])
    bad = inst.mailtui("service", "stop", "sshd", check=False)
    assert bad.returncode == 2


def test_dovecot_down_defers_then_hold_release_flush_delivers(stack_restored: Installed) -> None:
    inst = stack_restored
    marker = uuid.uuid4().hex
    sender = f"q{marker[:10]}@sender.test"
    began = time.monotonic()
    ok(inst, "service", "stop", "dovecot")
    assert not service_status(inst)["dovecot"]["running"]
    with smtplib.SMTP(inst.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.send_message(message(sender, ALICE, marker))

    msg = wait_until("the message deferred with a reason",
                     lambda: (m := find(inst, sender)) and m["queue"] == "deferred" and m["reason"] and m)
    assert msg["recipients"] == [ALICE]
    assert "dovecot-lmtp" in msg["reason"], msg
    assert msg["size"] > 0 and msg["age_seconds"] < 120
    qid = msg["queue_id"]
    print(f"\n[{inst.release}] deferred {qid}: {msg['reason']}")
    assert qid in ok(inst, "queue", "list")

    out = ok(inst, "queue", "hold", qid)
    assert "hold" in out.lower(), out
    assert wait_until("on hold", lambda: (m := find(inst, sender)) and m["queue"] == "hold")
    ok(inst, "queue", "release", qid)
    assert wait_until("released", lambda: (m := find(inst, sender)) and m["queue"] != "hold")
    # Releasing again: it is not on hold any more — a queue id that names nothing held is invalid input
    # (exit 2, naming the field), not a silent success.
    again = inst.mailtui("queue", "release", qid, check=False)
    assert again.returncode == 2 and "no such message" in again.stderr and "queue id" in again.stderr, again

    ok(inst, "service", "start", "dovecot")
    ok(inst, "queue", "flush", qid)
    wait_until("the queue to drain", lambda: find(inst, sender) is None)
    wait_for_delivery(inst, ALICE, marker)
    print(f"[{inst.release}] stop/defer/hold/release/start/flush/deliver took {time.monotonic() - began:.1f} s")


def test_queue_refuses_bad_ids_and_deletes_with_yes(stack_restored: Installed) -> None:
    inst = stack_restored
    for bad in ("ALL", "-", "ABC;reboot", "$(id)", "x" * 60):
        result = inst.mailtui("queue", "delete", bad, "--yes", check=False)
        assert result.returncode == 2, (bad, result.stdout, result.stderr)
        assert "queue id" in result.stderr
    marker = uuid.uuid4().hex
    sender = f"d{marker[:10]}@sender.test"
    ok(inst, "service", "stop", "dovecot")
    with smtplib.SMTP(inst.ip, 25, timeout=30) as smtp:
        smtp.ehlo("client.sender.test")
        smtp.send_message(message(sender, ALICE, marker))
    msg = wait_until("deferred", lambda: (m := find(inst, sender)) and m["queue"] == "deferred" and m)
    refused = inst.mailtui("queue", "delete", msg["queue_id"], check=False)  # no terminal, no --yes
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert find(inst, sender) is not None
    ok(inst, "queue", "delete", msg["queue_id"], "--yes")
    assert find(inst, sender) is None
    ok(inst, "service", "start", "dovecot")


def _doveconf(inst: Installed) -> str:
    return inst.host.run(["doveconf", "-n"]).stdout


def test_debug_switch_survives_a_second_install(stack_restored: Installed) -> None:
    inst = stack_restored
    assert "auth_debug = yes" not in _doveconf(inst)
    ok(inst, "debug", "on")
    conf = _doveconf(inst)
    assert "auth_debug = yes" in conf and "mail_debug = yes" in conf
    assert "_passwords" not in conf
    assert "ON" in ok(inst, "debug", "status")
    assert "Reminder: Dovecot debug logging is ON" in ok(inst, "service", "status")
    flag = inst.host.run(["stat", "-c", "%a %U", "/var/lib/mailtui/debug"]).stdout.split()
    assert flag == ["600", "root"]
    assert service_status(inst)["dovecot"]["running"]

    code, output = inst.install()
    assert code == 0, output[-4000:]
    assert "auth_debug = yes" in _doveconf(inst), "a second install silently switched debug logging off"
    check = inst.mailtui("check", check=False)
    assert check.returncode == 0, check.stdout[-3000:]

    ok(inst, "debug", "off")
    conf = _doveconf(inst)
    assert "auth_debug" not in conf and "mail_debug" not in conf
    assert "off" in ok(inst, "debug", "status")
    assert 993 in service_status(inst)["dovecot"]["ports"]
