"""The base cache (root only). The top-up test makes a new bookworm base and then makes the cache's own base
current again, so the layers built on it stay valid."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness import testhost as th  # noqa: E402
from tests.harness.testhost import bases, procs  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="test hosts need root (namespaces, mounts, debootstrap)")


def test_changed_package_list_tops_up_a_copy_and_running_hosts_keep_theirs() -> None:
    """A stale package list makes a topped-up copy; running hosts keep the base they mounted; a superseded
    base is deleted once unused. The cache's real base is made current again at the end (its stamp and link
    as before, the copy superseded): every layer is keyed on its base's name, so leaving the copy current
    would have every bookworm layer of the cache (stack, systemd, DNS, …) built again in the same run."""
    import json

    release = "bookworm"
    th.ensure_base(release)
    old = th.current_base(release)
    assert old is not None
    stamp_path = th.stamp_path(release)
    old_stamp = stamp_path.read_text()
    new = None
    try:
        with th.test_host(release) as h:
            stamp = json.loads(old_stamp)
            stamp["packages_hash"] = "changed"  # as if packages_list.py had gained a package
            stamp_path.write_text(json.dumps(stamp))
            assert th.base_state(release) == "stale-packages"
            th.ensure_base(release)
            new = th.current_base(release)
            assert th.base_state(release) == "current"
            assert new is not None and new != old
            assert old.is_dir(), "the base a running host uses must survive the top-up"
            assert h.run("cat /etc/debian_version").stdout.startswith("12.")
            with th.test_host(release) as h2:
                mounts = Path("/proc/self/mountinfo").read_text()
                line = next(m for m in mounts.splitlines() if f" {h2.root} " in m)
                assert f"lowerdir={new}," in line
    finally:
        bases.make_current(release, old, old_stamp)  # before anything prunes the layers built on it
    assert th.current_base(release) == old and th.base_state(release) == "current"
    th.clean()
    # deleted once unused; another test process (e.g. an e2e run) may still have a host on it
    assert not new.exists() or str(new) in procs.overlay_lowers_in_use(), "an unused superseded base is deleted"
    assert old.is_dir()


