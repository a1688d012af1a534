"""A browser's machine on the test network: Debian's chromium, chromium-driver and python3-selenium installed
(offline, from the base's apt cache; REFERENCE-stack §9) into a cached layer ("browser"). The webmail's browser
tests run Selenium inside such a host, so the browser reaches nothing but the test network."""

from __future__ import annotations

from typing import Any

from tests.harness.testhost.bases import BROWSER_PACKAGES
from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer


def browser_layer(release: str) -> Layer:
    def build(host: TestHost) -> dict[str, Any]:
        host.run(["apt-get", "install", "-y", "-q", "--no-download", "--no-install-recommends", *BROWSER_PACKAGES],
                 env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
        versions = host.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *BROWSER_PACKAGES]).stdout
        return dict(line.split(" ", 1) for line in versions.splitlines())

    return ensure_layer(release, "browser", {"packages": BROWSER_PACKAGES}, build)
