"""Under systemd a service counts as up only when its unit is active, and as set up only when the unit starts
at boot; the firewall's unit too (`ufw enable` leaves ufw.service inactive for the current boot)."""

from __future__ import annotations

import pytest

from mailtui.steps import base, firewall
from mailtui.system import services
from mailtui.system.services import UnitState


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """A scripted machine: systemd or not, which services run, what their units say."""
    state: dict[str, object] = {"systemd": True, "running": {"postfix"}, "units": {}}
    monkeypatch.setattr(services, "has_systemd", lambda: state["systemd"])
    monkeypatch.setattr(services, "is_running", lambda name: name in state["running"])  # type: ignore[operator]

    def unit_state(name: str) -> UnitState:
        units = state["units"]
        assert isinstance(units, dict)
        if name not in units:
            raise AssertionError(f"unit {name} not scripted")
        return units[name]

    monkeypatch.setattr(services, "unit_state", unit_state)
    monkeypatch.setattr(services, "unit_enabled", lambda name: unit_state(name).enabled)
    return state


def by_name(checks: list) -> dict[str, object]:  # type: ignore[type-arg]
    return {c.name: c for c in checks}


def test_active_and_enabled_unit_passes(machine: dict[str, object]) -> None:
    machine["units"] = {"postfix": UnitState("enabled", "active")}
    checks = by_name(base.service_checks("postfix"))
    assert checks["service postfix running"].ok and checks["service postfix starts at boot"].ok


def test_process_started_behind_systemds_back_fails(machine: dict[str, object]) -> None:
    machine["units"] = {"postfix": UnitState("enabled", "inactive")}
    check = by_name(base.service_checks("postfix"))["service postfix running"]
    assert not check.ok and "its systemd unit is inactive" in check.detail


def test_disabled_unit_fails_naming_the_reboot(machine: dict[str, object]) -> None:
    machine["units"] = {"postfix": UnitState("disabled", "active")}
    check = by_name(base.service_checks("postfix"))["service postfix starts at boot"]
    assert not check.ok and "will not start after a reboot" in check.detail
    assert check.drift == "systemctl enable postfix"


def test_without_systemd_only_the_process_counts(machine: dict[str, object]) -> None:
    machine["systemd"] = False
    machine["running"] = set()
    checks = base.service_checks("postfix")  # no unit is asked for: unit_state would raise
    assert [c.name for c in checks] == ["service postfix running"] and not checks[0].ok


def test_ufw_enabled_but_unit_inactive_is_pending_and_fails_check(
        machine: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall, "ufw_active", lambda: True)
    machine["units"] = {"ufw": UnitState("enabled", "inactive")}
    change = firewall.UfwEnabledResource().pending(None)  # type: ignore[arg-type]
    assert change is not None and "systemctl enable --now ufw" in change.diff
    failing = by_name(firewall.FirewallStep().functional_checks(None))  # type: ignore[arg-type]
    assert not failing["ufw unit active and started at boot"].ok
    machine["units"] = {"ufw": UnitState("enabled", "active")}  # positive control
    assert firewall.UfwEnabledResource().pending(None) is None  # type: ignore[arg-type]
    assert all(c.ok for c in firewall.FirewallStep().functional_checks(None))  # type: ignore[arg-type]
