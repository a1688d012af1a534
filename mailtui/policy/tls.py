"""The TLS profile, once: the protocols and cipher suites every TLS service accepts, as Postfix and Dovecot
spell them.

Where passwords travel (policy/ports.py's `passwords` ports: 465 and 587 for submission, 993 and 995 for
IMAP/POP3) only Mozilla's
"intermediate" profile: TLS 1.2 or newer with forward-secret key exchange and AEAD ciphers — no anonymous
(aNULL) suites, no CBC, no RSA key exchange, no SHA-1 MACs. Port 25 stays opportunistic, as Postfix
advises for server-to-server mail (any encryption beats plain text: a peer that can do no better would
otherwise send in clear), but never with NULL encryption, export-grade, RC4 or 3DES suites.
Proven per port in tests/reliability/test_tls_profile.py.
"""

from __future__ import annotations

MIN_PROTOCOL = "TLSv1.2"  # TLS 1.0 and 1.1 are refused everywhere (tests/reliability/test_tls_minimum.py)

# Mozilla's "intermediate" TLS 1.2 suites (ssl-config.mozilla.org, guidelines 5.7), OpenSSL names. TLS 1.3's
# own suites are all AEAD and forward-secret: OpenSSL's defaults for them stand.
STRONG_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
)  # fmt: skip

# Never, not even opportunistically on 25 (OpenSSL cipher-string names).
OPPORTUNISTIC_EXCLUDED = ("eNULL", "EXPORT", "RC4", "3DES")

# Certificates from an ACME CA: RSA-2048 (what every SMTP client on port 25 can use; an ECDSA-only
# certificate leaves some older senders in clear text), the key kept across renewals (a TLSA record stays
# valid). certbot renews 30 days before expiry; `mailtui check` fails below CHECK_MIN_DAYS.
ACME_KEY_TYPE = "rsa"
ACME_RSA_BITS = 2048
ACME_RENEW_DAYS = 30
CHECK_MIN_DAYS = 14


def expiry_problem(days_left: float, *, acme: bool) -> str:
    """What is wrong with a certificate that has `days_left` ("" when nothing): the one judgement that
    `mailtui check` and the dashboard's certificate line share."""
    if days_left <= 0:
        return "expired"
    if days_left < CHECK_MIN_DAYS:
        return f"under {CHECK_MIN_DAYS} days left" + (": renewals are failing" if acme else "")
    return ""


def strong_cipherlist() -> str:
    return ":".join(STRONG_CIPHERS)


def postfix_protocols() -> str:
    """smtpd_tls_protocols / *_mandatory_protocols / smtp_tls_*: the minimum in Postfix's syntax."""
    return f">={MIN_PROTOCOL}"


def postfix_main_ciphers() -> dict[str, str]:
    """main.cf, for every smtpd (port 25's opportunistic TLS keeps Postfix's "medium" grade)."""
    return {"smtpd_tls_exclude_ciphers": ", ".join(OPPORTUNISTIC_EXCLUDED)}


def postfix_submission_ciphers() -> dict[str, str]:
    """master.cf `-o` options of the submission (587) and submissions (465) services, whose TLS is
    mandatory (smtpd_tls_security_level = encrypt): the "high" grade, defined for these services only as
    the strong list (main.cf's tls_high_cipherlist, and so everything else, keeps Postfix's default)."""
    return {"smtpd_tls_mandatory_ciphers": "high", "tls_high_cipherlist": strong_cipherlist()}


def dovecot_min_protocol() -> str:
    """ssl_min_protocol (Dovecot 2.3 and 2.4 alike)."""
    return MIN_PROTOCOL


def dovecot_cipher_list() -> str:
    """ssl_cipher_list (Dovecot 2.3 and 2.4 alike): TLS 1.2's suites; TLS 1.3 keeps OpenSSL's own."""
    return strong_cipherlist()
