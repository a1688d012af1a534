"""Verify: the installed stack answers as it should (ports, TLS, a real IMAPS login)."""

from __future__ import annotations

from collections.abc import Sequence

from mailtui.errors import StepFailed
from mailtui.events import StepEmitter
from mailtui.report import Check
from mailtui.stack import probes as checks
from mailtui.steps.base import Context, Resource, Step


class VerifyStep(Step):
    name = "verify"
    title = "Verify"
    why = "Proves the result: services listen, TLS is offered, and the first mailbox can log in over IMAPS."

    def resources(self, ctx: Context) -> Sequence[Resource]:
        return []

    def plan(self, ctx: Context) -> list:
        return []

    def functional_checks(self, ctx: Context) -> list[Check]:
        result = checks.port_checks(ctx.answers) + checks.tls_checks(ctx.answers)
        first = next((u for u in ctx.answers.users if u.password), None)
        if first is not None:
            result.append(checks.imap_login_check(first.email, first.password))
        return result

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        failed = []
        for check in self.functional_checks(ctx):
            out.line(f"{'ok  ' if check.ok else 'FAIL'} {check.name}" + (f": {check.detail}" if check.detail else ""))
            if not check.ok:
                failed.append(check)
        if failed:
            raise StepFailed("verification failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed))
