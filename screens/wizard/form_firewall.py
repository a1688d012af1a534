"""The Firewall form: ufw on or off, the ports it opens and the SSH port it keeps open."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import FieldRow, int_problem
from mailtui.screens.widgets.toggles import Checkbox
from mailtui.screens.wizard.form import (
    FormPane,
)
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Answers


class FirewallForm(FormPane):
    stage = "firewall"
    heading = "8 · Firewall"
    step_name = "firewall"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield Checkbox("Enable the ufw firewall", True, id="cb-firewall", compact=True)
        yield FieldRow("SSH port", "firewall.ssh_port", problem=int_problem(validate.port_problem))
        yield Static("", id="fw-rules", classes="facts")

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        self.query_one("#cb-firewall", Checkbox).value = a.firewall.enable
        port = a.firewall.ssh_port
        detected = ""
        if port is None:
            ports = self.ops.ssh_ports(a)
            port = ports[0] if ports else 22
            detected = f" (detected: {', '.join(map(str, ports))})"
        f = self.field_for("firewall.ssh_port")
        assert f is not None
        f.value = str(port)
        self.detected = detected
        ufw = ""
        if pf is not None:
            ufw = ("ufw is active now" if pf.ufw_active else "ufw is installed, inactive" if pf.ufw_installed
                   else "ufw is not installed yet")
        self.ufw = ufw
        self.update_rules(a)

    def update_rules(self, a: Answers) -> None:
        ports = [("SSH", self.field_for("firewall.ssh_port").value or "?")]  # type: ignore[union-attr]
        ports += [(label, str(port)) for port, label in self.ops.mail_ports(a)]
        width = max(len(f"{p}/tcp") for _, p in ports)
        rules = "\n".join(f"  allow {f'{p}/tcp':<{width}}  {label}" for label, p in ports)  # in columns
        self.query_one("#fw-rules", Static).update(
            f"Rules it adds{getattr(self, 'detected', '')}:\n{rules}\n{getattr(self, 'ufw', '')}".rstrip())

    def store(self, a: Answers) -> Answers:
        port = self.field_for("firewall.ssh_port").value.strip()  # type: ignore[union-attr]
        return replace(a, firewall=replace(a.firewall, enable=self.query_one("#cb-firewall", Checkbox).value,
                                           ssh_port=validate.whole_number(port) or 0))

    @on(Checkbox.Changed, "#cb-firewall")
    def toggled(self, event: Checkbox.Changed) -> None:
        f = self.field_for("firewall.ssh_port")
        assert f is not None
        f.input.disabled = not event.value
