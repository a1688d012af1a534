"""The operations API is one contract: the live implementation and every TUI fake have exactly its
operations, with the same signatures (names, kinds, defaults and annotations), so a fake cannot drift from
what the screens really get, and a fake refuses every operation its tests did not script."""

from __future__ import annotations

import inspect

import pytest

from mailtui.api.live import LiveOperations
from mailtui.api.operations import Operations
from tests.tui.fakes import DashboardEngine, FakeEngine, NotScripted, ScriptedOperations, take_unscripted
from tests.tui.fakes_log import LogEngine
from tests.tui.fakes_ops import OpsEngine

OPERATIONS = sorted(Operations.__abstractmethods__)
IMPLEMENTATIONS = [LiveOperations, ScriptedOperations, FakeEngine, DashboardEngine, OpsEngine, LogEngine]


def public_methods(cls: type) -> dict[str, object]:
    """Public methods `cls` itself or a base below Operations defines."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass in (object, Operations) or not issubclass(klass, Operations):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and callable(value) and not isinstance(value, type):
                found[name] = value
    return found


def shape(fn: object) -> list[tuple[str, object, object, object]]:
    """Parameter names, kinds, defaults and the annotations themselves (resolved: an alias is the same type)."""
    sig = inspect.signature(fn, eval_str=True)  # type: ignore[arg-type]
    return [(p.name, p.kind, p.default, p.annotation) for p in sig.parameters.values()] + \
        [("return", None, None, sig.return_annotation)]


def test_the_api_has_operations() -> None:
    assert len(OPERATIONS) > 50 and "start_worker" in OPERATIONS and "unban" in OPERATIONS


@pytest.mark.parametrize("cls", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_every_implementation_has_exactly_the_operations_with_their_signatures(cls: type) -> None:
    assert not getattr(cls, "__abstractmethods__", None), f"{cls.__name__} misses {sorted(cls.__abstractmethods__)}"
    methods = public_methods(cls)
    helpers = set(getattr(cls, "SCRIPT_HELPERS", ()))
    extra = sorted(set(methods) - set(OPERATIONS) - helpers)
    assert not extra, f"{cls.__name__} has public methods that are not operations (nor listed helpers): {extra}"
    for name in OPERATIONS:
        if name in methods and getattr(methods[name], "__qualname__", "").startswith("ScriptedOperations."):
            continue  # the refusing stub: takes anything, refuses it
        assert name in methods, f"{cls.__name__} lacks {name}"
        assert shape(methods[name]) == shape(getattr(Operations, name)), f"{cls.__name__}.{name} drifted"


def test_a_fake_refuses_and_records_what_was_not_scripted() -> None:
    fake = FakeEngine()
    with pytest.raises(NotScripted, match=r"FakeEngine\.control_service\(\) was called"):
        fake.control_service("dovecot", "restart")
    with pytest.raises(NotScripted):
        fake.unban("192.0.2.7")
    assert take_unscripted() == ["FakeEngine.control_service() was called, but this test did not script it",
                                 "FakeEngine.unban() was called, but this test did not script it"]
    assert take_unscripted() == []
