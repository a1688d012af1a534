"""The budget by issue (tests/harness/budget.py): each tier's wall time shared out by the tests' seconds."""

from __future__ import annotations

from pathlib import Path

from tests.harness import budget


def test_tests_are_the_feature_of_the_module_or_test_their_issue_added() -> None:
    assert budget.feature_of("tests/e2e/test_dkim.py::test_x[bookworm]") == "issue 15: DKIM, SRS, DNS records"
    assert budget.feature_of("tests/e2e/test_mail.py::test_mailtui_dns_covers_a_domain_added_later[trixie]") == \
        "issue 15: DKIM, SRS, DNS records"
    assert budget.feature_of("tests/e2e/test_mail.py::test_check_passes[trixie]") == budget.BASE
    walks = "tests/reliability/test_interrupted_install.py::test_killed_at_any_point_of_the_"
    assert budget.feature_of(walks + "webmail_steps_and_packages[trixie]") == "issue 18: webmail"
    assert budget.feature_of(walks + "configuration_and_packages_steps[trixie]") == budget.BASE
    assert budget.nodeid("tests.e2e.test_dkim", "test_a[trixie]") == "tests/e2e/test_dkim.py::test_a[trixie]"
    assert budget.nodeid("tests.unit.test_x.TestY", "test_z") == "tests/unit/test_x.py::TestY::test_z"
    # Every listed module exists (a renamed test file would silently move its time to the base).
    for prefixes in budget.FEATURES.values():
        for prefix in prefixes:
            assert Path(prefix.split("::")[0]).exists(), prefix


def test_a_tiers_wall_time_is_shared_by_the_tests_seconds(tmp_path: Path) -> None:
    (tmp_path / "tiers.tsv").write_text("setup\t20\nlint\t1\ne2e\t300\n")
    (tmp_path / "e2e-1.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.e2e.test_dkim" name="test_a[bookworm]" time="100"/>'
        '<testcase classname="tests.e2e.test_mail" name="test_b[trixie]" time="200"/>'
        '<testcase classname="tests.e2e.test_spam" name="test_c[trixie]" time="300"/>'
        '</testsuite></testsuites>')
    whole, by_tier = budget.shares(tmp_path)
    assert by_tier["e2e"] == {"issue 15: DKIM, SRS, DNS records": 50.0, budget.BASE: 100.0, "issue 17: spam": 150.0}
    assert whole[budget.BASE] == 121.0  # setup and lint are the base's
    assert budget.main(["budget", str(tmp_path)]) == 0
