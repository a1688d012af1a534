"""TLS: a certificate for the hostname (self-signed, or the operator's files) and DH parameters.

Runs before Postfix and Dovecot so that a certificate exists before a service that needs it starts.
DH parameters only where the installed Dovecot needs them: 2.3 requires `ssl_dh`; Debian/Ubuntu
ship /usr/share/dovecot/dh.pem, and only where that is missing is one generated (~7 s, 2048 bits).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mailtui import paths
from mailtui.errors import StepFailed
from mailtui.model.answers import Answers
from mailtui.report import Check
from mailtui.stack import probes as checks
from mailtui.stack.certificates import cert_covers, cert_expired, key_matches, served_pair
from mailtui.steps.acme import RetiredAcmeResource
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.resources import CommandResource, DirectoryResource
from mailtui.system.commands import run, which

CERT_DAYS = 825


def cert_path(answers: Answers) -> str:
    return served_pair(answers)[0]


def key_path(answers: Answers) -> str:
    return served_pair(answers)[1]


def self_signed_ok(hostname: str) -> bool:
    cert, key = paths.SELF_SIGNED_CERT, paths.SELF_SIGNED_KEY
    if not (os.path.exists(cert) and os.path.exists(key)):
        return False
    return cert_covers(cert, hostname) and not cert_expired(cert) and key_matches(cert, key)


def self_signed_command(hostname: str) -> list[str]:
    return [
        "openssl", "req", "-x509", "-newkey", "rsa:3072", "-sha256", "-nodes",
        "-days", str(CERT_DAYS), "-subj", f"/CN={hostname}",
        "-addext", f"subjectAltName=DNS:{hostname}",
        "-keyout", paths.SELF_SIGNED_KEY, "-out", paths.SELF_SIGNED_CERT,
    ]


def dh_file(ctx: Context) -> str | None:
    """The DH parameter file Dovecot's config should name (2.3 only), or None."""
    if ctx.platform.dovecot_dialect() != "2.3":
        return None
    return paths.DOVECOT_SHIPPED_DH if os.path.exists(paths.DOVECOT_SHIPPED_DH) else paths.GENERATED_DH


def operator_files_problem(answers: Answers) -> str | None:
    cert, key = answers.tls.cert, answers.tls.key
    for label, path in (("certificate", cert), ("key", key)):
        if not os.path.isfile(path):
            return f"the {label} file {path} does not exist"
    if not run(["openssl", "x509", "-noout", "-in", cert], check=False).ok:
        return f"{cert} is not a PEM certificate"
    if not run(["openssl", "pkey", "-noout", "-in", key], check=False).ok:
        return f"{key} is not a PEM private key (or it is encrypted; services need an unencrypted key)"
    if not key_matches(cert, key):
        return f"the key {key} does not belong to the certificate {cert}"
    if not cert_covers(cert, answers.hostname):
        return f"the certificate {cert} is not valid for {answers.hostname} (check its subjectAltName)"
    if cert_expired(cert):
        return f"the certificate {cert} has expired"
    return None


class TlsStep(Step):
    name = "tls"
    title = "SSL/TLS and DH parameters"
    why = ("Every password travels encrypted: Postfix and Dovecot need a certificate for the hostname: "
           "one from Let's Encrypt (ACME), your own files, or a self-signed one made here (which also serves "
           "until the CA's certificate is there).")

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        res: list[Resource] = []
        if a.tls.mode in ("self-signed", "acme"):  # ACME: what serves until (and unless) the CA's is there
            res.append(DirectoryResource(paths.TLS_DIR, mode=0o755))
            res.append(CommandResource(
                self_signed_command(a.hostname),
                f"create a self-signed certificate for {a.hostname} (valid {CERT_DAYS} days)",
                lambda: self_signed_ok(a.hostname), name=paths.SELF_SIGNED_CERT, show_output=False,
                checks=f"self-signed certificate {paths.SELF_SIGNED_CERT} for {a.hostname}, unexpired, with its key",
            ))
            res.append(CommandResource(
                ["chmod", "0600", paths.SELF_SIGNED_KEY], f"make {paths.SELF_SIGNED_KEY} readable by root only",
                lambda: _mode_is(paths.SELF_SIGNED_KEY, 0o600), name=paths.SELF_SIGNED_KEY,
                checks=f"private key {paths.SELF_SIGNED_KEY} mode 0600",
            ))
        if a.tls.mode != "acme":
            res.append(RetiredAcmeResource(a.hostname))
        dh = dh_file(ctx)
        if dh == paths.GENERATED_DH:
            res.append(CommandResource(
                ["openssl", "dhparam", "-out", paths.GENERATED_DH, "2048"],
                "generate 2048-bit DH parameters for Dovecot 2.3 (takes a few seconds)",
                lambda: os.path.exists(paths.GENERATED_DH), name=paths.GENERATED_DH, show_output=False,
                checks=f"DH parameters {paths.GENERATED_DH} present",
            ))
        return res

    def preflight(self, ctx: Context) -> list[str]:
        if ctx.answers.tls.mode == "files":
            problem = operator_files_problem(ctx.answers)
            return [problem] if problem else []
        if not which("openssl"):
            return []  # installed by the packages step
        return []

    def apply(self, ctx: Context) -> bool:
        for problem in self.preflight(ctx):
            raise StepFailed(problem)
        return super().apply(ctx)

    def functional_checks(self, ctx: Context) -> list[Check]:
        cert, key = cert_path(ctx.answers), key_path(ctx.answers)
        if not (os.path.exists(cert) and os.path.exists(key)):
            return [Check("TLS certificate", False, f"{cert} or {key} is missing")]
        ok = cert_covers(cert, ctx.answers.hostname) and key_matches(cert, key) and not cert_expired(cert)

        # The private key is never readable by others. mailtui's own is root's alone; an operator's may
        # belong to whoever renews it and be readable by a group (e.g. ssl-cert): Postfix and Dovecot
        # read it as root.
        own = ctx.answers.tls.mode != "files"
        return [Check(f"TLS certificate {cert} valid for {ctx.answers.hostname}", ok,
                      "" if ok else "the certificate does not match the hostname or key, or has expired"),
                checks.private_path_check(key, "TLS private key", owner="root" if own else None,
                                          group_may_read=not own)]


def _mode_is(path: str, mode: int) -> bool:
    try:
        return (Path(path).stat().st_mode & 0o777) == mode
    except FileNotFoundError:
        return False
