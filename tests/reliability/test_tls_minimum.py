"""TLS below 1.2 is refused on every port a password or mail travels over: 25 and 587 (STARTTLS), 465,
993 and 995 (implicit TLS).

Controls: the very client that is refused gets TLS 1.0/1.1 from a local `openssl s_server` (so it really
offers them), a TLS 1.2 client gets through on every port (so the port works), and the server's own log
names the reason ("unsupported protocol"). Knock-outs: with mailtui's Postfix settings removed (on
465/587 the TLS profile's cipher list too), Postfix's defaults accept TLS 1.1 on 25/465/587 — the refusal
is mailtui's doing — and a Dovecot told to allow TLS 1.0 is seen accepting it on 993/995 — the probe
would notice.
"""

from __future__ import annotations

import pytest

from mailtui.policy import tls
from tests.e2e.conftest import Installed
from tests.reliability.conftest import OldTlsServer
from tests.reliability.helpers import (
    PORT_LOG_PROCESS,
    eventually,
    handshake,
    log_size,
    old_tls_context,
    postfix_without,
    refused,
    session,
    tls12_context,
    wait_for_log,
)

pytestmark = pytest.mark.reliability

POSTFIX_PORTS = (25, 465, 587)
DOVECOT_PORTS = (993, 995)
OLD_VERSIONS = ("TLSv1", "TLSv1.1")


def accepts_old_tls(ip: str, port: int) -> bool:
    got = session(ip, port, old_tls_context())
    return got is not None and got[0] in OLD_VERSIONS


def test_the_old_tls_client_really_speaks_tls_1_0_and_1_1(old_tls_servers: list[OldTlsServer]) -> None:
    context = old_tls_context()
    for server in old_tls_servers:
        assert handshake("127.0.0.1", server.port, context) == server.version


@pytest.mark.parametrize("port", list(PORT_LOG_PROCESS))
def test_tls_below_1_2_is_refused(secured: Installed, old_tls_servers: list[OldTlsServer], port: int) -> None:
    context = old_tls_context()
    # Control: this same context gets TLS 1.1 where it is offered.
    tls11 = next(s for s in old_tls_servers if s.version == "TLSv1.1")
    assert handshake("127.0.0.1", tls11.port, context) == "TLSv1.1"
    offset = log_size(secured.host)
    error = refused(secured.ip, port, context)
    # The server says why: its TLS library refused the protocol version (not a crash, not a timeout).
    line = wait_for_log(secured.host, offset, PORT_LOG_PROCESS[port] + r".*unsupported protocol")
    print(f"\n[{secured.release}] {port}: client got {error}; server logged: {line[:160]}")


@pytest.mark.parametrize("port", list(PORT_LOG_PROCESS))
def test_tls_1_2_is_accepted(secured: Installed, port: int) -> None:
    assert handshake(secured.ip, port, tls12_context()) == "TLSv1.2"


def test_postfix_refuses_old_tls_because_mailtui_says_so(secured: Installed) -> None:
    """Knock-out: remove mailtui's two protocol settings (and, on 465/587, the TLS profile's cipher list,
    whose AEAD suites exist only in TLS 1.2 and would refuse TLS 1.1 on their own) and Postfix's defaults
    (>=TLSv1) accept TLS 1.1 on all three ports; put them back and they are refused again."""
    host, ip = secured.host, secured.ip
    params = ["smtpd_tls_protocols", "smtpd_tls_mandatory_protocols"]
    assert host.run(["postconf", *params]).stdout == "".join(f"{p} = {tls.postfix_protocols()}\n" for p in params)
    with postfix_without(host, params, list(tls.postfix_submission_ciphers())):
        for port in POSTFIX_PORTS:
            eventually(f"port {port} accepting TLS 1.1 without mailtui's settings",
                       lambda p=port: accepts_old_tls(ip, p))
    for port in POSTFIX_PORTS:
        eventually(f"port {port} refusing TLS 1.1 again", lambda p=port: not accepts_old_tls(ip, p))
        assert handshake(ip, port, tls12_context()) == "TLSv1.2"
    assert host.run(["postconf", *params]).stdout == "".join(f"{p} = {tls.postfix_protocols()}\n" for p in params)


def test_dovecot_is_seen_accepting_old_tls_when_told_to(secured: Installed) -> None:
    """Knock-out for 993/995: the operator's local.conf lowering the minimum (and OpenSSL's security level,
    without which OpenSSL 3 still refuses) makes Dovecot accept TLS 1.0/1.1 — and the probe sees it."""
    host, ip = secured.host, secured.ip
    assert host.run(["doveconf", "-h", "ssl_min_protocol"]).stdout.strip() == "TLSv1.2"
    local = "/etc/dovecot/local.conf"
    assert host.run(["test", "-e", local], check=False).returncode != 0, "an earlier test left local.conf behind"
    host.write_file(local, "ssl_min_protocol = TLSv1\nssl_cipher_list = DEFAULT:@SECLEVEL=0\n")
    try:
        host.run(["doveadm", "reload"])
        for port in DOVECOT_PORTS:
            eventually(f"port {port} accepting TLS 1.1 with local.conf", lambda p=port: accepts_old_tls(ip, p))
    finally:
        host.run(["rm", "-f", local])
        host.run(["doveadm", "reload"])
    for port in DOVECOT_PORTS:
        eventually(f"port {port} refusing TLS 1.1 again", lambda p=port: not accepts_old_tls(ip, p))
        assert handshake(ip, port, tls12_context()) == "TLSv1.2"
