"""Progress events: what the engine reports while it works (the TUI renders them, the CLI prints them)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

EventKind = Literal["started", "output", "progress", "done", "skipped", "failed", "info", "plan"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    step: str
    message: str = ""
    percent: float | None = None
    ts: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Event:
        return cls(**json.loads(line))


Emit = Callable[[Event], None]


def null_emit(_event: Event) -> None:
    """An Emit that drops everything (for callers that do not show progress)."""


class StepEmitter:
    """Binds an Emit to one step so step code can say `out.line("…")` without repeating the step name."""

    def __init__(self, emit: Emit, step: str) -> None:
        self._emit = emit
        self.step = step

    def line(self, message: str) -> None:
        self._emit(Event("output", self.step, message))

    def info(self, message: str) -> None:
        self._emit(Event("info", self.step, message))

    def progress(self, percent: float, message: str = "") -> None:
        self._emit(Event("progress", self.step, message, percent=max(0.0, min(100.0, percent))))
