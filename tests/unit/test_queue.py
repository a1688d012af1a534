"""mailtui.queue: parsing `postqueue -j` output and refusing anything that is not a queue id."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from mailtui.errors import MailtuiError, ValidationError
from mailtui.system import postqueue as queue
from mailtui.system.commands import Result

NOW = 1764085500.0

# Recorded from Postfix 3.7 (Debian 12) and 3.10 (Debian 13), with ids and addresses changed.
DEFERRED = ('{"queue_name": "deferred", "queue_id": "9F58F1C4054", "arrival_time": 1764085200, '
            '"message_size": 612, "forced_expire": false, "sender": "someone@sender.test", '
            '"recipients": [{"address": "alice@example.test", "delay_reason": "connect to '
            'mail.example.test[private/dovecot-lmtp]: Connection refused"}]}')
BOUNCE_MULTI = ('{"queue_name": "active", "queue_id": "4dHv2B5yQ3z4TqW", "arrival_time": 1764085440, '
                '"message_size": 2048, "forced_expire": false, "sender": "", '
                '"recipients": [{"address": "a@example.test"}, {"address": "b@other.test", '
                '"delay_reason": "host x[1.2.3.4] said: 451 try later"}]}')
HOLD = ('{"queue_name": "hold", "queue_id": "CE1881CC163", "arrival_time": 1764000000, '
        '"message_size": 100, "forced_expire": false, "sender": "MAILER-DAEMON", '
        '"recipients": [{"address": "x@example.test", "delay_reason": "held by the operator"}, '
        '{"address": "y@example.test", "delay_reason": "second reason"}]}')


def test_parses_a_deferred_message() -> None:
    [m] = queue.parse_postqueue_json(DEFERRED + "\n", now=NOW)
    assert m.queue_id == "9F58F1C4054" and m.queue == "deferred"
    assert m.arrival == datetime.fromtimestamp(1764085200, timezone.utc) and m.arrival.tzinfo is not None
    assert m.age_seconds == 300
    assert m.size == 612 and m.sender == "someone@sender.test"
    assert m.recipients == ["alice@example.test"]
    assert "dovecot-lmtp" in m.reason


def test_empty_sender_multiple_recipients_and_the_first_reason() -> None:
    [m] = queue.parse_postqueue_json(BOUNCE_MULTI, now=NOW)
    assert m.sender == "" and m.queue == "active"
    assert m.recipients == ["a@example.test", "b@other.test"]
    assert m.reason == "host x[1.2.3.4] said: 451 try later"  # the first recipient with a reason


def test_hold_queue_and_several_lines() -> None:
    messages = queue.parse_postqueue_json("\n".join([DEFERRED, BOUNCE_MULTI, HOLD]) + "\n", now=NOW)
    assert [m.queue for m in messages] == ["deferred", "active", "hold"]
    hold = messages[2]
    assert hold.reason == "held by the operator" and hold.age_seconds == NOW - 1764000000


def test_odd_input_is_skipped_not_fatal() -> None:
    text = "\n".join(["", "Mail queue is empty", "{not json", "[1, 2]", '{"queue_name": "active"}',
                      json.dumps({"queue_id": "ABCDEF1", "recipients": None, "arrival_time": None,
                                  "message_size": None, "sender": None})])
    [m] = queue.parse_postqueue_json(text, now=NOW)
    assert m.queue_id == "ABCDEF1" and m.recipients == [] and m.sender == "" and m.size == 0 and m.reason == ""
    assert queue.parse_postqueue_json("", now=NOW) == []


def test_future_arrival_gives_age_zero() -> None:
    [m] = queue.parse_postqueue_json(DEFERRED, now=1764085000)
    assert m.age_seconds == 0


def test_to_json_round_trips() -> None:
    [m] = queue.parse_postqueue_json(DEFERRED, now=NOW)
    data = json.loads(json.dumps(m.to_json()))
    assert data["queue_id"] == "9F58F1C4054" and data["recipients"] == ["alice@example.test"]
    assert data["arrival"].startswith("2025-11-25T")


@pytest.mark.parametrize("good", ["9F58F1C4054", "ABCDEF", "4dHv2B5yQ3z4TqW", "0123456789"])
def test_valid_ids(good: str) -> None:
    assert queue.valid_queue_id(good)


@pytest.mark.parametrize("bad", ["", "ABCDE", "abcdef", "ALL", "-", "ABCDEF;rm", "ABCDEF rm", "$(id)",
                                 "`id`", "ABCDEF\n", "../../etc", "A" * 33, "x" * 100, "ÄBCDEF1234", None, 123])
def test_bad_ids_are_refused_before_anything_runs(bad: object, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(queue, "run", lambda argv, **kw: ran.append(list(argv)))
    monkeypatch.setattr(queue, "which", lambda name: f"/usr/sbin/{name}")
    for action in (queue.flush, queue.hold, queue.release, queue.delete):
        with pytest.raises(ValidationError) as info:
            action(bad)  # type: ignore[arg-type]
        assert "queue id" in str(info.value)
    assert ran == []


class FakeRun:
    def __init__(self, output: str = "", code: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.output, self.code = output, code

    def __call__(self, argv, **kw):  # type: ignore[no-untyped-def]
        from mailtui.errors import CommandFailed

        self.calls.append(list(argv))
        if self.code != 0:
            raise CommandFailed(list(argv), self.code, self.output)
        return Result(list(argv), 0, self.output)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    f = FakeRun()
    monkeypatch.setattr(queue, "run", f)
    monkeypatch.setattr(queue, "which", lambda name: f"/usr/sbin/{name}")
    return f


def test_actions_run_the_right_commands(fake: FakeRun) -> None:
    fake.output = "postsuper: 9F58F1C4054: placed on hold\npostsuper: Placed on hold: 1 message\n"
    assert "placed on hold" in queue.hold("9F58F1C4054")
    fake.output = "postsuper: 9F58F1C4054: released from hold\n"
    queue.release("9F58F1C4054")
    fake.output = "postsuper: 9F58F1C4054: removed\n"
    queue.delete("9F58F1C4054")
    fake.output = ""
    queue.flush("9F58F1C4054")
    queue.flush_all()
    queue.delete_all_deferred()
    assert fake.calls == [["postsuper", "-h", "9F58F1C4054"], ["postsuper", "-H", "9F58F1C4054"],
                          ["postsuper", "-d", "9F58F1C4054"], ["postqueue", "-i", "9F58F1C4054"],
                          ["postqueue", "-f"], ["postsuper", "-d", "ALL", "deferred"]]


def test_an_unknown_id_is_an_error_not_silence(fake: FakeRun) -> None:
    fake.output = ""  # what postsuper says (exit 0) when nothing matched
    with pytest.raises(MailtuiError, match="no such message"):
        queue.delete("9F58F1C4054")
    with pytest.raises(MailtuiError, match="on hold"):
        queue.release("9F58F1C4054")


def test_list_sorts_oldest_first_and_explains_a_stopped_postfix(fake: FakeRun) -> None:
    fake.output = "\n".join([BOUNCE_MULTI, HOLD, DEFERRED])
    assert [m.queue_id for m in queue.list_queue()] == ["CE1881CC163", "9F58F1C4054", "4dHv2B5yQ3z4TqW"]
    fake.output, fake.code = "postqueue: fatal: Queue report unavailable - mail system is down", 69
    with pytest.raises(MailtuiError, match="Postfix is not running"):
        queue.list_queue()


def test_missing_postfix_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "which", lambda name: None)
    with pytest.raises(MailtuiError, match="postqueue is not installed"):
        queue.list_queue()
