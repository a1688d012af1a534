"""The port table: every port of the mail stack, once. The firewall opens from it, fail2ban bans on it, the
checks probe it, preflight looks whether something else holds it. A new port is one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from mailtui.model.answers import Answers

Listener = Literal["postfix", "dovecot", "certbot", "nginx"]
Tls = Literal["starttls", "implicit", "none"]
Speaks = Literal["smtp", "imap", "pop3", "http"]


def _always(answers: Answers) -> bool:
    return True


def _submissions(answers: Answers) -> bool:
    return answers.services.submissions


def _pop3(answers: Answers) -> bool:
    return answers.services.pop3


def _acme(answers: Answers) -> bool:
    return answers.tls.mode == "acme"


@dataclass(frozen=True)
class Port:
    number: int
    label: str  # what the operator reads: "SMTP", "submission", …
    listener: Listener
    tls: Tls
    passwords: bool  # logins travel here: the strict TLS profile applies and fail2ban counts failures
    open: bool  # True: served and reached from the internet; False: must stay closed (no TLS: no password)
    used: Callable[[Answers], bool] = _always  # whether these answers use the port at all
    default: bool = True  # used by a new install's default answers (preflight checks it is free)
    protocol: str = "tcp"
    speaks: Speaks = "smtp"  # the mail protocol on it (the checks greet it and leave as a client does)
    srv: str = ""  # the RFC 6186 / RFC 8314 SRV service of a mail client's port ("imaps": _imaps._tcp.DOMAIN)

    def describe(self) -> str:
        return f"{self.number} ({self.label})"


PORTS: tuple[Port, ...] = (
    Port(25, "SMTP", "postfix", "starttls", passwords=False, open=True),
    Port(587, "submission", "postfix", "starttls", passwords=True, open=True, srv="submission"),
    Port(465, "submissions", "postfix", "implicit", passwords=True, open=True, used=_submissions, srv="submissions"),
    Port(993, "IMAPS", "dovecot", "implicit", passwords=True, open=True, speaks="imap", srv="imaps"),
    Port(995, "POP3S", "dovecot", "implicit", passwords=True, open=True, used=_pop3, default=False, speaks="pop3",
         srv="pop3s"),
    Port(143, "IMAP without TLS", "dovecot", "none", passwords=False, open=False, speaks="imap", srv="imap"),
    Port(110, "POP3 without TLS", "dovecot", "none", passwords=False, open=False, used=_pop3, default=False,
         speaks="pop3", srv="pop3"),
)


# Not a mail port: certbot's standalone server answers the CA's HTTP-01 challenge here only while it
# orders or renews (twice a day, by its timer, at most), so nothing listens on it otherwise; the firewall
# keeps it open in ACME mode because a renewal can come at any time.
ACME_HTTP = Port(80, "ACME HTTP-01 challenge (certbot)", "certbot", "none", passwords=False, open=True, used=_acme,
                 default=False, speaks="http")


def _webmail(answers: Answers) -> bool:
    return answers.webmail.enabled


# The webmail (nginx, [webmail]): HTTPS, and HTTP answering only with a redirect to it. Not mail ports.
WEB_PORTS = (
    Port(443, "HTTPS (webmail)", "nginx", "implicit", passwords=True, open=True, used=_webmail, default=False,
         speaks="http"),
    Port(80, "HTTP (redirects to HTTPS)", "nginx", "none", passwords=False, open=True, used=_webmail, default=False,
         speaks="http"),
)


# ManageSieve (Dovecot, [webmail]): the webmail edits each user's filters and vacation reply here. On loopback
# only: not a port the firewall opens or a client outside reaches.
MANAGESIEVE_PORT = 4190
MANAGESIEVE_ADDRESS = "127.0.0.1"


def firewall_open(answers: Answers) -> list[Port]:
    """What the firewall lets in: the served mail ports, port 80 in ACME mode, 80 and 443 for the webmail."""
    extra = [p for p in (ACME_HTTP, *WEB_PORTS) if p.used(answers)]
    seen: set[int] = set()
    unique = []
    for port in [*served(answers), *extra]:
        if port.number not in seen:
            seen.add(port.number)
            unique.append(port)
    return unique


def served(answers: Answers) -> list[Port]:
    """The ports these answers serve (the firewall opens them, the checks expect them to listen)."""
    return [p for p in PORTS if p.open and p.used(answers)]


def closed(answers: Answers) -> list[Port]:
    """The ports that must not listen (a plain-text protocol these answers would expose)."""
    return [p for p in PORTS if not p.open and p.used(answers)]


def for_preflight() -> tuple[list[Port], list[Port]]:
    """(served by a new install: blocking when something else holds them, plain-text ones: shown)."""
    return [p for p in PORTS if p.open and p.default], [p for p in PORTS if not p.open]
