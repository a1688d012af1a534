"""Postfix: the tutorial's virtual-domain setup with today's settings.

- lookups through `proxy:mysql:` (one pooled DB connection set instead of one per smtpd; plain
  `mysql:` exhausted MariaDB's connections at 50 sessions, DESIGN.md)
- delivery to Dovecot over LMTP; SASL through Dovecot, offered only on submission (587, STARTTLS
  required) and submissions (465, implicit TLS)
- an authenticated user may send only as their own address or an alias pointing to them
- no open relay; TLS 1.2 minimum set explicitly; TLS offered outbound
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from mailtui import paths
from mailtui.errors import StepFailed
from mailtui.events import StepEmitter
from mailtui.model.answers import Answers
from mailtui.policy import maps, milter, resolver, tls
from mailtui.report import Check
from mailtui.steps import resolver as resolver_step
from mailtui.steps import srs
from mailtui.steps.base import Context, Resource, Step
from mailtui.steps.postconf_resources import MasterResource, MasterService, PostconfResource
from mailtui.steps.resources import DirectoryResource, FileResource
from mailtui.steps.tls import cert_path, key_path
from mailtui.system import logs
from mailtui.system.commands import run, which

RELAY_PASSWORD_FILE = "/etc/postfix/sasl_passwd"


# Postfix >= 3.9 lets a map say how long a failed database host is left alone (before: 60 s, fixed).
RETRY_INTERVAL_SINCE = (3, 9)
RETRY_INTERVAL_S = 10


def map_file_content(answers: Answers, query: str, postfix_version: tuple[int, ...] | None = None) -> str:
    db = answers.database
    # 127.0.0.1, not localhost: "localhost" means the UNIX socket, unreachable from a chroot.
    host = "127.0.0.1" if db.is_local else db.host
    text = (
        "# Managed by mailtui: a Postfix lookup table in MySQL/MariaDB (SELECT-only account).\n"
        f"hosts = {host}:{db.port}\n"
        f"user = {db.user}\n"
        f"password = {db.password}\n"
        f"dbname = {db.name}\n"
        f"query = {query}\n"
    )
    if postfix_version and postfix_version[:2] >= RETRY_INTERVAL_SINCE:
        # After a database outage, try again after 10 s instead of 60 s (mail is deferred meanwhile).
        text += f"retry_interval = {RETRY_INTERVAL_S}\n"
    return text


def main_cf(answers: Answers, *, log_to_file: bool) -> dict[str, str]:
    cert, key = cert_path(answers), key_path(answers)
    lookups = maps.parameters()  # the maps each parameter names (policy/maps.py)
    params = {
        "myhostname": answers.hostname,
        "myorigin": "/etc/mailname",
        "mydestination": "$myhostname, localhost.localdomain, localhost",
        "mynetworks": "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
        "inet_interfaces": "all",
        "append_dot_mydomain": "no",
        "biff": "no",
        "smtpd_banner": "$myhostname ESMTP",
        "smtpd_helo_required": "yes",
        "disable_vrfy_command": "yes",
        "message_size_limit": str(answers.limits.message_size_mb * 1024 * 1024),
        # Virtual domains, mailboxes and aliases from the database, delivered to Dovecot over LMTP.
        "virtual_transport": "lmtp:unix:private/dovecot-lmtp",
        "virtual_mailbox_domains": lookups["virtual_mailbox_domains"],
        "virtual_mailbox_maps": lookups["virtual_mailbox_maps"],
        "virtual_alias_maps": lookups["virtual_alias_maps"],
        # Incoming TLS: offered on 25, required for AUTH (which only submission offers).
        "smtpd_tls_cert_file": cert,
        "smtpd_tls_key_file": key,
        "smtpd_tls_security_level": "may",
        "smtpd_tls_auth_only": "yes",
        "smtpd_tls_protocols": tls.postfix_protocols(),
        "smtpd_tls_mandatory_protocols": tls.postfix_protocols(),
        **tls.postfix_main_ciphers(),
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        # Outgoing TLS: opportunistic, like every mail server on the Internet.
        "smtp_tls_security_level": "may",
        "smtp_tls_protocols": tls.postfix_protocols(),
        "smtp_tls_mandatory_protocols": tls.postfix_protocols(),
        "smtp_tls_loglevel": "1",
        # SASL through Dovecot; enabled per service in master.cf (submission, submissions).
        "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": "private/auth",
        "smtpd_sasl_auth_enable": "no",
        "smtpd_sender_login_maps": lookups["smtpd_sender_login_maps"],
        # No open relay: only local networks and authenticated users relay; others get 554.
        "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
        "relayhost": answers.outbound.relayhost,
        # rspamd signs outgoing mail (DKIM) and writes Authentication-Results ([dkim], steps/dkim.py): every
        # message Postfix receives (smtpd) or makes (pickup, bounces) passes it; it answering nothing, mail
        # flows on unsigned (policy/milter.py).
        "smtpd_milters": milter.POSTFIX_MILTER if milter.wanted(answers) else "",
        "non_smtpd_milters": "$smtpd_milters" if milter.wanted(answers) else "",
        "internal_mail_filter_classes": milter.INTERNAL_FILTER_CLASSES if milter.wanted(answers) else "",
        "milter_default_action": milter.DEFAULT_ACTION,
        # SRS for forwarded mail ([srs], steps/srs.py): own domains first (unchanged), then postsrsd.
        **srs.postfix_params(answers, own_senders=lookups["sender_canonical_maps"]),
        **postscreen_params(answers),
    }
    if answers.outbound.user:
        params.update({
            "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": f"texthash:{RELAY_PASSWORD_FILE}",
            "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous",
            # Never send the relay password in clear text.
            "smtp_tls_security_level": "encrypt",
        })
    if answers.profile == "test":
        # Test profile: the stack makes no DNS lookups of its own; all mail goes to the relayhost.
        params.update({
            "smtp_dns_support_level": "disabled",
            "lmtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
        })
    if log_to_file:
        # No syslog daemon on this machine: Postfix writes the mail log itself (postlogd).
        params["maillog_file"] = paths.MAIL_LOG
    return params


def postscreen_params(answers: Answers) -> dict[str, str]:
    """postscreen in front of port 25 with the spam filter (policy/resolver.py); Postfix's defaults without."""
    if not answers.spam.enabled:
        return {"postscreen_greet_action": "ignore", "postscreen_dnsbl_action": "ignore",
                "postscreen_dnsbl_sites": "", "postscreen_dnsbl_threshold": "1",
                "postscreen_dnsbl_allowlist_threshold": "0"}
    return {
        # This machine (mynetworks) skips every test.
        "postscreen_access_list": "permit_mynetworks",
        "postscreen_greet_action": resolver.ACTION,  # a client talking before its turn: 550 to every RCPT
        "postscreen_dnsbl_action": resolver.ACTION,
        "postscreen_dnsbl_sites": ", ".join(answers.spam.dnsbl),
        "postscreen_dnsbl_threshold": str(resolver.THRESHOLD),
        "postscreen_dnsbl_allowlist_threshold": str(resolver.ALLOWLIST_THRESHOLD),
    }


def smtp_services(answers: Answers) -> list[MasterService]:
    """Port 25: postscreen in front of smtpd with the spam filter (its DNSBL lookups in dnsblog, STARTTLS
    before the hand-off in tlsproxy), else smtpd itself as Debian ships it."""
    if not answers.spam.enabled:
        return [MasterService("smtp", "inet", "smtpd")]
    return [MasterService("smtp", "inet", "postscreen", maxproc="1"),
            MasterService("smtpd", "pass", "smtpd", private="-"),
            MasterService("dnsblog", "unix", "dnsblog", private="-", maxproc="0"),
            MasterService("tlsproxy", "unix", "tlsproxy", private="-", maxproc="0")]


def _submission(name: str, *, wrapper: bool) -> MasterService:
    options = {
        "syslog_name": f"postfix/{name}",
        "smtpd_tls_security_level": "encrypt",
        "smtpd_sasl_auth_enable": "yes",
        "smtpd_tls_auth_only": "yes",
        "smtpd_reject_unlisted_recipient": "no",
        "smtpd_client_restrictions": "permit_sasl_authenticated,reject",
        "smtpd_sender_restrictions": "reject_sender_login_mismatch",
        "smtpd_relay_restrictions": "permit_sasl_authenticated,reject",
        "smtpd_recipient_restrictions": "permit_sasl_authenticated,reject",
        "milter_macro_daemon_name": "ORIGINATING",
        # Passwords travel here: only forward-secret AEAD suites (policy/tls.py).
        **tls.postfix_submission_ciphers(),
    }
    if wrapper:
        options["smtpd_tls_wrappermode"] = "yes"
    return MasterService(name, "inet", "smtpd", options=options)


def master_services(answers: Answers, *, log_to_file: bool) -> list[MasterService]:
    services = [*smtp_services(answers), _submission("submission", wrapper=False)]
    if answers.services.submissions:
        services.append(_submission("submissions", wrapper=True))
    if log_to_file:
        services.append(MasterService("postlog", "unix-dgram", "postlogd", chroot="n", maxproc="1"))
    return services


def relay_password_content(answers: Answers) -> str:
    o = answers.outbound
    return f"# Managed by mailtui: the smarthost's login.\n{o.relayhost} {o.user}:{o.password}\n"


class PostfixStep(Step):
    name = "postfix"
    title = "Postfix"
    why = ("Postfix receives mail on port 25, accepts your users' mail on 587/465 after login, looks up "
           "domains, mailboxes and aliases in the database and hands mail to Dovecot.")
    services = ("postfix",)

    def resources(self, ctx: Context) -> Sequence[Resource]:
        a = ctx.answers
        log_to_file = logs.log_to_file()
        res: list[Resource] = [
            FileResource("/etc/mailname", a.hostname + "\n", mode=0o644),
        ]
        if "postfix.version" not in ctx.facts:
            ctx.facts["postfix.version"] = ctx.platform.postfix_version()
        version = ctx.facts["postfix.version"]
        for lookup in maps.MAPS:
            # proxymap reads the maps as the postfix user: root:postfix 0640 (they hold the DB password).
            res.append(FileResource(lookup.path, map_file_content(a, lookup.query, version), owner="root",
                                    group="postfix", mode=0o640, secret=True))
        if a.outbound.user:
            res.append(FileResource(RELAY_PASSWORD_FILE, relay_password_content(a), mode=0o600, secret=True))
        res.append(PostconfResource(main_cf(a, log_to_file=log_to_file)))
        res.extend(MasterResource(s) for s in master_services(a, log_to_file=log_to_file))
        # Dovecot's LMTP and auth sockets live here; Postfix creates it on first start, Dovecot may
        # start before that, so make sure it exists with Postfix's own ownership.
        res.append(DirectoryResource("/var/spool/postfix/private", owner="postfix", group="root", mode=0o700))
        if log_to_file:
            res.append(FileResource(logs.LOGROTATE_FILE, logs.logrotate_config(), mode=0o644))
        # Postfix's daemons read their chroot's copy of resolv.conf (postscreen's block lists): it follows the
        # machine's (steps/resolver.py), and a change restarts Postfix.
        res.append(FileResource(str(resolver.POSTFIX_RESOLV_CONF), resolver_step.machine_resolv_conf(a)))
        return res

    def after_apply(self, ctx: Context, out: StepEmitter, changed: bool) -> None:
        result = run(["postfix", "check"], check=False)
        # `postfix check` also reports what it copies into the chroot ("updating /etc/hosts => …"):
        # only its warnings and errors are problems.
        problems = [line for line in result.output.splitlines()
                    if re.search(r"\b(warning|fatal|error|panic):", line)]
        if not result.ok or problems:
            raise StepFailed("`postfix check` reports problems:\n" + "\n".join(problems or [result.output.strip()]))

    def functional_checks(self, ctx: Context) -> list[Check]:
        return lookup_checks(ctx.answers)


def lookup_checks(answers: Answers) -> list[Check]:
    """The tutorial's `postmap -q` checks, against the database directly (not through proxymap)."""
    if not which("postmap"):
        return [Check("postfix lookups", False, "postmap is not installed")]
    checks = []
    for lookup in maps.MAPS:
        probe = lookup.probe(answers)
        if probe is None:
            continue
        key, want = probe
        result = run(["postmap", "-q", key, lookup.ref(proxy=False)], check=False)
        got = result.output.strip()
        ok = result.ok and want in [v.strip() for v in got.split(",")]
        checks.append(Check(f"postmap -q {key} ({lookup.file})", ok, "" if ok else f"expected {want!r}, got {got!r}"))
    return checks


def map_files() -> list[Path]:
    return [Path(lookup.path) for lookup in maps.MAPS]
