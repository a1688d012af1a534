"""The README's first command on a fresh server: `scripts/run` bootstraps everything and installs.

On a fresh test host (no network: Python packages come from a local wheelhouse through pip's own
PIP_NO_INDEX/PIP_FIND_LINKS, Debian packages from the host's apt cache), with another process holding
the dpkg lock when the install starts: scripts/run creates its venv (installing python3-venv first),
the packages step waits for the lock visibly, and the install completes. Then `mailtui` is a command that
works from any directory and outlives the clone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ANSWERS, HOSTNAME
from tests.harness import testhost as th

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def wheelhouse() -> Path:
    """Wheels of mailtui's dependencies and of its build backend, for pip inside the hosts."""
    path = th.cache_dir() / "wheelhouse"
    stamp = path / ".complete"
    if not stamp.exists():
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(path),
                        *th.python_requirements(), "setuptools>=68", "wheel"], check=True)
        stamp.touch()
    return path


def copy_repo_into(host: th.TestHost, dest: str) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    target = host.root / dest.lstrip("/")
    subprocess.run(["mkdir", "-p", str(target)], check=True)
    tar = subprocess.Popen(["tar", "-C", str(ROOT), "-cf", "-", *[f for f in files if (ROOT / f).exists()]],
                           stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", str(target), "-xf", "-"], stdin=tar.stdout, check=True)
    tar.wait()


@pytest.mark.parametrize("release", ["bookworm"])
def test_scripts_run_bootstraps_and_installs_on_a_fresh_host(release: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    wheels = wheelhouse()
    with th.test_host(release, hostname=HOSTNAME) as host:
        copy_repo_into(host, "/root/mailtui")
        subprocess.run(["cp", "-r", str(wheels), str(host.root / "root" / "wheelhouse")], check=True)
        host.write_file("/root/answers.toml", ANSWERS.replace("enable = true", "enable = false"), mode=0o600)
        assert host.run("python3 -c 'import venv, ensurepip'", check=False).returncode != 0  # a bare server
        env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/root/wheelhouse"}
        version = host.run(["/root/mailtui/scripts/run", "--version"], env=env, check=False, timeout=600)
        assert version.returncode == 0, version.stdout + version.stderr
        assert version.stdout.startswith("mailtui ")
        # Someone else's apt holds the dpkg lock for a while: the install waits and says so.
        host.start_daemon(["python3", "-c", "import fcntl, time; f = open('/var/lib/dpkg/lock-frontend', 'w'); "
                           "fcntl.lockf(f, fcntl.LOCK_EX); time.sleep(12)"])
        time.sleep(1)
        began = time.monotonic()
        result = host.run(["/root/mailtui/scripts/run", "install", "--answers", "/root/answers.toml", "--yes"],
                          env=env, check=False, timeout=900)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-5000:]
        assert "lock" in output.lower(), output[:5000]
        assert time.monotonic() - began > 10
        assert "install finished" in output
        # `mailtui` is a command now: from any directory, and once the clone is gone too.
        host.run(["rm", "-rf", "/root/mailtui"])
        after = host.run(["sh", "-c", "cd / && mailtui --version && command -v mailtui"], check=False)
        assert after.returncode == 0 and after.stdout.startswith("mailtui "), after.stdout + after.stderr
        assert after.stdout.splitlines()[-1] == "/usr/local/sbin/mailtui"
