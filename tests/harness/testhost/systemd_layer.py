"""The "systemd" layer: a base on which systemd, D-Bus and sshd are installed as on a real Debian server, so
that a host on it boots systemd as PID 1 (boot.boot_systemd) and apt starts services the way it does there.

What differs from a bare debootstrap, and why:
- no policy-rc.d: services start during apt, as on a real server (the base keeps one, for plain hosts);
- timers that take the dpkg lock or burn CPU mid-test are masked (apt-daily*, man-db, dpkg-db-backup,
  e2scrub, fstrim): a real server runs them, but at a time no test can choose;
- the console getty is masked: nobody logs in on the console of a test host (`machinectl login` needs a
  systemd on this machine, which it has not), and it would hold the console that init.log reads.

Every host on the layer shares its sshd host keys and machine-id: throwaway hosts, never one network's
identity. Built offline from the base's apt cache (bases.SYSTEMD_PACKAGES) on a plain host.
"""

from __future__ import annotations

from typing import Any

from tests.harness.testhost.bases import SYSTEMD_PACKAGES
from tests.harness.testhost.host import TestHost
from tests.harness.testhost.layers import Layer, ensure_layer

MASKED = [
    "apt-daily.timer", "apt-daily-upgrade.timer", "man-db.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
    "fstrim.timer", "console-getty.service",
]  # fmt: skip

BUILD = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-download --no-install-recommends "$@"
for unit in @MASKED@; do systemctl mask "$unit" 2>/dev/null || ln -sf /dev/null "/etc/systemd/system/$unit"; done
rm -f /usr/sbin/policy-rc.d
# Started by the postinsts on this plain host (no systemd here yet): gone with it; nothing to keep from them.
rm -rf /run/sshd
""".replace("@MASKED@", " ".join(MASKED))


def systemd_layer(release: str) -> Layer:
    """The cached systemd layer on `release` (built if missing, ~20 s)."""

    def build(host: TestHost) -> dict[str, Any]:
        host.run(["/bin/sh", "-c", BUILD, "sh", *SYSTEMD_PACKAGES], timeout=600)
        return {"systemd": host.run(["systemctl", "--version"]).stdout.splitlines()[0]}

    return ensure_layer(release, "systemd", {"packages": SYSTEMD_PACKAGES, "masked": MASKED, "build": BUILD},
                        build, init="plain")


def client_layer(release: str) -> Layer:
    """An operator's machine on the test network: the systemd layer (its openssh-client) plus tmux, to hold a
    real terminal for `ssh -t` (cached; built offline in seconds)."""

    def build(host: TestHost) -> dict[str, Any]:
        host.run(["apt-get", "install", "-y", "-q", "--no-download", "--no-install-recommends", "tmux"],
                 env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=300)
        return {"tmux": host.run(["tmux", "-V"]).stdout.strip()}

    return ensure_layer(release, "client", {"packages": ["tmux"]}, build, below=[systemd_layer(release)])
