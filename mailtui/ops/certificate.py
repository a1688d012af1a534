"""The certificate the mail ports serve, as the dashboard and `mailtui tls status` show it: where it comes from,
when it expires, when certbot starts renewing it (ACME mode) and what is wrong with it, if anything."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from mailtui import paths
from mailtui.model.answers import Answers
from mailtui.policy import tls as tls_policy
from mailtui.stack import certificates
from mailtui.steps.tls import served_pair

SOURCES = {"acme": "from the ACME CA", "self-signed": "self-signed", "files": "your own files"}


@dataclass(frozen=True)
class CertificateStatus:
    hostname: str
    source: str  # "from the ACME CA", "self-signed" (also ACME mode's stand-in), "your own files"
    path: str
    not_after: dt.datetime | None
    renews_from: dt.datetime | None = None  # ACME: certbot renews from this day on
    problem: str = ""  # empty: none
    checked_at: dt.datetime | None = None  # when it was read (days are counted from then)

    def days_left(self, now: dt.datetime | None = None) -> float | None:
        if self.not_after is None:
            return None
        now = now or self.checked_at or dt.datetime.now(dt.timezone.utc)
        return (self.not_after - now).total_seconds() / 86400

    def line(self, now: dt.datetime | None = None) -> str:
        """One line: 'Certificate for mail.example.org from the ACME CA: expires 2027-03-06 (89 days),
        renewed from 2027-02-04'."""
        days = self.days_left(now)
        text = f"Certificate for {self.hostname} {self.source}: "
        text += "expiry unknown" if self.not_after is None or days is None else \
            f"expires {self.not_after:%Y-%m-%d} ({max(days, 0):.0f} days)"
        if self.renews_from is not None:
            text += f", renewed from {self.renews_from:%Y-%m-%d}"
        return text + (f" — {self.problem}" if self.problem else "")


def certificate_status(answers: Answers, now: dt.datetime | None = None) -> CertificateStatus:
    now = now or dt.datetime.now(dt.timezone.utc)
    cert, _key = served_pair(answers)
    not_after = certificates.not_after(cert)
    mode = answers.tls.mode
    if mode == "acme" and cert == paths.SELF_SIGNED_CERT:
        reason = certificates.failure_reason()
        why = f"the last order failed: {reason}" if reason else "no certificate from the CA yet"
        return CertificateStatus(answers.hostname, "self-signed (until the CA's is there)", cert, not_after,
                                 problem=why, checked_at=now)
    renews_from = None
    if mode == "acme" and not_after is not None:
        renews_from = certificates.renewal_start(not_after)
    status = CertificateStatus(answers.hostname, SOURCES.get(mode, mode), cert, not_after, renews_from,
                               checked_at=now)
    days = status.days_left()
    problem = f"{cert} cannot be read" if days is None else tls_policy.expiry_problem(days, acme=mode == "acme")
    return replace(status, problem=problem)
