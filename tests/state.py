"""Test helper: all of mailtui's state (paths.state_paths) moved under a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtui import paths


def use_state_dir(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    """Point every path of mailtui's state (saved answers, install state, backups, switches) under `root`."""
    for name, path in paths.state_paths(root).items():
        monkeypatch.setattr(paths, name, path)
    return root
