"""Postfix's lookup maps in the mail database, once: the file, the main.cf parameter it serves, its query, and
the `postmap -q` check that proves it (the tutorial's). A new map is one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailtui.model.answers import Answers

MAP_DIR = "/etc/postfix"


@dataclass(frozen=True)
class LookupMap:
    file: str  # in MAP_DIR
    parameter: str  # the main.cf parameter that names it (with the others of the same parameter, in order)
    query: str
    # A key the answers make, and the value the lookup must give for it (None: nothing to probe).
    probe: Callable[[Answers], tuple[str, str] | None] = lambda answers: None

    @property
    def path(self) -> str:
        return f"{MAP_DIR}/{self.file}"

    def ref(self, proxy: bool = True) -> str:
        """proxy:mysql:… (one pooled connection set instead of one per smtpd) or plain mysql:…"""
        return f"{'proxy:' if proxy else ''}mysql:{self.path}"


def _first_domain(a: Answers) -> tuple[str, str] | None:
    return (a.domains[0].name, "1") if a.domains else None


def _first_mailbox(a: Answers) -> tuple[str, str] | None:
    return (a.users[0].email, "1") if a.users else None


def _first_alias(a: Answers) -> tuple[str, str] | None:
    return (a.aliases[0].source, a.aliases[0].destination) if a.aliases else None


MAPS: tuple[LookupMap, ...] = (
    # The tutorial's three maps.
    LookupMap("mysql-virtual-mailbox-domains.cf", "virtual_mailbox_domains",
              "SELECT 1 FROM virtual_domains WHERE name='%s'", _first_domain),
    LookupMap("mysql-virtual-mailbox-maps.cf", "virtual_mailbox_maps",
              "SELECT 1 FROM virtual_users WHERE email='%s'", _first_mailbox),
    LookupMap("mysql-virtual-alias-maps.cf", "virtual_alias_maps",
              "SELECT destination FROM virtual_aliases WHERE source='%s'", _first_alias),
    # With a catch-all alias (@domain), existing mailboxes must still map to themselves first.
    LookupMap("mysql-virtual-email2email.cf", "virtual_alias_maps",
              "SELECT email FROM virtual_users WHERE email='%s'"),
    # SRS ([srs], steps/srs.py): a sender of a domain served here maps to itself, so postsrsd (asked after it)
    # never rewrites your own users' mail; a domain added in the dashboard counts at once.
    LookupMap("mysql-srs-own-senders.cf", "sender_canonical_maps",
              "SELECT '%s' FROM virtual_domains WHERE name='%d'",
              lambda a: (a.users[0].email, a.users[0].email) if a.users else None),
    # Who may send as an address: the mailbox itself, or the mailboxes an alias delivers to.
    LookupMap("mysql-sender-login-maps.cf", "smtpd_sender_login_maps",
              "SELECT email FROM virtual_users WHERE email='%s' "
              "UNION SELECT destination FROM virtual_aliases WHERE source='%s'"),
)


def by_file(name: str) -> LookupMap:
    return next(m for m in MAPS if m.file == name)


def parameters() -> dict[str, str]:
    """main.cf parameter -> its maps (proxied, comma-separated, in table order)."""
    found: dict[str, list[str]] = {}
    for m in MAPS:
        found.setdefault(m.parameter, []).append(m.ref())
    return {parameter: ", ".join(refs) for parameter, refs in found.items()}
