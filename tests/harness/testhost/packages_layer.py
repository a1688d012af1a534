"""The "packages installed" layer: a host on which mailtui's own packages step ran for given answers (the
stack's packages installed by apt, offline, from the base's cache; nothing configured; /var/lib/mailtui
removed) — a machine whose admin installed the packages (and whose rspamd started once: RSPAMD_WARM). A
host on it runs `mailtui install` in 6–7 s of host time instead of 30–35 s: the packages step then finds
everything installed and does nothing.

For tests that are not about installing packages. Tests about installing them (the fresh install, kills
inside the packages step, scripts/run's bootstrap) keep a bare base.

By default it sits on the systemd layer, as a real server does: apt started the services from their stock
configuration while the layer was made (as it does there), hosts on it boot systemd and systemd starts what
is enabled. `systemd=False` makes it on a bare base, for the few tests kept on hosts without systemd.

What makes the layer differ, all in its key: the package set the packages step picks for the answers and
the debconf answers it preseeds (both computed by mailtui's own functions), the hostname it was made on,
the source of the packages step and what it runs (PACKAGES_STEP_SOURCES; an edit to another step keeps
the layer) and RSPAMD_WARM. The one place the harness calls mailtui's install internals.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from tests.harness.testhost.common import MAILTUI_PYTHONPATH, REPO_ROOT, TestHostError, tree_hash
from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer
from tests.harness.testhost.systemd_layer import systemd_layer

TRACE_PATH = "/root/layer-packages-trace.jsonl"
ANSWERS_PATH = "/root/layer-answers.toml"
STATE_DIR = "/var/lib/mailtui"

# Runs inside the layer's host: the packages step alone, as the detached worker runs it.
PACKAGES_ONLY = r"""
import sys
from pathlib import Path
from mailtui.model import answers_file
from mailtui.install import plan as install_plan
from mailtui.install import worker as install_worker
a = install_plan.prepare(answers_file.load(Path(sys.argv[1])))
sys.exit(install_worker.worker_main(answers_file.dumps(a.answers, keep_passwords=True), ["packages"]))
"""


# rspamd's first start compiles its hyperscan databases into /var/lib/rspamd (measured: 14-15 s before it
# listens; a start with them cached: under 1 s). A real server pays that once; the layer pays it for every
# host made on it: it waits until rspamd has written them, so they are in the layer.
RSPAMD_WARM = r"""
log=/var/log/rspamd/rspamd.log
if [ -d /run/systemd/system ]; then rc="systemctl"; else rc="service"; fi
if ! pgrep -x rspamd >/dev/null; then
  if [ $rc = systemctl ]; then systemctl start rspamd; else service rspamd start; fi
fi
for _ in $(seq 1 600); do
  grep -q 'hyperscan database of .* has been loaded' "$log" 2>/dev/null && break
  sleep 0.2
done
if ! grep -q 'hyperscan database of .* has been loaded' "$log"; then
  echo "rspamd never loaded its hyperscan cache" >&2; exit 1
fi
if [ $rc = systemctl ]; then systemctl stop rspamd; else service rspamd stop; fi
for _ in $(seq 1 100); do pgrep -x rspamd >/dev/null || break; sleep 0.1; done
: > "$log"
ls /var/lib/rspamd/*.hs* >/dev/null
"""


# The parts of mailtui the layer's content depends on: the packages step and what it runs (apt, the install
# worker, its fault points, which the layer's trace records, and the state it writes). An edit anywhere else
# in mailtui (the other steps, the operations, the CLI) keeps the layer: it holds apt's work for the
# package list and the debconf answers, which are in the key themselves (measured: 5 stack layers rebuilt
# in a CI run after any edit, 40-60 s each).
# install/rollback.py is not among them: the packages step never runs it.
PACKAGES_STEP_SOURCES = ("install/__init__.py", "install/plan.py", "install/plan_inputs.py", "install/preflight.py",
                         "install/state.py", "install/worker.py", "system", "faults.py", "events.py", "paths.py",
                         "steps/base.py", "steps/packages.py", "steps/packages_list.py")


def packages_step_hash() -> str:
    root = REPO_ROOT / "mailtui"
    digest = hashlib.sha256()
    for part in PACKAGES_STEP_SOURCES:
        path = root / part
        content = tree_hash(path).encode() if path.is_dir() else path.read_bytes()
        digest.update(part.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:16]


def stack_inputs(answers_text: str, *, systemd: bool = True) -> dict[str, Any]:
    """What the packages step does for these answers: the packages it installs and the debconf answers."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from mailtui.model import answers_file as answers_mod
    from mailtui.steps.packages import debconf_selections, wanted_packages

    a = answers_mod.loads(answers_text)
    return {"packages": sorted(wanted_packages(a, database_server=True, systemd=systemd)),
            "debconf": debconf_selections(a), "hostname": a.hostname, "mailtui": packages_step_hash(),
            "warm": RSPAMD_WARM}


def core_answers(answers_text: str) -> str:
    """The same machine with every optional feature off (a file without a version: DKIM, SRS, the spam filter,
    the webmail and the updates off, the self-signed certificate, no POP3; the same relay, which the test
    profile asks for): the packages every install has. Valid answers: the core layer runs the packages step."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from mailtui.model import answers_file as answers_mod

    a = answers_mod.loads(answers_text)
    return (f'hostname = {json.dumps(a.hostname)}\nprofile = {json.dumps(a.profile)}\n\n'
            f'[outbound]\nrelayhost = {json.dumps(a.outbound.relayhost)}\n')


def stack_layer(release: str, answers_text: str, *, systemd: bool = True, on_core: bool = True) -> Layer:
    """The cached "packages installed" layer for these answers on `release` (built if missing, ~30-90 s), on
    the systemd layer unless systemd=False (hosts given it boot systemd, see the module's docstring).

    With `on_core` (the default) a layer whose packages are the core's (core_answers) and more is built on the
    core's layer: its packages step then installs only what the core lacks, as on a server where a feature is
    switched on later (measured: 14 stack layers a cold run, 30-90 s each from nothing). on_core=False builds
    it from the bare base, for a trace of every package (the interruption walk's package points).

    layer.meta["results"]["packages_trace"]: the packages step's fault points (MAILTUI_FAULT_TRACE) while the
    layer was built: on a core layer, only the packages it added."""
    inputs = stack_inputs(answers_text, systemd=systemd)
    below = [systemd_layer(release)] if systemd else []
    if on_core:
        core_text = core_answers(answers_text)
        core = stack_inputs(core_text, systemd=systemd)
        if set(core["packages"]) < set(inputs["packages"]) and core["debconf"] == inputs["debconf"]:
            below = [stack_layer(release, core_text, systemd=systemd, on_core=False)]

    def build(host: TestHost) -> dict[str, Any]:
        host.write_file(ANSWERS_PATH, answers_text, mode=0o600)
        result = host.run(["python3", "-c", PACKAGES_ONLY, ANSWERS_PATH], check=False, timeout=900,
                          env={"PYTHONPATH": MAILTUI_PYTHONPATH, "MAILTUI_FAULT_TRACE": TRACE_PATH})
        if result.returncode != 0:
            raise TestHostError(f"the packages step on {release} failed:\n{result.stdout[-3000:]}{result.stderr}")
        if "rspamd" in inputs["packages"]:
            host.run(["sh", "-c", RSPAMD_WARM], timeout=180)
        trace = [json.loads(line) for line in host.read_file(TRACE_PATH).splitlines() if line.strip()]
        # The journal of the boot the layer was made on is no log of any later host's.
        host.run(["sh", "-c", f"rm -rf {STATE_DIR} {TRACE_PATH} {ANSWERS_PATH} /var/log/journal/*"])
        return {"packages_trace": trace}

    return ensure_layer(release, "stack", inputs, build, hostname=inputs["hostname"], below=below)
