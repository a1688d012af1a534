"""MTA-STS (RFC 8461) and TLS reporting (RFC 8460), once: what the policy says, where it is served, the DNS
records that announce it. Read by the webmail's nginx site (steps/webmail_site.py), the ACME order (its
certificate names mta-sts.<domain>), `mailtui dns` and its check, and the tests.

A sending server that supports MTA-STS fetches https://mta-sts.<domain>/.well-known/mta-sts.txt (the
certificate must verify: so only in ACME mode) when `_mta-sts.<domain>` holds a `v=STSv1` TXT record, and then
insists on TLS with a valid certificate to the MX names the policy lists. Mode "testing" first: a failing
sender only reports (to the TLS-RPT address), it never holds mail back — the operator moves to "enforce" once
the reports are clean (`[tls] mta_sts = "enforce"`, then the install again and the new id published), or
withdraws the policy with "none". Served by the webmail's nginx, so it needs [webmail] on.
"""

from __future__ import annotations

import hashlib

from mailtui.model.answers import Answers

LABEL = "mta-sts"  # the policy host of a domain: mta-sts.<domain>
TXT_LABEL = "_mta-sts"  # the TXT record that announces the policy and its id
TLSRPT_LABEL = "_smtp._tls"  # where senders send their TLS reports (RFC 8460)
WELL_KNOWN = "/.well-known/mta-sts.txt"
WEBROOT = "/var/www/mailtui-mta-sts"
POLICY_FILE = f"{WEBROOT}{WELL_KNOWN}"
# Seconds a sender caches the policy, by mode: a day while testing (a change reaches senders soon), a week once
# enforced (RFC 8461 §3.2 suggests weeks: a sender that cannot fetch the policy keeps enforcing the cached one).
MAX_AGE = {"testing": 86400, "enforce": 604800, "none": 86400}
WHAT_MODE_DOES = {
    "testing": "senders that fail TLS to {host} report, and still deliver",
    "enforce": "senders deliver only over TLS to {host} with a certificate they trust",
    "none": "the policy is withdrawn: senders forget it",
}
CONTENT_TYPE = "text/plain"  # RFC 8461 §3.2: the policy is served as text/plain


def enabled(answers: Answers) -> bool:
    """Served only with a certificate every sender trusts (ACME) and a web server to serve it (the webmail's)."""
    return answers.tls.mode == "acme" and answers.webmail.enabled


def policy_host(domain: str) -> str:
    return f"{LABEL}.{domain}"


def policy_hosts(answers: Answers) -> list[str]:
    return [policy_host(d) for d in answers.domain_names] if enabled(answers) else []


def mode(answers: Answers) -> str:
    return answers.tls.mta_sts


def what_mode_does(answers: Answers) -> str:
    return WHAT_MODE_DOES[mode(answers)].format(host=answers.hostname)


def policy(answers: Answers) -> str:
    """The policy file: one MX, the hostname (every domain's MX points there: ops/dns.py). CRLF line ends,
    as RFC 8461's examples (LF alone is allowed too)."""
    return "".join(f"{line}\r\n" for line in (
        "version: STSv1", f"mode: {mode(answers)}", f"mx: {answers.hostname}", f"max_age: {MAX_AGE[mode(answers)]}"))


def policy_id(answers: Answers) -> str:
    """The id the TXT record carries: it must change whenever the policy does (senders fetch again then), so it
    is the policy's own hash (1-32 letters and digits)."""
    return hashlib.sha256(policy(answers).encode()).hexdigest()[:20]


def txt_value(answers: Answers) -> str:
    return f"v=STSv1; id={policy_id(answers)}"


def tlsrpt_value(domain: str) -> str:
    """TLS reports (daily JSON summaries from senders) go to the domain's postmaster."""
    return f"v=TLSRPTv1; rua=mailto:postmaster@{domain}"
