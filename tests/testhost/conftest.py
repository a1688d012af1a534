from __future__ import annotations

import concurrent.futures
import os

import pytest

from tests.harness import testhost as th
from tests.harness.fixtures import net  # noqa: F401  (several hosts on one sealed network)


@pytest.fixture(scope="session", autouse=True)
def caches_ready() -> None:
    """Both releases' bases built side by side before the first test (a cold cache: the time of one build, not
    two). Layers are built when a test first needs them, after test_cache.py's top-up of the bookworm base
    (scripts/test runs that file alone, before the rest: the top-up makes a new base current for a moment)."""
    if os.geteuid() != 0:
        return
    th.ensure_pydeps()
    th.build_app_dir()

    def prepare(release: str) -> None:
        th.ensure_base(release)
        th.compile_pydeps(release)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(th.RELEASES)) as pool:
        list(pool.map(prepare, th.RELEASES))
