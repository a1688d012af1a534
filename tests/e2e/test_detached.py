"""The install survives its terminal: an SSH drop (SIGHUP to the CLI) does not stop it, `--attach`
follows it to the end; an install killed outright (worker, apt and dpkg with kill -9, mid-install)
is finished by `--resume`, which repairs the interrupted dpkg first."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.e2e.conftest import ANSWERS, HOSTNAME
from tests.harness import testhost as th

pytestmark = pytest.mark.e2e
STATE = "/var/lib/mailtui/install/state.json"
ENV = {"PYTHONPATH": th.MAILTUI_PYTHONPATH}


def read_state(host: th.TestHost) -> dict:
    text = host.run(["cat", STATE], check=False).stdout
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


def wait_for(host: th.TestHost, predicate, what: str, timeout: float = 120) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(host)
        if predicate(state, host):
            return state
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; state: {read_state(host)}")


def dpkg_busy(_state: dict, host: th.TestHost) -> bool:
    """dpkg is unpacking or configuring the stack right now."""
    return host.run("pgrep -x dpkg", check=False).returncode == 0


@pytest.fixture
def fresh_host():  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with th.test_host("bookworm", hostname=HOSTNAME) as host:
        host.write_file("/root/answers.toml", ANSWERS.replace("enable = true", "enable = false"), mode=0o600)
        yield host


def test_ssh_drop_does_not_stop_the_install_and_attach_follows_it(fresh_host: th.TestHost) -> None:
    host = fresh_host
    cli = host.start_daemon(["env", f"PYTHONPATH={th.MAILTUI_PYTHONPATH}", "python3", "-m", "mailtui", "install",
                             "--answers", "/root/answers.toml", "--yes"], log="/root/cli.log")
    wait_for(host, dpkg_busy, "dpkg to run")
    host.run(["kill", "-HUP", str(cli)])  # the terminal went away
    time.sleep(1)
    assert host.run(["kill", "-0", str(cli)], check=False).returncode != 0, "the CLI should be gone"
    assert read_state(host)["status"] == "running"
    attach = host.mailtui("install", "--attach", env=ENV, check=False, timeout=600)
    assert attach.returncode == 0, attach.stdout[-3000:] + attach.stderr
    assert "install finished" in attach.stdout
    assert host.run(["dpkg", "--audit"]).stdout.strip() == ""
    check = host.mailtui("check", env=ENV, check=False)
    assert check.returncode == 0, check.stdout


def test_killed_install_resumes_and_repairs_dpkg(fresh_host: th.TestHost) -> None:
    host = fresh_host
    host.start_daemon(["env", f"PYTHONPATH={th.MAILTUI_PYTHONPATH}", "python3", "-m", "mailtui", "install",
                       "--answers", "/root/answers.toml", "--yes"], log="/root/cli.log")
    state = wait_for(host, dpkg_busy, "dpkg to run")
    # Power cut, as far as mailtui can tell: the worker and everything under it die at once.
    host.run(f"kill -9 {state['pid']}; pkill -9 -x apt-get; pkill -9 -x dpkg; true")
    time.sleep(1)
    assert read_state(host)["status"] == "running"  # nobody got to say otherwise
    resumed = host.mailtui("install", "--resume", "--yes", env=ENV, check=False, timeout=900)
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-4000:]
    assert host.run(["dpkg", "--audit"]).stdout.strip() == ""
    check = host.mailtui("check", env=ENV, check=False)
    assert check.returncode == 0, check.stdout
