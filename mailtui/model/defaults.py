"""The answers a new install starts from — written once, for the wizard, the dashboard and the tests."""

from __future__ import annotations

from mailtui.model import validate
from mailtui.model.answers import Alias, Answers, Domain, User

DEFAULT_HOSTNAME = "mail.example.org"


def suggested_hostname(machine: str) -> str:
    """The machine's name if it is a usable mail hostname (a FQDN with at least 3 labels whose
    parent is a valid mail domain), else mail.example.org."""
    name = validate.canonical_domain(machine)
    if name.count(".") < 2 or validate.hostname_problem(name):
        return DEFAULT_HOSTNAME
    domain = name.split(".", 1)[1]
    if validate.domain_problem(domain) or domain in validate.LOCAL_NAMES:
        return DEFAULT_HOSTNAME
    return name


# RFC 2142's mailbox names every mail domain should have: bounces and complaints reach a person. A new
# domain gets them as aliases unless the operator says no.
ROLE_ADDRESSES = ("postmaster", "abuse")


def new_install(hostname: str) -> Answers:
    """A fresh server called `hostname`: its parent domain as the first domain, admin@ as the first
    mailbox, and postmaster@ (RFC 5321 requires it) forwarded to it. Database passwords stay empty
    (generated at install time)."""
    hostname = suggested_hostname(hostname)
    domain = hostname.split(".", 1)[1]
    return Answers(hostname=hostname, domains=[Domain(domain)], users=[User(f"admin@{domain}")],
                   aliases=[Alias(f"postmaster@{domain}", f"admin@{domain}")])
