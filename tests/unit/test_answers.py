"""The answers file: types, validation (all problems at once, by field), canonical form, saving."""

from __future__ import annotations

import stat

import pytest

from mailtui.errors import ValidationError
from mailtui.install import state as install_state
from mailtui.model import answers_file, passwords
from mailtui.model import problems as problems_mod

GOOD = """
hostname = "Mail.Example.TEST"
[database]
password = "dbpassword-123456"
[tls]
mode = "self-signed"
[firewall]
enable = true
[services]
pop3 = false
[[domains]]
name = "example.test"
[[domains]]
name = "other.test"
[[users]]
email = "Alice@Example.test"
password = "correct horse"
[[users]]
email = "bob@other.test"
password_hash = "$6$abcdefgh$" # filled below
[[aliases]]
source = "postmaster@example.test"
destination = "alice@example.test"
[[aliases]]
source = "@other.test"
destination = "bob@other.test"
"""


def good_text() -> str:
    bare = passwords.hash_password("bobs password").removeprefix("{SHA512-CRYPT}")
    return GOOD.replace('"$6$abcdefgh$" # filled below', f'"{bare}"')


def test_good_answers_are_canonical() -> None:
    a = problems_mod.check(answers_file.loads(good_text()), check_files=False)
    assert a.hostname == "mail.example.test"
    assert a.users[0].email == "alice@example.test"
    assert a.domain_names == ["example.test", "other.test"]
    assert a.database.is_local


def problems_of(text: str) -> dict[str, str]:
    try:
        problems_mod.check(answers_file.loads(text), check_files=False)
    except ValidationError as exc:
        return exc.problems
    return {}


def test_every_problem_is_reported_at_once_by_field() -> None:
    text = """
hostname = "example.test"
[database]
port = 70000
name = "mail server"
[[domains]]
name = "example.test"
[[domains]]
name = "bad_domain.test"
[[users]]
email = "alice@nowhere.test"
password = "short"
[[users]]
email = "not-an-address"
password = "long enough password"
[[aliases]]
source = "info@unknown.test"
destination = "ghost@example.test"
"""
    p = problems_of(text)
    assert "hostname" in p["domains[0].name"] or "own hostname" in p["domains[0].name"]
    assert "65535" in p["database.port"]
    assert "letters, digits" in p["database.name"]
    assert "bad_domain.test" in p["domains[1].name"]
    assert "not one of the domains" in p["users[0].email"]
    assert "8 characters" in p["users[0].password"]
    assert "not an email address" in p["users[1].email"]
    assert "not one of the domains" in p["aliases[0].source"]


def test_alias_to_unknown_local_address_would_bounce() -> None:
    text = good_text().replace('destination = "alice@example.test"', 'destination = "nobody@example.test"')
    assert "would bounce" in problems_of(text)["aliases[0].destination"]


def test_alias_may_forward_outside_and_catch_all() -> None:
    text = good_text().replace('destination = "alice@example.test"', 'destination = "someone@elsewhere.test"')
    assert problems_of(text) == {}


def test_local_names_and_hostname_are_not_virtual_domains() -> None:
    text = good_text().replace('name = "other.test"', 'name = "mail.example.test"')
    assert "own hostname" in problems_of(text)["domains[1].name"]
    text = good_text().replace('hostname = "Mail.Example.TEST"', 'hostname = "localhost"')
    assert "hostname" in problems_of(text)


def test_unknown_keys_and_wrong_types() -> None:
    p = problems_of('hostname = 5\ncolour = "blue"\n[database]\nport = "3306"\nhots = "x"\n[[users]]\nemail = 1\n')
    assert p["hostname"] == "must be a string"
    assert "unknown setting" in p["colour"]
    assert p["database.port"] == "must be an integer"
    assert "unknown setting" in p["database.hots"]
    assert "must be a string" in p["users[0].email"]


def test_boolean_is_not_an_integer() -> None:
    assert "not true/false" in problems_of('[database]\nport = true\n')["database.port"]


def test_malformed_toml() -> None:
    assert "not valid TOML" in problems_of("hostname = \n")["file"]


def test_secrets_that_would_break_config_files_are_refused() -> None:
    text = good_text().replace('password = "dbpassword-123456"', "password = \"pass word'#12345\"")
    assert "must not contain" in problems_of(text)["database.password"]


def test_password_and_hash_both_given() -> None:
    text = good_text().replace('password = "correct horse"', 'password = "correct horse"\npassword_hash = "$6$x$y"')
    assert "not both" in problems_of(text)["users[0].password"]


def test_keep_password_stands_alone_and_survives_saving() -> None:
    """keep_password: an existing mailbox keeps its password (the database step refuses it for a mailbox
    that does not exist); it goes with neither a password nor a hash, and saving keeps it as it is."""
    kept = good_text().replace('password = "correct horse"', "keep_password = true")
    a = answers_file.loads(kept)
    assert a.users[0].keep_password and not a.users[0].password and not a.users[0].password_hash
    assert "users[0].password" not in problems_mod.problems(a)
    again = answers_file.loads(answers_file.dumps(a))
    assert again.users[0].keep_password and not again.users[0].password_hash
    assert "keep_password" not in answers_file.dumps(answers_file.loads(good_text()))  # only when set
    both = good_text().replace('password = "correct horse"', 'password = "correct horse"\nkeep_password = true')
    assert "give no password" in problems_of(both)["users[0].keep_password"]
    assert "true or false" in problems_of(kept.replace("keep_password = true", 'keep_password = "yes"'))[
        "users[0].keep_password"]
    # Positive control: without it, an empty password is still refused.
    assert "users[0].password" in problems_of(good_text().replace('password = "correct horse"', ""))


def test_bad_hash() -> None:
    text = good_text().replace('"$6$', '"$1$', 1)
    assert "SHA512-CRYPT" in problems_of(text)["users[1].password_hash"]


def test_idn_domains_are_stored_as_punycode() -> None:
    text = good_text().replace('"other.test"', '"bücher.test"').replace("@other.test", "@bücher.test")
    a = problems_mod.check(answers_file.loads(text), check_files=False)
    assert "xn--bcher-kva.test" in a.domain_names
    assert a.users[1].email == "bob@xn--bcher-kva.test"


def test_files_mode_needs_existing_files(tmp_path) -> None:
    text = good_text().replace('mode = "self-signed"', f'mode = "files"\ncert = "{tmp_path}/c.pem"\nkey = "k.pem"')
    with pytest.raises(ValidationError) as info:
        problems_mod.check(answers_file.loads(text))
    assert "does not exist" in info.value.problems["tls.cert"]
    assert "absolute" in info.value.problems["tls.key"]


def test_relay_credentials_need_relayhost() -> None:
    text = good_text() + '\n[outbound]\nuser = "me"\npassword = "secret"\n'
    # [outbound] after the arrays of tables would be part of the last table: build it properly
    text = good_text().replace("[tls]", '[outbound]\nuser = "me"\npassword = "secret"\n[tls]')
    assert "relayhost" in problems_of(text)["outbound.relayhost"]
    bad = good_text().replace("[tls]", '[outbound]\nrelayhost = "[smtp.example.test]:99999"\n[tls]')
    assert "port" in problems_of(bad)["outbound.relayhost"]


def test_test_profile_requires_relayhost() -> None:
    text = good_text().replace('hostname = "Mail.Example.TEST"', 'hostname = "mail.example.test"\nprofile = "test"')
    assert "smtp-sink" in problems_of(text)["outbound.relayhost"]


def test_saved_answers_keep_only_hashes_and_reload(tmp_path, monkeypatch) -> None:
    a = problems_mod.check(answers_file.loads(good_text()), check_files=False).with_generated_secrets()
    path = tmp_path / "answers.toml"
    install_state.save_answers(a, path)
    text = path.read_text()
    assert "correct horse" not in text
    assert "{SHA512-CRYPT}$6$" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = problems_mod.check(answers_file.load(path), check_files=False)
    assert passwords.verify_password("correct horse", again.users[0].password_hash)
    assert again.database.password == a.database.password
    assert again.aliases == a.aliases


def test_generated_secrets_are_valid() -> None:
    a = problems_mod.check(answers_file.loads(good_text()), check_files=False)
    a = a.with_generated_secrets()
    assert a.database.password == "dbpassword-123456"
    assert len(a.database.admin_password) == 20
    assert problems_mod.problems(a, check_files=False) == {}


def test_acme_mode_needs_a_contact_and_takes_an_https_server_and_a_ca_file(tmp_path) -> None:
    acme = 'mode = "acme"\nemail = "Hostmaster@Example.TEST"'
    a = problems_mod.check(answers_file.loads(good_text().replace('mode = "self-signed"', acme)), check_files=False)
    assert (a.tls.mode, a.tls.email, a.tls.acme_server) == (
        "acme", "hostmaster@example.test", "https://acme-v02.api.letsencrypt.org/directory")
    assert "required" in problems_of(good_text().replace('mode = "self-signed"', 'mode = "acme"'))["tls.email"]
    bad = problems_of(good_text().replace('mode = "self-signed"', 'mode = "acme"\nemail = "nobody"\n'
                                          'server = "http://ca.test/dir"\nserver_ca = "ca.pem"'))
    assert "not an email address" in bad["tls.email"]
    assert "https://" in bad["tls.server"]
    assert "absolute" in bad["tls.server_ca"]
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    good = good_text().replace('mode = "self-signed"', f'{acme}\nserver = "https://ca.test:14000/dir"\n'
                                                        f'server_ca = "{ca}"')
    a = problems_mod.check(answers_file.loads(good), check_files=True)
    assert (a.tls.acme_server, a.tls.server_ca) == ("https://ca.test:14000/dir", str(ca))
    missing = good.replace(str(ca), str(tmp_path / "none.pem"))
    with pytest.raises(ValidationError) as info:
        problems_mod.check(answers_file.loads(missing), check_files=True)
    assert "does not exist" in info.value.problems["tls.server_ca"]


def test_acme_settings_are_refused_in_the_other_modes() -> None:
    text = good_text().replace('mode = "self-signed"', 'mode = "self-signed"\nemail = "a@example.test"')
    assert 'only used with tls.mode = "acme"' in problems_of(text)["tls.email"]
