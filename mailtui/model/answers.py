"""The install plan ("answers"), typed: one dataclass per section of the answers file.

Validation lives in model/problems.py, the TOML form (load, save, versions) in model/answers_file.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mailtui.model import passwords

PROFILES = ("production", "test")
TLS_MODES = ("self-signed", "files", "acme")
# RFC 8461's policy modes, in the order an operator goes through them: "testing" first (senders report TLS
# failures and still deliver), "enforce" once the reports are clean, "none" to withdraw the policy.
MTA_STS_MODES = ("testing", "enforce", "none")
ACME_DEFAULT_SERVER = "https://acme-v02.api.letsencrypt.org/directory"  # Let's Encrypt


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
    mode: str = "self-signed"  # or "files" (cert, key) or "acme" (email; server, server_ca optional)
    cert: str = ""
    key: str = ""
    email: str = ""  # acme: the ACME account's contact (expiry warnings from the CA)
    server: str = ""  # acme: the CA's directory URL; empty: ACME_DEFAULT_SERVER
    server_ca: str = ""  # acme: a PEM file that the CA's own HTTPS certificate verifies against (private CA)
    mta_sts: str = "testing"  # acme with the webmail: the MTA-STS policy's mode (MTA_STS_MODES; policy/mta_sts.py)

    @property
    def acme_server(self) -> str:
        return self.server or ACME_DEFAULT_SERVER


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
class Dkim:
    """DKIM signing of outgoing mail (rspamd as Postfix's milter, which also writes Authentication-Results
    for incoming mail): a signing and a standby key per domain (model/dkim.py)."""

    enabled: bool = True


@dataclass
class Srs:
    """SRS for forwarded mail (postsrsd, steps/srs.py): mail an alias forwards to an outside address keeps
    passing SPF at the final receiver."""

    enabled: bool = True


@dataclass
class Webmail:
    """Roundcube on nginx + PHP-FPM at https://<host>/ (steps/webmail.py), with filters and vacation replies
    (ManageSieve) and the user's own password change."""

    enabled: bool = True
    host: str = ""  # the name the webmail is served at; empty: the hostname (the mail certificate's name)
    # Roundcube's own database account (its database `roundcube`), and the password-change account (policy/web.py
    # PASSWORD_DB_USER: it may only read `email` and write `password` in virtual_users). Generated once when
    # empty, then saved.
    db_password: str = ""
    password_db_password: str = ""


@dataclass
class Updates:
    """Security updates installed by Debian's unattended-upgrades (steps/updates.py)."""

    enabled: bool = True


# The block lists postscreen asks by default (Spam.dnsbl), each with the answers that mean "listed" — never
# 127.255.255.x, what the list operators answer a resolver they refuse (a public one).
DNSBL_DEFAULT = (
    "zen.spamhaus.org=127.0.0.[2..11]*3",  # SBL, CSS, XBL, PBL: listed anywhere is enough to refuse
    "bl.spamcop.net=127.0.0.2*2",  # spam reports: refuses together with another list only
    "list.dnswl.org=127.0.[0..255].[1..3]*-2",  # known good senders (not 127.0.0.255: its refusal answer)
)
DNSBL_REFUSALS = tuple(f"127.255.255.{n}" for n in range(252, 256))


@dataclass
class Spam:
    """The spam filter (rspamd's scores through the milter, Redis, a Sieve script filing into Junk;
    steps/spam.py). Scores are rspamd's: a message at or above `greylist` is deferred once (4xx) for a
    sender it has not seen, at or above `add_header` it is delivered into the user's Junk folder, at or above
    `reject` it is refused (5xx at the end of DATA)."""

    enabled: bool = True
    greylist: float = 4.0
    add_header: float = 6.0
    reject: float = 15.0
    greylisting: bool = True  # false: no message is deferred (the greylist score is not used)
    # A logged-in user (587/465) may send to this many recipients an hour (rspamd's ratelimit); over it, mail is
    # deferred (4xx) until the hour's budget refills. 0: no limit. Contains a compromised account.
    hourly_limit: int = 200
    # postscreen's DNS block lists on port 25 ("list=answers*weight", postconf(5) postscreen_dnsbl_sites): a client
    # whose weights add up to 3 is refused before a smtpd is spent; a negative weight vouches for a client.
    dnsbl: tuple[str, ...] = DNSBL_DEFAULT


SPAM_SCORE_RANGE = (0.5, 1000.0)
HOURLY_LIMIT_MAX = 100_000


@dataclass
class Domain:
    name: str


@dataclass
class User:
    email: str
    password: str = ""
    password_hash: str = ""
    keep_password: bool = False  # an existing mailbox: its password stays as it is (set elsewhere, e.g. the dashboard)

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
    dkim: Dkim = field(default_factory=Dkim)
    srs: Srs = field(default_factory=Srs)
    spam: Spam = field(default_factory=Spam)
    webmail: Webmail = field(default_factory=Webmail)
    updates: Updates = field(default_factory=Updates)
    domains: list[Domain] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)

    @property
    def domain_names(self) -> list[str]:
        return [d.name for d in self.domains]

    @property
    def webmail_host(self) -> str:
        """The name the webmail is served at."""
        return self.webmail.host or self.hostname

    def with_generated_secrets(self) -> Answers:
        """Fill the database passwords the operator left empty (done once, then saved)."""
        db = replace(
            self.database,
            password=self.database.password or passwords.generate_password(),
            admin_password=self.database.admin_password or passwords.generate_password(),
        )
        webmail = replace(
            self.webmail,
            db_password=self.webmail.db_password or passwords.generate_password(),
            password_db_password=self.webmail.password_db_password or passwords.generate_password(),
        )
        return replace(self, database=db, webmail=webmail)

    def with_hashed_passwords(self) -> Answers:
        users = [
            u if u.keep_password else
            User(u.email, "", passwords.normalize_hash(u.password_hash) if u.password_hash
                 else passwords.hash_password(u.password))
            for u in self.users
        ]
        return replace(self, users=users)
