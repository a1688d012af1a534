"""The base cache (root only). First of the testhost tier's modules on purpose: the top-up makes a new
bookworm base, and layers built before it (on the old one) would be built again later."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness import testhost as th  # noqa: E402
from tests.harness.testhost import procs  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="test hosts need root (namespaces, mounts, debootstrap)")


def test_changed_package_list_tops_up_a_copy_and_running_hosts_keep_theirs() -> None:
    import json

    release = "bookworm"
    th.ensure_base(release)
    with th.test_host(release) as h:
        old = th.current_base(release)
        assert old is not None
        stamp_path = th.stamp_path(release)
        stamp = json.loads(stamp_path.read_text())
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
    th.clean()
    # deleted once unused; another test process (e.g. an e2e run) may still have a host on it
    assert not old.exists() or str(old) in procs.overlay_lowers_in_use(), "an unused superseded base is deleted"


