"""One TLS profile (mailtui.policy.tls), proven per port: where passwords travel (465, 587, 993, 995) only
forward-secret AEAD suites; port 25 opportunistic.

Three clients offer only what the profile forbids — anonymous (aNULL) suites, CBC suites (forward-secret
ones included, so it is the CBC that is refused), and AEAD suites with RSA key exchange. Each is refused on
465, 587, 993 and 995, and the server's log says why ("no shared cipher": not a crash, not a timeout).
Controls: each same client gets a suite of its kind from a local `openssl s_server` that allows them all
(so it really offers them), and port 25 accepts the anonymous and the CBC client (opportunistic TLS: any
encryption beats plain text). A TLS 1.3 client and a TLS 1.2 ECDHE-GCM client get through everywhere, and
on the password ports the TLS 1.2 suite is one of the profile's. Knock-out: without the profile's options
Postfix's defaults give the anonymous and CBC clients a session on 465 and 587.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import pytest

from mailtui.policy import tls
from mailtui.policy.ports import PORTS
from tests.e2e.conftest import Installed
from tests.reliability.helpers import (
    PORT_LOG_PROCESS,
    eventually,
    log_size,
    negotiate,
    postfix_without,
    refused,
    session,
    suites_context,
    tls12_context,
    wait_for_log,
)

pytestmark = pytest.mark.reliability


def anonymous(cipher: str) -> bool:
    return cipher.startswith(("ADH-", "AECDH-"))


def cbc(cipher: str) -> bool:
    return not any(aead in cipher for aead in ("GCM", "CHACHA20", "CCM"))


def rsa_key_exchange(cipher: str) -> bool:
    return cipher.startswith("AES")  # OpenSSL names RSA-key-exchange suites without a key-exchange prefix


# name -> (OpenSSL cipher string the client offers, what every suite it can get is)
WEAK_CLIENTS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "aNULL": ("aNULL:@SECLEVEL=0", anonymous),
    "CBC": ("ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:"
            "DHE-RSA-AES128-SHA256:AES128-SHA:AES256-SHA256:@SECLEVEL=0", cbc),
    "kRSA": ("AES128-GCM-SHA256:AES256-GCM-SHA384:@SECLEVEL=0", rsa_key_exchange),
}  # fmt: skip
# The TLS ports, as the port table says: where passwords travel the strong profile, elsewhere (25) opportunistic.
PASSWORD_PORTS = tuple(p.number for p in PORTS if p.tls != "none" and p.passwords)
ALL_PORTS = tuple(p.number for p in PORTS if p.tls != "none")


def tls13_context() -> ssl.SSLContext:
    context = tls12_context()
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    return context


@pytest.mark.parametrize("client", list(WEAK_CLIENTS))
def test_the_weak_clients_really_offer_what_the_profile_forbids(weak_suites_server: int, client: str) -> None:
    ciphers, kind = WEAK_CLIENTS[client]
    version, cipher = negotiate("127.0.0.1", weak_suites_server, suites_context(ciphers))
    assert version == "TLSv1.2" and kind(cipher), f"the {client} client got {cipher}"


@pytest.mark.parametrize("client", list(WEAK_CLIENTS))
@pytest.mark.parametrize("port", PASSWORD_PORTS)
def test_weak_suites_are_refused_where_passwords_travel(secured: Installed, port: int, client: str) -> None:
    offset = log_size(secured.host)
    error = refused(secured.ip, port, suites_context(WEAK_CLIENTS[client][0]))
    line = wait_for_log(secured.host, offset, PORT_LOG_PROCESS[port] + r".*no shared cipher")
    print(f"\n[{secured.release}] {port} {client}: client got {error}; server logged: {line[-120:]}")


@pytest.mark.parametrize("client", ["aNULL", "CBC"])
def test_port_25_stays_opportunistic(secured: Installed, client: str) -> None:
    ciphers, kind = WEAK_CLIENTS[client]
    version, cipher = negotiate(secured.ip, 25, suites_context(ciphers))
    assert version == "TLSv1.2" and kind(cipher), f"port 25 gave the {client} client {cipher}"


@pytest.mark.parametrize("port", ALL_PORTS)
def test_modern_clients_get_through_everywhere(secured: Installed, port: int) -> None:
    assert negotiate(secured.ip, port, tls13_context())[0] == "TLSv1.3"
    version, cipher = negotiate(secured.ip, port, suites_context("ECDHE+AESGCM"))
    assert version == "TLSv1.2"
    if port in PASSWORD_PORTS:
        assert cipher in tls.STRONG_CIPHERS, f"port {port} negotiated {cipher}, not in the profile"


def accepted(ip: str, port: int, client: str) -> bool:
    return session(ip, port, suites_context(WEAK_CLIENTS[client][0])) is not None


def test_submission_refuses_weak_suites_because_mailtui_says_so(secured: Installed) -> None:
    """Knock-out: without the profile's two `-o` options on the submission services, Postfix's own
    defaults give the anonymous and the CBC client a session on 465 and 587 (as they did before the
    profile); put back, both are refused again."""
    host, ip = secured.host, secured.ip
    with postfix_without(host, service_options=list(tls.postfix_submission_ciphers())):
        for port in (465, 587):
            for client in ("aNULL", "CBC"):
                eventually(f"port {port} accepting the {client} client without the profile",
                           lambda p=port, c=client: accepted(ip, p, c))
    for port in (465, 587):
        for client in ("aNULL", "CBC"):
            eventually(f"port {port} refusing the {client} client again",
                       lambda p=port, c=client: not accepted(ip, p, c))
