"""The machine guard's path rules (tests/guard.py), as a pure function: what it refuses and the one thing it lets
through under a denied prefix — the source of a module the process already runs (Debian's python3 imports
/etc/python3.11/sitecustomize.py at start-up; pytest resolves that path when it prints a failing test's traceback,
and the guard refused it, turning one failure into a second, misleading one on the installed test host)."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from tests import guard

SITE = "/etc/python3.11/sitecustomize.py"


@pytest.fixture
def site_module() -> Iterator[None]:
    module = types.ModuleType("mailtui_test_sitecustomize")
    module.__file__ = SITE
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        del sys.modules[module.__name__]


def test_machine_state_is_refused_by_name() -> None:
    assert guard.path_refusal("/etc/postfix/main.cf", write=False) == "reads machine state at /etc/postfix/main.cf"
    assert guard.path_refusal("/var/lib/mailtui", write=True) == "writes machine state at /var/lib/mailtui"
    assert guard.path_refusal("/etc", write=False) == "reads machine state at /etc"


def test_an_imported_modules_source_and_the_directories_to_it_may_be_read(site_module: None) -> None:
    for path in ("/etc", "/etc/python3.11", SITE):
        assert guard.path_refusal(path, write=False) is None, path
    assert guard.path_refusal(SITE, write=True) == f"writes machine state at {SITE}"  # never written
    assert guard.path_refusal("/etc/python3.11/other.py", write=False) is not None  # only what was imported
    assert guard.path_refusal("/etc/postfix/main.cf", write=False) is not None
