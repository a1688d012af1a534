"""The install plan ("answers"): a typed model, TOML load/save and validation.

Every value is checked before anything on the machine changes; all problems are reported at once,
keyed by field (e.g. ``users[1].email``). Names are stored canonically (lower case, IDN as
punycode). Saved answers keep mailbox passwords only as hashes.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Ubuntu 22.04)
    import tomli as tomllib  # type: ignore[no-redef]

from mailtui.errors import ValidationError
from mailtui.model import passwords, validate

PROFILES = ("production", "test")
TLS_MODES = ("self-signed", "files")


@dataclass
class Database:
    host: str = "127.0.0.1"
    port: int = 3306
    name: str = "mailserver"
    user: str = "mailuser"  # SELECT-only, used by Postfix and Dovecot
    password: str = ""
    # The account mailtui uses for management writes (domains, users, aliases).
    admin_user: str = "mailadmin"
    admin_password: str = ""
    # For a remote server only: an account allowed to create the database and the two accounts above.
    # Used only to create what is missing; never saved.
    root_user: str = ""
    root_password: str = ""

    @property
    def is_local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")


@dataclass
class Tls:
    mode: str = "self-signed"
    cert: str = ""
    key: str = ""


@dataclass
class Firewall:
    enable: bool = True
    ssh_port: int | None = None  # detected from sshd -T / $SSH_CONNECTION when not given


@dataclass
class Services:
    pop3: bool = False
    submissions: bool = True  # port 465, implicit TLS (RFC 8314), beside 587


@dataclass
class Outbound:
    relayhost: str = ""
    user: str = ""
    password: str = ""


@dataclass
class Limits:
    message_size_mb: int = 50


@dataclass
class Security:
    """Brute-force protection: after `max_retry` failed logins from one address within `find_time`
    seconds, fail2ban refuses that address for `ban_time` seconds (loopback is never banned)."""

    fail2ban: bool = True
    max_retry: int = 5
    find_time: int = 600
    ban_time: int = 3600
    ignore: tuple[str, ...] = ()  # addresses or networks never banned (IPv4/IPv6, CIDR allowed)


SECURITY_LIMITS = {  # field -> (minimum, maximum, what the number means)
    "max_retry": (1, 100, "failed logins"),
    "find_time": (60, 86400, "seconds"),
    "ban_time": (60, 31536000, "seconds"),
}
MAX_IGNORE = 100


@dataclass
class Domain:
    name: str


@dataclass
class User:
    email: str
    password: str = ""
    password_hash: str = ""

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]


@dataclass
class Alias:
    source: str
    destination: str


@dataclass
class Answers:
    hostname: str = ""
    # "test" turns the stack's own DNS lookups off and keeps all mail on the machine (see README).
    profile: str = "production"
    database: Database = field(default_factory=Database)
    tls: Tls = field(default_factory=Tls)
    firewall: Firewall = field(default_factory=Firewall)
    services: Services = field(default_factory=Services)
    outbound: Outbound = field(default_factory=Outbound)
    limits: Limits = field(default_factory=Limits)
    security: Security = field(default_factory=Security)
    domains: list[Domain] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)

    @property
    def domain_names(self) -> list[str]:
        return [d.name for d in self.domains]

    def with_generated_secrets(self) -> Answers:
        """Fill the database passwords the operator left empty (done once, then saved)."""
        db = replace(
            self.database,
            password=self.database.password or passwords.generate_password(),
            admin_password=self.database.admin_password or passwords.generate_password(),
        )
        return replace(self, database=db)

    def with_hashed_passwords(self) -> Answers:
        users = [
            User(u.email, "", passwords.normalize_hash(u.password_hash) if u.password_hash
                 else passwords.hash_password(u.password))
            for u in self.users
        ]
        return replace(self, users=users)


# ---------------------------------------------------------------- loading (types and unknown keys)

_SECTIONS: dict[str, type] = {
    "database": Database,
    "tls": Tls,
    "firewall": Firewall,
    "services": Services,
    "outbound": Outbound,
    "limits": Limits,
    "security": Security,
}
_LISTS: dict[str, type] = {"domains": Domain, "users": User, "aliases": Alias}
_SCALARS = {"hostname": str, "profile": str}


def _type_name(tp: Any) -> str:
    return {str: "a string", int: "an integer", bool: "true or false"}.get(tp, str(tp))


def _key(key: Any) -> str:
    """An unknown key as a field name: quoted unless plain, so it cannot pass for "file" or forge a line."""
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) and text != "file" else repr(text)


def _build(cls: type, data: Any, where: str, problems: dict[str, str]) -> Any:
    if not isinstance(data, dict):
        problems[where] = "must be a table"
        return None
    kwargs: dict[str, Any] = {}
    known = {f.name: f for f in fields(cls)}
    for key, value in data.items():
        path = f"{where}.{_key(key)}"
        if key not in known:
            problems[path] = f"unknown setting (expected one of: {', '.join(known)})"
            continue
        tp = known[key].type
        if str(tp) == "tuple[str, ...]":
            if not isinstance(value, list):
                problems[path] = "must be a list of strings, e.g. [\"192.0.2.7\", \"198.51.100.0/24\"]"
            else:
                wrong = [i for i, item in enumerate(value) if not isinstance(item, str)]
                if wrong:
                    problems[f"{path}[{wrong[0]}]"] = "must be a string"
                else:
                    kwargs[key] = tuple(value)
            continue
        expected: tuple[type, ...] = {
            "str": (str,), "int": (int,), "bool": (bool,), "int | None": (int,),
        }.get(str(tp), (str,))
        if isinstance(value, bool) and bool not in expected:
            problems[path] = f"must be {_type_name(expected[0])}, not true/false"
        elif not isinstance(value, expected):
            problems[path] = f"must be {_type_name(expected[0])}"
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError:  # a required field is missing (or was refused above, which says why)
        missing = [f.name for f in fields(cls) if f.name not in kwargs and f.name not in data
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            problems[where] = f"missing {', '.join(missing)}"
        return None


def from_dict(data: dict[str, Any]) -> Answers:
    """Build Answers from parsed TOML; raise ValidationError for wrong types or unknown keys."""
    problems: dict[str, str] = {}
    answers = Answers()
    for key, value in data.items():
        if key in _SCALARS:
            if isinstance(value, str):
                setattr(answers, key, value)
            else:
                problems[key] = "must be a string"
        elif key in _SECTIONS:
            built = _build(_SECTIONS[key], value, key, problems)
            if built is not None:
                setattr(answers, key, built)
        elif key in _LISTS:
            if not isinstance(value, list):
                problems[key] = f"must be a list of tables ([[{key}]])"
                continue
            items = [_build(_LISTS[key], item, f"{key}[{i}]", problems) for i, item in enumerate(value)]
            setattr(answers, key, [i for i in items if i is not None])
        else:
            known = [*_SCALARS, *_SECTIONS, *_LISTS]
            problems[_key(key)] = f"unknown setting (expected one of: {', '.join(known)})"
    if problems:
        raise ValidationError(problems)
    return answers


def loads(text: str) -> Answers:
    """Parse answers TOML; any problem is a ValidationError naming the field, or "file" with the line."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors write
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"at the end of the file, line {text.count(chr(10)) + 1}"
        raise ValidationError({"file": f"not valid TOML: {str(exc).replace('at end of document', where)}"}) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ValidationError({"file": "not valid TOML: arrays or tables are nested too deeply"}) from None
    return canonical(from_dict(data))


def load(path: Path) -> Answers:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError({"file": f"{path} does not exist"}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError({"file": f"cannot read {path}: {exc}"}) from None
    return loads(text)


# ---------------------------------------------------------------- canonical form and validation

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
        tls=replace(a.tls, cert=validate.canonical_text(a.tls.cert), key=validate.canonical_text(a.tls.key)),
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
        if u.password and u.password_hash:
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


# ---------------------------------------------------------------- saving

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{"".join(_toml_char(c) for c in escaped)}"'


def _toml_char(c: str) -> str:
    if c.isprintable():
        return c
    if 0xD800 <= ord(c) <= 0xDFFF:  # a lone surrogate (undecodable bytes) has no TOML form
        return "\\ufffd"
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def dumps(a: Answers, *, include_secrets: bool = True, keep_passwords: bool = False) -> str:
    """TOML text for the answers. Mailbox passwords are written only as hashes (keep_passwords is for
    handing the answers to the install worker through a pipe, never for a file)."""
    if not keep_passwords and any(u.password for u in a.users):
        a = a.with_hashed_passwords()
    lines = [f"hostname = {_toml_value(a.hostname)}", f"profile = {_toml_value(a.profile)}"]
    for name in _SECTIONS:
        section = getattr(a, name)
        lines.append(f"\n[{name}]")
        for f in fields(section):
            value = getattr(section, f.name)
            if value is None or (f.name in ("root_user", "root_password")):
                continue  # the remote admin account is used once and never saved
            if not include_secrets and "password" in f.name:
                continue
            lines.append(f"{f.name} = {_toml_value(value)}")
    for name in _LISTS:
        for item in getattr(a, name):
            lines.append(f"\n[[{name}]]")
            for f in fields(item):
                value = getattr(item, f.name)
                if value == "" and f.name in ("password", "password_hash"):
                    continue
                lines.append(f"{f.name} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def save(a: Answers, path: Path) -> None:
    """Save root-only (0600): the file holds the database passwords."""
    from mailtui.system import files

    files.write_file(path, dumps(a), owner="root", group="root", mode=0o600, backup=False)
