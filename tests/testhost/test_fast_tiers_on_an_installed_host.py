"""The unit and TUI tiers pass on a machine that carries the whole mail stack (issue 10, 3b; root only).

Their machine guard (tests/guard.py) is what keeps them from reading, running or restarting whatever a developer's
or CI machine has installed. Here it is proven where the stack really is: a bookworm test host on the cached
"packages installed" layer, the real `mailtui install --answers` run inside (the reliability tier's answers:
everything on), the installed state checked first (positive control: the test cannot pass on a bare host by
accident), then the whole unit tier and a part of the TUI tier (the services and fail2ban tabs of the dashboard,
without the SVG snapshots) run there with the host's own python3, on read-only copies of the repo and its test deps
(tests/harness/testhost/pydeps.py), as scripts/test runs them: from the checkout, two at a time.
"""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

import pytest

from tests.harness import testhost as th
from tests.reliability.conftest import ANSWERS, HOSTNAME, SAVED_ANSWERS, install_secured

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="test hosts need root (namespaces, overlayfs)")

RELEASE = "bookworm"
CHECKOUT = th.CHECKOUT_MOUNT
WORKDIR = "/tmp/fast-tiers"  # in the host's /tmp (tmpfs): the plugin below, the report, hypothesis's database
REPORT = f"{WORKDIR}/report.xml"
# The TUI tier's part: the dashboard tabs whose real engine depends most on what is installed and running (the
# stack's daemons, fail2ban). Every dashboard module (without snapshots) would pass too but costs ~200 s more
# inside (2026-12-05, 2 workers, machine shared with a CI run: test seconds per module dashboard 151, help 56,
# services 53, log 47, bans 46, queue 40, dns 13; the unit tier ~110).
TUI_PART = ("test_dashboard_services.py", "test_dashboard_bans.py")
WORKERS = 2  # pytest-xdist workers inside (the TUI tier runs two at a time on the runner too)
STACK_DAEMONS = {"master": "Postfix", "dovecot": "Dovecot", "mariadbd": "MariaDB", "fail2ban-server": "fail2ban"}
# A pytest plugin (-p no_snapshots from WORKDIR): the tests that compare SVG snapshots are left out (they are the
# slow part of the TUI tier and prove rendering, not the guard); every other test of the chosen files runs.
NO_SNAPSHOTS = '''
def pytest_collection_modifyitems(config, items):
    snapshots = [item for item in items if "snap_compare" in getattr(item, "fixturenames", ())]
    if snapshots:
        config.hook.pytest_deselected(items=snapshots)
        items[:] = [item for item in items if item not in snapshots]
'''
# Runs inside, after the install: the stack's files are there to read, and the guard refuses them.
GUARD_PROBE = f'''
import shutil, sys
sys.path.insert(0, "{CHECKOUT}")
from tests import guard
print("unguarded:", "mysql:" in open("/etc/postfix/main.cf").read(), shutil.which("postconf"))
guard.install()
for path in ("/etc/postfix/main.cf", "{SAVED_ANSWERS}"):
    try:
        open(path).read()
        print("guarded: allowed", path)
    except guard.MachineAccess:
        print("guarded: refused", path)
'''


def _report(report_xml: str) -> tuple[dict[str, int], dict[str, float], list[str]]:
    """From pytest's JUnit XML: the passed tests per tier (unit, tui), the seconds per test module, the tests run."""
    passed: dict[str, int] = {}
    seconds: dict[str, float] = {}
    names: list[str] = []
    for case in ET.fromstring(report_xml).iter("testcase"):
        module = case.get("classname", "")  # tests.unit.test_x
        names.append(f"{module}::{case.get('name')}")
        seconds[module] = seconds.get(module, 0.0) + float(case.get("time") or 0)
        if not any(child.tag in ("failure", "error", "skipped") for child in case):
            tier = module.split(".")[1]
            passed[tier] = passed.get(tier, 0) + 1
    return passed, seconds, names


@pytest.mark.timeout(1200)  # cold caches: the stack layer and the test deps are built first
def test_unit_and_tui_tiers_pass_on_a_host_where_mailtui_installed_everything() -> None:
    seconds: dict[str, float] = {}
    began = time.monotonic()
    layer = th.stack_layer(RELEASE, ANSWERS)
    th.ensure_testdeps(RELEASE)
    seconds["stack layer and test deps (cached)"] = time.monotonic() - began

    began = time.monotonic()
    with th.test_host(RELEASE, hostname=HOSTNAME, layers=[layer]) as host:
        seconds["host up"] = time.monotonic() - began

        began = time.monotonic()
        install_secured(host, RELEASE)
        seconds["mailtui install"] = time.monotonic() - began

        # Positive control: mailtui's state and the running stack, as on an operator's server.
        assert host.run(["test", "-s", SAVED_ANSWERS], check=False).returncode == 0, "no saved answers"
        assert "mysql:" in host.run(["postconf", "-h", "virtual_mailbox_domains"]).stdout
        running = set(host.run(["ps", "-eo", "comm"]).stdout.split())
        missing = {name: what for name, what in STACK_DAEMONS.items() if name not in running}
        assert not missing, f"not running after the install: {missing}; running: {sorted(running)}"

        began = time.monotonic()
        th.add_test_checkout(host)
        seconds["tests and test deps into the host"] = time.monotonic() - began
        denied = host.run(["touch", f"{CHECKOUT}/tests/x"], check=False)
        assert "Read-only file system" in denied.stderr, denied

        # The guard is live there and has something to refuse: the same reads pass unguarded.
        probe = host.run(["python3", "-c", GUARD_PROBE], env={"PYTHONDONTWRITEBYTECODE": "1"}).stdout
        assert "unguarded: True /usr/sbin/postconf" in probe, probe
        assert probe.count("guarded: refused") == 2, probe

        # As scripts/test runs a tier: from the checkout, relative paths (the command line names no "mailtui").
        host.write_file(f"{WORKDIR}/no_snapshots.py", NO_SNAPSHOTS)
        pytest_argv = [
            "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no_snapshots", "-n", str(WORKERS),
            f"--junitxml={REPORT}", "tests/unit", *(f"tests/tui/{name}" for name in TUI_PART),
        ]  # fmt: skip
        env = {"PYTHONPATH": WORKDIR, "PYTHONDONTWRITEBYTECODE": "1", "HYPOTHESIS_STORAGE_DIRECTORY": f"{WORKDIR}/hyp"}
        began = time.monotonic()
        result = host.run(["/bin/sh", "-c", f'cd {CHECKOUT} && exec "$@"', "sh", *pytest_argv], env=env,
                          check=False, timeout=900)
        seconds["unit tier + TUI part inside"] = time.monotonic() - began
        output = result.stdout + result.stderr
        summary = output.strip().splitlines()[-1] if output.strip() else ""
        print(f"\n[{RELEASE}] in-host pytest: {summary}")
        for what, value in seconds.items():
            print(f"[{RELEASE}] {what}: {value:.1f} s")
        passed, per_module, ran = _report(host.read_file(REPORT)) if result.returncode in (0, 1) else ({}, {}, [])
        slowest = sorted(per_module.items(), key=lambda kv: -kv[1])[:12]
        print(f"[{RELEASE}] passed: {passed}; slowest modules (test seconds): "
              + ", ".join(f"{m.split('.')[-1]} {t:.0f}" for m, t in slowest))
        assert result.returncode == 0, f"the fast tiers failed inside the installed host:\n{output[-8000:]}"

        assert passed.get("unit", 0) > 100 and passed.get("tui", 0) > 20, passed
        snapshots = [name for name in ran if "snapshot" in name.rsplit("::", 1)[1]]
        assert not snapshots, f"the snapshot tests were not left out: {snapshots}"
