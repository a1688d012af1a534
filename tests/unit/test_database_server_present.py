"""Whether a MySQL/MariaDB server counts as already here (then the packages step installs none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailtui.steps import packages


@pytest.mark.parametrize(("running", "installed", "binary", "init_script", "present"), [
    (True, [], None, False, True),  # runs: whatever it is, it is used
    (False, ["mariadb-server"], None, False, True),
    (False, ["mysql-server"], "/usr/sbin/mysqld", True, True),
    (False, [], "/usr/local/sbin/mysqld", True, True),  # installed by hand, with its init script
    # an install killed after dpkg unpacked mariadb-server-core, before mariadb-server: the binary alone
    (False, ["mariadb-server-core"], "/usr/sbin/mariadbd", False, False),
    (False, [], None, False, False),
])
def test_a_server_counts_only_when_it_runs_or_can_be_started(
        running: bool, installed: list[str], binary: str | None, init_script: bool, present: bool,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "mariadb"
    if init_script:
        script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(packages, "INIT_SCRIPTS", (str(script),))
    monkeypatch.setattr(packages.services, "is_running", lambda name: running)
    monkeypatch.setattr(packages.apt, "is_installed", lambda name: name in installed)
    monkeypatch.setattr(packages, "which", lambda name: binary if binary and binary.endswith(name) else None)
    assert packages.local_database_server_present() is present
