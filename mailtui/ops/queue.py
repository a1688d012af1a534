"""The mail queue for the operator: list it, and act on one message or all (one dispatch for the command
line and the Queue tab). Every queue id is checked before any Postfix tool runs (system/postqueue.py)."""

from __future__ import annotations

from typing import Literal

from mailtui.errors import ValidationError
from mailtui.system import postqueue
from mailtui.system.postqueue import QueuedMessage

QueueAction = Literal["flush", "hold", "release", "delete", "delete-deferred"]
ACTIONS: tuple[QueueAction, ...] = ("flush", "hold", "release", "delete", "delete-deferred")


def list_queue() -> list[QueuedMessage]:
    return postqueue.list_queue()


def act(action: QueueAction, queue_id: str | None = None) -> str:
    """flush (every message when queue_id is None), hold, release or delete one message, or delete every
    deferred message; returns the tool's output. ValidationError for a missing or bad queue id."""
    if action == "flush":
        return postqueue.flush_all() if queue_id is None else postqueue.flush(queue_id)
    if action == "delete-deferred":
        if queue_id is not None:
            raise ValidationError({"delete": "give a queue id or --all-deferred, not both"})
        return postqueue.delete_all_deferred()
    if action not in ACTIONS:
        raise ValidationError({"action": f"{action!r} is not a queue action ({', '.join(ACTIONS)})"})
    if queue_id is None:
        raise ValidationError({action: "give a queue id"})
    return {"hold": postqueue.hold, "release": postqueue.release, "delete": postqueue.delete}[action](queue_id)
