"""Planning an install: the steps in engine order, the answers made ready, and what each step would change.

The engine applies in dependency order (packages, database, tls, postfix, dovecot, firewall, fail2ban,
verify) so a certificate exists before a service that needs it starts. Nothing here changes the machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailtui.errors import MailtuiError
from mailtui.events import Emit
from mailtui.install import rollback, state
from mailtui.model import passwords, problems
from mailtui.model.answers import Answers
from mailtui.steps.base import Change, Context, Step
from mailtui.steps.firewall import session_ssh_port
from mailtui.steps.order import all_steps as engine_steps
from mailtui.steps.packages import PackagesResource, PackagesStep
from mailtui.system import apt
from mailtui.system.platform import Platform


@dataclass(frozen=True)
class CheckedAnswers:
    """Answers that passed every check and got their secrets and hashes: only prepare() makes them, so
    whatever takes one (the plan, the worker) knows there is nothing left to validate."""

    answers: Answers


def all_steps() -> list[Step]:
    return engine_steps()


def steps_for(ctx: Context, only: Sequence[str] | None = None) -> list[Step]:
    """The enabled steps in engine order; with `only`, just those of them (still in engine order)."""
    steps = [s for s in all_steps() if s.enabled(ctx)]
    if only is not None:
        wanted = set(only)
        steps = [s for s in steps if s.name in wanted]
    return steps


def failed_advisories(ctx: Context) -> list[str]:
    """What a finished install says it lacks ("name: detail"): the steps' advisories that fail."""
    return [f"{c.name}: {c.detail}" for step in steps_for(ctx) for c in step.advisories(ctx) if not c.ok]


def step_names() -> list[str]:
    """Every step's name, in engine order."""
    return [s.name for s in all_steps()]


def ordered_steps(steps: Sequence[str]) -> list[str]:
    """The given step names in engine order, without duplicates; unknown names raise MailtuiError."""
    known = step_names()
    unknown = [s for s in steps if s not in known]
    if unknown:
        raise MailtuiError(f"unknown install step(s): {', '.join(unknown)} (the steps are: {', '.join(known)})")
    wanted = set(steps)
    return [s for s in known if s in wanted]


def resume_from(install_state: state.InstallState) -> list[str]:
    """The steps of that install not done yet, in engine order: what a resume runs.

    A step counts when the install recorded it (state.steps lists every enabled step, also those a
    phased run did not reach yet); a fresh state (no steps recorded) means everything."""
    if not install_state.steps:
        return step_names()
    order = {name: i for i, name in enumerate(step_names())}
    todo = [name for name, status in install_state.steps.items() if status != "done"]
    return sorted(todo, key=lambda name: order.get(name, len(order)))


def make_context(answers: Answers | CheckedAnswers, emit: Emit | None = None, *, dry_run: bool = False) -> Context:
    if isinstance(answers, CheckedAnswers):
        answers = answers.answers
    ctx = Context(answers=answers, platform=Platform.detect(), dry_run=dry_run)
    if emit is not None:
        ctx.emit = emit
    return ctx


def pending_packages(answers: Answers | CheckedAnswers) -> list[str]:
    """The packages the packages step would install now (empty: everything is in place, so the
    other steps can be planned against the real stock files)."""
    ctx = make_context(answers)
    missing: list[str] = []
    for resource in PackagesStep().resources(ctx):
        if isinstance(resource, PackagesResource):
            missing += [p for p in apt.missing(resource.packages) if p not in missing]
    return missing


def prepare(answers: Answers) -> CheckedAnswers:
    """Validated answers with database secrets filled: from the last install if there was one (so a
    second install changes nothing), else generated. ValidationError names every problem."""
    answers = problems.check(answers)
    saved = state.load_saved_answers()
    if saved is None:  # after `mailtui rollback`: the database it left alone still has these passwords
        saved = rollback.answers_left_behind()
    if saved is not None and not answers.database.password and saved.database.user == answers.database.user:
        answers = replace(answers, database=replace(answers.database, password=saved.database.password))
    if saved is not None and not answers.database.admin_password \
            and saved.database.admin_user == answers.database.admin_user:
        answers = replace(answers, database=replace(answers.database, admin_password=saved.database.admin_password))
    if saved is not None:  # the webmail's database accounts likewise
        kept = {key: getattr(saved.webmail, key) for key in ("db_password", "password_db_password")
                if not getattr(answers.webmail, key) and getattr(saved.webmail, key)}
        if kept:
            answers = replace(answers, webmail=replace(answers.webmail, **kept))
    if answers.firewall.enable and answers.firewall.ssh_port is None:
        # Remember the port this SSH session came in on, so later checks and runs (from cron, from
        # another session) keep allowing it.
        port = session_ssh_port(os.environ) or (saved.firewall.ssh_port if saved else None)
        if port is not None:
            answers = replace(answers, firewall=replace(answers.firewall, ssh_port=port))
    return CheckedAnswers(with_stable_hashes(answers, saved).with_generated_secrets())


def with_stable_hashes(answers: Answers, saved: Answers | None) -> Answers:
    """Give every plain-text password its hash now, reusing the saved hash where it still verifies: the
    database, the saved answers and `mailtui check` then agree on one hash (a new salt on every run
    would make each re-install rewrite them). The plain text stays, in memory only, for the verify step."""
    old = {u.email: u.password_hash for u in saved.users} if saved else {}
    users = []
    for u in answers.users:
        if u.password and not u.password_hash:
            previous = old.get(u.email, "")
            keep = previous and passwords.verify_password(u.password, previous)
            u = replace(u, password_hash=previous if keep else passwords.hash_password(u.password))
        users.append(u)
    return replace(answers, users=users)


def preflight(ctx: Context) -> list[str]:
    """Problems that stop the install before anything changes (root, release, each step's own)."""
    found = []
    if os.geteuid() != 0:
        found.append("mailtui must run as root to install (try: sudo mailtui install …)")
    if not ctx.platform.supported:
        found.append(f"{ctx.platform.pretty_name} is not a supported release "
                     "(Debian 12/13, Ubuntu 22.04/24.04/26.04)")
    for step in steps_for(ctx):
        found += [f"{step.title}: {p}" for p in step.preflight(ctx)]
    return found


def plan(ctx: Context, only: Sequence[str] | None = None) -> list[tuple[Step, list[Change]]]:
    """What each step would change; with `only`, just those steps (e.g. the rest after the packages
    are in, planned against the real stock files)."""
    return [(step, step.plan(ctx)) for step in steps_for(ctx, only)]
