"""DKIM keys on an installed server: their status (`mailtui dkim status`), their DNS records (ops/dns.py) and
a rotation (`mailtui dkim rotate DOMAIN`).

A rotation is one action whose new record is already in DNS: the standby key (published since it was made)
signs from now on, the key that signed is retired (its record stays published, so mail it signed keeps
verifying until the operator removes it) and a new standby key is made, whose record the operator publishes
before the next rotation. rspamd is restarted on the new signing configuration through the DKIM step.
"""

from __future__ import annotations

import datetime
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.errors import MailtuiError, ValidationError
from mailtui.events import Event
from mailtui.install import plan as install_plan
from mailtui.model import dkim, validate
from mailtui.model.answers import Answers
from mailtui.model.dkim import DkimState
from mailtui.ops.dns import DkimPublished
from mailtui.steps import dkim as dkim_step
from mailtui.system import files


def removed_keys_dir() -> Path:
    """Where the keys of a removed domain go (root-only, in mailtui's state directory): kept, never deleted."""
    return paths.STATE_DIR / "dkim-removed"


@dataclass(frozen=True)
class KeyStatus:
    domain: str
    selector: str
    role: str
    bits: int
    created: str
    age_days: int
    key_file: str
    public_key: str | None  # None: the key file is missing or cannot be read

    @property
    def published(self) -> DkimPublished:
        return DkimPublished(self.domain, self.selector, self.role, self.public_key)

    def to_json(self) -> dict[str, object]:
        return {"domain": self.domain, "selector": self.selector, "role": self.role, "bits": self.bits,
                "created": self.created, "age_days": self.age_days, "key_file": self.key_file,
                "key_readable": self.public_key is not None,
                "record": f"{self.selector}._domainkey.{self.domain}"}


def _age(created: str, today: datetime.date) -> int:
    try:
        return max(0, (today - datetime.date.fromisoformat(created)).days)
    except ValueError:
        return 0


def status(domains: Sequence[str] | None = None, state: DkimState | None = None,
           today: datetime.date | None = None) -> list[KeyStatus]:
    """Every key mailtui keeps (of `domains`, default all), signing first, then standby, then retired."""
    state = state if state is not None else dkim_step.load_state()
    today = today or datetime.date.today()
    order = {role: i for i, role in enumerate(dkim.ROLES)}
    keys = [k for k in state.keys if domains is None or k.domain in domains]
    keys.sort(key=lambda k: (k.domain, order.get(k.role, 9), k.selector))
    return [KeyStatus(k.domain, k.selector, k.role, k.bits, k.created, _age(k.created, today), k.path,
                      dkim_step.public_key(k.path)) for k in keys]


def published_keys(answers: Answers, domains: Sequence[str] | None = None) -> list[DkimPublished]:
    """The DKIM records of an installed server (none when DKIM is off or no key was made yet)."""
    if not answers.dkim.enabled:
        return []
    return [k.published for k in status(domains)]


def _apply_dkim_step(answers: Answers) -> list[str]:
    """The DKIM step alone, as an install runs it (new key files, rspamd's configuration, its restart)."""
    said: list[str] = []

    def emit(event: Event) -> None:
        if event.kind == "output":
            said.append(event.message)

    dkim_step.DkimStep().apply(install_plan.make_context(answers, emit))
    return said


def add_domain_keys(answers: Answers, domain: str) -> list[str]:
    """A domain added after the install (`mailtui domain add`, the dashboard) gets its signing and standby
    keys and is signed from now on; what was done, a line each (nothing when DKIM is off)."""
    if not answers.dkim.enabled:
        return []
    state = dkim_step.load_state()
    if state.signing(domain) is not None and state.standby(domain) is not None:
        return []
    files.write_file(paths.DKIM_STATE, dkim.add_domain(state, domain, datetime.date.today().isoformat()).to_json(),
                     mode=0o600)
    return _apply_dkim_step(answers)


def retire_domain(answers: Answers, domain: str) -> list[str]:
    """A removed domain is no longer signed; its key files are moved aside (removed_keys_dir()), never
    deleted."""
    state = dkim_step.load_state()
    keys = state.of(domain)
    if not keys:
        return []
    moved = []
    for key in keys:
        source = Path(key.path)
        if source.exists():
            target = removed_keys_dir() / f"{source.name}.{int(time.time())}"
            files.make_directory(removed_keys_dir(), owner="root", group="root", mode=0o700)
            shutil.move(source, target)
            moved.append(f"moved the DKIM key {key.selector} of {domain} aside to {target}")
    files.write_file(paths.DKIM_STATE, dkim.remove_domain(state, domain).to_json(), mode=0o600)
    return [*moved, *(_apply_dkim_step(answers) if answers.dkim.enabled else [])]


def rotate(answers: Answers, domain: str, today: str | None = None) -> list[str]:
    """Rotate `domain`'s keys (see the module's docstring); return what was done, a line each. The state is
    put back as it was if rspamd cannot be brought up on the new configuration."""
    if not answers.dkim.enabled:
        raise MailtuiError("DKIM is off on this server ([dkim] enabled = false): there is no key to rotate")
    name = validate.canonical_domain(domain)
    state = dkim_step.load_state()
    if state.signing(name) is None or state.standby(name) is None:
        known = ", ".join(state.domains()) or "none"
        raise ValidationError({"domain": f"{domain!r} has no DKIM signing and standby key here (domains with "
                                         f"keys: {known})"})
    before = files.read_text(paths.DKIM_STATE)
    rotated = dkim.rotate(state, name, today or datetime.date.today().isoformat())
    files.write_file(paths.DKIM_STATE, rotated.to_json(), mode=0o600)
    try:
        done = _apply_dkim_step(answers)
    except BaseException:
        if before is not None:
            files.write_file(paths.DKIM_STATE, before, mode=0o600)
        raise
    old, new, standby = (state.signing(name), rotated.signing(name), rotated.standby(name))
    assert old is not None and new is not None and standby is not None
    return [*done,
            f"{name}: {new.selector} signs now; {old.selector} is retired (keep its record published a few days)",
            f"publish the new standby record before the next rotation: {standby.selector}._domainkey.{name} "
            "(`mailtui dns` prints it)"]
