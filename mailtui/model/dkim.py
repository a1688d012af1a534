"""DKIM keys as mailtui keeps them: per domain one selector that signs and one published but idle (the
standby), so that a rotation is one action whose new record is already in DNS (mox's idea).

Pure data: no file is read or written here (steps/dkim.py does that). The state is a list of keys, each
with its domain, selector and role; it is saved as JSON (DkimState.to_json) beside mailtui's other state
(the public keys are read from the private key files). Selectors are named by the month they were made,
`YYYYMM` and a letter (`202612a`, `202612b`, …, then `202612aa`), unique per domain.

Roles:
  signing   rspamd signs with it (only this one is listed in rspamd's signing configuration: rspamd signs
            with every selector it lists)
  standby   made and published, not used until the next rotation
  retired   signed before the last rotation; its record stays published so that mail signed earlier still
            verifies, until the operator removes it
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

KEY_DIR = "/var/lib/rspamd/dkim"
KEY_BITS = 2048
ROLES = ("signing", "standby", "retired")
SELECTOR_RE = re.compile(r"^[0-9]{6}[a-z]+$")
# One TXT string holds at most 255 bytes (RFC 1035 §3.3); a 2048-bit key's record is longer.
TXT_STRING_MAX = 255


class DkimStateError(ValueError):
    """The saved DKIM state cannot be read: says which entry and why."""


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    role: str  # one of ROLES
    created: str  # ISO date, YYYY-MM-DD
    bits: int = KEY_BITS

    @property
    def path(self) -> str:
        """The private key file rspamd reads."""
        return key_path(self.domain, self.selector)

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"


def key_path(domain: str, selector: str) -> str:
    return f"{KEY_DIR}/{domain}.{selector}.key"


@dataclass(frozen=True)
class DkimState:
    keys: tuple[DkimKey, ...] = field(default_factory=tuple)

    def of(self, domain: str) -> list[DkimKey]:
        return [k for k in self.keys if k.domain == domain]

    def _role(self, domain: str, role: str) -> DkimKey | None:
        return next((k for k in self.keys if k.domain == domain and k.role == role), None)

    def signing(self, domain: str) -> DkimKey | None:
        return self._role(domain, "signing")

    def standby(self, domain: str) -> DkimKey | None:
        return self._role(domain, "standby")

    def domains(self) -> list[str]:
        return sorted({k.domain for k in self.keys})

    def to_json(self) -> str:
        return json.dumps({"version": 1, "keys": [asdict(k) for k in self.keys]}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DkimState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DkimStateError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise DkimStateError('expected an object with a "keys" list')
        keys = []
        for i, item in enumerate(data["keys"]):
            if not isinstance(item, dict):
                raise DkimStateError(f"keys[{i}]: expected an object")
            try:
                key = DkimKey(**item)
            except TypeError as exc:
                raise DkimStateError(f"keys[{i}]: {exc}") from None
            if key.role not in ROLES:
                raise DkimStateError(f"keys[{i}].role: {key.role!r} is not one of {', '.join(ROLES)}")
            if not SELECTOR_RE.match(key.selector):
                raise DkimStateError(f"keys[{i}].selector: {key.selector!r} is not a mailtui selector (YYYYMM"
                                     "and letters)")
            keys.append(key)
        seen = set()
        for key in keys:
            if (key.domain, key.selector) in seen:
                raise DkimStateError(f"{key.domain}: selector {key.selector} is listed twice")
            seen.add((key.domain, key.selector))
        return cls(tuple(keys))


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, 27 -> ab, …"""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def next_selector(taken: set[str], month: str) -> str:
    """The first free selector of `month` (YYYYMM): 202612a, 202612b, …"""
    i = 0
    while f"{month}{_letters(i)}" in taken:
        i += 1
    return f"{month}{_letters(i)}"


def _new_key(state: DkimState, domain: str, role: str, today: str) -> DkimKey:
    taken = {k.selector for k in state.of(domain)}
    month = today[:4] + today[5:7]
    return DkimKey(domain, next_selector(taken, month), role, today)


def add_domain(state: DkimState, domain: str, today: str) -> DkimState:
    """`domain` with a signing and a standby key; a role that is missing is made, nothing else changes."""
    keys = list(state.keys)
    for role in ("signing", "standby"):
        current = DkimState(tuple(keys))
        if current._role(domain, role) is None:
            keys.append(_new_key(current, domain, role, today))
    return DkimState(tuple(keys))


def rotate(state: DkimState, domain: str, today: str) -> DkimState:
    """The standby key signs from now on; the key that signed is retired (kept, its record stays published
    so that mail it signed still verifies); a new standby is made. Requires both roles to exist."""
    signing, standby = state.signing(domain), state.standby(domain)
    if signing is None or standby is None:
        raise DkimStateError(f"{domain} has no signing and standby key to rotate")
    keys = []
    for k in state.keys:
        if k == signing:
            keys.append(replace(k, role="retired"))
        elif k == standby:
            keys.append(replace(k, role="signing"))
        else:
            keys.append(k)
    rotated = DkimState(tuple(keys))
    return DkimState((*rotated.keys, _new_key(rotated, domain, "standby", today)))


def remove_domain(state: DkimState, domain: str) -> DkimState:
    return DkimState(tuple(k for k in state.keys if k.domain != domain))


def public_key_base64(pem: str) -> str:
    """The base64 body of a PEM public key (`openssl pkey -pubout`): what a DKIM record's p= holds."""
    lines = [line.strip() for line in pem.strip().splitlines()]
    if not lines or not lines[0].startswith("-----BEGIN PUBLIC KEY") or not lines[-1].startswith("-----END"):
        raise ValueError("not a PEM public key")
    return "".join(lines[1:-1])


def txt_record(public_key: str) -> str:
    """The DKIM TXT record's value for a public key (base64 DER)."""
    return f"v=DKIM1; k=rsa; p={public_key}"


def txt_strings(value: str) -> list[str]:
    """`value` cut into the ≤ 255-byte strings one TXT record is made of (a resolver joins them)."""
    return [value[i:i + TXT_STRING_MAX] for i in range(0, len(value), TXT_STRING_MAX)] or [""]


def record_key(value: str) -> str | None:
    """The p= of a DKIM record as published (strings already joined), spaces removed; None if there is none."""
    tags: dict[str, Any] = {}
    for part in value.split(";"):
        if "=" in part:
            name, _, val = part.partition("=")
            tags[name.strip()] = re.sub(r"\s+", "", val)
    return tags.get("p")
