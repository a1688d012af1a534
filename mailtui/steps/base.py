"""The step contract.

A step *declares* the state it wants as a list of resources (files, Postfix parameters, master.cf
services, SQL objects, packages, …). Everything else is derived from that one declaration:

  plan()   -> the resources not yet in place, each as a Change (with a diff) — the preview / --dry-run
  apply()  -> brings each pending resource into place (idempotent: nothing pending, nothing done),
              then restarts the step's service if anything changed, or starts it if it is down; the
              restart is owed on disk before the first change (system/owed_restarts.py), so a run
              killed in between restarts it on the next run although every file is then in place
  verify() -> one Check per resource (in place or not; when not, the Change it would take is the Check's
              drift, never its name) plus the step's own functional checks

so "what would change" and "is it in place" can never disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from mailtui.events import Emit, StepEmitter, null_emit
from mailtui.model.answers import Answers
from mailtui.report import Change, Check
from mailtui.stack import services as safe_services
from mailtui.system import owed_restarts, services
from mailtui.system.platform import Platform


@dataclass
class Context:
    answers: Answers
    platform: Platform
    emit: Emit = null_emit
    dry_run: bool = False
    # Values a step computes for later steps (e.g. the Dovecot dialect); keyed by "step.name".
    facts: dict[str, object] = field(default_factory=dict)

    def out(self, step: str) -> StepEmitter:
        return StepEmitter(self.emit, step)


NOT_IN_PLACE = "not as the install sets it up"
UNUSED_STOP_TIMEOUT = 60.0


class Resource(ABC):
    """One declared piece of state."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def target(self) -> str: ...

    @abstractmethod
    def pending(self, ctx: Context) -> Change | None:
        """What would change to bring this resource into place; None when it already is."""

    @abstractmethod
    def apply(self, ctx: Context, out: StepEmitter) -> None:
        """Bring the resource into place. Only called when pending() returned a Change."""

    def describe(self) -> str:
        """What is checked, as a noun ("file /etc/…", "ufw enabled"): the name of its Check in `mailtui
        check`. Never the action that would put it in place (that is the pending Change's summary)."""
        return f"{self.kind} {self.target}"


class Step(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    why: ClassVar[str]  # one plain-language line: what the step does and why

    @abstractmethod
    def resources(self, ctx: Context) -> Sequence[Resource]:
        """The declaration. Must not change anything; may inspect the machine."""

    def enabled(self, ctx: Context) -> bool:
        return True

    def preflight(self, ctx: Context) -> list[str]:
        """Problems that must stop the install before anything changes (checked for every step first)."""
        return []

    # The services this step restarts when one of its resources changed and starts when down.
    services: ClassVar[tuple[str, ...]] = ()
    # False for services whose configuration the step changes live (SQL): they only have to run.
    restart_on_change: ClassVar[bool] = True

    def feature_on(self, ctx: Context) -> bool:
        """For a step whose feature the answers can switch off (DKIM, SRS): whether they switch it on. Its
        services run while it is on and are stopped once it is off (services_for, unused_services)."""
        return True

    def services_for(self, ctx: Context) -> tuple[str, ...]:
        return self.services if self.feature_on(ctx) else ()

    def unused_services(self, ctx: Context) -> tuple[str, ...]:
        """Services this step set up for a feature the answers now switch off: stopped, and (systemd) kept
        from starting at boot. Their packages and data stay."""
        return () if self.feature_on(ctx) else self.services

    @property
    def owes_restarts(self) -> bool:
        """A change of this step's resources must reach its running services (restart or reload)."""
        return bool(self.services) and self.restart_on_change

    def restart_owed(self) -> bool:
        """An earlier run changed this step's configuration and was stopped before its services loaded it."""
        return self.owes_restarts and owed_restarts.owed(self.name)

    def plan(self, ctx: Context) -> list[Change]:
        changes = [c for r in self.resources(ctx) if (c := r.pending(ctx)) is not None]
        changes.extend(self.service_changes(ctx, changed=bool(changes) or self.restart_owed()))
        return changes

    def service_changes(self, ctx: Context, *, changed: bool) -> list[Change]:
        result = []
        for name in self.services_for(ctx):
            if not services.is_running(name):
                result.append(Change("service", name, f"start {name}"))
            elif changed and self.restart_on_change:
                result.append(Change("service", name, f"restart {name} to load the new configuration"))
        for name in self.unused_services(ctx):
            if in_use(name):
                result.append(Change("service", name, f"stop {name} and keep it from starting at boot (no longer "
                                                      "used: switched off in the answers)"))
        return result

    def apply(self, ctx: Context) -> bool:
        """Bring every resource into place; return whether anything changed."""
        out = ctx.out(self.name)
        owed = self.restart_owed()
        if owed:
            out.line("an earlier run changed the configuration and stopped before the services loaded it: "
                     "loading it now")
        changed = False
        for resource in self.resources(ctx):
            change = resource.pending(ctx)
            if change is None:
                continue
            if self.owes_restarts and not owed:
                owed_restarts.owe(self.name)
                owed = True
            out.line(f"{change.summary}")
            resource.apply(ctx, out)
            changed = True
        self.after_apply(ctx, out, changed or owed)
        self.ensure_services(ctx, out, changed or owed)
        if owed:
            owed_restarts.settle(self.name)
        return changed or owed

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        """Hook for work that is not a declared resource (rare)."""

    def ensure_services(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        for name in self.services_for(ctx):
            if not services.is_running(name):
                out.line(f"starting {name}")
                safe_services.start(name)
            elif changed and self.restart_on_change:
                out.line(f"restarting {name}")
                safe_services.restart(name)
            if services.has_systemd() and services.unit_enabled(name) == "disabled":
                out.line(f"enabling {name} at boot (systemctl enable {name})")
                services.enable_at_boot(name)
        for name in self.unused_services(ctx):
            if services.is_running(name):
                out.line(f"stopping {name} (no longer used)")
                services.stop_and_wait(name, UNUSED_STOP_TIMEOUT)
            if services.has_systemd() and services.unit_enabled(name) == "enabled":
                out.line(f"keeping {name} from starting at boot (systemctl disable {name})")
                services.disable_at_boot(name)

    def verify(self, ctx: Context) -> list[Check]:
        checks = []
        for resource in self.resources(ctx):
            change = resource.pending(ctx)
            if change is None:
                checks.append(Check(resource.describe(), True))
            else:
                checks.append(Check(resource.describe(), False, NOT_IN_PLACE, drift=change.summary))

        if self.restart_owed():
            checks.append(Check(f"{self.title} runs on the configuration mailtui wrote", False,
                                "an install changed it and was stopped before restarting the service",
                                drift=f"restart {', '.join(self.services)} to load the new configuration"))
        for name in self.services_for(ctx):
            checks.extend(service_checks(name))
        for name in self.unused_services(ctx):
            stopped = not in_use(name)
            checks.append(Check(f"service {name} stopped (switched off in the answers)", stopped,
                                "" if stopped else f"{name} runs or starts at boot, but nothing uses it any more",
                                drift="" if stopped else f"stop {name} and keep it from starting at boot"))
        checks.extend(self.functional_checks(ctx))
        return checks

    def functional_checks(self, ctx: Context) -> list[Check]:
        return []

    def advisories(self, ctx: Context) -> list[Check]:
        """Checks whose failure an install finishes with and says (exit 1, `mailtui check` fails on them)
        instead of stopping: a server that works with less than was asked for, e.g. the self-signed
        certificate serving because the ACME CA gave none. Part of functional_checks() as well."""
        return []


def in_use(name: str) -> bool:
    """The service runs, or (systemd) its unit is enabled: starts at boot."""
    return services.is_running(name) or (services.has_systemd() and services.unit_enabled(name) == "enabled")


def service_checks(name: str) -> list[Check]:
    """The service runs; under systemd its unit is also active (not a process started behind systemd's back,
    which a reboot would not bring back) and starts at boot."""
    running = services.is_running(name)
    if not services.has_systemd():
        return [Check(f"service {name} running", running, "" if running else f"{name} is not running",
                      drift="" if running else f"start {name}")]
    unit = services.unit_state(name)
    ok = running and unit.is_active
    why = ("" if ok else f"{name} is not running" if not running
           else f"{name} runs, but its systemd unit is {unit.active} (started outside systemd?)")
    boot = unit.starts_at_boot
    return [Check(f"service {name} running", ok, why, drift="" if ok else f"start {name}"),
            Check(f"service {name} starts at boot", boot,
                  "" if boot else f"{name}'s unit is {unit.enabled}: it will not start after a reboot",
                  drift="" if boot else f"systemctl enable {name}")]
