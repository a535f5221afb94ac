"""Checks of one value each, shared by the store, the control socket and `deskpi apply`.

Each returns the value in its canonical form or raises `InvalidValue`, whose
message always has the same shape: what was wrong, the value given and what is
allowed (``stature_cm = 400: must be a number of cm within 100-250``). A layer
translates InvalidValue into its own error at its edge (StoreError, a control
socket reply, a problem of the desired-state file) without rewording it. The
config (which reports every problem of a file at once, with its line) and the
web API (whose JSON schemas also generate /openapi.json) keep their own
declarations: docs/ARCHITECTURE.md, "How input is checked".
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any


class InvalidValue(ValueError):
    """A value outside what is allowed; the message names the field, the value and the rule."""

    def __init__(self, field: str, value: Any, allowed: str, *, shown: str | None = None) -> None:
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field} = {shown if shown is not None else repr(value)}: must be {allowed}")


def is_number(value: Any) -> bool:
    """A finite int or float, and not a bool (True is not a height)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def has_control(text: str) -> bool:
    """Control characters and line/paragraph separators: never allowed in names or labels."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in text)


# Characters that draw nothing though they are not format characters (Cf): the Default_Ignorable_Code_Point
# ones outside Cf (combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian and Unicode
# variation selectors) and the blank Braille pattern. In a name they only make a lookalike.
_INVISIBLE = ((0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2800, 0x2800),
              (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF))
# Control, format (zero-width, bidi overrides and isolates...), surrogate, private-use and unassigned characters,
# and the line/paragraph separators.
_NOT_IN_NAMES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
_NAME_SEPARATORS = ("/", "\\")


def _hidden(c: str) -> bool:
    cp = ord(c)
    return unicodedata.category(c) in _NOT_IN_NAMES or any(lo <= cp <= hi for lo, hi in _INVISIBLE)


def person_name(field: str, value: Any, max_len: int) -> str:
    """A person's name in its one stored form: NFKC (full-width and other compatibility forms folded to the
    plain letters), runs of spaces made one, trimmed; 1-max_len characters, none of them a control, format
    or invisible character, no '/' or '\\', and not '.' or '..' (a name is also part of the pages' URLs)."""
    allowed = (f"1-{max_len} characters without control characters or invisible ones (zero-width, bidi and "
               f"other format characters), without '/' or '\\', and not '.' or '..'")
    if not isinstance(value, str):
        raise InvalidValue(field, value, allowed)
    trimmed = value.strip()                     # a trailing newline from a pipe is no part of the name
    name = " ".join(unicodedata.normalize("NFKC", trimmed).split())
    hidden = next((c for c in trimmed + name if _hidden(c)), None)      # before and after NFKC
    if hidden is not None:                      # shown escaped: the message must not hide it either
        shown = repr("".join(f"<U+{ord(c):04X}>" if _hidden(c) else c for c in value))
        raise InvalidValue(field, value, f"{allowed}; it holds U+{ord(hidden):04X} "
                                         f"{unicodedata.name(hidden, unicodedata.category(hidden))}", shown=shown)
    if not 1 <= len(name) <= max_len:
        raise InvalidValue(field, value, f"{allowed} (it has {len(name)} characters)")
    if name in (".", "..") or any(sep in name for sep in _NAME_SEPARATORS):
        raise InvalidValue(field, value, allowed)
    return name


def name_key(name: str) -> str:
    """What makes two names the same person: equal after NFKC, case folding and spacing, ignoring characters
    that draw nothing. Sign-in lock-outs count per key too, so no spelling of a name escapes them."""
    visible = "".join(c for c in name if not _hidden(c))
    folded = " ".join(unicodedata.normalize("NFKC", visible).split()).casefold()
    return unicodedata.normalize("NFKC", folded)


def same_person(a: str | None, b: str | None) -> bool:
    """Whether two names, None for nobody, name the same person (or both nobody)."""
    if a is None or b is None:
        return a is None and b is None
    return name_key(a) == name_key(b)


def number(field: str, value: Any, lo: float, hi: float, unit: str = "", *, optional: bool = False) -> float | None:
    unit_part = f" of {unit}" if unit else ""
    allowed = f"a number{unit_part} within {lo:g}-{hi:g}" + (" (or None)" if optional else "")
    if value is None and optional:
        return None
    if not is_number(value) or not lo <= value <= hi:
        raise InvalidValue(field, value, allowed)
    return float(value)


def unix_time(field: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if not is_number(value) or value < 0:
        raise InvalidValue(field, value, "a unix time in seconds (a finite number >= 0)"
                           + (" or None" if optional else ""))
    return float(value)


def choice(field: str, value: Any, allowed: Iterable[str], *, optional: bool = False) -> str | None:
    options = tuple(allowed)
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in options:
        raise InvalidValue(field, value, "one of " + ", ".join(repr(a) for a in options)
                           + (" or None" if optional else ""))
    return value


def text(field: str, value: Any, max_len: int, *, optional: bool = False) -> str | None:
    allowed = f"text of 1-{max_len} characters without control characters" + (" (or None)" if optional else "")
    if value is None and optional:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_len or has_control(value):
        raise InvalidValue(field, value, allowed)
    return value


def only_keys(where: str, mapping: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse keys nobody reads: a typo must not be silently ignored."""
    known = tuple(allowed)
    extra = sorted(set(mapping) - set(known))
    if extra:
        raise InvalidValue(where, ", ".join(extra), "one of: " + (", ".join(known) or "none"),
                           shown=", ".join(map(repr, extra)))
