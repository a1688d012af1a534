"""The "dkimpy" layer: Debian's python3-dkim installed (offline, from the base's apt cache), for a host that
verifies DKIM signatures with an implementation other than the signer's (rspamd), resolving the
selectors' records through the test network's DNS like any receiver."""

from __future__ import annotations

from typing import Any

from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer

PACKAGES = ["python3-dkim"]


def dkimpy_layer(release: str) -> Layer:
    def build(host: TestHost) -> dict[str, Any]:
        host.run(["apt-get", "install", "-y", "--no-download", "--no-install-recommends", *PACKAGES],
                 env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        return {"python3-dkim": host.run(["dpkg-query", "-W", "-f", "${Version}", "python3-dkim"]).stdout}

    return ensure_layer(release, "dkimpy", {"packages": PACKAGES}, build, hostname="verifier.test")
