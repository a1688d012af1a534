"""The platform real servers run: after the install on a host that boots systemd, nothing is left failed and
every service mailtui set up is enabled at boot and active — including ufw, whose unit `ufw enable` alone
leaves inactive for the current boot — although apt started Postfix, Dovecot, MariaDB and fail2ban from
their stock configuration during the packages step (fail2ban failing there on Debian 12)."""

from __future__ import annotations

from tests.e2e.conftest import Installed

SERVICES = ("postfix", "dovecot", "mariadb", "fail2ban", "ufw", "ssh")


def test_no_failed_units_and_every_service_enabled_and_active(installed: Installed) -> None:
    host = installed.host
    assert host.systemd
    failed = host.run(["systemctl", "--failed", "--no-legend", "--plain"]).stdout
    state = host.run(["systemctl", "is-system-running"], check=False).stdout.strip()
    assert not failed.strip() and state == "running", f"{state}: {failed}"
    for name in SERVICES:
        enabled = host.run(["systemctl", "is-enabled", name], check=False).stdout.strip()
        active = host.run(["systemctl", "is-active", name], check=False).stdout.strip()
        assert (enabled, active) == ("enabled", "active"), f"{name}: {enabled}/{active}"


def test_check_fails_when_a_unit_is_disabled_and_install_repairs_it(installed: Installed) -> None:
    host = installed.host
    host.run(["systemctl", "disable", "--quiet", "dovecot"])
    try:
        check = installed.mailtui("check", check=False, timeout=300)
        assert check.returncode != 0 and "dovecot's unit is disabled" in check.stdout, check.stdout[-3000:]
        code, output = installed.install()
        assert code == 0, output[-4000:]
        assert "enabling dovecot at boot" in output, output[-4000:]
    finally:
        host.run(["systemctl", "enable", "--quiet", "dovecot"], check=False)
    assert host.run(["systemctl", "is-enabled", "dovecot"], check=False).stdout.strip() == "enabled"
    assert installed.mailtui("check", check=False, timeout=300).returncode == 0
