"""Validation of the answers: the canonical form of every name, and every problem keyed by field.

Every value is checked before anything on the machine changes; all problems are reported at once, keyed
by field (e.g. ``users[1].email``). Names are stored canonically (lower case, IDN as punycode).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mailtui.errors import ValidationError
from mailtui.model import passwords, validate
from mailtui.model.answers import (
    DNSBL_REFUSALS,
    HOURLY_LIMIT_MAX,
    MAX_IGNORE,
    MTA_STS_MODES,
    PROFILES,
    SECURITY_LIMITS,
    SPAM_SCORE_RANGE,
    TLS_MODES,
    Alias,
    Answers,
    Domain,
    Security,
    Spam,
    Tls,
)


def acme_problems(a: Answers, *, check_files: bool = False) -> dict[str, str]:
    """[tls] with mode = "acme": a contact address, an https directory URL, an optional CA file."""
    p: dict[str, str] = {}
    if not a.tls.email:
        p["tls.email"] = 'required when tls.mode = "acme" (the CA writes there before a certificate expires)'
    elif problem := validate.address_problem(a.tls.email):
        p["tls.email"] = problem
    if a.tls.server and (problem := validate.https_url_problem(a.tls.server)):
        p["tls.server"] = problem
    if a.tls.server_ca:
        if problem := validate.path_problem(a.tls.server_ca):
            p["tls.server_ca"] = problem
        elif check_files and not Path(a.tls.server_ca).is_file():
            p["tls.server_ca"] = f"{a.tls.server_ca} does not exist or is not a file"
    return p


def canonical(a: Answers) -> Answers:
    """Lower-case and punycode names, strip surrounding whitespace (see mailtui.validate); idempotent.
    Invalid values (and values of the wrong type) are left for problems() to report."""
    return replace(
        a,
        hostname=validate.canonical_domain(a.hostname),
        domains=[Domain(validate.canonical_domain(d.name)) for d in a.domains],
        users=[replace(u, email=validate.canonical_address(u.email)) for u in a.users],
        aliases=[Alias(validate.canonical_address(x.source), validate.canonical_address(x.destination))
                 for x in a.aliases],
        database=replace(a.database, host=validate.canonical_host(a.database.host)),
        tls=replace(a.tls, cert=validate.canonical_text(a.tls.cert), key=validate.canonical_text(a.tls.key),
                    email=validate.canonical_address(a.tls.email),
                    server=validate.canonical_text(a.tls.server), server_ca=validate.canonical_text(a.tls.server_ca)),
        outbound=replace(a.outbound, relayhost=validate.canonical_relayhost(a.outbound.relayhost),
                         user=validate.canonical_text(a.outbound.user)),
        security=_canonical_security(a.security),
    )


def _canonical_security(s: Security) -> Security:
    if not isinstance(s.ignore, (tuple, list)):
        return s  # problems() reports it
    return replace(s, ignore=tuple(validate.canonical_ip_network(x) for x in s.ignore))


def security_problems(s: Security) -> dict[str, str]:
    """Problems of the [security] section, keyed by field ("security.max_retry", "security.ignore[2]")."""
    p: dict[str, str] = {}
    if not isinstance(s.fail2ban, bool):
        p["security.fail2ban"] = "must be true or false"
    for name, (low, high, unit) in SECURITY_LIMITS.items():
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            p[f"security.{name}"] = f"must be a whole number from {low} to {high} ({unit})"
    if not isinstance(s.ignore, (tuple, list)):
        p["security.ignore"] = "must be a list of IP addresses or networks"
        return p
    if len(s.ignore) > MAX_IGNORE:
        p["security.ignore"] = f"lists {len(s.ignore)} entries; at most {MAX_IGNORE}"
    seen: set[str] = set()
    for i, entry in enumerate(s.ignore):
        problem = validate.ip_network_problem(entry)
        if problem:
            p[f"security.ignore[{i}]"] = problem
        elif validate.canonical_ip_network(entry) in seen:
            p[f"security.ignore[{i}]"] = f"{validate.canonical_ip_network(entry)} is listed twice"
        else:
            seen.add(validate.canonical_ip_network(entry))
    return p


def spam_problems(s: Spam) -> dict[str, str]:
    """Problems of the [spam] section: each score a number in SPAM_SCORE_RANGE, and greylist < add_header <
    reject (a lower action above a higher one would never be taken)."""
    p: dict[str, str] = {}
    low, high = SPAM_SCORE_RANGE
    for name in ("enabled", "greylisting"):
        if not isinstance(getattr(s, name), bool):
            p[f"spam.{name}"] = "must be true or false"
    scores = ("greylist", "add_header", "reject")
    for name in scores:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or not low <= value <= high:
            p[f"spam.{name}"] = f"must be a score from {low:g} to {high:g}"
    limit = s.hourly_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= HOURLY_LIMIT_MAX:
        p["spam.hourly_limit"] = f"must be a whole number from 0 (no limit) to {HOURLY_LIMIT_MAX}"
    seen: set[str] = set()
    for i, entry in enumerate(s.dnsbl):
        problem = validate.dnsbl_site_problem(entry, DNSBL_REFUSALS)
        name = validate.dnsbl_name(entry) if isinstance(entry, str) else ""
        if problem:
            p[f"spam.dnsbl[{i}]"] = problem
        elif name in seen:
            p[f"spam.dnsbl[{i}]"] = f"{name} is listed twice"
        seen.add(name)
    if p:
        return p
    if s.greylisting and s.greylist >= s.add_header:
        p["spam.greylist"] = f"must be below add_header ({s.add_header:g}): a message is deferred before it is junked"
    if s.add_header >= s.reject:
        p["spam.add_header"] = f"must be below reject ({s.reject:g}): a message is junked before it is refused"
    return p


def webmail_problems(a: Answers) -> dict[str, str]:
    """[webmail]: the name it is served at, its generated database passwords, where its database lives."""
    w = a.webmail
    p: dict[str, str] = {}
    if w.host:
        msg = validate.hostname_problem(w.host)
        if msg:
            p["webmail.host"] = msg
        elif w.host != a.hostname:
            p["webmail.host"] = (f"{w.host} is not the hostname: the certificate names only the hostname, so "
                                 "the webmail is served at it (leave this empty)")
    for key in ("db_password", "password_db_password"):
        value = getattr(w, key)
        if value:
            msg = validate.secret_problem(value)
            if msg:
                p[f"webmail.{key}"] = msg
    if w.enabled and not a.database.is_local:
        p["webmail.enabled"] = ("Roundcube keeps its own database in the MariaDB on this machine: the webmail needs "
                                "database.host = 127.0.0.1 (switch the webmail off for a remote database)")
    return p


def problems(a: Answers, *, check_files: bool = True) -> dict[str, str]:
    """Every problem with the answers, keyed by field. Empty means valid."""
    p: dict[str, str] = {}

    def put(key: str, message: str | None) -> None:
        if message and key not in p:
            p[key] = message

    put("hostname", validate.hostname_problem(a.hostname))
    if a.profile not in PROFILES:
        p["profile"] = f"must be one of {', '.join(PROFILES)}"

    db = a.database
    put("database.host", validate.host_problem(db.host))
    put("database.port", validate.port_problem(db.port))
    put("database.name", validate.identifier_problem(db.name, 64))
    put("database.user", validate.identifier_problem(db.user, 32))
    put("database.admin_user", validate.identifier_problem(db.admin_user, 32))
    if db.user == db.admin_user:
        put("database.admin_user", "must differ from database.user (the lookup account is SELECT-only)")
    if db.password:
        put("database.password", validate.secret_problem(db.password))
    if db.admin_password:
        put("database.admin_password", validate.secret_problem(db.admin_password))
    if db.root_user:
        put("database.root_user", validate.identifier_problem(db.root_user, 32))

    if a.tls.mode not in TLS_MODES:
        p["tls.mode"] = f"must be one of {', '.join(TLS_MODES)}"
    elif a.tls.mode == "files":
        for key in ("cert", "key"):
            value = getattr(a.tls, key)
            if not value:
                p[f"tls.{key}"] = 'required when tls.mode = "files"'
            elif validate.path_problem(value):
                p[f"tls.{key}"] = str(validate.path_problem(value))
            elif check_files and not Path(value).is_file():
                p[f"tls.{key}"] = f"{value} does not exist or is not a file"
    elif a.tls.cert or a.tls.key:
        p["tls.cert"] = 'cert and key are only used with tls.mode = "files"'
    if a.tls.mode == "acme":
        p.update(acme_problems(a, check_files=check_files))
    else:
        for key in ("email", "server", "server_ca"):
            if getattr(a.tls, key):
                p[f"tls.{key}"] = f'{key} is only used with tls.mode = "acme"'
    if problem := validate.choice_problem(a.tls.mta_sts, MTA_STS_MODES):
        p["tls.mta_sts"] = f"{problem} (the MTA-STS policy's mode)"
    elif a.tls.mta_sts != Tls().mta_sts and not (a.tls.mode == "acme" and a.webmail.enabled):
        p["tls.mta_sts"] = ('is only used with tls.mode = "acme" and [webmail] on (the webmail\'s nginx serves the '
                            "policy with a certificate senders trust)")

    if a.firewall.ssh_port is not None:
        put("firewall.ssh_port", validate.port_problem(a.firewall.ssh_port))

    if a.outbound.relayhost:
        put("outbound.relayhost", validate.relayhost_problem(a.outbound.relayhost))
    if a.outbound.user:
        put("outbound.user", validate.relay_user_problem(a.outbound.user))
    if bool(a.outbound.user) != bool(a.outbound.password):
        p["outbound.user"] = "give both outbound.user and outbound.password, or neither"
    if a.outbound.user and not a.outbound.relayhost:
        p["outbound.relayhost"] = "a relay user and password need a relayhost"
    if a.outbound.password:
        put("outbound.password", validate.secret_problem(a.outbound.password, minimum=1))
    if a.profile == "test" and not a.outbound.relayhost:
        p["outbound.relayhost"] = 'the test profile keeps mail on the machine: set a relayhost (an smtp-sink)'

    p.update(security_problems(a.security))
    if a.spam.enabled:
        p.update(spam_problems(a.spam))

    p.update(webmail_problems(a))

    size = a.limits.message_size_mb
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 2048:
        p["limits.message_size_mb"] = "must be between 1 and 2048 (megabytes)"

    seen_domains: set[str] = set()
    for i, d in enumerate(a.domains):
        key = f"domains[{i}].name"
        msg = validate.domain_problem(d.name)
        if msg:
            p[key] = msg
        elif d.name in seen_domains:
            p[key] = f"{d.name} is listed twice"
        elif d.name == a.hostname:
            p[key] = (f"{d.name} is the mail server's own hostname, which Postfix delivers locally; "
                      f"use a hostname such as mail.{d.name} instead")
        elif d.name in validate.LOCAL_NAMES:
            p[key] = f"{d.name} is a local name Postfix treats as its own (mydestination)"
        if isinstance(d.name, str):  # else reported above (the screens build Answers in code)
            seen_domains.add(d.name)

    mailboxes: set[str] = set()
    for i, u in enumerate(a.users):
        key = f"users[{i}]"
        msg = validate.address_problem(u.email)
        if msg:
            p[f"{key}.email"] = msg
        elif u.domain not in seen_domains:
            p[f"{key}.email"] = f"domain {u.domain} is not one of the domains ([[domains]])"
        elif u.email in mailboxes:
            p[f"{key}.email"] = f"{u.email} is listed twice"
        if isinstance(u.email, str):
            mailboxes.add(u.email)
        if u.keep_password is True:
            if u.password or u.password_hash:
                p[f"{key}.keep_password"] = "keeps the mailbox's password: give no password or password_hash with it"
        elif u.keep_password is not False:
            p[f"{key}.keep_password"] = "must be true or false"
        elif u.password and u.password_hash:
            p[f"{key}.password"] = "give password or password_hash, not both"
        elif u.password_hash:
            if not isinstance(u.password_hash, str) or not passwords.is_hash(u.password_hash):
                p[f"{key}.password_hash"] = "must be a SHA512-CRYPT hash ($6$…, as `doveadm pw -s SHA512-CRYPT`)"
        else:
            put(f"{key}.password", validate.mailbox_password_problem(u.password))

    sources: set[tuple[str, str]] = set()
    alias_sources = {x.source for x in a.aliases if isinstance(x.source, str)}
    for i, x in enumerate(a.aliases):
        key = f"aliases[{i}]"
        msg = validate.alias_source_problem(x.source)
        if msg:
            p[f"{key}.source"] = msg
        else:
            domain = x.source.rsplit("@", 1)[1]
            if domain not in seen_domains:
                p[f"{key}.source"] = f"domain {domain} is not one of the domains ([[domains]])"
            elif x.source in mailboxes:
                p[f"{key}.source"] = f"{x.source} is a mailbox; an alias would divert its mail"
        msg = validate.address_problem(x.destination)
        if msg:
            p[f"{key}.destination"] = msg
        else:
            ddomain = x.destination.rsplit("@", 1)[1]
            if (ddomain in seen_domains and x.destination not in mailboxes
                    and x.destination not in alias_sources):
                p[f"{key}.destination"] = (f"{x.destination} is in a domain served here but is neither a "
                                           "mailbox nor an alias: mail to it would bounce")
            elif x.destination == x.source:
                p[f"{key}.destination"] = "an alias cannot point to itself"
        if not isinstance(x.source, str) or not isinstance(x.destination, str):
            continue
        if (x.source, x.destination) in sources:
            p[f"{key}.source"] = f"the alias {x.source} -> {x.destination} is listed twice"
        sources.add((x.source, x.destination))
    return p


def check(a: Answers, *, check_files: bool = True) -> Answers:
    """Return the canonical answers or raise ValidationError with every problem."""
    a = canonical(a)
    found = problems(a, check_files=check_files)
    if found:
        raise ValidationError(found)
    return a
