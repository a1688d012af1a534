"""Scripted operations for the unit and TUI tiers: the operations API with every operation *refusing*.

`ScriptedOperations` records a call its test did not script and raises `NotScripted`; a fixture
(`only_scripted_operations`, autouse in both tiers) fails the test at teardown when anything was
refused, so code that catches the error (a screen showing it, the CLI printing it) cannot hide it.
A fake scripts only what its tests use (tests/tui/fakes.py, the CLI tests).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

from mailtui.api.operations import Operations


class NotScripted(Exception):
    """A screen called an operation its test did not script."""


_unscripted: list[str] = []
_unscripted_lock = threading.Lock()


def take_unscripted() -> list[str]:
    """The unscripted calls since the last call (tests/tui/conftest.py fails a test that made any)."""
    with _unscripted_lock:
        found = list(_unscripted)
        _unscripted.clear()
    return found


def _refuse(name: str) -> Callable[..., Any]:
    def refused(self: Operations, *args: Any, **kwargs: Any) -> Any:
        message = f"{type(self).__name__}.{name}() was called, but this test did not script it"
        with _unscripted_lock:
            _unscripted.append(message)
        raise NotScripted(message)

    refused.__name__ = name
    refused.__qualname__ = f"ScriptedOperations.{name}"
    return refused


class ScriptedOperations(Operations):
    """The operations API with every operation refusing: subclasses script what their tests use.

    `SCRIPT_HELPERS` names the public methods a fake adds for its tests (not operations); the contract test
    refuses any other public method that is not an operation, so a renamed operation cannot linger here."""

    SCRIPT_HELPERS: ClassVar[tuple[str, ...]] = ()


for _name in sorted(Operations.__abstractmethods__):
    setattr(ScriptedOperations, _name, _refuse(_name))
ScriptedOperations.__abstractmethods__ = frozenset()


@pytest.fixture(autouse=True)
def only_scripted_operations() -> Iterator[None]:
    """A test whose code called an operation it did not script fails, even if that code caught the error."""
    take_unscripted()
    yield
    found = take_unscripted()
    if found:
        pytest.fail("unscripted operations:\n" + "\n".join(found), pytrace=False)
