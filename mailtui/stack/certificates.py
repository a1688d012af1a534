"""Certificates as the TLS and ACME steps and `mailtui check` see them: does a certificate name the
hostname, has it expired, does a key belong to it (openssl), and certbot's certificate for the hostname
(its "lineage": the live files and the renewal settings)."""

from __future__ import annotations

import configparser
import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mailtui import paths
from mailtui.model.answers import Answers
from mailtui.policy import tls as tls_policy
from mailtui.report import Check
from mailtui.system import files
from mailtui.system.commands import run


def served_pair(answers: Answers) -> tuple[str, str]:
    """(certificate, key) every TLS service presents: the operator's files; in ACME mode certbot's live
    files once the CA's certificate is there (valid for the hostname, unexpired), else mailtui's
    self-signed one (also the self-signed mode's)."""
    if answers.tls.mode == "files":
        return answers.tls.cert, answers.tls.key
    if answers.tls.mode == "acme" and issued(answers):
        return paths.acme_live(answers.hostname)
    return paths.SELF_SIGNED_CERT, paths.SELF_SIGNED_KEY


def cert_covers(cert: str, hostname: str) -> bool:
    result = run(["openssl", "x509", "-noout", "-in", cert, "-checkhost", hostname], check=False)
    return result.ok and "does match" in result.output


def cert_expired(cert: str) -> bool:
    return not run(["openssl", "x509", "-noout", "-in", cert, "-checkend", "0"], check=False).ok


def key_matches(cert: str, key: str) -> bool:
    pub_cert = run(["openssl", "x509", "-noout", "-pubkey", "-in", cert], check=False)
    pub_key = run(["openssl", "pkey", "-pubout", "-in", key], check=False)
    return pub_cert.ok and pub_key.ok and pub_cert.output.strip() == pub_key.output.strip()



@dataclass(frozen=True)
class Lineage:
    """certbot's certificate for the hostname, as the install and `mailtui check` see it."""

    exists: bool
    covers: bool = False  # valid for the hostname
    not_after: dt.datetime | None = None
    server: str = ""  # renewal configuration: the CA it renews from
    key_type: str = ""
    reuse_key: bool = False
    deploy_hook: str = ""
    authenticator: str = ""  # how certbot answers the CA on renewal: "standalone" or "webroot"
    names: tuple[str, ...] = ()  # the DNS names the certificate holds (renewals order the same names)

    def days_left(self, now: dt.datetime | None = None) -> float:
        if self.not_after is None:
            return -1.0
        now = now or dt.datetime.now(dt.timezone.utc)
        return (self.not_after - now).total_seconds() / 86400

    def problem(self, answers: Answers, now: dt.datetime | None = None,
                names: Sequence[str] | None = None) -> str | None:
        """Why an install should order (None: keep it). Due for renewal counts: certbot would renew it.
        `names`: what an order would name now (steps/acme_names.py); another set is ordered again."""
        if not self.exists:
            return "no certificate from the CA yet"
        if not self.covers:
            return f"the certificate is not valid for {answers.hostname}"
        days = self.days_left(now)
        if days < tls_policy.ACME_RENEW_DAYS:
            return f"the certificate expires in {max(days, 0):.0f} days"
        if self.server != answers.tls.acme_server:
            return f"the certificate is renewed from {self.server or 'an unknown CA'}, not {answers.tls.acme_server}"
        mailtuis = (tls_policy.ACME_KEY_TYPE, True, paths.ACME_DEPLOY_HOOK)
        if (self.key_type, self.reuse_key, self.deploy_hook) != mailtuis:
            return "certbot's renewal settings are not mailtui's (key type, key reuse, deploy hook)"
        if self.authenticator_changed(answers):
            return (f"certbot would renew with its {self.authenticator or 'unknown'} authenticator, but port 80 is "
                    f"{'nginx’s (the webmail)' if answers.webmail.enabled else 'free again'}: ordered again "
                    f"with {acme_authenticator(answers)}")
        if self.names_changed(names):
            assert names is not None
            added = [n for n in names if n not in self.names]
            gone = [n for n in self.names if n not in names]
            return "; ".join(([f"the certificate does not name {', '.join(added)}"] if added else [])
                             + ([f"the certificate names {', '.join(gone)}, which no longer points here"]
                                if gone else []))
        return None

    def names_changed(self, names: Sequence[str] | None) -> bool:
        return self.exists and names is not None and set(names) != set(self.names)

    def authenticator_changed(self, answers: Answers) -> bool:
        """The webmail switched on (nginx holds port 80) or off since the certificate was ordered: certbot keeps
        the authenticator of the order for its renewals, which would then fail."""
        return self.exists and self.authenticator != acme_authenticator(answers)


def acme_authenticator(answers: Answers) -> str:
    """certbot's authenticator for these answers: its own server on port 80, or with the webmail (nginx holds
    port 80) files nginx serves from the webroot."""
    return "webroot" if answers.webmail.enabled else "standalone"


def renewal_params(text: str) -> dict[str, str]:
    """[renewalparams] of certbot's renewal file (`--deploy-hook` is stored as renew_hook)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string("[certbot]\n" + text)  # its top-level keys come before any section (configobj)
    return dict(parser["renewalparams"]) if parser.has_section("renewalparams") else {}


def renewal_start(expiry: dt.datetime) -> dt.datetime:
    """The day certbot starts renewing a certificate that expires at `expiry`."""
    return expiry - dt.timedelta(days=tls_policy.ACME_RENEW_DAYS)


def not_after(cert: str) -> dt.datetime | None:
    result = run(["openssl", "x509", "-noout", "-enddate", "-in", cert], check=False)
    if not result.ok or "=" not in result.output:
        return None
    stamp = result.output.strip().split("=", 1)[1]  # e.g. "Mar  6 08:00:00 2027 GMT"
    try:
        return dt.datetime.strptime(" ".join(stamp.split()), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def cert_names(cert: str) -> tuple[str, ...]:
    """The DNS names of a certificate's subjectAltName."""
    result = run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", cert], check=False)
    return san_dns_names(result.output) if result.ok else ()


def san_dns_names(text: str) -> tuple[str, ...]:
    """The DNS names in `openssl x509 -ext subjectAltName`'s output (a heading line, then the entries)."""
    return tuple(part.strip()[4:] for line in text.splitlines()[1:] for part in line.split(",")
                 if part.strip().startswith("DNS:"))


def lineage(answers: Answers) -> Lineage:
    cert, key = paths.acme_live(answers.hostname)
    if not (os.path.exists(cert) and os.path.exists(key)):
        return Lineage(False)
    params = renewal_params(files.read_text(Path(paths.acme_renewal_conf(answers.hostname))) or "")
    return Lineage(True, cert_covers(cert, answers.hostname), not_after(cert), params.get("server", ""),
                   params.get("key_type", ""), params.get("reuse_key", "").lower() == "true",
                   params.get("renew_hook", ""), params.get("authenticator", ""), cert_names(cert))


def issued(answers: Answers) -> bool:
    """A certificate from the CA that Postfix and Dovecot can serve (valid for the hostname, unexpired)."""
    found = lineage(answers)
    return found.exists and found.covers and found.days_left() > 0


# certbot's lines that say nothing about this failure.
_BOILERPLATE = ("Saving debug log to", "An unexpected error occurred", "Ask for help or search for solutions",
                "See the logfile", "Certbot failed to authenticate some domains")
REASON_CHARS = 400


def failure_reason() -> str:
    """Why the last ACME order failed, in one line: certbot's own lines (kept by the ACME step) without its
    boilerplate; "" when no order failed."""
    text = files.read_text(paths.ACME_FAILURE) or ""
    said = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(_BOILERPLATE)]
    reason = " / ".join(said) or text.strip()
    return reason if len(reason) <= REASON_CHARS else reason[:REASON_CHARS - 1] + "…"


def acme_served_check(answers: Answers) -> Check:
    """ACME mode: the CA's certificate is what serves (else the self-signed one does, and this says why)."""
    name = f"certificate for {answers.hostname} from {answers.tls.acme_server}"
    if issued(answers):
        return Check(name, True)
    reason = failure_reason() or "no order was made yet"
    return Check(name, False, f"the self-signed certificate serves instead; the last order failed: {reason}",
                 drift="run the install again once the CA can reach this server on port 80")
