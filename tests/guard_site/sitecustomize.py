"""Installs the machine guard (tests/guard.py) in a child Python started with guard.child_env()."""

import os

if os.environ.get("MAILTUI_TEST_GUARD") == "1":
    from tests import guard

    guard.install(child=True)
