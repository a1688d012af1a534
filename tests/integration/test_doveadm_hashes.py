"""mailtui's password hashes verified by the real `doveadm pw -t` (Dovecot's own check)."""

from __future__ import annotations

import shutil
import subprocess

from mailtui.model import passwords


def test_doveadm_verifies_our_hashes() -> None:
    assert shutil.which("doveadm"), "doveadm missing: scripts/test installs dovecot-core"
    h = passwords.hash_password("pässwörd with spaces")
    result = subprocess.run(["doveadm", "pw", "-t", h], input="pässwörd with spaces\n", capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout + result.stderr
