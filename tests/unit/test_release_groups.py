"""The e2e/reliability tiers' xdist groups (tests/harness/release_groups.py): tests sharing a fixture instance
get one group, and every group name is one xdist really takes as a group."""

from __future__ import annotations

from types import SimpleNamespace

from xdist.scheduler.loadgroup import LoadGroupScheduling

from tests.harness.release_groups import group_by_release


def item(nodeid: str, **shared: str) -> SimpleNamespace:
    """A collected test using the module-scoped fixtures `shared` (name -> release)."""
    defs = {name: [SimpleNamespace(scope="module")] for name in shared}
    it = SimpleNamespace(nodeid=nodeid, fixturenames=list(shared), callspec=SimpleNamespace(params=dict(shared)),
                         _fixtureinfo=SimpleNamespace(name2fixturedefs=defs), marks=[])
    it.add_marker = it.marks.append
    return it


def groups(items: list[SimpleNamespace]) -> list[str | None]:
    return [it.marks[0].args[0] if it.marks else None for it in items]


def xdist_group_of(nodeid: str, group: str) -> str:
    """The work unit pytest-xdist's `--dist loadgroup` makes of a test marked xdist_group(group) (its own code)."""
    return LoadGroupScheduling._split_scope(object.__new__(LoadGroupScheduling), f"{nodeid}@{group}")


def test_shared_instances_make_groups_and_xdist_takes_their_names() -> None:
    items = [item("t.py::a[bookworm]", signed="bookworm"), item("t.py::b[trixie]", signed="trixie"),
             item("u.py::c[bookworm]", installed="bookworm"),
             item("u.py::d[bookworm]", installed="bookworm", signed="bookworm"), item("v.py::e")]
    group_by_release(items, split=True)  # type: ignore[arg-type]
    found = groups(items)
    assert found[0] == found[2] == found[3] != found[1] and found[4] is None  # d joins a's and c's instances
    for it, group in zip(items, found, strict=True):
        if group is not None:
            assert xdist_group_of(it.nodeid, group) == group, f"xdist would not group {it.nodeid} by {group!r}"
    by_release = [item("t.py::a[bookworm]", signed="bookworm"), item("u.py::c[trixie]", installed="trixie")]
    group_by_release(by_release)  # type: ignore[arg-type]
    assert groups(by_release) == ["bookworm", "trixie"]


def test_a_bracket_in_a_group_name_is_no_group_for_xdist() -> None:
    """The control: a name like those this harness made on 2026-12-06 ('signed[trixie]'; one run split a shared
    host's tests over both workers and set it up twice)."""
    assert xdist_group_of("t.py::a[trixie]", "signed[trixie]") != "signed[trixie]"
