from __future__ import annotations

from mailtui.model import passwords


def test_hash_fits_the_tutorial_column_and_verifies() -> None:
    h = passwords.hash_password("s3cret pass")
    assert h.startswith("{SHA512-CRYPT}$6$")
    assert len(h.removeprefix("{SHA512-CRYPT}")) == 106  # the tutorial's varchar(106)
    assert passwords.is_hash(h)
    assert passwords.verify_password("s3cret pass", h)
    assert not passwords.verify_password("wrong", h)


def test_unprefixed_hash_is_normalized() -> None:
    bare = passwords.hash_password("x" * 10).removeprefix("{SHA512-CRYPT}")
    assert passwords.normalize_hash(bare) == "{SHA512-CRYPT}" + bare


def test_generated_passwords_are_distinct() -> None:
    assert len({passwords.generate_password() for _ in range(50)}) == 50
