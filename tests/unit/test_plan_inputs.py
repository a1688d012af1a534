"""The plan's inputs fingerprint: the same while nothing under its roots changed, different after any
write, new file, removal or chmod (the Review then works out a new plan)."""

from __future__ import annotations

import os
from pathlib import Path

from mailtui.install import plan_inputs


def test_any_change_under_the_roots_changes_the_fingerprint(tmp_path: Path) -> None:
    etc = tmp_path / "postfix"
    etc.mkdir()
    (etc / "main.cf").write_text("myhostname = mail.example.test\n")
    roots = [str(etc), str(tmp_path / "mailname")]  # a missing root counts as missing
    first = plan_inputs.fingerprint(roots)
    assert plan_inputs.fingerprint(roots) == first  # nothing changed: the kept plan stays

    changes = [
        lambda: (etc / "main.cf").write_text("myhostname = mail.example.test\nmydomain = example.test\n"),
        lambda: (etc / "master.cf").write_text(""),
        lambda: os.chmod(etc / "master.cf", 0o600),
        lambda: (etc / "master.cf").unlink(),
        lambda: (tmp_path / "mailname").write_text("example.test\n"),
    ]
    seen = {first}
    for change in changes:
        change()
        now = plan_inputs.fingerprint(roots)
        assert now not in seen
        seen.add(now)


def test_the_roots_name_the_files_the_steps_read() -> None:
    for path in ("/etc/postfix", "/etc/dovecot", "/var/lib/dpkg/status", "/etc/mysql"):
        assert path in plan_inputs.PLAN_INPUTS
