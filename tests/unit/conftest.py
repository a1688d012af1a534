"""The unit tier: fast, no root, never touches the machine (the guard in tests/guard.py fails a test that does).

Where engine code asks the machine a question on its way (which release is this?), a test answers it with
one of these fixtures instead.
"""

from __future__ import annotations

import pytest

from mailtui.system.platform import Platform
from tests.guard import machine_guard  # noqa: F401  (autouse fixture)
from tests.scripted import only_scripted_operations  # noqa: F401  (autouse fixture)

DEBIAN_12 = Platform("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)", systemd=False)


@pytest.fixture
def debian12(monkeypatch: pytest.MonkeyPatch) -> Platform:
    """Platform.detect() answers Debian 12 without systemd (instead of reading /etc/os-release)."""
    monkeypatch.setattr(Platform, "detect", classmethod(lambda cls, *args, **kwargs: DEBIAN_12))
    return DEBIAN_12
