"""Throwaway Debian test hosts on a sealed test network, for end-to-end tests (root only).

    from tests.harness.testhost import test_host, test_network

    with test_host("trixie") as host:                        # one host, on a network of its own
        host.mailtui("install", "--answers", "/root/answers.toml", "--yes")

    with test_network() as net:                              # several hosts that see each other
        dns = net.dns("bookworm")                            # nsd; every host's resolver names it
        mx = net.host("bookworm", "mx", hostname="mail.example.test", layers=[stack_layer("bookworm", ANSWERS)])
        client = net.host("trixie", "client")
        dns.serve({"example.test": f"@ MX 10 mail\\nmail A {mx.ip}\\n"})

One idea per module:
    common       constants, errors, the cache dir, commands, locks, file writes
    procs        processes, namespaces, mounts and links of this machine
    bases        the cached per-release debootstrap bases (with every .deb hosts need in their apt cache)
    layers       cached layers stacked on a base (a host's upper dir after a recipe ran)
    systemd_layer  the "systemd" layer: systemd, D-Bus and sshd installed; hosts on it boot systemd (nspawn)
    cgroups      a cgroup subtree per systemd host, in every hierarchy, removed at teardown
    packages_layer the "packages installed" layer: mailtui's packages step for given answers
    pydeps       mailtui's runtime deps and the repo's own mailtui, mounted into every host; the repo's tests
                 and their deps, copied into a host that runs them (add_test_checkout)
    network      the sealed test network: bridge namespace, runner veth, subnets, names
    boot         starting a host's PID 1 (pid1.py, or systemd via systemd-nspawn) inside its network namespace
    host         TestHost: overlay, running commands, files, daemons, teardown
    dns          the test DNS (nsd) on a host of its own; dnswire: a tiny DNS client
    cleanup      atexit teardown, `scripts/testhost clean` and purge
"""

from __future__ import annotations

from tests.harness.testhost.bases import (
    BASE_FORMAT,
    TEST_PACKAGES,
    base_dir,
    base_state,
    cached_packages,
    current_base,
    ensure_base,
    stack_packages,
    stamp_path,
)
from tests.harness.testhost.browser_layer import browser_layer
from tests.harness.testhost.cleanup import clean, close_everything, purge
from tests.harness.testhost.common import (
    DEFAULT_HOSTNAME,
    MAILTUI_PYTHONPATH,
    RELEASES,
    CommandFailed,
    TestHostError,
    cache_dir,
    require_root,
)
from tests.harness.testhost.dkimpy_layer import dkimpy_layer
from tests.harness.testhost.dns import DnsServer, dns_layer, query_from
from tests.harness.testhost.host import TestHost, create_host, live_hosts, test_host
from tests.harness.testhost.layers import Layer, ensure_layer, list_layers, prune_layers
from tests.harness.testhost.network import NET_PREFIX, TestNetwork, live_networks, test_network
from tests.harness.testhost.packages_layer import stack_layer
from tests.harness.testhost.pydeps import (
    CHECKOUT_MOUNT,
    add_test_checkout,
    build_app_dir,
    compile_pydeps,
    ensure_pydeps,
    ensure_testdeps,
    python_requirements,
)
from tests.harness.testhost.systemd_layer import systemd_layer

__all__ = [
    "BASE_FORMAT", "DEFAULT_HOSTNAME", "MAILTUI_PYTHONPATH", "NET_PREFIX", "RELEASES", "TEST_PACKAGES",
    "CommandFailed", "DnsServer", "Layer", "TestHost", "TestHostError", "TestNetwork",
    "base_dir", "base_state", "browser_layer", "build_app_dir", "cache_dir", "cached_packages", "clean",
    "close_everything",
    "compile_pydeps", "create_host", "current_base", "dkimpy_layer", "dns_layer", "ensure_base", "ensure_layer",
    "ensure_pydeps",
    "list_layers", "live_hosts", "live_networks", "prune_layers", "purge", "python_requirements", "query_from",
    "require_root",
    "stack_layer", "stack_packages", "stamp_path", "systemd_layer", "test_host", "test_network",
    "CHECKOUT_MOUNT", "add_test_checkout", "ensure_testdeps",
]
