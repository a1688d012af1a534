"""The [security] section of the answers: defaults, ranges, the ignore list, refusals naming the field,
and a round trip through the saved file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtui.errors import ValidationError
from mailtui.model import answers, answers_file, validate
from mailtui.model import problems as problems_mod

BASE = """
hostname = "mail.example.test"
[[domains]]
name = "example.test"
"""


def load(security: str) -> answers.Answers:
    return problems_mod.check(answers_file.loads(BASE + "[security]\n" + security), check_files=False)


def refused(security: str) -> dict[str, str]:
    with pytest.raises(ValidationError) as exc:
        load(security)
    return exc.value.problems


def test_defaults() -> None:
    a = problems_mod.check(answers_file.loads(BASE), check_files=False)
    assert a.security == answers.Security(True, 5, 600, 3600, ())
    assert load("") == a


def test_values_and_canonical_ignore_list() -> None:
    a = load('fail2ban = false\nmax_retry = 1\nfind_time = 86400\nban_time = 31536000\n'
             'ignore = [" 192.0.2.7 ", "198.51.100.9/24", "2001:DB8::/32", "2001:db8::1/128", "10.0.0.1/32"]\n')
    assert a.security == answers.Security(False, 1, 86400, 31536000,
                                          ("192.0.2.7", "198.51.100.0/24", "2001:db8::/32", "2001:db8::1", "10.0.0.1"))


@pytest.mark.parametrize(("text", "field", "words"), [
    ("max_retry = 0", "security.max_retry", "from 1 to 100"),
    ("max_retry = 101", "security.max_retry", "from 1 to 100"),
    ("max_retry = true", "security.max_retry", "not true/false"),
    ('max_retry = "5"', "security.max_retry", "an integer"),
    ("find_time = 59", "security.find_time", "from 60 to 86400"),
    ("ban_time = 31536001", "security.ban_time", "from 60 to 31536000"),
    ('fail2ban = "yes"', "security.fail2ban", "true or false"),
    ('ignore = "192.0.2.7"', "security.ignore", "list of strings"),
    ("ignore = [7]", "security.ignore[0]", "must be a string"),
    ('ignore = ["192.0.2.7", "nonsense"]', "security.ignore[1]", "not an IP address or network"),
    ('ignore = ["192.0.2.7", "192.0.2.7/32"]', "security.ignore[1]", "listed twice"),
    ('ignore = ["fe80::1%eth0"]', "security.ignore[0]", "scoped"),
    ('ignore = [""]', "security.ignore[0]", "is empty"),
    ('ignore = ["192.0.2.7 # x"]', "security.ignore[0]", "not an IP address"),
    ("bantime = 60", "security.bantime", "unknown setting"),
])
def test_refused_naming_the_field(text: str, field: str, words: str) -> None:
    problems = refused(text)
    assert field in problems and words in problems[field], problems


def test_every_problem_at_once() -> None:
    problems = refused('max_retry = 0\nfind_time = 1\nban_time = 1\nignore = ["x", "y"]\n')
    assert {"security.max_retry", "security.find_time", "security.ban_time", "security.ignore[0]",
            "security.ignore[1]"} <= set(problems)


def test_too_many_ignored_addresses() -> None:
    many = ", ".join(f'"10.0.{i // 256}.{i % 256}"' for i in range(answers.MAX_IGNORE + 1))
    assert "at most" in refused(f"ignore = [{many}]")["security.ignore"]


def test_security_in_code_with_wrong_types_is_a_problem_not_a_crash() -> None:
    a = answers.Answers(hostname="mail.example.test", domains=[answers.Domain("example.test")],
                        security=answers.Security(fail2ban="yes", max_retry="5", ignore="192.0.2.7"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as exc:
        problems_mod.check(a, check_files=False)
    assert {"security.fail2ban", "security.max_retry", "security.ignore"} <= set(exc.value.problems)


def test_round_trip_through_the_saved_file(tmp_path: Path) -> None:
    a = load('max_retry = 3\nignore = ["192.0.2.0/24", "2001:db8::7"]\n')
    text = answers_file.dumps(a)
    assert '[security]\nfail2ban = true\nmax_retry = 3\nfind_time = 600\nban_time = 3600\n' \
           'ignore = ["192.0.2.0/24", "2001:db8::7"]\n' in text
    assert problems_mod.check(answers_file.loads(text), check_files=False).security == a.security
    empty = answers_file.dumps(load(""))
    assert "ignore = []\n" in empty
    assert answers_file.loads(empty).security.ignore == ()


# ---------------------------------------------------------------- properties of the address validators

ADDRESSY = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789abcdefABCDEF.:/% \t\n-", max_size=45),
    st.ip_addresses().map(str),
    st.builds(lambda ip, n: f"{ip}/{n}", st.ip_addresses(v=4).map(str), st.integers(-1, 40)),
    st.builds(lambda ip, n: f"{ip}/{n}", st.ip_addresses(v=6).map(str), st.integers(0, 140)),
)


@settings(max_examples=300, deadline=None)
@given(ADDRESSY)
def test_ignore_entries_are_canonical_and_safe_or_refused(text: str) -> None:
    try:
        value = validate.check_ip_network(text, "security.ignore[0]")
    except ValidationError as exc:
        assert list(exc.problems) == ["security.ignore[0]"]
        return
    assert validate.check_ip_network(value, "x") == value  # canonical form is stable
    assert re.fullmatch(r"[0-9a-f.:/]+", value), value  # one token: safe in fail2ban's ignoreip list


@settings(max_examples=300, deadline=None)
@given(ADDRESSY)
def test_unban_addresses_are_single_addresses_or_refused(text: str) -> None:
    try:
        value = validate.check_ip_address(text)
    except ValidationError as exc:
        assert list(exc.problems) == ["address"]
        return
    assert "/" not in value and validate.check_ip_address(value) == value
    assert re.fullmatch(r"[0-9a-f.:]+", value), value  # never an option (-x) or a shell word for fail2ban-client
