"""Running end-to-end tiers several at a time (pytest-xdist `--dist loadgroup`) without building a shared host twice.

A test that uses a shared (module- or session-scoped) fixture parametrized by release, e.g. the e2e tier's
`installed[bookworm]`, must run in the worker that holds that fixture's host: tests that share any such
fixture instance (directly or through another fixture) join one xdist group, so each shared host is built
once. With `split` (the e2e tier), groups are the connected components of "uses the same shared instance" rather
than one group per release, which put a whole release's shared hosts (installed, signed, DNS check, ACME:
most of the tier's work) on one worker while another could run out of work. The reliability tier keeps one
group per release: its walks and shared hosts were balanced by release and measured that way.
Tests with no shared host (a fresh host of their own) are not grouped and go to whichever worker is free.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tests.harness.testhost.common import RELEASES


def shared_instances(item: pytest.Item) -> list[str]:
    """The shared fixture instances the test uses, as 'name-release' (never with brackets: xdist takes the
    text after a nodeid's last '@' as its group only when no ']' follows the '@', so a group named
    'signed[trixie]' was no group at all and split one shared host's tests over both workers). A
    module-scoped fixture of one name counts as one instance in every module that uses it: some keep a
    per-process cache behind the fixture (the reliability tier's `ref`: interrupt_helpers.get_reference),
    which one worker should build once."""
    callspec = getattr(item, "callspec", None)
    info = getattr(item, "_fixtureinfo", None)
    if callspec is None or info is None:
        return []
    found = []
    for name in item.fixturenames:  # type: ignore[attr-defined]
        defs = info.name2fixturedefs.get(name)
        value = callspec.params.get(name)
        if not defs or defs[-1].scope not in ("module", "session") or value not in RELEASES:
            continue
        found.append(f"{name}-{value}")
    return found


def group_by_release(items: Iterable[pytest.Item], *, split: bool = False) -> None:
    """Mark each test that uses a shared fixture instance with its xdist group: the release of its first one,
    or with `split`, the connected component of the instances it shares (see the module's docstring)."""
    items = list(items)
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    uses = {item.nodeid: shared_instances(item) for item in items}
    for keys in uses.values():
        for other in keys[1:]:
            a, b = root(keys[0]), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    for item in items:
        if keys := uses[item.nodeid]:
            group = root(keys[0]) if split else keys[0].rsplit("-", 1)[1]
            item.add_marker(pytest.mark.xdist_group(group))
