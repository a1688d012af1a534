"""Mailbox password hashes ({SHA512-CRYPT}, what Dovecot verifies) and generated secrets."""

from __future__ import annotations

import re
import secrets
import string

from passlib.hash import sha512_crypt

SCHEME_PREFIX = "{SHA512-CRYPT}"
# 5000 rounds is crypt(3)'s default and what `doveadm pw -s SHA512-CRYPT` produces; the hash is then
# 106 characters and fits the tutorial's varchar(106) column (passlib's default of 656000 rounds would not).
ROUNDS = 5000
HASH_RE = re.compile(r"^(\{SHA512-CRYPT\})?\$6\$(rounds=\d{4,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}$")
_GENERATED_ALPHABET = string.ascii_letters + string.digits


def hash_password(password: str) -> str:
    """'{SHA512-CRYPT}$6$salt$…' — the format the tutorial stores and `doveadm pw -t` verifies."""
    return SCHEME_PREFIX + sha512_crypt.using(rounds=ROUNDS).hash(password)


def is_hash(value: str) -> bool:
    return bool(HASH_RE.match(value))


def normalize_hash(value: str) -> str:
    """Accept '$6$…' or '{SHA512-CRYPT}$6$…' and store the prefixed form."""
    return value if value.startswith(SCHEME_PREFIX) else SCHEME_PREFIX + value


def verify_password(password: str, stored: str) -> bool:
    bare = stored[len(SCHEME_PREFIX):] if stored.startswith(SCHEME_PREFIX) else stored
    try:
        return bool(sha512_crypt.verify(password, bare))
    except ValueError:
        return False


def generate_password(length: int = 20) -> str:
    """A random password of letters and digits (safe inside every config file mailtui writes)."""
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))
