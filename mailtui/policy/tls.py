"""The TLS profile, once: the protocols every TLS service accepts, as Postfix and Dovecot spell them."""

from __future__ import annotations

MIN_PROTOCOL = "TLSv1.2"  # TLS 1.0 and 1.1 are refused everywhere (tests/reliability/test_tls_minimum.py)


def postfix_protocols() -> str:
    """smtpd_tls_protocols / *_mandatory_protocols / smtp_tls_*: the minimum in Postfix's syntax."""
    return f">={MIN_PROTOCOL}"


def dovecot_min_protocol() -> str:
    """ssl_min_protocol (Dovecot 2.3 and 2.4 alike)."""
    return MIN_PROTOCOL
