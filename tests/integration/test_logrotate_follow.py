"""Following the mail log through the real logrotate: a rotation with create (the daemons reopen after
postrotate) and with copytruncate (the daemon's file stays open)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.unit.test_maillog import CREATE, Follower, append
from tests.unit.test_maillog import following as following  # noqa: F401  (the fixture)


def logrotate(tmp_path: Path, log: Path, directives: str) -> None:
    assert shutil.which("logrotate"), "logrotate missing: scripts/test installs it"
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{log} {{\n    rotate 3\n    missingok\n{directives}}}\n")
    subprocess.run(["logrotate", "-f", str(conf), "-s", str(tmp_path / "logrotate.state")], check=True,
                   capture_output=True, text=True, timeout=30)


def test_follow_through_logrotate_create(tmp_path: Path, following: Callable[..., Follower]) -> None:  # noqa: F811
    log = tmp_path / "mail.log"
    log.write_text("".join(f"before {i}\n" for i in range(5)))
    f = following(log, 5)
    assert len(f.take(5)) == 5
    writer = log.open("a")
    writer.write("last in the old file\n")
    writer.flush()
    logrotate(tmp_path, log, CREATE)
    assert (tmp_path / "mail.log.1").exists() and log.exists() and log.stat().st_size == 0
    writer.write("still the old file, before the reopen\n")  # postrotate has not run yet
    writer.close()
    append(log, "first in the new file\n")
    got = f.take(3)
    assert set(got) == {"last in the old file", "still the old file, before the reopen", "first in the new file"}
    for i in range(3):  # and it keeps following the new file, through a second rotation
        append(log, f"new {i}\n")
    assert f.take(3) == ["new 0", "new 1", "new 2"]
    logrotate(tmp_path, log, CREATE)
    append(log, "after the second rotation\n")
    assert f.take(1) == ["after the second rotation"]
    assert f.quiet() == []


def test_follow_through_logrotate_copytruncate(tmp_path: Path, following: Callable[..., Follower]) -> None:  # noqa: F811
    log = tmp_path / "mail.log"
    log.write_text("".join(f"before {i:03d} ............................................\n" for i in range(200)))
    f = following(log, 1)
    assert len(f.take(1)) == 1
    writer = log.open("a")  # the daemon's file stays open (O_APPEND): copytruncate's whole point
    writer.write("written before the copy\n")
    writer.flush()
    assert f.take(1) == ["written before the copy"]
    logrotate(tmp_path, log, "    copytruncate\n")
    assert "written before the copy" in (tmp_path / "mail.log.1").read_text()
    assert log.stat().st_size == 0
    writer.write("after the truncation 1\nafter the truncation 2\n")
    writer.flush()
    assert f.take(2) == ["after the truncation 1", "after the truncation 2"]
    writer.close()
    assert f.quiet() == []
