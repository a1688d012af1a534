"""mailtui's own DNS resolver and what asks it: the facts the resolver step (steps/resolver.py), the Postfix step
(postscreen's block lists, its chroot's copy of resolv.conf) and the rspamd step (rspamd's DNS) share.

With the spam filter on, this machine resolves through unbound from Debian, listening on loopback only and
recursing itself from the root: the block lists' operators (Spamhaus and the others) answer queries that come
through big public resolvers, and often through a provider's, with a refusal (127.255.255.x) instead of the
listing — so a forwarding stub (systemd-resolved at 127.0.0.53) or the provider's server would make the lists
useless, or worse. /etc/resolv.conf names unbound alone; the original is put back when the filter is switched
off, and by `mailtui rollback`.

Test profile: unbound never recurses to the Internet. It forwards every question to the nameservers the
machine had before mailtui (the test network's DNS), validates nothing (the test zones are unsigned) and
caches nothing (tests change their zones between two questions); with no such nameserver it refuses every
name.

postscreen (in front of port 25, the spam filter's first line): a client that talks before its turn is
refused (pregreet), and the block lists below are asked before a smtpd process is spent on the client. Each
list counts with its weight only for the answers named (127.0.0.2-11 for Spamhaus ZEN: never its refusal
answers 127.255.255.x, which would otherwise refuse everybody); a client reaching THRESHOLD is refused, one
at ALLOWLIST_THRESHOLD or below (DNSWL) skips postscreen's other tests.
"""

from __future__ import annotations

from pathlib import Path

SERVICE = "unbound"
ADDRESS = "127.0.0.1"
PORT = 53
RESOLV_CONF = Path("/etc/resolv.conf")
# Postfix's daemons run chrooted in /var/spool/postfix and read this copy, made when Postfix starts.
POSTFIX_RESOLV_CONF = Path("/var/spool/postfix/etc/resolv.conf")
UNBOUND_CONF = Path("/etc/unbound/unbound.conf.d/mailtui.conf")  # Debian's unbound.conf includes the directory
UNBOUND_DEFAULTS = Path("/etc/default/unbound")
# DNSSEC: Debian's unbound validates with the root's trust anchor, which its helper copies from dns-root-data
# into ROOT_KEY before every start.
ROOT_KEY = Path("/var/lib/unbound/root.key")
HELPER = "/usr/libexec/unbound-helper"
# isc-dhcp-client rewrites /etc/resolv.conf on every lease; a hook here keeps it from doing so.
DHCLIENT_HOOKS = Path("/etc/dhcp/dhclient-enter-hooks.d")
DHCLIENT_HOOK = DHCLIENT_HOOKS / "mailtui-resolver"

# postscreen's block lists are the answers' (Spam.dnsbl, model/answers.DNSBL_DEFAULT); a client whose weights add
# up to THRESHOLD is refused, one at ALLOWLIST_THRESHOLD or below skips postscreen's other tests.
THRESHOLD = 3
ALLOWLIST_THRESHOLD = -2
# What postscreen does with a client that fails a test: "enforce" answers 550 to every RCPT TO of the
# session (the sender's server gets a 5xx it can report; the attempt is logged with sender and recipient).
ACTION = "enforce"
