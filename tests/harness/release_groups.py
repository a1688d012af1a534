"""Running end-to-end tiers two at a time (pytest-xdist `--dist loadgroup`) without installing twice.

A test that uses a shared (module- or session-scoped) fixture parametrized by release, e.g. the e2e tier's
`installed[bookworm]`, joins the xdist group of that release: every test of one shared installed host runs
in the same worker, so the host is installed once, and the two releases run side by side. Tests with no
shared host (a fresh host of their own) are not grouped and go to whichever worker is free.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tests.harness.testhost.common import RELEASES


def shared_release(item: pytest.Item) -> str | None:
    """The release of the first module/session-scoped fixture the test uses that is parametrized by release."""
    callspec = getattr(item, "callspec", None)
    info = getattr(item, "_fixtureinfo", None)
    if callspec is None or info is None:
        return None
    for name in item.fixturenames:  # type: ignore[attr-defined]
        defs = info.name2fixturedefs.get(name)
        value = callspec.params.get(name)
        if defs and defs[-1].scope in ("module", "session") and isinstance(value, str) and value in RELEASES:
            return value
    return None


def group_by_release(items: Iterable[pytest.Item]) -> None:
    for item in items:
        release = shared_release(item)
        if release is not None:
            item.add_marker(pytest.mark.xdist_group(release))
