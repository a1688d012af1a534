"""ACME ([tls] mode = "acme"): a certificate for the hostname from an ACME CA (Let's Encrypt unless the
answers name another), ordered and renewed by Debian's certbot, and served by Postfix and Dovecot.

Order: after the TLS step (which makes the self-signed certificate in this mode too: it serves until the
CA's certificate is there, and again if an order fails) and before Postfix and Dovecot, which point at
certbot's live files once a valid certificate is there (steps/tls.py served_pair). The CA checks that this
machine answers for the hostname with HTTP-01: certbot's standalone server listens on port 80 only while
it orders or renews; the firewall keeps 80 open in this mode (policy/ports.py ACME_HTTP), and this step
adds that rule itself when ufw is already on (a switch to ACME on an installed server).

A failed order does not stop the install: the self-signed certificate keeps serving, the step says why
(certbot's own last lines, kept in paths.ACME_FAILURE), and `mailtui check` fails naming it until an
install orders successfully. A valid certificate is never ordered again by an install (certbot's timer,
or cron without systemd, renews it 30 days before expiry); the deploy hook reloads Postfix and Dovecot
after each renewal, so the new certificate is served without anyone reloading by hand.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from mailtui import paths
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import tls as tls_policy
from mailtui.policy import web
from mailtui.policy.ports import ACME_HTTP
from mailtui.report import Change, Check
from mailtui.stack.certificates import (
    Lineage,
    acme_authenticator,
    acme_served_check,
    issued,
    lineage,
    renewal_params,
    renewal_start,
)
from mailtui.steps import webmail_site
from mailtui.steps.acme_names import OrderNames, order_names
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.firewall import AddedRules, UfwRuleResource, added_rules, ufw_active
from mailtui.steps.resources import DirectoryResource, FileResource
from mailtui.steps.webmail import site_php
from mailtui.system import files
from mailtui.system.commands import UFW_RULES, run, which

DEPLOY_HOOK = """\
#!/bin/sh
# Managed by mailtui ([tls] mode = "acme"): certbot runs this after it renewed the certificate (its
# "deploy hook"). Postfix and Dovecot read their certificate only when they start or reload.
# nginx too, where the webmail runs ([webmail]).
if [ -d /run/systemd/system ]; then
    if systemctl is-active --quiet nginx.service; then systemctl reload nginx.service; fi
    exec systemctl try-reload-or-restart postfix.service dovecot.service
fi
if pidof nginx >/dev/null 2>&1; then nginx -s reload; fi
if postfix status >/dev/null 2>&1; then postfix reload; fi
if pidof dovecot >/dev/null 2>&1; then doveadm reload; fi
"""
FAILURE_LINES = 12  # of certbot's output, kept as the reason


def authenticator(answers: Answers) -> list[str]:
    """How certbot answers the CA's HTTP-01 challenge: its own server on port 80, or — with the webmail, whose
    nginx holds port 80 — files nginx serves (steps/webmail.py). certbot keeps it for the renewals."""
    if acme_authenticator(answers) == "webroot":
        return ["--webroot", "-w", web.ACME_WEBROOT]
    return ["--standalone"]


def certbot_command(answers: Answers, names: Sequence[str] = (), *, renew_now: bool = False) -> list[str]:
    """`names`: the certificate's names (steps/acme_names.py; the hostname when empty). `renew_now`: order even
    though the certificate is not due — certbot writes the renewal settings (the authenticator) only when it
    orders; Debian 12's certbot 2.1 has no `certbot reconfigure`."""
    host = answers.hostname
    domains = [arg for name in (names or (host,)) for arg in ("-d", name)]
    return [
        "certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email", "--email", answers.tls.email,
        "--server", answers.tls.acme_server, *authenticator(answers), "--cert-name", host, *domains,
        "--key-type", tls_policy.ACME_KEY_TYPE, "--rsa-key-size", str(tls_policy.ACME_RSA_BITS), "--reuse-key",
        "--force-renewal" if renew_now else "--keep-until-expiring", "--deploy-hook", paths.ACME_DEPLOY_HOOK,
    ]  # fmt: skip


def certbot_env(answers: Answers) -> dict[str, str]:
    """A private CA's HTTPS certificate is trusted through requests' REQUESTS_CA_BUNDLE (certbot has no
    option of its own for it)."""
    return {"REQUESTS_CA_BUNDLE": answers.tls.server_ca} if answers.tls.server_ca else {}


def dropin_content(answers: Answers) -> str:
    return ("# Managed by mailtui ([tls] server_ca): certbot's renewals trust the ACME CA's own certificate.\n"
            f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={answers.tls.server_ca}\n")


@dataclass
class AcmeCertificateResource:
    """The hostname's certificate from the CA: ordered when there is none (or it is due, or not mailtui's
    settings); a failed order is said and kept as the reason, and does not stop the install."""

    answers: Answers
    kind = "certificate"

    @property
    def target(self) -> str:
        return f"ACME certificate for {self.answers.hostname}"

    def describe(self) -> str:
        return f"certificate for {self.answers.hostname} from {self.answers.tls.acme_server}"

    def _order(self) -> tuple[Lineage, OrderNames, list[str]]:
        """The certificate there now, the names DNS points here, and the certbot command that orders them."""
        found, wanted = lineage(self.answers), order_names(self.answers)
        renew_now = found.authenticator_changed(self.answers) or found.names_changed(wanted.compared())
        return found, wanted, certbot_command(self.answers, wanted.to_order(found.names), renew_now=renew_now)

    def pending(self, ctx: Context) -> Change | None:
        found, wanted, command = self._order()
        why = found.problem(self.answers, names=wanted.compared())
        if why is None:
            return None
        left_out = "".join(f"; {name} left out: {reason}" for name, reason in wanted.left_out.items())
        return Change("certificate", self.target,
                      f"order a certificate for {', '.join(wanted.to_order(found.names))} from "
                      f"{self.answers.tls.acme_server} ({why}; certbot answers the CA's HTTP-01 challenge on port "
                      f"80){left_out}",
                      "$ " + " ".join(command))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        if self.answers.webmail.enabled:
            webmail_site.nginx_check_and_load(out)  # port 80 answers the challenge from the webroot
        _found, wanted, command = self._order()
        for name, reason in wanted.left_out.items():
            out.line(f"{name} is left out of the certificate: {reason} (publish the records `mailtui dns` "
                     "prints, then install again)")
        result = run(command, env=certbot_env(self.answers), check=False, on_line=out.line)
        if result.ok and issued(self.answers):
            paths.ACME_FAILURE.unlink(missing_ok=True)
            return
        said = [line for line in result.output.strip().splitlines() if not line.startswith("Saving debug log to ")]
        reason = "\n".join(said[-FAILURE_LINES:]) or f"certbot exited with {result.returncode}"
        files.ensure_state_dir()
        files.write_private(paths.ACME_FAILURE, reason + "\n")
        out.line("the CA gave no certificate: the self-signed certificate keeps serving (certbot's reason above)")


def mailtuis_port_80_rule() -> str | None:
    """The ufw rule mailtui added for ACME (`ufw show added`'s line), if it is there. ufw's rule files are
    read first: without a port-80 rule in them, ufw itself (~0.2 s a run) is not asked."""
    if not any("tcp 80 " in (files.read_text(Path(p)) or "") for p in UFW_RULES):
        return None
    label = f"comment 'mailtui {ACME_HTTP.label}'"
    return next((r for r in sorted(added_rules()) if r.startswith(f"ufw allow {ACME_HTTP.number}/tcp ")
                 and r.endswith(label)), None)


@dataclass
class RetiredAcmeResource:
    """Leaving ACME mode (the TLS step's, in the other modes): certbot's certificate for the hostname, if
    mailtui ordered it (its renewal runs mailtui's deploy hook), stops being renewed — its files move to
    paths.RETIRED_CERTS, never deleted, as `certbot delete` would remove them — and mailtui's port-80 rule
    goes (nothing needs port 80 any more; a rule the operator added without mailtui's comment stays)."""

    hostname: str
    kind = "certificate"

    @property
    def target(self) -> str:
        return paths.acme_renewal_conf(self.hostname)

    def describe(self) -> str:
        return f"no ACME renewal or port-80 rule of mailtui's left for {self.hostname}"

    def _lineage_ours(self) -> bool:
        text = files.read_text(Path(self.target))
        return text is not None and renewal_params(text).get("renew_hook") == paths.ACME_DEPLOY_HOOK

    def pending(self, ctx: Context) -> Change | None:
        lines, said = [], []
        if self._lineage_ours():
            lines.append(f"$ mv {paths.LETSENCRYPT_DIR}/{{live,archive}}/{self.hostname} {self.target} "
                         f"{paths.RETIRED_CERTS}/{self.hostname}.<time>/")
            said.append(f"retire the ACME certificate of {self.hostname}: certbot stops renewing it, its files are "
                        "kept aside")
        if rule := mailtuis_port_80_rule():
            lines.append(f"$ {rule.replace('ufw allow', 'ufw delete allow', 1)}")
            said.append("close port 80 again")
        if not lines:
            return None
        return Change("certificate", self.target, "; ".join(said) + " (the TLS mode is no longer acme)",
                      "\n".join(lines))

    def apply(self, ctx: Context, out: StepEmitter) -> None:
        if self._lineage_ours():
            aside = paths.RETIRED_CERTS / f"{self.hostname}.{int(time.time())}"
            files.make_directory(paths.RETIRED_CERTS, owner="root", group="root", mode=0o700)
            # The same layout below `aside` as below /etc/letsencrypt: live/'s relative links keep working.
            for part in (f"renewal/{self.hostname}.conf", f"live/{self.hostname}", f"archive/{self.hostname}"):
                source = Path(paths.LETSENCRYPT_DIR) / part
                if source.exists():
                    (aside / part).parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(source, aside / part)
            out.line(f"certbot's certificate for {self.hostname} moved to {aside} (no longer renewed)")
        if rule := mailtuis_port_80_rule():
            run(["ufw", "delete", "allow", f"{ACME_HTTP.number}/tcp"], on_line=out.line)
            out.line(f"removed {rule!r}")


Resource.register(AcmeCertificateResource)
Resource.register(RetiredAcmeResource)


class AcmeStep(Step):
    name = "acme"
    title = "Certificate from the CA"
    why = ("Mail apps trust a certificate from a CA such as Let's Encrypt without warnings. certbot orders "
           "it for the hostname (the CA connects to port 80 here) and renews it; Postfix and Dovecot are "
           "reloaded after each renewal.")
    services = ()
    restart_on_change = False

    def enabled(self, ctx: Context) -> bool:
        return ctx.answers.tls.mode == "acme"

    def services_for(self, ctx: Context) -> tuple[str, ...]:
        """Without systemd, Debian's cron file renews (certbot's timer needs systemd): cron must run."""
        return () if os.path.isdir("/run/systemd/system") else ("cron",)

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        res: list[Resource] = [FileResource(paths.ACME_DEPLOY_HOOK, DEPLOY_HOOK, mode=0o755)]
        if a.tls.server_ca and os.path.isdir("/run/systemd/system"):
            res.append(FileResource(paths.CERTBOT_DROPIN, dropin_content(a)))
        if a.firewall.enable and ufw_active():
            # A switch to ACME on a server whose firewall is on: the CA must reach port 80 before the
            # firewall step (later in the order) would open it. The same rule as the firewall step's.
            res.append(UfwRuleResource(ACME_HTTP.number, ACME_HTTP.label, AddedRules()))
        if a.webmail.enabled:
            # nginx answers the CA on port 80 (certbot --webroot) before the webmail step sets up the rest.
            res.append(DirectoryResource(web.ACME_WEBROOT))
            res.extend(webmail_site.site_resources(a, site_php(ctx)))
        res.append(AcmeCertificateResource(a))
        return res

    def advisories(self, ctx: Context) -> list[Check]:
        """The CA's certificate is there; without it the install finishes with the self-signed one serving
        and says why (certbot's reason), and `mailtui check` fails naming the order."""
        return [acme_served_check(ctx.answers)]

    def verify(self, ctx: Context) -> list[Check]:
        """The certificate resource's check, when it fails, says why the CA gave none (not merely that an
        install would order): the same check as the advisory, so `mailtui check` names the order once."""
        served = acme_served_check(ctx.answers)
        checks = super().verify(ctx)
        if served.ok:
            return checks
        return [replace(served, drift=c.drift) if c.name == served.name and not c.ok else c for c in checks]

    def functional_checks(self, ctx: Context) -> list[Check]:
        """The CA's certificate's expiry and next renewal, and what renews it (whether it is there at all:
        the certificate resource's check, see verify())."""
        a = ctx.answers
        if not issued(a):
            return []
        found = lineage(a)
        days = found.days_left()
        problem = tls_policy.expiry_problem(days, acme=True)
        if found.not_after is None:
            when = "?"
        else:
            renewal = renewal_start(found.not_after)
            when = f"{found.not_after:%Y-%m-%d} ({days:.0f} days; renewed from {renewal:%Y-%m-%d})"
        return [Check(f"certificate for {a.hostname} from the CA, expires {when}", not problem,
                      problem and f"{problem} (see /var/log/letsencrypt/letsencrypt.log)"),
                renewal_check()]


def renewal_check() -> Check:
    """Something renews: certbot's timer under systemd, else Debian's cron file with cron running."""
    if os.path.isdir("/run/systemd/system"):
        enabled = run(["systemctl", "is-enabled", "certbot.timer"], check=False).output.strip()
        active = run(["systemctl", "is-active", "certbot.timer"], check=False).output.strip()
        ok = enabled == "enabled" and active == "active"
        return Check("certbot.timer renews the certificate", ok, "" if ok else f"certbot.timer is {enabled}/{active}",
                     drift="" if ok else "systemctl enable --now certbot.timer")
    ok = os.path.exists(paths.CERTBOT_CRON) and which("cron") is not None and \
        run(["pidof", "cron"], check=False).ok
    return Check("cron runs certbot's renewal", ok, "" if ok else f"{paths.CERTBOT_CRON} or a running cron is missing")
