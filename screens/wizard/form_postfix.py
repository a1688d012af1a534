"""The Postfix form: the hostname, the first domain, an optional smarthost, the message size."""

from __future__ import annotations

from dataclasses import replace

from mailtui.screens.widgets.fields import FieldRow, int_problem
from mailtui.screens.wizard.form import (
    FormPane,
    optional_check,
    optional_secret_check,
)
from textual.app import ComposeResult
from textual.widgets import Static

from mailtui.api.types import Preflight
from mailtui.model import validate
from mailtui.model.answers import Answers, Domain


class PostfixForm(FormPane):
    stage = "postfix"
    heading = "3 · Postfix"
    step_name = "postfix"

    def compose(self) -> ComposeResult:
        yield from self.compose_head()
        yield FieldRow("Hostname", "hostname", problem=validate.hostname_problem)
        yield FieldRow("First domain", "domains[0].name", problem=validate.domain_problem)
        yield FieldRow("Max message MB", "limits.message_size_mb",
                       problem=int_problem(lambda n: None if 1 <= n <= 2048 else "must be between 1 and 2048"))
        yield Static("Outgoing mail goes straight to the recipients' servers unless you name a relay "
                     "(e.g. your provider's smarthost when port 25 is blocked):", classes="note")
        yield FieldRow("Relay host", "outbound.relayhost", optional=True, placeholder="[smtp.example.net]:587",
                       problem=optional_check(validate.relayhost_problem))
        yield FieldRow("Relay user", "outbound.user", optional=True)
        yield FieldRow("Relay password", "outbound.password", password=True, optional=True,
                       problem=optional_secret_check)

    def load(self, a: Answers, pf: Preflight | None = None) -> None:
        values = {
            "hostname": a.hostname, "domains[0].name": a.domains[0].name if a.domains else "",
            "limits.message_size_mb": str(a.limits.message_size_mb),
            "outbound.relayhost": a.outbound.relayhost, "outbound.user": a.outbound.user,
            "outbound.password": a.outbound.password,
        }
        for f in self.fields():
            f.value = values[f.key]

    def _v(self, key: str) -> str:
        f = self.field_for(key)
        assert f is not None
        return f.value.strip()

    @property
    def hostname(self) -> str:
        return validate.canonical_domain(self._v("hostname"))

    @property
    def domain(self) -> str:
        return validate.canonical_domain(self._v("domains[0].name"))

    def store(self, a: Answers) -> Answers:
        size = self._v("limits.message_size_mb")
        domains = [Domain(self._v("domains[0].name")), *a.domains[1:]]
        return replace(
            a, hostname=self._v("hostname"), domains=domains,
            limits=replace(a.limits, message_size_mb=validate.whole_number(size) or 0),
            outbound=replace(a.outbound, relayhost=self._v("outbound.relayhost"), user=self._v("outbound.user"),
                             password=self._v("outbound.password")))

    def extra_problems(self) -> dict[str, str]:
        p: dict[str, str] = {}
        user, password = self._v("outbound.user"), self._v("outbound.password")
        if bool(user) != bool(password):
            p["outbound.user"] = "give both a relay user and a relay password, or neither"
        if user and not self._v("outbound.relayhost"):
            p["outbound.relayhost"] = "is needed for a relay user and password"
        hostname = validate.canonical_domain(self._v("hostname"))
        if self.domain and self.domain == hostname:
            p["domains[0].name"] = (f"is the server's own hostname; use a hostname such as mail.{self.domain}")
        return p
