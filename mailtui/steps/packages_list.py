"""Which Debian/Ubuntu packages the install may need (shared by the packages step and the test hosts)."""

from __future__ import annotations

POSTFIX = ["postfix", "postfix-mysql"]
DOVECOT = ["dovecot-core", "dovecot-imapd", "dovecot-lmtpd", "dovecot-mysql"]
DOVECOT_POP3 = ["dovecot-pop3d"]
DATABASE_SERVER = ["mariadb-server"]
TOOLS = ["openssl", "ca-certificates", "logrotate"]
FIREWALL = ["ufw"]
# Brute-force protection ([security] fail2ban): fail2ban bans through nftables on Debian 12 and 13;
# python3-systemd lets it read the journal (a dependency on Debian 13, only recommended on 12, and mailtui
# installs without recommends).
FAIL2BAN = ["fail2ban", "nftables", "python3-systemd"]
# DKIM signing and Authentication-Results ([dkim]): rspamd as Postfix's milter.
RSPAMD = ["rspamd"]
# The spam filter ([spam]): rspamd scores (RSPAMD), Redis keeps its statistics and greylisting, Dovecot's
# Sieve files junk into Junk.
REDIS = ["redis-server"]
SIEVE = ["dovecot-sieve"]
# mailtui's own recursive resolver on loopback for the spam filter's DNS lookups (block lists: their operators
# refuse public resolvers), rspamd's and postscreen's ([spam]). dns-root-data (only recommended, and mailtui
# installs without recommends) holds the root's DNSSEC trust anchor, which unbound's helper copies into place.
RESOLVER = ["unbound", "dns-root-data"]
# SRS for forwarded mail ([srs]).
POSTSRSD = ["postsrsd"]
# Certificates from an ACME CA ([tls] mode = "acme"): certbot with its renewal timer. CRON: on a machine
# without systemd, what runs Debian's /etc/cron.d/certbot (it runs only there) and the webmail's auth cache
# flush (/etc/cron.d/mailtui-auth-flush).
CERTBOT = ["certbot"]
CRON = ["cron"]
# Webmail ([webmail]): nginx and PHP-FPM first, in an apt run of their own, so that Roundcube's `php` finds
# `php8.x-fpm` installed and never pulls in Apache (its first alternative, libapache2-mod-php8.x, and
# roundcube-core's recommended apache2: mailtui installs without recommends); then Roundcube.
WEB_SERVER = ["nginx", "php-fpm"]
WEBMAIL = ["roundcube-core", "roundcube-mysql", "roundcube-plugins"]
# Filters and vacation replies from the webmail: Dovecot's ManageSieve server and Sieve.
MANAGESIEVE = ["dovecot-sieve", "dovecot-managesieved"]
# Security updates ([updates]): Debian's unattended-upgrades.
UPDATES = ["unattended-upgrades"]
# scripts/run needs these to build mailtui's own venv on a bare Debian.
BOOTSTRAP = ["python3", "python3-venv"]


def all_possible_packages() -> list[str]:
    """Every package any answers file can make the install ask for (the test hosts pre-download them)."""
    return [*POSTFIX, *DOVECOT, *DOVECOT_POP3, *DATABASE_SERVER, *TOOLS, *FIREWALL, *FAIL2BAN, *RSPAMD, *REDIS, *SIEVE,
            *RESOLVER, *POSTSRSD, *CERTBOT, *CRON, *WEB_SERVER, *WEBMAIL, *MANAGESIEVE, *UPDATES,
            *BOOTSTRAP]
