"""pytest fixtures for tests that need several test hosts on one sealed network. Import them into a tier's
conftest.py (`from tests.harness.fixtures import net  # noqa: F401`).

    def test_mail_between_hosts(net: TestNetwork) -> None:
        dns = net.dns("bookworm")
        mx, client = net.hosts("trixie", "mx", "client")
        dns.serve({"example.test": f"@ MX 10 mx\\nmx A {mx.ip}\\n"})
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness.testhost import TestNetwork, test_network


@pytest.fixture
def net() -> Iterator[TestNetwork]:
    """A sealed test network of the test's own (hosts: net.host()/net.hosts(); DNS: net.dns()); everything
    on it is torn down after the test."""
    if os.geteuid() != 0:
        pytest.skip("test networks need root (namespaces, overlayfs)")
    with test_network() as network:
        yield network
