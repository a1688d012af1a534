"""Syntax checks shared by the answers file, the CLI, the account engine and the screens.

Three kinds of functions, for each kind of value:

* `canonical_*(value)` normalises without judging (strip surrounding whitespace, lower-case names,
  IDN -> A-label); it is idempotent, and hands back anything that is not text unchanged.
* `*_problem(value)` returns None when the value, once canonical, is fine, else one sentence saying
  what is wrong (the caller names the field). It accepts what an operator types (" Mail.Example.ORG"),
  so a caller must store canonical_*(value), never the raw text. It never raises, and says "must be
  text" for a value of the wrong type. Identifiers (database and account names) and secrets have no
  canonical form: they are judged exactly as given.
* `check_*(value, field)` returns the canonical value or raises ValidationError({field: problem}).
  Store what it returns: check_x(check_x(v)) == check_x(v).

What a canonical value may hold: names (domains, host names, addresses) are lower-case ASCII letters,
digits, '-', '.', and in a local part also '_' and '+'; the database and relay passwords, the relay
login and TLS file paths hold no whitespace, control characters, quotes, backslashes, '#', '%', '{',
'}', '$', '`' or ';' (the same set steps/dovecot.py refuses). None of them can therefore break a
Postfix map or main.cf line, an SQL statement (they are passed as parameters anyway) or a Dovecot
setting, and local parts and domains are safe maildir path components. Mailbox passwords are only
ever hashed: any printable text of 8 to 256 characters. Lengths follow RFC 5321/1035: a label at most
63 characters, a domain 253, a local part 64, an address 254. Numbers typed as text go through
whole_number() (ASCII digits only).

Internationalised domain names (decision): a domain is stored as its A-label form, everywhere (the
database, the answers file, main.cf), because that is what an SMTP client sends and what Postfix
looks up: `Bücher.example` is stored as `xn--bcher-kva.example`, and typing either gives the same
domain. The conversion is the standard library's IDNA codec (IDNA 2003 with nameprep: case folding,
NFKC, full-width dots), limited to the names on which IDNA 2003 and IDNA 2008 agree:

* a name with ß, final sigma ς, ZWJ or ZWNJ is refused with both encodings shown (IDNA 2003 maps
  `faß.de` to `fass.de`, IDNA 2008 to `xn--fa-hia.de`): the operator types the A-label they mean;
* a label whose Unicode form holds a symbol, emoji or punctuation (allowed by IDNA 2003, not by
  IDNA 2008), or starts with a combining mark, is refused;
* an `xn--` label typed directly must be a valid A-label (it decodes, re-encodes to itself, and its
  Unicode form passes the same rules), so `xn--fa-hia.de` is accepted as typed.

Local parts are ASCII only (no SMTPUTF8): `jürgen@example.org` is refused with a clear message.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import urllib.parse
from typing import Any

from mailtui.errors import ValidationError

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "localdomain"})
MAX_LABEL = 63
MAX_DOMAIN = 253
MAX_LOCAL_PART = 64
MAX_ADDRESS = 254
MAX_PATH = 4096
NOT_TEXT = "must be text"
PASSWORDS_DIFFER = "does not match the password"  # the password typed again (CLI, wizard, dashboard)

# fullmatch() only: `$` would also match before a trailing newline.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The local part is used as a maildir directory name, so it is kept to a safe, common subset of RFC 5322.
_LOCAL_PART = re.compile(r"[a-z0-9](?:[a-z0-9._+-]{0,62}[a-z0-9_+-])?")
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")
# host, [host], host:port or [host]:port (Postfix relayhost); the port in ASCII digits only.
_RELAYHOST = re.compile(r"(?:\[(?P<b>[^\[\]]+)\]|(?P<h>[^:\[\]]+))(?::(?P<port>[0-9]{1,5}))?")
# Characters that would break out of a value in Postfix or Dovecot configuration (see steps/dovecot.py).
_CONFIG_UNSAFE = set("\"'\\#%{}$`;")
# Database and relay passwords end up in Postfix map files and Dovecot's SQL settings: keep them to
# characters that need no quoting in either.
_SECRET_FORBIDDEN = set(" \t\r\n") | _CONFIG_UNSAFE
# The relay login is written as `relayhost user:password` into a Postfix map.
_RELAY_USER_FORBIDDEN = _SECRET_FORBIDDEN | {":"}
# Code points IDNA 2003 and IDNA 2008 encode differently ("deviations").
_DEVIATIONS = {"ß": "ß", "ς": "ς", "\u200c": "ZWNJ (U+200C)", "\u200d": "ZWJ (U+200D)"}
# Input lengths beyond which an internationalised name is not even encoded (see _idn_too_long).
_MAX_IDN_INPUT = 4 * MAX_DOMAIN
_MAX_IDN_LABEL = 4 * MAX_LABEL
_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")
# Unicode categories a U-label may use (IDNA 2008 allows letters, marks and digits, not symbols).
_IDN_CATEGORIES = frozenset({"Ll", "Lo", "Lm", "Mn", "Mc", "Nd"})


def _shown(value: str, limit: int = 60) -> str:
    """The value for a message: quoted, escaped, and cut short when long — the escaped form, since one
    character can take ten (`\U0001005e`): a message naming the value twice stayed over 400 characters."""
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit + 1] + "…" + text[0]


# ---------------------------------------------------------------- canonical forms


def _fixed_point(step: Any, value: Any) -> Any:
    for _ in range(8):
        new = step(value)
        if new == value:
            break
        value = new
    return value


def _idn_too_long(value: str) -> bool:
    """Too long to be a domain whatever its A-label: punycode costs quadratic time, so a long paste
    is refused before it is encoded (the screens check on every keystroke)."""
    return len(value) > _MAX_IDN_INPUT or any(len(label) > _MAX_IDN_LABEL for label in _IDNA_DOTS.split(value))


def _canonical_domain_once(value: str) -> str:
    value = value.strip().rstrip(".").lower()
    if value and not value.isascii():
        if any(c in _DEVIATIONS for c in value) or _idn_too_long(value):
            return value  # domain_problem() explains
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            return value  # domain_problem() reports it
    return value


def canonical_domain(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _fixed_point(_canonical_domain_once, value)


def canonical_address(value: Any) -> Any:
    """`Local@Domain` -> `local@domain` (the domain part as canonical_domain); also '@domain'."""
    if not isinstance(value, str):
        return value

    def once(text: str) -> str:
        text = text.strip()
        if "@" not in text:
            return text.lower()
        local, _, domain = text.rpartition("@")
        return f"{local.lower()}@{canonical_domain(domain)}"

    return _fixed_point(once, value)


def canonical_host(value: Any) -> Any:
    """A database host: an IP address in its standard form, else a canonical host name."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    name = canonical_domain(text)
    for candidate in (text, name):  # the name's canonical form may be an address ('0::.')
        if isinstance(candidate, str) and "%" not in candidate:
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return name


def canonical_relayhost(value: Any) -> Any:
    """Postfix relayhost with its host canonical and the port without leading zeros."""
    if not isinstance(value, str):
        return value

    def once(text: str) -> str:
        text = text.strip()
        match = _RELAYHOST.fullmatch(text)
        if not match:
            return text
        bracketed = match.group("b") is not None
        host = canonical_host(match.group("b") if bracketed else match.group("h"))
        result = f"[{host}]" if bracketed else host
        if match.group("port") is not None:
            result += f":{int(match.group('port'))}"
        return result

    return _fixed_point(once, value)


def canonical_text(value: Any) -> Any:
    """Paths and the relay login: surrounding whitespace removed, nothing else. (Identifiers and
    secrets have no canonical form: they are taken exactly as given.)"""
    return value.strip() if isinstance(value, str) else value


# ---------------------------------------------------------------- problems (None: fine)


def _deviation_problem(value: str) -> str | None:
    found = [c for c in dict.fromkeys(value) if c in _DEVIATIONS]
    if not found:
        return None
    names = ", ".join(_DEVIATIONS[c] for c in found)
    try:
        idna2008 = ".".join(
            label if label.isascii() else "xn--" + unicodedata.normalize("NFC", label).encode("punycode").decode()
            for label in value.split("."))
    except UnicodeError:
        idna2008 = ""
    cleaned = "".join(c for c in value if c not in ("\u200c", "\u200d"))
    try:
        idna2003 = cleaned.replace("ς", "σ").encode("idna").decode("ascii")
    except UnicodeError:
        idna2003 = ""
    forms = " or ".join(_shown(f) for f in (idna2003, idna2008) if f and f.isascii() and f != value)
    return (f"{_shown(value)} contains {names}, which the two IDN standards encode differently"
            + (f" ({forms})" if forms else "") + ": type the A-label (xn--…) of the name you mean")


def _u_label_problem(label: str) -> str | None:
    """Rules IDNA 2008 adds for a label's Unicode form (an approximation without its tables)."""
    if unicodedata.category(label[0]).startswith("M"):
        return "starts with a combining mark"
    for c in label:
        if not (c == "-" or (c.isascii() and c.isalnum()) or unicodedata.category(c) in _IDN_CATEGORIES):
            return f"contains {c!r} (U+{ord(c):04X}), which a domain name may not hold (IDNA 2008)"
    return None


def _a_label_problem(label: str) -> str | None:
    try:
        unicode = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, OverflowError):
        return "is not a valid IDN A-label (xn--…)"
    if not unicode or unicode.isascii() or "xn--" + unicode.encode("punycode").decode("ascii") != label:
        return "is not a valid IDN A-label (xn--…)"
    if unicodedata.normalize("NFC", unicode) != unicode or unicode != unicode.lower():
        return "is not a valid IDN A-label (its Unicode form is not normalised)"
    return _u_label_problem(unicode)


def domain_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    name = canonical_domain(value)
    if not name:
        return "is empty"
    if not name.isascii():
        if _idn_too_long(name):
            return f"is longer than {MAX_DOMAIN} characters (labels at most {MAX_LABEL})"
        if any(unicodedata.category(c)[0] in "CZ" and c not in _DEVIATIONS for c in name):
            return f"{_shown(value.strip())} is not a valid domain name (it contains spaces or control characters)"
        deviation = _deviation_problem(name)
        if deviation:
            return deviation
        return (f"{_shown(value.strip())} is not a valid domain name (an internationalised name must be "
                "valid IDNA, of letters and digits)")
    if len(name) > MAX_DOMAIN:
        return f"is longer than {MAX_DOMAIN} characters"
    if " " in name:
        return f"{_shown(name)} contains a space: a domain name has none (e.g. example.org)"
    labels = name.split(".")
    if len(labels) < 2:
        return f"{_shown(name)} needs at least one dot (e.g. example.org)"
    for label in labels:
        if not _LABEL.fullmatch(label):
            return (f"{_shown(name)} is not a valid domain name (labels: letters, digits and inner hyphens, "
                    "1–63 characters)")
        if label.startswith("xn--"):
            problem = _a_label_problem(label)
            if problem:
                return f"{_shown(name)}: {label} {problem}"
    if labels[-1].isdigit():
        return f"{_shown(name)} looks like an IP address, not a domain name"
    return None


def hostname_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    name = canonical_domain(value)
    if not name:
        return "is empty (the mail server's fully qualified name, e.g. mail.example.org)"
    problem = domain_problem(name)
    if problem:
        return problem
    if name in LOCAL_NAMES:
        return "must be the server's public name, not localhost"
    return None


def address_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    address = canonical_address(value)
    if not address:
        return "is empty"
    if address.count("@") != 1:
        return f"{_shown(address)} is not an email address (local@domain)"
    local, domain = address.split("@")
    if not local:
        return f"{_shown(address)} has no local part before the @"
    if len(local) > MAX_LOCAL_PART:
        return f"the part before @ is longer than {MAX_LOCAL_PART} characters"
    if not _LOCAL_PART.fullmatch(local) or ".." in local:
        return (f"{_shown(address)}: the part before @ may use a-z, 0-9 and . _ + - "
                "(ASCII only; . not at the start or end, no '..')")
    problem = domain_problem(domain)
    if problem:
        return f"domain part: {problem}"
    if len(address) > MAX_ADDRESS:
        return f"is longer than {MAX_ADDRESS} characters"
    return None


def alias_source_problem(value: Any) -> str | None:
    """An alias source is an address or '@domain' (a catch-all)."""
    if not isinstance(value, str):
        return NOT_TEXT
    source = canonical_address(value)
    if source.startswith("@"):
        problem = domain_problem(source[1:])
        return f"catch-all domain: {problem}" if problem else None
    return address_problem(source)


def whole_number(text: Any) -> int | None:
    """A number typed as text ("3306", " 50 "), or None. ASCII digits only: str.isdigit() also accepts
    '²' and '١٢', on which int() raises or which no configuration file understands."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def port_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "must be a port number between 1 and 65535"
    return None


def host_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    host = canonical_host(value)
    if not host:
        return "is empty"
    if "%" in host:
        return "must be an IP address or a host name (a scoped IPv6 address with % is not supported)"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if host == "localhost":
        return None
    problem = domain_problem(host)
    return f"must be an IP address or a host name: {problem}" if problem else None


def canonical_ip_network(value: Any) -> Any:
    """An address or network for [security] ignore: '192.0.2.7', '2001:db8::/32', '198.51.100.0/24'
    (host bits cleared: '198.51.100.9/24' -> '198.51.100.0/24'; a /32 or /128 is written as the address)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "%" in text or not text:
        return text
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text
    if network.num_addresses == 1 and "/" not in text:
        return str(network.network_address)
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


def ip_network_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    text = canonical_ip_network(value)
    if not text:
        return "is empty"
    if "%" in text:
        return "must be an IP address or network (a scoped IPv6 address with % is not supported)"
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{_shown(text)} is not an IP address or network (e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32)"
    return None


def canonical_ip_address(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if "%" in text:
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def ip_address_problem(value: Any) -> str | None:
    """One IPv4 or IPv6 address (no network, no scope), as fail2ban bans them."""
    if not isinstance(value, str):
        return NOT_TEXT
    text = canonical_ip_address(value)
    if not text:
        return "is empty"
    if "%" in text:
        return "must be an IP address (a scoped IPv6 address with % is not supported)"
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"{_shown(text)} is not an IP address (e.g. 192.0.2.7 or 2001:db8::7)"
    return None


def identifier_problem(value: Any, max_length: int) -> str | None:
    """A database, table or account name: exact (case-sensitive, nothing stripped), as it is also the
    guard of db.quote_identifier()."""
    if not isinstance(value, str):
        return NOT_TEXT
    if not value:
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if not _IDENTIFIER.fullmatch(value):
        return "may use only letters, digits and _"
    return None


def _forbidden(value: str, forbidden: set[str]) -> str | None:
    bad = sorted(set(value) & forbidden)
    if not bad:
        return None
    return " ".join("space" if c == " " else repr(c) for c in bad)


def secret_problem(value: Any, minimum: int = 12) -> str | None:
    if not isinstance(value, str):
        return NOT_TEXT
    if len(value) < minimum:
        return f"must be at least {minimum} characters"
    if len(value) > 128:
        return "is longer than 128 characters"
    if not value.isascii() or not value.isprintable():
        return "may use only printable ASCII characters"
    bad = _forbidden(value, _SECRET_FORBIDDEN)
    if bad:
        return f"must not contain {bad} (it is written into Postfix and Dovecot configuration)"
    return None


def relay_user_problem(value: Any) -> str | None:
    """The smarthost login name (written as `relayhost user:password` into a Postfix map)."""
    if not isinstance(value, str):
        return NOT_TEXT
    value = canonical_text(value)
    if not value:
        return "is empty"
    if len(value) > 256:
        return "is longer than 256 characters"
    if not value.isascii() or not value.isprintable():
        return "may use only printable ASCII characters"
    bad = _forbidden(value, _RELAY_USER_FORBIDDEN)
    if bad:
        return f"must not contain {bad} (it is written into a Postfix map as user:password)"
    return None


def mailbox_password_problem(value: Any) -> str | None:
    """A mailbox password is only ever hashed, so any printable text of 8 to 256 characters will do."""
    if not isinstance(value, str):
        return NOT_TEXT
    if not value:
        return "is empty"
    if len(value) < 8:
        return "must be at least 8 characters"
    if len(value) > 256:
        return "is longer than 256 characters"
    if value != value.strip():
        return "must not start or end with whitespace"
    if any(not c.isprintable() for c in value):
        return "must not contain control characters"
    return None


def relayhost_problem(value: Any) -> str | None:
    """Postfix relayhost: host, [host], host:port or [host]:port."""
    if not isinstance(value, str):
        return NOT_TEXT
    text = canonical_relayhost(value)
    match = _RELAYHOST.fullmatch(text)
    if not match:
        return f"{_shown(text)} is not host, [host], host:port or [host]:port"
    host = match.group("b") if match.group("b") is not None else match.group("h")
    port = match.group("port")
    if port is not None and port_problem(int(port)):
        return f"port {port} is not between 1 and 65535"
    problem = host_problem(host)
    return f"{_shown(text)}: {problem}" if problem else None


def https_url_problem(value: Any) -> str | None:
    """An https:// URL with a host (an ACME directory): certbot stores it, and it travels to the CA only
    over TLS."""
    if not isinstance(value, str):
        return NOT_TEXT
    url = canonical_text(value)
    if not url:
        return "is empty"
    if len(url) > MAX_PATH:
        return f"is longer than {MAX_PATH} characters"
    if not url.isprintable() or any(c.isspace() for c in url):
        return "must not contain spaces or control characters"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        return f"{_shown(url)} must start with https://"
    try:
        host = parts.hostname
        _ = parts.port  # raises on a port out of range
    except ValueError as exc:
        return f"{_shown(url)}: {exc}"
    if not host or host_problem(host):
        return f"{_shown(url)} names no valid host"
    if parts.username or parts.password:
        return f"{_shown(url)} must not carry a login"
    return None


def choice_problem(value: Any, choices: tuple[str, ...]) -> str | None:
    """One of a few fixed words (a mode), exactly."""
    if not isinstance(value, str):
        return NOT_TEXT
    if value not in choices:
        return f"{_shown(value)} is not one of {', '.join(choices)}"
    return None


def path_problem(value: Any) -> str | None:
    """An absolute file path that Postfix's and Dovecot's configuration can hold without quoting."""
    if not isinstance(value, str):
        return NOT_TEXT
    path = canonical_text(value)
    if not path:
        return "is empty"
    if not path.startswith("/"):
        return "must be an absolute path"
    if len(path) > MAX_PATH:
        return f"is longer than {MAX_PATH} characters"
    if not path.isprintable() or any(c.isspace() for c in path):
        return "must not contain spaces or control characters"
    bad = _forbidden(path, _CONFIG_UNSAFE)
    if bad:
        return f"must not contain {bad} (it is written into Postfix and Dovecot configuration)"
    return None


# ---------------------------------------------------------------- check_*: canonical value or ValidationError


def _check(value: Any, field: str, canonical: Any, problem: str | None) -> Any:
    if problem:
        raise ValidationError({field: problem})
    return canonical


def check_domain(value: Any, field: str = "name") -> str:
    return _check(value, field, canonical_domain(value), domain_problem(value))


def check_hostname(value: Any, field: str = "hostname") -> str:
    return _check(value, field, canonical_domain(value), hostname_problem(value))


def check_address(value: Any, field: str = "email") -> str:
    return _check(value, field, canonical_address(value), address_problem(value))


def check_alias_source(value: Any, field: str = "source") -> str:
    return _check(value, field, canonical_address(value), alias_source_problem(value))


def check_destination(value: Any, field: str = "destination") -> str:
    return check_address(value, field)


def check_host(value: Any, field: str = "database.host") -> str:
    return _check(value, field, canonical_host(value), host_problem(value))


def check_relayhost(value: Any, field: str = "outbound.relayhost") -> str:
    return _check(value, field, canonical_relayhost(value), relayhost_problem(value))


def check_port(value: Any, field: str = "port") -> int:
    return _check(value, field, value, port_problem(value))


def check_identifier(value: Any, field: str, max_length: int) -> str:
    return _check(value, field, value, identifier_problem(value, max_length))


def check_secret(value: Any, field: str, minimum: int = 12) -> str:
    return _check(value, field, value, secret_problem(value, minimum))


def check_relay_user(value: Any, field: str = "outbound.user") -> str:
    return _check(value, field, canonical_text(value), relay_user_problem(value))


def check_mailbox_password(value: Any, field: str = "password") -> str:
    return _check(value, field, value, mailbox_password_problem(value))


def check_ip_network(value: Any, field: str) -> str:
    return _check(value, field, canonical_ip_network(value), ip_network_problem(value))


def check_ip_address(value: Any, field: str = "address") -> str:
    return _check(value, field, canonical_ip_address(value), ip_address_problem(value))


def check_path(value: Any, field: str) -> str:
    return _check(value, field, canonical_text(value), path_problem(value))


# ------------------------------------------------------------------ DNS block lists (postscreen_dnsbl_sites)

_DNSBL = re.compile(r"(?P<name>[^=*\s]+)(?:=(?P<answers>[^*\s]+))?(?:\*(?P<weight>-?\d+))?")
_OCTET = r"(\d{1,3}|\[[0-9.;]+\])"
_ANSWER = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
DNSBL_WEIGHT_RANGE = (-100, 100)


def _octet_values(text: str) -> set[int] | None:
    """The values one octet of a postscreen answer pattern allows: "2", or "[2..11]", "[1;3;5..7]"."""
    parts = text[1:-1].split(";") if text.startswith("[") else [text]
    values: set[int] = set()
    for part in parts:
        low, _, high = part.partition("..")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        first, last = int(low), int(high or low)
        if not first <= last <= 255:
            return None
        values.update(range(first, last + 1))
    return values


def dnsbl_name(entry: str) -> str:
    """The list's DNS name in a block list entry ("zen.spamhaus.org=127.0.0.[2..11]*3" -> "zen.spamhaus.org")."""
    return re.split(r"[=*]", entry, maxsplit=1)[0].lower()


def dnsbl_site_problem(value: Any, refusals: tuple[str, ...]) -> str | None:
    """A postscreen block list entry, "list.example.org=127.0.0.[2..11]*3": a DNS name, the answers that mean
    "listed" — required, and none of `refusals` (what list operators answer a resolver they refuse: such an
    answer must never count) —, an optional weight (default 1; negative: a list of good senders)."""
    if not isinstance(value, str):
        return NOT_TEXT
    m = _DNSBL.fullmatch(value)
    if not m:
        return f'{_shown(value)} is not "list.example.org=127.0.0.2*3" (a list, its answers, a weight)'
    name, answers, weight = m.group("name"), m.group("answers"), m.group("weight")
    problem = domain_problem(name) if name.isascii() else "is not an ASCII DNS name"
    if problem:
        return f"{name}: {problem}"
    if answers is None:
        return (f"{_shown(value)} names no answers: add the ones that mean listed (e.g. {name}=127.0.0.2); "
                "any answer would count, also the 127.255.255.x a list answers a resolver it refuses")
    octets = _ANSWER.fullmatch(answers)
    allowed = [_octet_values(o) for o in octets.groups()] if octets else [None]
    if any(values is None for values in allowed):
        return f"{answers} is not an answer pattern (four octets, each a number or [from..to;…], e.g. 127.0.0.[2..11])"
    matched = [ip for ip in refusals
               if all(int(o) in values for o, values in zip(ip.split("."), allowed, strict=True))]
    if matched:
        return (f"{answers} includes {matched[0]}, what a list answers a resolver it refuses: such an answer "
                "must never count (e.g. 127.0.0.[2..11])")
    low, high = DNSBL_WEIGHT_RANGE
    if weight is not None and not low <= int(weight) <= high:
        return f"weight {weight} is not from {low} to {high}"
    return None
