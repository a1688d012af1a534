"""Firewall: ufw with the mail ports open (IPv4 and IPv6), and the SSH port in use first.

Before ufw is enabled, the port this SSH session came in on (from $SSH_CONNECTION) and the ports
sshd listens on (`sshd -T`) are allowed, so the operator can never lock themselves out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import ports as policy_ports
from mailtui.report import Change, Check
from mailtui.steps.base import Context, Resource, Step
from mailtui.system import services
from mailtui.system.commands import run, which

DEFAULT_SSH_PORT = 22


def session_ssh_port(environ: Mapping[str, str]) -> int | None:
    """The server port of the SSH session we run in ($SSH_CONNECTION = client port server port)."""
    conn = environ.get("SSH_CONNECTION", "").split()
    if len(conn) == 4 and conn[3].isdigit():
        return int(conn[3])
    return None


def ssh_ports(answers: Answers, environ: Mapping[str, str] | None = None) -> list[int]:
    """Every port an operator may be using to reach this machine over SSH."""
    env = os.environ if environ is None else environ
    ports: list[int] = []
    if answers.firewall.ssh_port:
        ports.append(answers.firewall.ssh_port)
    session = session_ssh_port(env)
    if session is not None:
        ports.append(session)
    if which("sshd"):
        result = run(["sshd", "-T"], check=False)
        ports += [int(m) for m in re.findall(r"^port (\d+)$", result.output, re.MULTILINE)]
    if not ports:
        ports.append(DEFAULT_SSH_PORT)
    return sorted(set(ports), key=ports.index)


def mail_ports(answers: Answers) -> list[tuple[int, str]]:
    """(port, label) of every port these answers open in the firewall (policy/ports.py)."""
    return [(p.number, p.label) for p in policy_ports.firewall_open(answers)]


def added_rules() -> set[str]:
    """Rules as `ufw show added` lists them, e.g. 'ufw allow 25/tcp comment ...'."""
    if not which("ufw"):
        return set()
    result = run(["ufw", "show", "added"], check=False)
    return {line.strip() for line in result.output.splitlines() if line.startswith("ufw ")}


def _rule_present(port: int, rules: set[str]) -> bool:
    return any(re.match(rf"^ufw allow {port}/tcp(\s|$)", r) for r in rules)


class AddedRules:
    """`ufw show added`, read once for all the rule resources of one plan, apply or verify (FirewallStep
    makes its resources afresh for each, so nothing read here outlives one of them; a verify reads the
    rules again). ufw is a Python program: each run costs ~0.2 s, and an install read the list 15 times."""

    def __init__(self) -> None:
        self._rules: set[str] | None = None

    def rules(self) -> set[str]:
        if self._rules is None:
            self._rules = added_rules()
        return self._rules

    def allowed(self, port: int) -> None:
        """The apply just added this port's rule (the next resource of the same apply need not re-read)."""
        if self._rules is not None:
            self._rules.add(f"ufw allow {port}/tcp")


def ufw_active() -> bool:
    if not which("ufw"):
        return False
    return "Status: active" in run(["ufw", "status"], check=False).output


@dataclass
class UfwRuleResource:
    port: int
    label: str
    added: AddedRules = field(default_factory=AddedRules, compare=False, repr=False)
    kind = "firewall"

    @property
    def target(self) -> str:
        return f"{self.port}/tcp"

    def describe(self) -> str:
        return f"ufw allows {self.port}/tcp ({self.label})"

    def pending(self, ctx: Context) -> Change | None:
        if _rule_present(self.port, self.added.rules()):
            return None
        return Change("firewall", self.target, f"allow {self.port}/tcp ({self.label}) in ufw, IPv4 and IPv6",
                      f"$ ufw allow {self.port}/tcp comment '{self.label}'")

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        run(["ufw", "allow", f"{self.port}/tcp", "comment", f"mailtui {self.label}"], on_line=out.line)
        self.added.allowed(self.port)


@dataclass
class UfwEnabledResource:
    kind = "firewall"

    @property
    def target(self) -> str:
        return "ufw"

    def describe(self) -> str:
        return "ufw enabled"

    def pending(self, ctx: Context) -> Change | None:
        if not ufw_active():
            return Change("firewall", "ufw", "enable ufw (incoming: deny unless allowed above)",
                          "$ ufw --force enable" + ("\n$ systemctl enable --now ufw" if services.has_systemd() else ""))
        if services.has_systemd() and not services.unit_state("ufw").set_up:
            return Change("firewall", "ufw", "start ufw's systemd unit (`ufw enable` leaves it inactive for this "
                          "boot)", "$ systemctl enable --now ufw")
        return None

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        if not ufw_active():
            run(["ufw", "--force", "enable"], on_line=out.line)
        if services.has_systemd():
            # ufw's unit loads the rules at boot; `ufw enable` marks it enabled but leaves it inactive for
            # the current boot (systemctl is-active ufw: inactive), which looks like a firewall that is off.
            run(["systemctl", "enable", "--now", "ufw"], on_line=out.line)


for _cls in (UfwRuleResource, UfwEnabledResource):
    Resource.register(_cls)


class FirewallStep(Step):
    name = "firewall"
    title = "Firewall"
    why = ("ufw lets in only SSH and the mail ports (25, 587, 465, 993; 995 with POP3). "
           "Your SSH port is allowed before the firewall is switched on.")

    def enabled(self, ctx: Context) -> bool:
        return ctx.answers.firewall.enable

    def resources(self, ctx: Context) -> Sequence[Resource]:
        key = "firewall.ssh_ports"
        if key not in ctx.facts:
            ctx.facts[key] = ssh_ports(ctx.answers)
        added = AddedRules()  # one `ufw show added` for all of them
        ssh = [UfwRuleResource(p, "SSH", added) for p in ctx.facts[key]]  # type: ignore[attr-defined]
        mail = [UfwRuleResource(p, label, added) for p, label in mail_ports(ctx.answers)]
        return [*ssh, *mail, UfwEnabledResource()]

    def functional_checks(self, ctx: Context) -> list[Check]:
        active = ufw_active()
        checks = [Check("ufw active", active, "" if active else "ufw is not enabled")]
        if services.has_systemd():
            unit = services.unit_state("ufw")
            ok = unit.set_up
            checks.append(Check("ufw unit active and started at boot", ok,
                                "" if ok else f"ufw.service is {unit.enabled}/{unit.active}: the rules may not come "
                                "back after a reboot", drift="" if ok else "systemctl enable --now ufw"))
        return checks
