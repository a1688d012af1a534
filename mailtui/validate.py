"""Syntax checks shared by the answers file, the CLI and the screens.

Each `*_problem` function returns None when the value is fine, else one sentence saying what is
wrong. `canonical_*` functions normalise (strip, lower-case, IDN -> punycode) without judging.
"""

from __future__ import annotations

import ipaddress
import re

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "localdomain"})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# The local part is used as a maildir directory name, so it is kept to a safe, common subset of RFC 5322.
_LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9_+-])?$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")
# Database and relay passwords end up in Postfix map files and Dovecot's SQL settings: keep them to
# characters that need no quoting in either.
_SECRET_FORBIDDEN = set(" \t\r\n\"'\\#%{}$`")


def canonical_domain(value: str) -> str:
    value = value.strip().rstrip(".").lower()
    if value and not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            return value  # domain_problem() reports it
    return value


def canonical_address(value: str) -> str:
    value = value.strip()
    if "@" not in value:
        return value.lower()
    local, _, domain = value.rpartition("@")
    return f"{local.lower()}@{canonical_domain(domain)}"


def domain_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if not value.isascii():
        return f"{value!r} is not a valid domain name"
    if len(value) > 253:
        return "is longer than 253 characters"
    labels = value.split(".")
    if len(labels) < 2:
        return f"{value!r} needs at least one dot (e.g. example.org)"
    for label in labels:
        if not _LABEL.match(label):
            return (f"{value!r} is not a valid domain name (labels: letters, digits and inner hyphens, "
                    "1–63 characters)")
    if labels[-1].isdigit():
        return f"{value!r} looks like an IP address, not a domain name"
    return None


def hostname_problem(value: str) -> str | None:
    if not value:
        return "is empty (the mail server's fully qualified name, e.g. mail.example.org)"
    problem = domain_problem(value)
    if problem:
        return problem
    if value in LOCAL_NAMES:
        return "must be the server's public name, not localhost"
    return None


def address_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if value.count("@") != 1:
        return f"{value!r} is not an email address (local@domain)"
    local, domain = value.split("@")
    if not local:
        return f"{value!r} has no local part before the @"
    if len(local) > 64:
        return "the part before @ is longer than 64 characters"
    if not _LOCAL_PART.match(local) or ".." in local:
        return (f"{value!r}: the part before @ may use letters, digits and . _ + - "
                "(not at the start or end, no '..')")
    problem = domain_problem(domain)
    return f"domain part: {problem}" if problem else None


def alias_source_problem(value: str) -> str | None:
    """An alias source is an address or '@domain' (a catch-all)."""
    if value.startswith("@"):
        problem = domain_problem(value[1:])
        return f"catch-all domain: {problem}" if problem else None
    return address_problem(value)


def port_problem(value: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "must be a port number between 1 and 65535"
    return None


def host_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if value == "localhost":
        return None
    problem = domain_problem(value)
    return f"must be an IP address or a host name: {problem}" if problem else None


def identifier_problem(value: str, max_length: int) -> str | None:
    if not value:
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if not _IDENTIFIER.match(value):
        return "may use only letters, digits and _"
    return None


def secret_problem(value: str, minimum: int = 12) -> str | None:
    if len(value) < minimum:
        return f"must be at least {minimum} characters"
    if len(value) > 128:
        return "is longer than 128 characters"
    if not value.isascii() or not value.isprintable():
        return "may use only printable ASCII characters"
    bad = sorted(set(value) & _SECRET_FORBIDDEN)
    if bad:
        shown = " ".join("space" if c == " " else repr(c) for c in bad)
        return f"must not contain {shown} (it is written into Postfix and Dovecot configuration)"
    return None


def mailbox_password_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) < 8:
        return "must be at least 8 characters"
    if len(value) > 256:
        return "is longer than 256 characters"
    if value != value.strip():
        return "must not start or end with whitespace"
    if any(not c.isprintable() for c in value):
        return "must not contain control characters"
    return None


def relayhost_problem(value: str) -> str | None:
    """Postfix relayhost: host, [host], host:port or [host]:port."""
    match = re.match(r"^(\[(?P<b>[^\]]+)\]|(?P<h>[^:\[\]]+))(:(?P<port>\d+))?$", value)
    if not match:
        return f"{value!r} is not host, [host], host:port or [host]:port"
    host = match.group("b") or match.group("h")
    port = match.group("port")
    if port is not None and port_problem(int(port)):
        return f"port {port} is not between 1 and 65535"
    problem = host_problem(host)
    return f"{value!r}: {problem}" if problem else None
