"""Security updates ([updates] in the answers): Debian's unattended-upgrades installs them every day.

A mail server with a web application on the internet needs its security updates without an operator
remembering them. unattended-upgrades' own configuration (50unattended-upgrades) already limits it to the
release's security archive on Debian (and -security on Ubuntu); what switches it on is APT's periodic settings,
the file debconf's "enable automatic updates" question writes: 20auto-upgrades. APT's daily timers
(apt-daily.timer, apt-daily-upgrade.timer) run it under systemd; /etc/cron.daily/apt-compat without.

Switched off in the answers: the file says "0" for both, so nothing is installed unasked.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailtui.model.answers import Answers
from mailtui.report import Check
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import FileResource, starts_with_line
from mailtui.system import apt

PERIODIC_FILE = "/etc/apt/apt.conf.d/20auto-upgrades"
HEADER = "// Written by mailtui ([updates] in the answers); replaced on every install.\n"


def render_periodic(answers: Answers) -> str:
    on = "1" if answers.updates.enabled else "0"
    return (HEADER
            + f'APT::Periodic::Update-Package-Lists "{on}";\n'
            + f'APT::Periodic::Unattended-Upgrade "{on}";\n')


def written_by_mailtui() -> bool:
    return starts_with_line(PERIODIC_FILE, HEADER)


class UpdatesStep(Step):
    name = "updates"
    title = "Security updates"
    why = "unattended-upgrades installs Debian's security updates every day, so the server never waits for you."

    def enabled(self, ctx: Context) -> bool:
        # Switched off after an install: the file stays, saying "0".
        return ctx.answers.updates.enabled or written_by_mailtui()

    def resources(self, ctx: Context) -> Sequence[Resource]:
        return [FileResource(PERIODIC_FILE, render_periodic(ctx.answers))]

    def functional_checks(self, ctx: Context) -> list[Check]:
        if not ctx.answers.updates.enabled:
            return []
        ok = apt.is_installed("unattended-upgrades")
        return [Check("unattended-upgrades installed (security updates every day)", ok,
                      "" if ok else "the packages step installs it when [updates] enabled = true")]
