"""F1 on the wizard: the current step's own help — what each setting means, what the by-hand tutorial did at
that step, what an experienced admin should know — followed by the general keys.

Each text names every field label its form shows (tests/tui/test_wizard_help.py reads the labels off the
mounted forms and checks). Ports, the TLS minimum and the lookup maps are read from the policy tables
(mailtui.policy, through mailtui.api.types), never written here. Lines stay within the help dialog's width
(HELP_WIDTH), each step's text under MAX_LINES.
"""

from __future__ import annotations

from mailtui.screens.widgets.dialogs import HELP
from mailtui.screens.widgets.fields import STAGES
from mailtui.screens.wizard.form_users import ALIAS_ROWS
from mailtui.screens.wizard.step_help_install import apply, review, verify

from mailtui import paths
from mailtui.api.types import (
    LOOKUP_MAPS,
    MANAGESIEVE_ADDRESS,
    MANAGESIEVE_PORT,
    PORTS,
    TLS_MIN_PROTOCOL,
    WEB_PORTS,
    Port,
)

HELP_WIDTH = 68  # the help dialog's text column (76 wide, less border, padding and scrollbar)
MAX_LINES = 40


def _port(label: str) -> Port:
    return next(p for p in PORTS if p.label == label)


SMTP = _port("SMTP").number
SUBMISSION = _port("submission").number
SUBMISSIONS = _port("submissions").number
IMAPS = _port("IMAPS").number
POP3S = _port("POP3S").number
PLAIN = [p for p in PORTS if p.tls == "none"]  # never served: no TLS, so no password may cross there
PLAIN_IMAP, PLAIN_POP3 = (next(p.number for p in PLAIN if p.label.startswith(x)) for x in ("IMAP", "POP3"))
TLS_MIN = TLS_MIN_PROTOCOL.replace("TLSv", "TLS ")  # "TLS 1.2"
TLS_WORDS = {"starttls": "STARTTLS", "implicit": "TLS at once", "none": "no TLS"}


def _numbers(ports: list[Port]) -> str:
    """'25, 587, 465 and 993'."""
    numbers = [str(p.number) for p in ports]
    return " and ".join([", ".join(numbers[:-1]), numbers[-1]] if len(numbers) > 1 else numbers)


def _port_rows() -> str:
    rows = []
    for p in PORTS:
        if p.open:
            logins = ", logins" if p.passwords else ", no logins"
            rows.append(f"  {p.number:>4}/tcp  {p.label:<12} {TLS_WORDS[p.tls]}{logins}")
    return "\n".join(rows)


def welcome() -> str:
    preflight = _numbers([p for p in PORTS if p.open and p.default])
    return f"""\
What this page shows
  What mailtui found on this machine. Nothing is changed yet.
  System     the release (Debian 12/13, Ubuntu 22.04 to 26.04)
  Hostname   the machine's name now; Mailname is /etc/mailname
  Installed  Postfix, Dovecot and MariaDB already here
  Ports      whether {preflight} are free (another
             program on one of them stops the install)
  Firewall   whether ufw is there and active
Adopt it: fill the forms from it
  Shown when an earlier mailtui install, or a tutorial-style
  database (virtual_domains, virtual_users, virtual_aliases), is
  found. Ticked, the forms start from what is there; unticked,
  from fresh defaults.

By hand
  The tutorial began on a fresh server with its hostname and DNS
  set by hand, then apt-get. mailtui checks the same first.

Good to know
  - Many hosting providers block port {SMTP} on new servers: ask
    them to open it, or send through a relay host (Postfix step).
    Receiving needs {SMTP} open inbound in any case.
  - Ask the provider to set the PTR (reverse DNS) of the
    server's IP to the mail hostname: big mail services refuse
    mail from an address without one. It is set where the IP is,
    not in your domain's zone.
  - Nothing changes until "Confirm & install" on the Review."""


def packages() -> str:
    return f"""\
Settings
  Submission on port {SUBMISSIONS} too (implicit TLS)
    Mail apps send through {SUBMISSION} (STARTTLS); ticked, also through
    {SUBMISSIONS}, where TLS starts at once. Some apps offer only one.
  Sign outgoing mail with DKIM (rspamd)
    A key per domain (Gmail spam-files unsigned mail); publish
    both (mailtui dns); `mailtui dkim rotate` switches them.
  Filter spam (rspamd, Redis)
    postscreen refuses block-listed senders (own DNS: unbound).
  Refuse at / Junk at / Greylist at: rspamd's scores (0.5 to
    1000, each below the next).
  Greylist new senders (a retry later)
    Hourly limit: recipients a logged-in user may send to an
    hour (0: none); over it mail waits (4xx): a stolen password
    cannot send a flood. The Spam tab shows who was held back.
  Rewrite forwarded mail's sender (SRS, postsrsd)
    Forwarded outside, mail would fail the receiver's SPF check;
    postsrsd makes the sender this server's (SRS0=…@hostname).
  Ban addresses after failed logins (fail2ban)
    fail2ban reads the mail log and bans an address that fails
    to log in too often over SMTP, IMAP or POP3:
    Max retries   failed logins that earn a ban
    Window (s)    the seconds within which they must fall
    Ban time (s)  how long the address stays banned
    127.0.0.1 is never banned ([security] ignore: more).

By hand
  The tutorial installed postfix(-mysql), dovecot-core/-imapd/
  -lmtpd/-mysql, mysql-server. mailtui installs those (MariaDB
  for MySQL), ufw, fail2ban, rspamd, Redis, unbound, Sieve,
  postsrsd (the Webmail step adds its own: nginx, Roundcube…).

Good to know
  - The Review cannot diff stock files of packages not yet
    installed: the install pauses after this step to show them.
  - Too low a Max retries bans users whose phone keeps an old
    password; the dashboard's Bans tab lifts a ban."""


def database() -> str:
    return """\
Settings
  Server        where MariaDB/MySQL runs: 127.0.0.1 is this
                machine (installed here); another name or
                address is a remote server (nothing installed)
  Port          its TCP port, normally 3306
  Database      the database holding the mail accounts
  Lookup user   the SELECT-only account Postfix and Dovecot use
  Admin user    a separate account mailtui uses to add and
                remove domains, mailboxes and aliases
  Its password  each account's password (generated when empty;
                kept in root-only files, never in a log)
  Show the passwords   shows them instead of dots
  Remote admin  remote server only: an account that may create
                the database and both accounts; it and its
                password are used once and never saved

By hand
  The tutorial ran mysqladmin create mailserver, GRANT SELECT
  to mailuser, CREATE TABLE virtual_domains, virtual_users and
  virtual_aliases, and INSERTed rows hashed with ENCRYPT().
  mailtui makes the same tables (an existing tutorial database
  is adopted, never dropped) and hashes in Python: MySQL 8 has
  no ENCRYPT().

Good to know
  - Keep the lookup user read-only: its password is in
    Postfix's map files, which the postfix user can read.
  - The maps name 127.0.0.1, not localhost: "localhost" means
    the UNIX socket, which Postfix's chroot cannot reach.
  - Database down: Postfix answers 451 and the mail waits in
    the senders' queues; nothing bounces."""


def postfix() -> str:
    maps = "\n".join(f"    {m.path}" for m in LOOKUP_MAPS)
    return f"""\
Settings
  Hostname        the server's name (mail.example.org): its SMTP
                  greeting; the certificate, its A record and
                  the PTR must give this name
  First domain    the domain you receive mail for (example.org);
                  not the hostname
  Max message MB  the largest message accepted, in or out
  Relay host      empty: mail goes straight to the recipients'
                  servers on port {SMTP}. Else a smarthost, e.g.
                  [smtp.example.net]:{SUBMISSION} (brackets: no MX lookup)
  Relay user      the smarthost's login, if it wants one
  Relay password  its password (then sent only over TLS)

By hand
  The tutorial edited main.cf: myhostname, mydestination,
  virtual_transport (LMTP to Dovecot), the TLS files, SASL
  through Dovecot and MySQL maps; it uncommented submission in
  master.cf. mailtui sets the same with postconf -e / -M (main.cf
  is never rewritten) and reads these maps (proxy:mysql:):
{maps}

Good to know
  - Port {SMTP} blocked by the provider: no direct sending. A relay
    host (the provider's, or a mail service) gets mail out.
  - Submission on {SUBMISSION} requires STARTTLS, then a login (AUTH):
    passwords never cross in clear, and only users who log in
    may send to other domains: no open relay. Port {SMTP} takes
    mail from other servers, without logins.
  - A user may send only as their own address or an alias of
    theirs."""


def users() -> str:
    aliases = ", ".join(f"Alias {i}" for i in range(1, ALIAS_ROWS + 1))
    return f"""\
Settings
  Email     the first mailbox, user@domain; mail apps log in
            with the whole address
  Password  its password. "Generate a password" makes one and
            shows it once: note it then. Stored only as a
            SHA512-CRYPT hash.
  Again     the same password, to catch a typo
  {aliases} / goes to
            an address that forwards (e.g. postmaster@) and the
            mailbox it goes to; @example.org alone is a
            catch-all. Empty rows are skipped.

By hand
  The tutorial INSERTed into virtual_users with ENCRYPT() and a
  $6$ salt, and into virtual_aliases. mailtui hashes in Python
  ({{SHA512-CRYPT}}$6$…, what doveadm pw -t verifies).

Good to know
  - Other servers expect postmaster@ and abuse@ to reach a
    person (RFC 2142): they are offered here.
  - Addresses nobody edited follow the first domain and the
    first mailbox when those change.
  - A catch-all collects every typo and much spam.
  - More mailboxes, domains and aliases later: the dashboard's
    Accounts tab, or mailtui user add / alias add."""


def dovecot() -> str:
    return f"""\
Settings
  POP3 as well as IMAP (POP3S on {POP3S}; IMAP is always served)
    IMAP keeps mail on the server (phone and laptop see the same
    folders); POP3 downloads it. Tick it only for an app that
    needs POP3. IMAPS is on {IMAPS}; IMAP on {PLAIN_IMAP} and POP3 on {PLAIN_POP3}
    (no TLS) are never served.

What it sets up
  Maildirs in {paths.MAIL_ROOT}/<domain>/<user>, owned by vmail
  (uid {paths.VMAIL_UID}); logins checked against the database; Postfix
  delivers over LMTP and checks SMTP logins with Dovecot.

By hand
  The tutorial edited conf.d: 10-mail.conf (mail_location),
  10-auth.conf (disable_plaintext_auth, auth_mechanisms, the SQL
  include instead of the system one), auth-sql.conf.ext and
  dovecot-sql.conf.ext (the password query), 10-master.conf (the
  LMTP and auth sockets in Postfix's spool) and 10-ssl.conf.
  mailtui writes one complete dovecot.conf and a root-only
  mailtui-sql.conf.ext, checked with doveconf before either
  replaces anything.

Good to know
  - Own settings go in /etc/dovecot/local.conf, read last:
    mailtui rewrites dovecot.conf on every install.
  - Debian 13 and Ubuntu 26.04 ship Dovecot 2.4, whose syntax
    differs: mailtui writes the dialect installed.
  - Mail apps: server = the hostname, port {IMAPS}, SSL/TLS,
    user name = the whole address."""


def tls() -> str:
    return f"""\
Settings
  Self-signed, made now (you can replace it later)
    A certificate for the hostname ({paths.SELF_SIGNED_CERT}).
    Mail works; mail apps warn once until you replace it.
    Servers sending to you accept it (their TLS is optional).
  Certificate and key files I already have
    One a CA signed:
    Certificate   the certificate with its chain (fullchain.pem),
                  PEM, valid for the hostname
    Private key   its key (privkey.pem), not encrypted
  From Let's Encrypt (ACME), renewed automatically
    certbot orders a certificate for the hostname and renews it.
    Contact e-mail  your address at the CA (its account contact)
    ACME directory  another ACME CA's https:// URL (empty: Let's
                    Encrypt)
    MTA-STS mode    testing (empty); enforce once reports are clean
    Needs the hostname's A/AAAA records pointing here (checked at
    the review) and port 80 reachable from the internet: mailtui
    opens it in ufw; a firewall outside is yours to check. Until
    an order succeeds, the self-signed certificate serves.

By hand
  The tutorial pointed 10-ssl.conf and main.cf at a certificate
  (Dovecot's own, or one from Let's Encrypt) and ran openssl
  dhparam for Dovecot's ssl_dh. mailtui makes the certificate
  with openssl req, keeps the key root-only, and makes DH
  parameters ({paths.GENERATED_DH}) only for Dovecot 2.3 where
  {paths.DOVECOT_SHIPPED_DH} is missing.

Good to know
  - Every service accepts {TLS_MIN} or newer; older is refused.
  - Where passwords travel (465, 587, 993, 995) only forward-
    secret AEAD suites (AES-GCM, ChaCha20); port 25 takes any
    encryption but NULL, export, RC4 and 3DES: a sending server
    that can do no better would otherwise send in clear text.
  - The certificate must name the hostname (subjectAltName),
    not the mail domain: apps connect to the hostname.
  - Postfix and Dovecot read the files when they start: after a
    renewal of your own files reload both (with ACME, mailtui's
    certbot deploy hook does)."""


def webmail() -> str:
    web = _numbers(sorted(WEB_PORTS, key=lambda p: p.number))
    return f"""\
Settings
  Webmail at https://<hostname>/ (Roundcube, nginx)
    Users read and send mail in a browser, at the hostname (the
    certificate names only it). Roundcube runs on nginx and
    PHP-FPM with its own database in the MariaDB on this machine:
    a remote mail database needs it unticked. It brings filters
    and out-of-office replies (Dovecot's ManageSieve, only on
    {MANAGESIEVE_ADDRESS}:{MANAGESIEVE_PORT}), each user's own password change, and
    automatic setup for mail apps (autoconfig, autodiscover).
    The firewall step opens ports {web}.
  Daily security updates (unattended-upgrades)
    The release's security updates install themselves every
    day; other upgrades stay yours.

By hand
  The tutorial had no webmail. By hand it is apt-get
  install roundcube with nginx and php-fpm, dbconfig-common for
  its database, an nginx site with the certificate, the
  managesieve and password plugins, and dpkg-reconfigure
  unattended-upgrades.

Good to know
  - It is a login page on the internet: with fail2ban on, an
    address failing there too often is banned from the web ports.
  - A password changed in the webmail works in mail apps at
    once (Dovecot's login cache is flushed).
  - It serves the mail certificate: a self-signed one makes
    browsers warn until it is replaced (SSL/TLS step)."""


def firewall() -> str:
    return f"""\
Settings
  Enable the ufw firewall
    ufw lets in only SSH and the mail ports; everything else
    arriving is dropped. Untick it when another firewall
    already does this job.
  SSH port   the port your SSH server listens on. It is allowed
             before ufw is switched on (so is the port of this
             session): you are not locked out.

Ports it opens (IPv4 and IPv6)
{_port_rows()}
  {SUBMISSIONS} and {POP3S} only when chosen; {_numbers(PLAIN)} are never opened
  (no TLS there, so no password may cross).

By hand
  The tutorial left the firewall to you: by hand it is ufw
  allow for SSH and each mail port, then ufw enable.

Good to know
  - A provider's firewall (security group) needs the same ports
    opened there: ufw cannot do that.
  - Moving sshd to another port later: ufw allow it first."""


STEP_HELP = {"welcome": welcome, "packages": packages, "database": database, "postfix": postfix,
             "users": users, "dovecot": dovecot, "tls": tls, "webmail": webmail,
             "firewall": firewall, "review": review,
             "apply": apply, "verify": verify}
TITLES = dict(STAGES)


def step_text(stage: str) -> str:
    """The step's own help (without the keys)."""
    return STEP_HELP[stage]()


def step_help(stage: str) -> tuple[str, str]:
    """(text, title) for the help screen: the step's help, then the general keys."""
    if stage not in STEP_HELP:
        return HELP, "mailtui help"
    rule = "─" * HELP_WIDTH
    return f"{step_text(stage)}\n\n{rule}\n{HELP}", f"Help: {TITLES.get(stage, stage)}"
