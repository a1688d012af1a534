"""The installer survives interruption: killed with SIGKILL at any file write, between a write's temp file
and its rename, after any command, or while dpkg unpacks a package, the install leaves no file
half-written, and running it again (`mailtui install --resume`, or the same install where nothing was
saved yet) finishes, `mailtui check` passes, and the machine ends as an uninterrupted install leaves it.

How (see mailtui/faults.py and interrupt_helpers.py): one traced, uninterrupted install per release lists
every point, with each file's content after each point. Then every selected point gets a fresh machine —
configuration points a host stacked on a cached "packages installed" layer (a fraction of a second),
package points a bare base — an install killed there, checks of what the kill left, the install run again,
`mailtui check`, and a comparison with the uninterrupted result.

Which points: every point with MAILTUI_FAULT_ALL=1 (all 191-194 of the configuration steps a release;
about 35 minutes a release, 2 at a time on 2 cores). In CI, a sample that still covers every kind of
state a kill can leave, one point of each class (point_class: the backup index written or only its
temp file, a backup copy made but not indexed, the answers saved, the progress file, a config file
written or cut between temp file and rename, a directory's owner set, a read-only command, and each
command that changes something: service starts, openssl, postconf -e/-M/-P, postfix check, groupadd,
useradd, ufw allow/enable, fail2ban) — 31 classes; a class both releases have is walked on one of them,
alternately (both with MAILTUI_FAULT_BOTH=1): about 16 points a release. Package points, one of each class: the
package dpkg unpacks after mariadb-server-core (the MariaDB server binary is unpacked, the mariadb-server
package not yet; on both releases: apt 2 and apt 3 differ), debconf's preseeding and apt done (both on Debian
12) (MAILTUI_FAULT_ALL=1: every point of the packages step). The webmail's steps (Roundcube, nginx, PHP-FPM,
ManageSieve, the security updates: WEBMAIL_ANSWERS) get a walk of their own on Debian 13, on the webmail's packages
layer: every class of point they add that the walk above has not, and the first write of their own files, whole and
cut before its rename (MAILTUI_FAULT_ALL=1: every point they add); and, on a fresh machine, a kill while dpkg
unpacks roundcube-core (MAILTUI_FAULT_ALL=1: each package the webmail adds, and after its preseeding and apt).
Each release's configuration and package points are one walk, and the webmail's steps and packages another: the
fresh machines' points (a whole package install each) start first, and the other host walks configuration points
meanwhile. MAILTUI_FAULT_JOBS hosts run at a time in each test process (default: one a CPU shared by the xdist
workers, at least 2).
MAILTUI_FAULT_ONLY=dpkg-unpack:19,any:40 walks just those points (the
specs the walk prints), to re-run what a full walk found.
"""

from __future__ import annotations

import collections
import os
from typing import Any

import pytest

from mailtui.policy import web
from tests.reliability import interrupt_helpers as ih

pytestmark = pytest.mark.reliability
ref = ih.reference_fixture  # one uninterrupted, traced install per release (Debian 12 and 13)


def point_class(point: dict[str, Any]) -> tuple[str, str]:
    """What kind of point this is, for sampling: the same class leaves the machine in the same kind of
    state (a config file just written, its temp file synced but not renamed, a backup copy made but not
    yet indexed, postconf -e done, a service started, …)."""
    target = point["detail"].split(" (")[0]
    if point["kind"] in ("write", "write-tmp"):
        if target.startswith(f"{ih.STATE_DIR}/backups/original/"):
            what = "backup copy"
        elif target == f"{ih.STATE_DIR}/backups/index.json":
            what = "backup index"
        elif target.startswith(f"{ih.STATE_DIR}/install/state"):
            what = "progress"
        elif target.startswith(f"{ih.STATE_DIR}/restarts-owed/"):
            what = "restart owed"  # one step's marker as any other's (system/owed_restarts.py)
        elif ih.is_state(target):
            what = target
        elif " (" in point["detail"]:
            what = "directory"
        else:
            what = "config file"
        return point["kind"], what
    if point["effect"] == "none":
        return point["kind"], "read"
    words = target.split()
    verb = next((w.split("=")[0] for w in words[1:3] if not w.startswith("-") or w in ("-e", "-M", "-P")), "")
    return point["kind"], f"{os.path.basename(words[0])} {verb}".strip()


def first_of_each_class(trace: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    firsts: dict[tuple[str, str], dict[str, Any]] = {}
    for point in trace:
        firsts.setdefault(point_class(point), point)
    return firsts


def config_jobs(ref: ih.Reference) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """Every point with MAILTUI_FAULT_ALL=1; else (CI) one point of each class (point_class), the first,
    every kind of state a kill leaves: a class both releases have on one of them, alternately (ih.split; on
    both with MAILTUI_FAULT_BOTH=1), about 16 points a release instead of 31."""
    if ih.exhaustive() or ih.only():
        chosen = list(ref.trace)
    else:
        firsts = first_of_each_class(ref.trace)
        if ih.both_releases():
            sample = list(firsts.values())
        else:
            other = first_of_each_class(ih.get_reference(ih.other_release(ref.release)).trace)
            bookworm = firsts if ref.release == "bookworm" else other
            sample = ih.split(ref.release, firsts, other, list(bookworm))
        wanted = {p["n"] for p in sample}
        chosen = [p for p in ref.trace if p["n"] in wanted]
    return _only([(point, ih.spec_of(point), {}) for point in chosen])


def _only(jobs: list[tuple[dict[str, Any], str, dict[str, Any]]]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    wanted = ih.only()
    return jobs if wanted is None else [job for job in jobs if job[1] in wanted]


def package_jobs(ref: ih.Reference) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    trace = ref.layer.packages_trace
    unpacks = [p for p in trace if p["kind"] == "dpkg-unpack"]
    if ih.exhaustive() or ih.only():
        points = [p for p in trace if p["effect"] == "change"]
    else:
        # One point of each class: a dpkg unpack — the one after mariadb-server-core (the MariaDB server
        # binary is unpacked then, the mariadb-server package not yet: the state that once made the install
        # skip the server) —, debconf's preseeding, apt done.
        names = [p["detail"] for p in unpacks]
        after_core = names.index("mariadb-server-core") + 1 if "mariadb-server-core" in names[:-1] else len(names) // 2
        # The unpack on both releases (apt 2 and apt 3 differ there); debconf's preseeding and apt done, mailtui's
        # own commands around apt, the same on both, on Debian 12 alone (on both with MAILTUI_FAULT_BOTH=1): the
        # Debian 13 worker of the tier is the longer one since it walks the webmail's steps too (measured cold
        # 2026-12-07: ~1330 s against ~1160 s of test time), and each package point costs a whole package
        # install (~70-110 s).
        points = [p for p in trace if p["n"] == unpacks[after_core]["n"]]
        around = ["debconf-set-selections", "apt-get -y"]
        if not ih.both_releases() and ref.release != ih.RELEASES[0]:
            around = []
        points += [next(p for p in trace if p["detail"].startswith(prefix)) for prefix in around]
    return _only([(p, f"{p['kind']}:{p['index']}", {"fresh": True}) for p in points])


def test_the_points_of_an_install(ref: ih.Reference) -> None:
    """How many points a fresh install has, by kind and effect (printed for the record)."""
    kinds = collections.Counter((p["kind"], p["effect"]) for p in ref.trace)
    packages = collections.Counter((p["kind"], p["effect"]) for p in ref.layer.packages_trace)
    print(f"\n[{ref.release}] packages step (fresh machine): {len(ref.layer.packages_trace)} points {dict(packages)}")
    print(f"[{ref.release}] whole install on a machine with the packages: {len(ref.trace)} points {dict(kinds)}")
    print(f"[{ref.release}] reference install {ref.install_seconds:.1f} s, check {ref.check_seconds:.1f} s, "
          f"layer {ref.layer.build_seconds:.1f} s")
    assert packages[("dpkg-unpack", "change")] > 10
    assert kinds[("write", "change")] and kinds[("write-tmp", "none")] and kinds[("command", "change")]
    # Every configuration file the install writes is backed up (recorded in the index) before it.
    first_index_write = min(p["n"] for p in ref.trace if p["detail"].endswith("/backups/index.json"))
    first_config_write = min(p["n"] for p in ref.trace if p["kind"] == "write" and not ih.is_state(p["detail"]))
    assert first_index_write < first_config_write
    assert {"/etc/postfix/main.cf", "/etc/postfix/master.cf", "/etc/dovecot/dovecot.conf"} <= set(ref.managed)


@pytest.mark.timeout(3600)
def test_killed_at_any_point_of_the_configuration_and_packages_steps(ref: ih.Reference) -> None:
    """Killed at the configuration steps' points (on the packages layer) and, on a fresh machine, while dpkg
    unpacks (apt, dpkg and the maintainer scripts killed first), after debconf's preseeding, after apt finished:
    the next install repairs dpkg and finishes. One walk, the package points first (each a whole package install,
    ~70-110 s): with two hosts at a time the other host walks configuration points meanwhile (two walks one after
    the other left a host idle during a release's one or three package points: ~45-90 s a release, 2026-12-08)."""
    packages = package_jobs(ref)
    config = config_jobs(ref)
    unpacks = sum(p["kind"] == "dpkg-unpack" for p in ref.layer.packages_trace)
    walked = sum(point["kind"] == "dpkg-unpack" for point, _spec, _options in packages)
    fresh = {id(point) for point, _spec, _options in packages}

    def detail(outcomes: list[ih.Outcome]) -> str:
        steps = [o for o in outcomes if id(o.point) not in fresh]
        per_point = sum(o.seconds for o in steps) / max(1, len(steps))
        return (f": {len(config)} of the configuration steps' {len(ref.trace)} ({per_point:.1f} s a point; re-run "
                f"with --resume {sum(o.again == '--resume' for o in steps)}, with --answers "
                f"{sum(o.again == '--answers' for o in steps)}) and {len(packages)} of the packages step "
                f"({walked} of {unpacks} dpkg unpacks) on a fresh machine")

    ih.walk_and_check(ref, [*packages, *config], "configuration and packages steps", detail)


# The walk over the webmail's steps (Roundcube, nginx, PHP-FPM, ManageSieve, the security updates) runs on one
# release: Debian 13's worker of the tier has room (see package_jobs); the steps are the same code on both.
WEBMAIL_RELEASE = "trixie"


@pytest.fixture(scope="module", params=[WEBMAIL_RELEASE])
def webmail_ref(request: pytest.FixtureRequest) -> ih.Reference:
    """One uninterrupted, traced install with the webmail and the updates on, on their own packages layer."""
    if os.geteuid() != 0:
        pytest.skip("interruption tests need root (namespaces, overlayfs)")
    return ih.get_reference(request.param, ih.WEBMAIL_ANSWERS)


def webmail_points(webmail: ih.Reference, plain: list[ih.Reference]) -> list[dict[str, Any]]:
    """The points the webmail and updates steps add: those whose detail (a path, a command line) no install
    without them has."""
    known = {ih.norm_detail(p["detail"]) for ref in plain for p in ref.trace}
    return [p for p in webmail.trace if ih.norm_detail(p["detail"]) not in known]


def webmail_jobs(webmail: ih.Reference, plain: list[ih.Reference],
                 added: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """Every point the webmail adds with MAILTUI_FAULT_ALL=1; else one of each class the plain walk has not
    (point_class: nginx, PHP-FPM, dbconfig's and the updates' commands), and the first write of the webmail's
    own files, both whole and cut between temp file and rename (every file goes through the same atomic write:
    system/files.py)."""
    if ih.exhaustive() or ih.only():
        chosen = added
    else:
        walked = {point_class(p) for ref in plain for p in ref.trace}
        firsts = first_of_each_class(added)
        chosen = [p for cls, p in firsts.items() if cls not in walked]
        own = [p for p in added if not ih.is_state(p["detail"].split(" (")[0])]
        chosen += [next(p for p in own if p["kind"] == kind) for kind in ("write", "write-tmp")]
    wanted = {p["n"] for p in chosen}
    return _only([(point, ih.spec_of(point), {}) for point in webmail.trace if point["n"] in wanted])


def webmail_package_jobs(webmail: ih.Reference) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """Kills in the packages step of a fresh machine with the webmail on (fresh=True: a bare base). The points
    are named by their package (dpkg-unpack:=NAME) and command (command:TEXT): the webmail's layer stands on the
    core layer, so its trace numbers only what the webmail adds to the core's packages, not what a fresh
    machine unpacks. In CI one: roundcube-core's unpack (nginx and PHP-FPM are installed, Roundcube half
    unpacked, its dbconfig-common postinst not run: the re-run's repair runs it, then the webmail step keeps the
    DES key it made). With MAILTUI_FAULT_ALL=1 every package the webmail adds, and after each of its preseeding
    and apt commands."""
    def by_name(point: dict[str, Any], spec: str) -> tuple[dict[str, Any], str, dict[str, Any]]:
        return {**point, "index": None}, spec, {"fresh": True}  # the spec names it: its number is unknown

    trace = webmail.layer.packages_trace
    unpacks = [p for p in trace if p["kind"] == "dpkg-unpack"]
    if not (ih.exhaustive() or ih.only()):
        return [by_name(next(p for p in unpacks if p["detail"] == "roundcube-core"), "dpkg-unpack:=roundcube-core")]
    jobs = [by_name(p, f"dpkg-unpack:={p['detail']}") for p in unpacks]
    seen: set[str] = set()
    for p in trace:
        program = p["detail"].split()[0]
        if p["kind"] == "command" and p["effect"] == "change" and program not in seen:
            seen.add(program)  # command:TEXT names the first such command of the fresh install
            jobs.append(by_name(p, f"command:{program}"))
    return _only(jobs)


@pytest.mark.timeout(3600)
def test_killed_at_any_point_of_the_webmail_steps_and_packages(webmail_ref: ih.Reference) -> None:
    """The same promise over the webmail's steps: killed anywhere in them, the install run again finishes,
    `mailtui check` (nginx, PHP-FPM, the login page, ManageSieve, the updates) passes and every file ends as
    an uninterrupted install leaves it. And killed while dpkg unpacks the webmail's packages on a fresh machine:
    the next install repairs dpkg and finishes the same way — Roundcube's config.inc.php but for its DES key
    (Debian's postinst makes one at random on each machine; mailtui keeps it). One walk, the fresh machine's
    point first: the other host walks the steps' points meanwhile (as two walks: 117 s + 117 s, 2026-12-08)."""
    assert "masked" in webmail_ref.final[web.CONFIG], "the snapshot did not find the DES key it masks"
    plain = [ih.get_reference(release) for release in ih.RELEASES]
    added = webmail_points(webmail_ref, plain)
    assert len(added) > 20, f"the webmail adds only {len(added)} points: was it installed?"
    packages = webmail_package_jobs(webmail_ref)
    jobs = [*packages, *webmail_jobs(webmail_ref, plain, added)]
    ih.walk_and_check(webmail_ref, jobs, "webmail steps and packages", lambda _: (
        f" ({len(jobs) - len(packages)} of the {len(added)} points their steps add, their reference install "
        f"{webmail_ref.install_seconds:.0f} s; {len(packages)} in their packages on a fresh machine)"))


def test_the_checks_can_fail() -> None:
    """Control (no host needed): what the walk checks after a kill and at the end does flag a half-written
    file, a stray temp file, a wrong backup copy and a difference from the uninterrupted install."""
    from pathlib import Path

    conf = "/etc/dovecot/dovecot.conf"
    layer = ih.Layer("bookworm", Path("/nonexistent"), Path("/nonexistent"))
    write = {"n": 1, "kind": "write", "index": 1, "detail": conf, "effect": "change", "files": {conf: "B"}}
    ref = ih.Reference("bookworm", layer, [write], before={}, final={conf: {"type": "file", "sha256": "B"}},
                       install_seconds=0, check_seconds=0)
    before = {conf: {"type": "file", "sha256": "A"}}
    fine = {conf: {"type": "file", "sha256": "B"}}
    assert ih.kill_problems(ref, before, fine, [write], "") == []
    half = {conf: {"type": "file", "sha256": "half"}}
    assert "half-written" in ih.kill_problems(ref, before, half, [write], "")[0]
    stray = {**fine, "/etc/dovecot/.dovecot.conf.abcd1234.mailtui-tmp": {"type": "file", "sha256": "B"}}
    assert "temp file" in ih.kill_problems(ref, before, stray, [write], "")[0]
    index = '{"paths": {"/etc/dovecot/dovecot.conf": {"was": "file", "sha256": "A"}}}'
    copy = {**fine, f"{ih.STATE_DIR}/backups/original{conf}": {"type": "file", "sha256": "B"}}
    assert "backup" in ih.kill_problems(ref, before, copy, [write], index)[0]
    assert ih.final_problems(ref, {conf: {"type": "file", "sha256": "B"}}) == []
    assert ih.final_problems(ref, {conf: {"type": "file", "sha256": "C"}})
    assert ih.rollback_problems(before, half)
    # A value made at random on each machine (Roundcube's DES key) is masked on a fresh machine only, and only it.
    rc = "/etc/roundcube/config.inc.php"
    ref.final[rc] = {"type": "file", "sha256": "K1", "lines": "L1", "masked": "M", "mode": 0o640}
    ref.versions[rc] = {"K1"}
    assert ih.final_problems(ref, {**fine, rc: {**ref.final[rc], "sha256": "K2", "lines": "L2"}}, fresh=True) == []
    assert ih.final_problems(ref, {**fine, rc: {**ref.final[rc], "sha256": "K2", "lines": "L2"}})
    assert ih.final_problems(ref, {**fine, rc: {**ref.final[rc], "sha256": "K2", "lines": "L2", "masked": "N"}},
                             fresh=True)
    assert ih.final_problems(ref, {**fine, rc: {**ref.final[rc], "sha256": "K2", "lines": "L2", "mode": 0o644}},
                             fresh=True)
