"""The Postfix mail queue: list it (`postqueue -j`) and act on it (flush, hold, release, delete).

`postqueue -j` prints one JSON object per message:
  {"queue_name": "deferred", "queue_id": "4Z6Yq23nXTz2Jn9", "arrival_time": 1764085200,
   "message_size": 512, "forced_expire": false, "sender": "someone@sender.test",
   "recipients": [{"address": "alice@example.test", "delay_reason": "connect to ...: Connection refused"}]}

Every action validates the queue id first (Postfix short ids are upper-case hex, long ids are
base-52 letters and digits), so nothing that is not a queue id ever reaches postsuper/postqueue
(`postsuper -d -` would read ids from stdin, `ALL` would delete everything).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from mailtui.errors import CommandFailed, MailtuiError, NotFound, ValidationError
from mailtui.system.commands import Result, run, which

QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")
# Short ids: hex of the inode/time (6+ upper-case hex digits); long ids (enable_long_queue_ids):
# time and inode in base 52 with a 'z' separator, 10+ letters and digits. Both well under 32.
_SHORT_ID = re.compile(r"[0-9A-F]{6,}")
_LONG_ID = re.compile(r"[0-9A-Za-z]{10,}")
MAX_ID_LENGTH = 32


@dataclass(frozen=True)
class QueuedMessage:
    queue_id: str
    queue: str  # active / deferred / hold / incoming / maildrop
    arrival: datetime  # UTC
    age_seconds: float
    size: int
    sender: str  # "" for a bounce (null sender)
    recipients: list[str] = field(default_factory=list)
    reason: str = ""  # the first recipient's delay_reason (why it was deferred), "" if none

    def to_json(self) -> dict[str, object]:
        return {"queue_id": self.queue_id, "queue": self.queue, "arrival": self.arrival.isoformat(),
                "age_seconds": round(self.age_seconds, 1), "size": self.size, "sender": self.sender,
                "recipients": list(self.recipients), "reason": self.reason}


def valid_queue_id(queue_id: object) -> bool:
    if not isinstance(queue_id, str) or not 6 <= len(queue_id) <= MAX_ID_LENGTH:
        return False
    return bool(_SHORT_ID.fullmatch(queue_id) or _LONG_ID.fullmatch(queue_id))


def check_queue_id(queue_id: object) -> str:
    """The id unchanged, or ValidationError (before anything runs)."""
    if not valid_queue_id(queue_id):
        shown = repr(queue_id)[:50]
        raise ValidationError({"queue id": f"{shown} is not a Postfix queue id (6 or more upper-case hex "
                                           "digits, or 10 or more letters and digits)"})
    return str(queue_id)


# ---------------------------------------------------------------- reading

def _message(obj: dict[str, object], now: float) -> QueuedMessage:
    arrival_ts = float(obj.get("arrival_time") or 0)  # type: ignore[arg-type]
    recipients_raw = obj.get("recipients") or []
    recipients: list[str] = []
    reasons: list[str] = []
    if isinstance(recipients_raw, list):
        for rcpt in recipients_raw:
            if isinstance(rcpt, dict):
                recipients.append(str(rcpt.get("address", "")))
                if rcpt.get("delay_reason"):
                    reasons.append(str(rcpt["delay_reason"]))
    return QueuedMessage(
        queue_id=str(obj.get("queue_id", "")),
        queue=str(obj.get("queue_name", "")),
        arrival=datetime.fromtimestamp(arrival_ts, timezone.utc),
        age_seconds=max(0.0, now - arrival_ts),
        size=int(obj.get("message_size") or 0),  # type: ignore[call-overload]
        sender=str(obj.get("sender") or ""),
        recipients=recipients,
        reason=reasons[0] if reasons else "",
    )


def parse_postqueue_json(text: str, *, now: float | None = None) -> list[QueuedMessage]:
    """Parse `postqueue -j` output (one JSON object per line). Lines that are not JSON objects
    (e.g. "Mail queue is empty" from an old postqueue) are skipped. Pure."""
    now = time.time() if now is None else now
    messages = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("queue_id"):
            messages.append(_message(obj, now))
    return messages


def _postfix_tool(name: str) -> None:
    if which(name) is None:
        raise MailtuiError(f"{name} is not installed (package postfix)")


def _run(argv: Sequence[str], what: str) -> Result:
    _postfix_tool(argv[0])
    try:
        return run(argv, timeout=120)
    except CommandFailed as exc:
        detail = exc.output.strip() or f"exit code {exc.returncode}"
        if "mail system is down" in detail:
            detail += "\n(Postfix is not running: start it with `mailtui service start postfix`)"
        raise MailtuiError(f"could not {what}: {detail}") from None


def list_queue() -> list[QueuedMessage]:
    """Every message in the queue, oldest first."""
    result = _run(["postqueue", "-j"], "read the mail queue")
    return sorted(parse_postqueue_json(result.output), key=lambda m: m.arrival)


# ---------------------------------------------------------------- actions

def _postsuper(flag: str, queue_id: str, what: str, *extra: str) -> str:
    output = _run(["postsuper", flag, queue_id, *extra], f"{what} {queue_id}").output
    if queue_id != "ALL" and queue_id not in output:
        # postsuper says nothing (and exits 0) when no message matched.
        raise NotFound(f"could not {what} {queue_id}: no such message in the queue"
                       + (" on hold" if flag == "-H" else ""), "queue id")
    return output


def flush_all() -> str:
    """Attempt delivery of every queued message now (`postqueue -f`)."""
    return _run(["postqueue", "-f"], "flush the queue").output


def flush(queue_id: str) -> str:
    """Attempt delivery of one message now (`postqueue -i ID`)."""
    queue_id = check_queue_id(queue_id)
    return _run(["postqueue", "-i", queue_id], f"flush {queue_id}").output


def hold(queue_id: str) -> str:
    return _postsuper("-h", check_queue_id(queue_id), "put on hold")


def release(queue_id: str) -> str:
    return _postsuper("-H", check_queue_id(queue_id), "release")


def delete(queue_id: str) -> str:
    return _postsuper("-d", check_queue_id(queue_id), "delete")


def delete_all_deferred() -> str:
    """Delete every message in the deferred queue (`postsuper -d ALL deferred`)."""
    return _run(["postsuper", "-d", "ALL", "deferred"], "delete the deferred messages").output
