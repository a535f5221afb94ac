"""PINs and passwords: validation, hashing and checking (standard library only).

A secret is either a PIN of 4-12 digits (0-9) or a password of 8-128
characters. Secrets are stored only as a scrypt hash (``hashlib.scrypt``, a
standard memory-hard KDF) in one self-describing string::

    scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>

with n = 2**14, r = 8, p = 1, a 16-byte random salt and a 32-byte hash. The
parameters travel with the hash, so they can be raised later without breaking
the hashes already stored (``verify_secret`` reads them back, within sane
bounds so that a doctored hash cannot make a check eat the Pi's memory).

Secrets are normalised to Unicode NFC before hashing, so the same password
typed on two keyboards that compose accents differently still matches.
No function here ever puts a secret (or part of it) into an error message.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import unicodedata

SCHEME = "scrypt"
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

PIN_DIGITS = (4, 12)
PASSWORD_CHARS = (8, 128)

# What verify_secret accepts from a stored encoding (anything else is "malformed": False, no exception).
_N_MAX = 2 ** 20
_R_MAX = 32
_P_MAX = 16
_MEM_MAX = 64 * 1024 * 1024            # scrypt needs ~128 * n * r bytes
_SALT_RANGE = (8, 64)
_HASH_RANGE = (16, 64)

ALLOWED = (f"a PIN of {PIN_DIGITS[0]}-{PIN_DIGITS[1]} digits or a password of "
           f"{PASSWORD_CHARS[0]}-{PASSWORD_CHARS[1]} characters")


def _has_control(s: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in s)


def is_pin(secret: str) -> bool:
    """True for an all-ASCII-digit secret (what the desk's keypad could type)."""
    return isinstance(secret, str) and secret.isascii() and secret.isdigit()


def validate_secret(secret: object) -> str:
    """Return `secret` if it is an acceptable PIN or password, else raise ValueError saying why.

    Allowed: a PIN of 4-12 digits, or a password of 8-128 characters (a
    longer all-digit secret counts as a password). No leading or trailing
    whitespace (a pasted space is invisible and would lock the person out),
    no control characters. The message gives lengths, never the secret.
    """
    if not isinstance(secret, str):
        raise ValueError(  # noqa: TRY004 - one exception type for every rejected secret (the documented contract)
            f"the PIN/password must be text, not {type(secret).__name__}; allowed: {ALLOWED}")
    if secret == "":
        raise ValueError(f"the PIN/password is empty; allowed: {ALLOWED}")
    if secret != secret.strip():
        raise ValueError(f"the PIN/password starts or ends with whitespace (spaces, tabs or an extra newline); "
                         f"allowed: {ALLOWED}, without surrounding whitespace")
    if _has_control(secret):
        raise ValueError("the PIN/password contains control or invisible formatting characters "
                         f"(e.g. a newline or tab inside it); allowed: {ALLOWED}")
    n = len(secret)
    lo_pin, hi_pin = PIN_DIGITS
    lo_pw, hi_pw = PASSWORD_CHARS
    if is_pin(secret):
        if n < lo_pin:
            raise ValueError(f"the PIN has {n} digit{'s' if n != 1 else ''}: a PIN needs {lo_pin}-{hi_pin} digits "
                             f"(or use a password of {lo_pw}-{hi_pw} characters)")
        if n > hi_pw:
            raise ValueError(f"the PIN/password has {n} digits: at most {hi_pw} characters; allowed: {ALLOWED}")
        return secret                                       # 4-12 digits: a PIN; 13-128 digits: a password
    if n < lo_pw:
        raise ValueError(f"the password has {n} character{'s' if n != 1 else ''}: a password needs "
                         f"{lo_pw}-{hi_pw} characters (or use a PIN of {lo_pin}-{hi_pin} digits only)")
    if n > hi_pw:
        raise ValueError(f"the password has {n} characters: a password may have at most {hi_pw}; "
                         f"allowed: {ALLOWED}")
    return secret


#: Digits of a PIN the desk draws for someone (an admin's reset): a million of them, and sign-in
#: locks a name out after 5 wrong tries.
DRAWN_PIN_DIGITS = 6


def draw_pin(digits: int = DRAWN_PIN_DIGITS) -> str:
    """A fresh random PIN from the system's CSPRNG; never one a person would guess first (one digit
    repeated, or a run up or down such as 123456)."""
    if not PIN_DIGITS[0] <= digits <= PIN_DIGITS[1]:
        raise ValueError(f"digits = {digits!r}: a PIN has {PIN_DIGITS[0]}-{PIN_DIGITS[1]} digits")
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(digits))
        steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
        if len(steps) > 1:                  # 111111 (step 0), 123456 (1), 987654 (9) are out
            return validate_secret(pin)


def strip_stdin_newline(text: str) -> str:
    """What was piped in, minus exactly one trailing newline ('\\n' or '\\r\\n'), as `echo` adds.

    Anything else (a second newline, spaces) is left for `validate_secret` to refuse.
    """
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _kdf(secret: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    data = unicodedata.normalize("NFC", secret).encode("utf-8")
    return hashlib.scrypt(data, salt=salt, n=n, r=r, p=p, maxmem=2 * _MEM_MAX, dklen=dklen)


def hash_secret(secret: str) -> str:
    """The storable scrypt hash of `secret`: 'scrypt$n$r$p$salt_b64$hash_b64' (fresh random salt).

    Does not apply the PIN/password policy (call `validate_secret` first); refuses only
    non-text and the empty string.
    """
    if not isinstance(secret, str) or secret == "":
        raise ValueError("hash_secret needs a non-empty string (the PIN/password)")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _kdf(secret, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse(encoded: object) -> tuple[int, int, int, bytes, bytes] | None:
    if not isinstance(encoded, str) or len(encoded) > 1024:
        return None
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    try:
        if not all(x.isascii() and x.isdigit() and len(x) <= 8 for x in parts[1:4]):
            return None
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        return None
    if not (2 <= n <= _N_MAX and n & (n - 1) == 0 and 1 <= r <= _R_MAX and 1 <= p <= _P_MAX
            and 128 * n * r <= _MEM_MAX):
        return None
    if not (_SALT_RANGE[0] <= len(salt) <= _SALT_RANGE[1] and _HASH_RANGE[0] <= len(digest) <= _HASH_RANGE[1]):
        return None
    return n, r, p, salt, digest


def is_valid_hash(encoded: object) -> bool:
    """Whether `encoded` is a well-formed hash this module can check."""
    return _parse(encoded) is not None


def verify_secret(secret: object, encoded: object) -> bool:
    """True when `secret` matches the stored `encoded` hash. A malformed or unsupported encoding,
    or a secret that is not a non-empty string, is simply False (never an exception).
    The comparison is constant-time (`hmac.compare_digest`)."""
    parsed = _parse(encoded)
    if parsed is None or not isinstance(secret, str) or secret == "":
        return False
    n, r, p, salt, digest = parsed
    try:
        candidate = _kdf(secret, salt, n, r, p, len(digest))
    except (ValueError, MemoryError, UnicodeError):
        return False
    return hmac.compare_digest(candidate, digest)
