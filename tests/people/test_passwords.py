"""deskpi.people.passwords: scrypt hashes of PINs and passwords, checking them, and the PIN/password policy."""
from __future__ import annotations

import base64
import unicodedata

import pytest

from deskpi.people.passwords import (
    HASH_BYTES,
    SALT_BYTES,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    hash_secret,
    is_valid_hash,
    strip_stdin_newline,
    validate_secret,
    verify_secret,
)


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_secret("1234")


def test_the_hash_is_self_describing_scrypt_with_a_random_salt(pin_hash: str) -> None:
    scheme, n, r, p, salt, digest = pin_hash.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", SCRYPT_N, SCRYPT_R, SCRYPT_P) == ("scrypt", 2 ** 14, 8, 1)
    assert len(_b64(salt)) == SALT_BYTES == 16
    assert len(_b64(digest)) == HASH_BYTES
    other = hash_secret("1234")
    assert other != pin_hash and other.split("$")[4] != salt        # a fresh salt every time
    assert is_valid_hash(pin_hash) and is_valid_hash(other)


def test_the_right_secret_verifies_and_a_wrong_one_does_not(pin_hash: str) -> None:
    assert verify_secret("1234", pin_hash) is True
    for wrong in ("1235", "12345", "123", "4321", " 1234", "1234\n", "abcdefgh"):
        assert verify_secret(wrong, pin_hash) is False, wrong


def test_passwords_are_compared_after_unicode_normalisation() -> None:
    composed = unicodedata.normalize("NFC", "café-crème")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    h = hash_secret(composed)
    assert verify_secret(decomposed, h) and verify_secret(composed, h)
    assert not verify_secret("cafe-creme", h)


def _tampered(h: str, index: int, value: str) -> str:
    parts = h.split("$")
    parts[index] = value
    return "$".join(parts)


def _flip_first_char(text: str) -> str:
    return ("A" if text[0] != "A" else "B") + text[1:]          # the first base64 digit carries 6 real bits


@pytest.mark.parametrize("make", [
    lambda h: "",
    lambda h: None,
    lambda h: 1234,
    lambda h: b"scrypt$16384$8$1$AAAA$BBBB",
    lambda h: "1234",                                   # a bare PIN stored by mistake
    lambda h: "bcrypt" + h[len("scrypt"):],              # another scheme
    lambda h: h + "$extra",                             # too many fields
    lambda h: h.rsplit("$", 1)[0],                      # too few fields
    lambda h: _tampered(h, 1, "abc"),                   # n not a number
    lambda h: _tampered(h, 1, "-16384"),
    lambda h: _tampered(h, 1, "1000"),                  # n not a power of two
    lambda h: _tampered(h, 1, str(2 ** 30)),            # would need gigabytes: refused, not attempted
    lambda h: _tampered(h, 2, "0"),                     # r out of range
    lambda h: _tampered(h, 3, "99"),                    # p out of range
    lambda h: _tampered(h, 4, "!!notbase64!!"),
    lambda h: _tampered(h, 4, "AAAA"),                  # a 3-byte salt
    lambda h: _tampered(h, 5, ""),                      # no hash
    lambda h: _tampered(h, 5, "AAAA"),                  # a 3-byte hash
    lambda h: h + "\n",
    lambda h: "x" * 5000,
])
def test_malformed_or_tampered_encodings_are_false_never_an_exception(pin_hash: str, make) -> None:
    encoded = make(pin_hash)
    assert verify_secret("1234", encoded) is False
    assert is_valid_hash(encoded) is (encoded == pin_hash)


def test_a_tampered_but_well_formed_hash_does_not_verify(pin_hash: str) -> None:
    for index in (4, 5):                                # another salt, another hash
        tampered = _tampered(pin_hash, index, _flip_first_char(pin_hash.split("$")[index]))
        assert is_valid_hash(tampered)
        assert verify_secret("1234", tampered) is False


@pytest.mark.parametrize("secret", [None, 1234, b"1234", ""])
def test_verify_with_a_non_secret_is_false(pin_hash: str, secret) -> None:
    assert verify_secret(secret, pin_hash) is False


@pytest.mark.parametrize("secret", [None, 1234, ""])
def test_hash_refuses_non_text_and_empty(secret) -> None:
    with pytest.raises(ValueError):
        hash_secret(secret)


@pytest.mark.parametrize("secret, message", [
    ("1234", None),
    ("0000", None),
    ("123456789012", None),                 # 12 digits: the longest PIN
    ("1234567890123", None),                # 13 digits: a (numeric) password of 8-128 characters
    ("abcdefgh", None),
    ("correct horse battery staple", None),  # inner spaces are fine
    ("pässwört", None),
    ("a" * 128, None),
    ("", "empty"),
    ("123", "a PIN needs 4-12 digits"),
    ("1", "has 1 digit:"),
    ("abc1234", "a password needs 8-128 characters"),
    ("١٢٣٤", "a password needs 8-128 characters"),    # Arabic-Indic digits are not keypad digits
    ("a" * 129, "at most 128"),
    ("1" * 129, "at most 128"),
    (" 1234", "whitespace"),
    ("1234 ", "whitespace"),
    ("1234\n", "whitespace"),               # the CLI strips one newline from stdin before validating
    ("\tpassword1", "whitespace"),
    ("pass\tword1", "control"),
    ("pass\x00word1", "control"),
    ("pass\u200bword1", "control"),          # zero-width space: invisible
    (1234, "must be text"),
    (None, "must be text"),
])
def test_validation_table(secret, message: str | None) -> None:
    if message is None:
        assert validate_secret(secret) == secret
        return
    with pytest.raises(ValueError) as err:
        validate_secret(secret)
    text = str(err.value)
    assert message in text
    assert "a PIN" in text or "a password" in text       # always says what is allowed
    if isinstance(secret, str) and len(secret.strip()) >= 3:
        assert secret.strip() not in text, "the secret must never appear in an error message"


@pytest.mark.parametrize("piped, secret", [
    ("1234\n", "1234"),
    ("1234\r\n", "1234"),
    ("1234", "1234"),
    ("1234\n\n", "1234\n"),                 # only one newline: the second is refused by validate_secret
    ("pass word\n", "pass word"),
    ("\n", ""),
])
def test_exactly_one_trailing_newline_is_stripped_from_stdin(piped: str, secret: str) -> None:
    assert strip_stdin_newline(piped) == secret
