"""The test budget by issue: how much of the run's wall time each feature's tests take.

Issue 12 set the budget: the tests of its time at most 30 minutes on this 2-core machine with cold caches,
and each of the five issues after it that add end-to-end tests at most 5 more (both releases), so that the
whole run stays within 55 minutes (CI stops at 90). `scripts/test` writes each pytest tier's JUnit report
(every test's setup + call + teardown seconds) and each tier's wall time; this module shares each tier's wall
time out among the tests that ran in it, in proportion to their seconds (the tiers run tests several at a
time, so a test's seconds are not wall seconds), and sums the shares by feature.

Which tests are a feature's: the modules (or tests) the feature's issue added, in FEATURES below. What is not
listed counts as the base — also what a feature added inside the base's tests (a config walk's extra points,
its unit and TUI tests, a package in the shared layer): the base's figure is the conservative one.

    python -m tests.harness.budget REPORTS_DIR     (scripts/test runs it after the tiers)
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

BASE = "base (issue 12 and before)"
BASE_MINUTES = 30.0
FEATURE_MINUTES = 5.0

# Feature -> the node id prefixes (path[::test]) of the tests its issue added.
FEATURES: dict[str, tuple[str, ...]] = {
    "issue 13: systemd, reboot, SSH": (
        "tests/e2e/test_systemd_platform.py", "tests/e2e/test_ssh_session.py", "tests/e2e/test_journal_log.py",
        "tests/testhost/test_systemd_hosts.py",
    ),
    "issue 15: DKIM, SRS, DNS records": (
        "tests/e2e/test_dkim.py", "tests/e2e/test_dns_check.py",
        "tests/e2e/test_mail.py::test_mailtui_dns_covers_a_domain_added_later",
    ),
    "issue 16: ACME, TLS profile": ("tests/e2e/test_acme.py", "tests/reliability/test_tls_profile.py"),
    "issue 17: spam": ("tests/e2e/test_spam.py", "tests/reliability/test_spam_load.py"),
    "issue 18: webmail": (
        "tests/e2e/test_webmail.py",
        "tests/reliability/test_interrupted_install.py::test_killed_at_any_point_of_the_webmail_steps_and_packages",
    ),
}


def feature_of(nodeid: str) -> str:
    for feature, prefixes in FEATURES.items():
        if any(nodeid == p or nodeid.startswith((p + "::", p + "[")) for p in prefixes):
            return feature
    return BASE


def nodeid(classname: str, name: str) -> str:
    """pytest's JUnit classname is the module's dotted path, then a test class's name (Test…) if any."""
    parts = classname.split(".")
    n = next((i for i, part in enumerate(parts) if part.startswith("Test")), len(parts))
    return "::".join(["/".join(parts[:n]) + ".py", *parts[n:], name])


def test_seconds(report: Path) -> dict[str, float]:
    """Seconds by feature in one JUnit report."""
    sums: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).getroot().iter("testcase"):
        sums[feature_of(nodeid(case.get("classname", ""), case.get("name", "")))] += float(case.get("time", 0))
    return sums


def shares(reports: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Wall seconds by feature for the whole run, and by tier. A tier without a report (setup, lint) is the base's."""
    by_tier: dict[str, dict[str, float]] = {}
    for line in (reports / "tiers.tsv").read_text().splitlines():
        tier, wall = line.split("\t")
        sums: dict[str, float] = defaultdict(float)
        for report in sorted(reports.glob(f"{tier}*.xml")):
            for feature, seconds in test_seconds(report).items():
                sums[feature] += seconds
        total = sum(sums.values())
        by_tier[tier] = ({f: float(wall) * s / total for f, s in sums.items()} if total > 0
                         else {BASE: float(wall)})
    whole: dict[str, float] = defaultdict(float)
    for tier_shares in by_tier.values():
        for feature, seconds in tier_shares.items():
            whole[feature] += seconds
    return whole, by_tier


def main(argv: list[str]) -> int:
    reports = Path(argv[1])
    whole, by_tier = shares(reports)
    tiers = [t for t in by_tier if t not in ("setup", "lint")]
    print(f"{'':34}{'minutes':>8}{'budget':>8}  " + " ".join(f"{t:>11}" for t in tiers))
    over = []
    for feature in [BASE, *FEATURES]:
        minutes = whole.get(feature, 0.0) / 60
        budget = BASE_MINUTES if feature == BASE else FEATURE_MINUTES
        if minutes > budget:
            over.append(feature)
        cells = " ".join(f"{by_tier[t].get(feature, 0.0) / 60:>11.1f}" for t in tiers)
        print(f"{feature:34}{minutes:>8.1f}{budget:>8.0f}  {cells}")
    for feature in over:
        print(f"WARNING: {feature} is over its budget (README, Tests: the budget by issue)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
