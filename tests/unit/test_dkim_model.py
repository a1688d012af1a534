"""The DKIM key model: selectors, roles, rotation, the saved state and the TXT record."""

from __future__ import annotations

import pytest

from mailtui.model import dkim
from mailtui.model.dkim import DkimState, DkimStateError


def test_a_domain_gets_a_signing_and_a_standby_key_once() -> None:
    state = dkim.add_domain(DkimState(), "example.test", "2026-12-05")
    assert [(k.selector, k.role) for k in state.of("example.test")] == [("202612a", "signing"),
                                                                         ("202612b", "standby")]
    assert dkim.add_domain(state, "example.test", "2027-01-09") == state  # nothing missing: nothing changes
    assert state.signing("example.test").path == "/var/lib/rspamd/dkim/example.test.202612a.key"
    assert state.signing("example.test").record_name == "202612a._domainkey.example.test"
    # A lost role is made again, with a selector not taken before.
    without_standby = DkimState(tuple(k for k in state.keys if k.role != "standby"))
    remade = dkim.add_domain(without_standby, "example.test", "2026-12-20")
    assert remade.standby("example.test").selector == "202612b"


def test_rotation_promotes_the_standby_and_keeps_the_old_key_published() -> None:
    state = dkim.add_domain(DkimState(), "example.test", "2026-12-05")
    state = dkim.add_domain(state, "other.test", "2026-12-05")
    rotated = dkim.rotate(state, "example.test", "2027-02-01")
    roles = {k.selector: k.role for k in rotated.of("example.test")}
    assert roles == {"202612a": "retired", "202612b": "signing", "202702a": "standby"}
    assert rotated.of("other.test") == state.of("other.test")
    twice = dkim.rotate(rotated, "example.test", "2027-02-01")
    assert {k.selector: k.role for k in twice.of("example.test")} == {
        "202612a": "retired", "202612b": "retired", "202702a": "signing", "202702b": "standby"}
    with pytest.raises(DkimStateError, match="nowhere.test"):
        dkim.rotate(state, "nowhere.test", "2027-02-01")


def test_selectors_run_past_z() -> None:
    taken = {f"202612{dkim._letters(i)}" for i in range(26)}
    assert dkim.next_selector(taken, "202612") == "202612aa"
    assert dkim._letters(27) == "ab"


def test_the_state_survives_json_and_bad_files_are_named() -> None:
    state = dkim.add_domain(DkimState(), "example.test", "2026-12-05")
    assert DkimState.from_json(state.to_json()) == state
    for text, said in (
        ("{", "not JSON"),
        ('{"keys": {}}', '"keys" list'),
        ('{"keys": [{"domain": "a.test"}]}', "keys[0]"),
        ('{"keys": [{"domain": "a.test", "selector": "202612a", "role": "boss", "created": "x"}]}', "keys[0].role"),
        ('{"keys": [{"domain": "a.test", "selector": "s1", "role": "signing", "created": "x"}]}', "keys[0].selector"),
    ):
        with pytest.raises(DkimStateError, match=said.replace("[", r"\[").replace("]", r"\]")):
            DkimState.from_json(text)
    doubled = state.to_json().replace("202612b", "202612a")
    with pytest.raises(DkimStateError, match="listed twice"):
        DkimState.from_json(doubled)


def test_the_txt_record_splits_into_strings_and_gives_its_key_back() -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\nBgkqhkiG\n-----END PUBLIC KEY-----\n"
    key = dkim.public_key_base64(pem)
    assert key == "MIIBIjANBgkqhkiG"
    value = dkim.txt_record(key * 30)
    strings = dkim.txt_strings(value)
    assert all(len(s) <= 255 for s in strings) and "".join(strings) == value and len(strings) == 2
    assert dkim.record_key(value) == key * 30
    assert dkim.record_key("v=DKIM1; k=rsa; p=AB CD\tEF") == "ABCDEF"
    assert dkim.record_key("v=spf1 -all") is None
    with pytest.raises(ValueError):
        dkim.public_key_base64("MIIB")
