"""`mailtui rollback` restores every file the installer changed, byte for byte, from its backups.

On a machine where the stack's packages are installed (mailtui's packages step ran, nothing configured:
the cached layer of interrupt_helpers) and Postfix runs on Debian's stock configuration, Dovecot not:
snapshot /etc and /var/mail (content, owner, mode, type of every entry), install, roll back, and the
snapshot is the same again — but for the `-` copies shadow-utils keeps of the account files (useradd and
userdel write them) and the sockets Postfix leaves in its private directory. Postfix runs again (on the
restored configuration), Dovecot is stopped again, ufw is off again, the vmail account is gone; the
packages and the database are left alone, as the output says. A second install on the rolled-back machine
works and a second rollback restores the same files again.

After a kill: an install killed at points where backups are being recorded (an original copied but not
yet in the index, a file recorded as new but not yet written, a write cut between temp file and rename,
postconf, useradd, ufw, service starts: 13 kinds, each on one of the two releases, alternately; on both with
MAILTUI_FAULT_BOTH=1) is rolled back to the same snapshot. MAILTUI_FAULT_ALL=1: at every
point that changes anything — where a known gap shows: a kill between steps/resources.py's own mkdir of a
directory (/etc/ssl/mailtui, /var/mail/vhosts, on Debian 13 /var/spool/postfix/private) and the record
set_owner_mode makes right after leaves that empty directory behind, until DirectoryResource creates it
with files.make_directory (which records first).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.reliability import interrupt_helpers as ih

pytestmark = pytest.mark.reliability
ref = ih.reference_fixture  # one uninterrupted, traced install per release (Debian 12 and 13)


def running(host: Any, name: str) -> bool:
    pidfile = {"postfix": "/var/spool/postfix/pid/master.pid", "dovecot": "/run/dovecot/master.pid",
               "mariadb": "/run/mysqld/mysqld.pid"}[name]
    return host.run(f"kill -0 $(cat {pidfile} 2>/dev/null) 2>/dev/null", check=False).returncode == 0


def unit_enabled(host: Any, name: str) -> str:
    return host.run(["systemctl", "is-enabled", name], check=False).stdout.strip()


@pytest.mark.timeout(1200)
def test_rollback_restores_every_file_the_install_changed(ref: ih.Reference) -> None:
    with ih.layered_host(ref.layer) as host:
        host.write_file(ih.ANSWERS_PATH, ih.ANSWERS, mode=0o600)
        # The admin's Postfix, on Debian's configuration; Dovecot stopped and disabled at boot (apt started
        # and enabled both): the rollback must leave it so, though the install started and enabled it.
        host.run(["systemctl", "disable", "--now", "--quiet", "dovecot"])
        host.run(["systemctl", "start", "postfix"])
        assert running(host, "postfix") and not running(host, "dovecot")
        assert unit_enabled(host, "dovecot") == "disabled" and unit_enabled(host, "postfix") == "enabled"
        stock_postconf = host.run(["postconf", "-n"]).stdout
        before = ih.snapshot(host, ih.WATCHED)

        result = ih.install(host, "--answers", ih.ANSWERS_PATH)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        assert not ih.check_failures(host)
        installed = ih.snapshot(host, ih.WATCHED)
        changed = sorted(p for p in set(before) | set(installed) if before.get(p) != installed.get(p))
        assert "/etc/postfix/main.cf" in changed and "/etc/dovecot/dovecot.conf" in changed

        dry = ih.rollback(host, "--dry-run")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        for expected in ("restore /etc/postfix/main.cf", "restore /etc/postfix/master.cf",
                         "restore /etc/dovecot/dovecot.conf", "remove /etc/dovecot/mailtui-sql.conf.ext",
                         "remove /etc/ssl/mailtui/key.pem", "restore /etc/ufw/user.rules",
                         "delete the system user vmail", "keep /var/mail/vhosts: mailtui created it, but it holds",
                         "Left alone: the installed packages",
                         "dry run: nothing was changed"):
            assert expected in dry.stdout, f"{expected!r} missing from the dry run:\n{dry.stdout}"
        assert ih.snapshot(host, ih.WATCHED) == installed, "the dry run changed something"

        began = time.monotonic()
        rolled = ih.rollback(host, "--yes")
        took = time.monotonic() - began
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        problems = ih.rollback_problems(before, ih.snapshot(host, ih.WATCHED))
        assert not problems, "\n".join(problems)
        print(f"\n[{ref.release}] install changed {len(changed)} paths; rollback restored them in {took:.1f} s")

        # Services as before mailtui: Postfix again (on the stock configuration), Dovecot not and disabled at
        # boot again (the install had enabled it: a reboot would have started it); ufw off.
        assert running(host, "postfix") and not running(host, "dovecot")
        assert unit_enabled(host, "dovecot") == "disabled" and unit_enabled(host, "postfix") == "enabled"
        assert "disabling dovecot at boot again" in rolled.stdout, rolled.stdout
        assert host.run(["postconf", "-n"]).stdout == stock_postconf
        assert "Status: inactive" in host.run(["ufw", "status"]).stdout
        assert host.run(["id", "vmail"], check=False).returncode != 0
        # Left alone: packages, MariaDB and the database.
        assert host.run(["dpkg-query", "-W", "-f=${Status}", "postfix"]).stdout == "install ok installed"
        assert running(host, "mariadb")
        databases = host.run(["mariadb", "-N", "-e", "SHOW DATABASES"]).stdout.split()
        assert "mailserver" in databases
        # Nothing lost: mailtui's versions and state are kept aside; a second rollback has nothing to do.
        kept = host.run(f"ls {ih.STATE_DIR}/rollbacks/*/replaced/etc/postfix/ {ih.STATE_DIR}/rollbacks/*/",
                        check=False).stdout
        assert "main.cf" in kept and "answers.toml" in kept and "backups" in kept
        again = ih.rollback(host, "--yes")
        assert again.returncode == 0 and "nothing to roll back" in again.stdout

        # The rolled-back machine installs again, and rolls back again, to the same files.
        result = ih.install(host, "--answers", ih.ANSWERS_PATH)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        assert not ih.check_failures(host)
        rolled = ih.rollback(host, "--yes")
        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        problems = ih.rollback_problems(before, ih.snapshot(host, ih.WATCHED))
        assert not problems, "after the second install and rollback:\n" + "\n".join(problems)


def starts(name: str, command: str) -> bool:
    """`command` (re)starts the service: `service NAME start` without systemd, `systemctl (re)start NAME` with
    it (where apt already started it)."""
    return re.match(rf"(service {name} (re)?start|systemctl (re)?start {name})\b", command) is not None


def rollback_jobs(ref: ih.Reference) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    trace = ref.trace
    if ih.exhaustive():
        points = [p for p in trace if p["effect"] != "none" or p["kind"] == "write-tmp"]
    else:
        def first(predicate) -> dict[str, Any]:  # type: ignore[no-untyped-def]
            return next(p for p in trace if predicate(p))

        original = f"{ih.STATE_DIR}/backups/original/"
        first_map = first(lambda p: p["kind"] == "write" and p["detail"].startswith("/etc/postfix/mysql-"))
        points = [
            first(lambda p: p["kind"] == "write" and p["detail"].startswith(original)),  # copied, not indexed
            max((p for p in trace if p["n"] < first_map["n"] and p["detail"].endswith("/backups/index.json")
                 and p["kind"] == "write"), key=lambda p: p["n"]),  # recorded as new, not written yet
            first(lambda p: p["kind"] == "write-tmp" and p["detail"] == "/etc/dovecot/dovecot.conf"),
            first(lambda p: p["detail"].startswith("openssl req")),
            first(lambda p: p["detail"].startswith("postconf -e")),
            first(lambda p: p["detail"].startswith("postconf -M submission/inet=")),
            first(lambda p: starts("postfix", p["detail"])),
            first(lambda p: p["detail"].startswith("groupadd")),
            first(lambda p: p["detail"].startswith("useradd")),
            first(lambda p: starts("dovecot", p["detail"])),
            first(lambda p: p["detail"].startswith("ufw allow")),
            first(lambda p: p["detail"].startswith("ufw --force enable")),
            trace[-1],
        ]
        if not ih.both_releases():  # each kind of point on one release, alternately (the list is the same on both)
            points = [p for i, p in enumerate(points) if ih.RELEASES[i % 2] == ref.release]
    return [(p, ih.spec_of(p), {"then_rollback": True}) for p in points]


@pytest.mark.timeout(3600)
def test_rollback_after_an_interrupted_install(ref: ih.Reference) -> None:
    ih.walk_and_check(ref, rollback_jobs(ref), "rollback after a kill")
