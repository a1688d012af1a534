"""Cached layers (root only): a host on a layer sees the recipe's result (deletions included), a layer is
rebuilt whenever anything it depends on changes and reused otherwise, and the "packages installed" layer is
a machine whose admin installed exactly the packages mailtui's packages step picks.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.harness import testhost as th  # noqa: E402
from tests.harness.testhost import layers, packages_layer  # noqa: E402
from tests.reliability.interrupt_helpers import ANSWERS  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="layers need root (namespaces, overlayfs)")


def _marker_recipe(value: str, calls: list[str]) -> Any:
    def build(host: th.TestHost) -> dict[str, Any]:
        calls.append(value)
        host.write_file("/etc/layer-marker", value + "\n")
        host.run(["rm", "/etc/issue.net"])  # a deletion: a whiteout in the layer
        return {"value": value}

    return build


def test_a_layer_holds_its_recipe_and_is_rebuilt_only_when_an_input_changes() -> None:
    calls: list[str] = []
    token = os.urandom(4).hex()  # a key no earlier run made
    first = th.ensure_layer("bookworm", "marker", {"token": token, "v": 1}, _marker_recipe("one", calls))
    again = th.ensure_layer("bookworm", "marker", {"token": token, "v": 1}, _marker_recipe("never", calls))
    second = th.ensure_layer("bookworm", "marker", {"token": token, "v": 2}, _marker_recipe("two", calls))
    try:
        assert calls == ["one", "two"]  # the same inputs: no rebuild; changed inputs: a new layer
        assert again.dir == first.dir and second.dir != first.dir
        assert first.meta["results"] == {"value": "one"} and first.base == th.current_base("bookworm")
        for layer, value in ((first, "one"), (second, "two")):
            with th.test_host("bookworm", layers=[layer]) as host:
                assert host.read_file("/etc/layer-marker") == value + "\n"
                assert host.run(["test", "-e", "/etc/issue.net"], check=False).returncode == 1  # deleted
                assert host.read_file("/etc/debian_version").startswith("12.")  # the base shows through
                host.write_file("/etc/layer-marker", "changed\n")  # into the host's own upper dir only
        with th.test_host("bookworm", layers=[first]) as host:
            assert host.read_file("/etc/layer-marker") == "one\n"
        with pytest.raises(th.TestHostError, match="not trixie"):
            th.create_host("trixie", layers=[first])
    finally:
        for layer in (first, second):
            shutil.rmtree(layer.dir, ignore_errors=True)


def test_a_layer_brings_the_layers_it_was_built_on() -> None:
    base = Path("/cache/bases/bookworm-1")
    systemd = th.Layer("bookworm", "systemd", Path("/cache/layers/bookworm-systemd-1"), base)
    client = th.Layer("bookworm", "client", Path("/cache/layers/bookworm-client-1"), base, below=(systemd,))
    stack = th.Layer("bookworm", "stack", Path("/cache/layers/bookworm-stack-1"), base, below=(systemd,))
    assert stack.stack == [systemd, stack]
    assert layers.expand([stack]) == [systemd, stack]
    assert layers.expand([systemd, client]) == [systemd, client]  # named twice: stacked once
    assert layers.expand([client, stack]) == [systemd, client, stack]  # lowest first
    assert layers.expand([]) == []


def test_the_key_changes_with_everything_a_layer_depends_on() -> None:
    base = Path("/cache/bases/bookworm-1")
    below = [th.Layer("bookworm", "dns", Path("/cache/layers/bookworm-dns-1"), base)]
    inputs = {"packages": ["postfix"], "debconf": "x", "mailtui": "abc"}
    key = layers.layer_key(base, [], inputs)
    assert layers.layer_key(base, [], dict(inputs)) == key
    assert layers.layer_key(Path("/cache/bases/bookworm-2"), [], inputs) != key  # a rebuilt base
    assert layers.layer_key(base, below, inputs) != key  # other layers below
    for field, value in (("packages", ["postfix", "ufw"]), ("debconf", "y"), ("mailtui", "abd")):
        assert layers.layer_key(base, [], {**inputs, field: value}) != key, field


def test_the_stack_layers_inputs_follow_the_answers_and_mailtuis_source(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = packages_layer.stack_inputs(ANSWERS)
    assert "postfix" in plain["packages"] and "dovecot-pop3d" not in plain["packages"]
    with_pop3 = packages_layer.stack_inputs(ANSWERS.replace("pop3 = false", "pop3 = true"))
    assert "dovecot-pop3d" in with_pop3["packages"]
    renamed = packages_layer.stack_inputs(ANSWERS.replace('"mail.example.test"', '"mx.other.test"'))
    assert renamed["debconf"] != plain["debconf"] and "mx.other.test" in renamed["debconf"]
    assert packages_layer.stack_inputs(ANSWERS.replace("lookup-Fault", "other-Fault")) == plain  # secrets: no matter
    monkeypatch.setattr(packages_layer, "packages_step_hash", lambda: "edited")
    assert packages_layer.stack_inputs(ANSWERS)["mailtui"] == "edited" != plain["mailtui"]


def test_the_stack_layer_follows_the_packages_step_source_and_nothing_else(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of mailtui/: an edit to the packages step or apt changes the key, one to another step does not."""
    shutil.copytree(packages_layer.REPO_ROOT / "mailtui", tmp_path / "mailtui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(packages_layer, "REPO_ROOT", tmp_path)
    before = packages_layer.packages_step_hash()
    (tmp_path / "mailtui/steps/dkim.py").write_text("# another step edited\n")
    (tmp_path / "mailtui/install/rollback.py").write_text("# rollback edited (the packages step never runs it)\n")
    assert packages_layer.packages_step_hash() == before
    # Every other module of install/ is in the key: a new one must be added there (or said why not).
    install = {f"install/{p.name}" for p in (tmp_path / "mailtui/install").glob("*.py")} - {"install/rollback.py"}
    assert install <= set(packages_layer.PACKAGES_STEP_SOURCES), install - set(packages_layer.PACKAGES_STEP_SOURCES)
    for edited in ("steps/packages.py", "system/apt.py", "install/worker.py"):
        path = tmp_path / "mailtui" / edited
        path.write_text(path.read_text() + "\n# edited\n")
        assert packages_layer.packages_step_hash() != before, edited
        before = packages_layer.packages_step_hash()


@pytest.mark.parametrize("release", list(th.RELEASES))
def test_the_stack_layer_is_the_packages_installed_and_nothing_configured(release: str) -> None:
    layer = th.stack_layer(release, ANSWERS)
    wanted = packages_layer.stack_inputs(ANSWERS)["packages"]
    # Built on the core layer (every install's packages, from the bare base), adding what these answers add.
    core = packages_layer.stack_inputs(packages_layer.core_answers(ANSWERS))["packages"]
    below = [b for b in layer.below if b.name == "stack"]
    assert [b.meta["inputs"]["packages"] for b in below] == [core], below
    assert sum(p["kind"] == "dpkg-unpack" for p in below[0].meta["results"]["packages_trace"]) > 10
    unpacked = {p["detail"] for p in layer.meta["results"]["packages_trace"] if p["kind"] == "dpkg-unpack"}
    assert set(wanted) - set(core) <= unpacked and not unpacked & set(core), unpacked  # it ran the step, traced
    full = th.stack_layer(release, ANSWERS, on_core=False)  # the interruption walk's: every package traced
    assert not [b for b in full.below if b.name == "stack"]
    every = {p["detail"] for p in full.meta["results"]["packages_trace"] if p["kind"] == "dpkg-unpack"}
    assert (set(wanted) - set(core)) | {"mariadb-server", "postfix", "dovecot-core"} <= every, every
    with th.test_host(release, layers=[layer]) as host:
        status = host.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *wanted]).stdout
        assert all(line.endswith("install ok installed") for line in status.splitlines()), status
        assert host.run(["dpkg", "--audit"]).stdout.strip() == ""
        assert host.run(["test", "-e", "/var/lib/mailtui"], check=False).returncode == 1  # no install state
        # Nothing configured: Postfix's stock main.cf (no map of mailtui's), no mailtui file in Dovecot's conf.d.
        assert host.run(["postconf", "-h", "virtual_mailbox_domains"]).stdout.strip() == "$virtual_mailbox_maps"
        assert "mailtui" not in host.run("grep -rl mailtui /etc/dovecot /etc/postfix || true").stdout
        # On systemd, as on a real server: apt enabled the services and systemd started them, stock.
        assert host.init == "systemd"
        active = host.run(["systemctl", "is-active", "postfix", "dovecot", "mariadb"], check=False).stdout.split()
        assert active == ["active"] * 3, active
        host.write_file("/root/answers.toml", ANSWERS, mode=0o600)
        dry = host.mailtui("install", "--answers", "/root/answers.toml", "--dry-run", check=False, timeout=300)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "== Packages (packages) ==\n   nothing to change\n" in dry.stdout, dry.stdout[:3000]
