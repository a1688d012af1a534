"""The DKIM step's declaration: which keys it makes, what rspamd's signing configuration lists, what the test
profile switches off, and what it removes when DKIM is switched off. Nothing on this machine is touched:
the state directory is a temporary one and only resources are inspected (the real rspamd is the e2e test's).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mailtui import paths
from mailtui.errors import MailtuiError
from mailtui.model import dkim
from mailtui.model.answers import Answers, Dkim, Domain, Spam
from mailtui.model.dkim import DkimState
from mailtui.steps import dkim as step
from mailtui.steps.resources import AbsentFileResource, FileResource
from mailtui.system.platform import Platform
from tests.state import use_state_dir

# The spam filter off: these are DKIM's own resources (tests/unit/test_spam_step.py has the filter's).
ANSWERS = Answers(hostname="mail.example.test", profile="test", domains=[Domain("example.test"), Domain("b.test")],
                  spam=Spam(enabled=False))


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return use_state_dir(monkeypatch, tmp_path / "state")


def resources(answers: Answers) -> dict[str, object]:
    ctx = step.Context(answers=answers, platform=Platform("debian", "12", "bookworm", "Debian 12", systemd=False))
    return {r.target: r for r in step.DkimStep().resources(ctx)}


def test_every_domain_gets_two_keys_and_only_the_signing_one_is_listed(state_dir: Path) -> None:
    found = resources(ANSWERS)
    keys = sorted(t for t, r in found.items() if isinstance(r, step.DkimKeyResource))
    month = keys[0].rsplit(".", 2)[1][:6]
    assert keys == sorted(f"{dkim.KEY_DIR}/{d}.{month}{s}.key" for d in ("example.test", "b.test") for s in "ab")
    signing = found[str(step.SIGNING_CONF)]
    assert isinstance(signing, FileResource)
    assert f'selector = "{month}a"' in signing.content and f'selector = "{month}b"' not in signing.content
    assert "example.test {" in signing.content and "b.test {" in signing.content
    state = DkimState.from_json(found[str(paths.DKIM_STATE)].content)  # type: ignore[union-attr]
    assert {(k.domain, k.role) for k in state.keys} == {(d, r) for d in ("example.test", "b.test")
                                                          for r in ("signing", "standby")}


def test_a_domain_added_since_stays_signed_and_a_rotation_is_kept(state_dir: Path) -> None:
    today = "2026-12-05"
    state = dkim.add_domain(dkim.add_domain(DkimState(), "example.test", today), "later.test", today)
    state = dkim.rotate(state, "example.test", "2027-01-10")
    paths.STATE_DIR.mkdir(parents=True)
    paths.DKIM_STATE.write_text(state.to_json())
    found = resources(ANSWERS)
    signing = found[str(step.SIGNING_CONF)].content  # type: ignore[union-attr]
    assert "example.test.202612b.key" in signing and "example.test.202612a.key" not in signing  # rotated: b signs
    assert "later.test {" in signing  # added with `mailtui domain add`, not in the answers
    assert f"{dkim.KEY_DIR}/example.test.202701a.key" in found  # the new standby
    assert f"{dkim.KEY_DIR}/example.test.202612a.key" not in found  # retired: kept, not made again


def test_the_test_profile_switches_remote_calls_off_and_production_leaves_them(state_dir: Path) -> None:
    test = resources(ANSWERS)
    production = resources(replace(ANSWERS, profile="production"))
    for module in step.REMOTE_MODULES:
        path = str(step.remote_module_file(module))
        assert isinstance(test[path], FileResource) and "enabled = false;" in test[path].content  # type: ignore
        assert isinstance(production[path], AbsentFileResource)
    options = test[str(step.OPTIONS_INC)].content  # type: ignore[union-attr]
    assert 'local_addrs = ["127.0.0.0/8", "::1"];' in options
    # .test is a public suffix in the test profile only (rspamd's registered domains: DKIM, DMARC).
    suffixes = str(step.TEST_SUFFIXES)
    assert f'url_tld = "{suffixes}";' in options
    assert test[suffixes].content.splitlines()[-1] == "test"  # type: ignore[union-attr]
    assert isinstance(production[suffixes], AbsentFileResource)
    assert "url_tld" not in production[str(step.OPTIONS_INC)].content  # type: ignore[union-attr]
    headers = test[str(step.MILTER_HEADERS_CONF)].content  # type: ignore[union-attr]
    assert "authentication-results" in headers and "remove = 0;" in headers


def test_switched_off_the_step_removes_its_files_and_keeps_the_keys(state_dir: Path) -> None:
    found = resources(replace(ANSWERS, dkim=Dkim(enabled=False)))
    assert all(isinstance(r, AbsentFileResource) for r in found.values())
    assert set(found) == {str(p) for p in step.mailtui_files()}
    assert not any(t.startswith(dkim.KEY_DIR) for t in found)


def test_dkim_off_with_the_spam_filter_on_keeps_rspamd_signing_nothing(state_dir: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step.spam_step, "saved_password", lambda: "s3cret")
    answers = replace(ANSWERS, dkim=Dkim(enabled=False), spam=Spam())
    found = resources(answers)
    signing = found[str(step.SIGNING_CONF)]
    assert isinstance(signing, FileResource) and "enabled = false;" in signing.content
    assert not any(t.startswith(dkim.KEY_DIR) for t in found) and str(paths.DKIM_STATE) not in found
    assert step.DkimStep().services_for(step.Context(answers=answers, platform=Platform(
        "debian", "12", "bookworm", "Debian 12", systemd=False))) == ("rspamd",)


def test_a_state_file_that_cannot_be_read_stops_naming_it(state_dir: Path) -> None:
    paths.STATE_DIR.mkdir(parents=True)
    paths.DKIM_STATE.write_text('{"keys": [{"domain": "a.test"}]}')
    with pytest.raises(MailtuiError, match=r"dkim.json: keys\[0\]"):
        resources(ANSWERS)


def test_postfix_passes_submitted_local_and_bounce_mail_to_rspamd_only_with_dkim_on() -> None:
    from mailtui.steps.postfix import main_cf

    on = main_cf(ANSWERS, log_to_file=False)
    assert on["smtpd_milters"] == "inet:127.0.0.1:11332" and on["non_smtpd_milters"] == "$smtpd_milters"
    assert on["internal_mail_filter_classes"] == "bounce"  # Postfix's own bounces are signed too
    assert on["milter_default_action"] == "accept"
    off = main_cf(replace(ANSWERS, dkim=Dkim(enabled=False)), log_to_file=False)
    assert off["smtpd_milters"] == off["non_smtpd_milters"] == off["internal_mail_filter_classes"] == ""
    # The spam filter alone also needs rspamd as the milter.
    spam_only = main_cf(replace(ANSWERS, dkim=Dkim(enabled=False), spam=Spam()), log_to_file=False)
    assert spam_only["smtpd_milters"] == "inet:127.0.0.1:11332"
