"""Checks of the values the store keeps: names, PIN hashes, slots, JSON documents, posture edges, user fields.

Built on `deskpi.util.checks`; an `InvalidValue` leaves the store as a
`StoreError` with the same message (field, value given, what is allowed).
Every write method checks all its values before it touches the database.
"""
from __future__ import annotations

import contextlib
import json
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from deskpi.store.records import HEIGHT_MM, NAME_MAX, ROLES, SHOE_MM, SLOTS, STATURE_CM, UNITS, StoreError
from deskpi.util import checks
from deskpi.util.checks import InvalidValue, has_control


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """Raise a check's InvalidValue as a StoreError, message unchanged."""
    try:
        yield
    except InvalidValue as e:
        raise StoreError(str(e)) from None


def invalid(field_name: str, value: Any, allowed: str) -> StoreError:
    """The StoreError for a value outside a rule that has no checker of its own."""
    return StoreError(str(InvalidValue(field_name, value, allowed)))


# The store's optional numbers and texts are the rule (a profile may leave any of them unset).

def number(field_name: str, value: Any, lo: float, hi: float, unit: str, *, optional: bool = True) -> float | None:
    with store_errors():
        return checks.number(field_name, value, lo, hi, unit, optional=optional)


def unix_time(field_name: str, value: Any, *, optional: bool = False) -> float | None:
    with store_errors():
        return checks.unix_time(field_name, value, optional=optional)


def choice(field_name: str, value: Any, allowed: Iterable[str], *, optional: bool = False) -> str | None:
    with store_errors():
        return checks.choice(field_name, value, allowed, optional=optional)


def text(field_name: str, value: Any, max_len: int, *, optional: bool = True) -> str | None:
    with store_errors():
        return checks.text(field_name, value, max_len, optional=optional)


def valid_name(value: Any, field_name: str = "name") -> str:
    """A user name in its stored form (`checks.person_name`: NFKC, one space between words, no invisible
    characters, no '/', not '.' or '..'); the one check of names for the CLI, the API and `apply`."""
    with store_errors():
        return checks.person_name(field_name, value, NAME_MAX)


def name_key(name: str) -> str:
    """What makes two names the same person (`checks.name_key`: NFKC, case folding, spacing)."""
    return checks.name_key(name)


def legacy_name_key(name: str) -> str:
    """The key names were stored under before lookalikes were folded (NFC and case folding only): how a
    name stored then is still found by its own spelling."""
    return unicodedata.normalize("NFC", name.strip()).casefold()


def pin_hash(value: Any) -> str | None:
    allowed = "None or a KDF hash string (16-1024 printable characters, not a bare PIN)"
    if value is None:
        return None
    if (not isinstance(value, str) or not 16 <= len(value) <= 1024 or has_control(value)
            or value.isdigit() or value != value.strip()):
        shown = str(value) if not isinstance(value, str) else f"<{len(value)} characters>"   # never echo a secret
        raise StoreError(str(InvalidValue("pin_hash", value, allowed, shown=shown)))
    return value


def slot(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in SLOTS:
        raise invalid("slot", value, f"a preset slot {SLOTS[0]}-{SLOTS[-1]}")
    return value


def row_limit(value: Any) -> int:
    """How many rows a listing may return."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise invalid("limit", value, "an int within 1-100000")
    return value


def json_doc(field_name: str, value: Any, max_bytes: int, *, optional: bool = False) -> str | None:
    """A dict as compact JSON text, no bigger than max_bytes."""
    allowed = f"a JSON object (dict) of at most {max_bytes} bytes" + (" or None" if optional else "")
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise invalid(field_name, value, allowed)
    try:
        doc = json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise StoreError(f"{field_name}: must be {allowed}: {e}") from None
    if len(doc.encode()) > max_bytes:
        raise StoreError(f"{field_name}: {len(doc.encode())} bytes of JSON; must be {allowed}")
    return doc


def posture_edges(value: Any) -> tuple[float, ...] | None:
    """None, or 1-4 class edges in mm, sorted."""
    if value is None:
        return None
    allowed = f"None or 1-4 heights in mm within {HEIGHT_MM[0]:g}-{HEIGHT_MM[1]:g}"
    try:
        items = list(value)
    except TypeError:
        raise invalid("posture_edges_mm", value, allowed) from None
    if not 1 <= len(items) <= 4 or not all(checks.is_number(v) and HEIGHT_MM[0] <= v <= HEIGHT_MM[1]
                                           for v in items):
        raise invalid("posture_edges_mm", value, allowed)
    return tuple(sorted(float(v) for v in items))


def _round1(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


USER_FIELDS = {
    "stature_cm": lambda v: _round1(number("stature_cm", v, *STATURE_CM, "cm")),
    "shoe_mm": lambda v: _round1(number("shoe_mm", v, *SHOE_MM, "mm")),
    "seated_mm": lambda v: _round1(number("seated_mm", v, *HEIGHT_MM, "mm")),
    "standing_mm": lambda v: _round1(number("standing_mm", v, *HEIGHT_MM, "mm")),
    "units": lambda v: choice("units", v, UNITS),
    "role": lambda v: choice("role", v, ROLES),
    "pin_hash": pin_hash,
}


def user_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Profile fields in their stored form; a key that is not a profile field is refused."""
    out = {}
    for k, v in fields.items():
        if k not in USER_FIELDS:
            raise StoreError(f"{k} = {v!r}: not a user field; the fields are {', '.join(USER_FIELDS)} "
                             f"(rename with rename_user)")
        out[k] = USER_FIELDS[k](v)
    return out


def check_sit_below_stand(seated: float | None, standing: float | None) -> None:
    if seated is not None and standing is not None and standing <= seated:
        raise StoreError(f"standing_mm = {standing:g}: must be above seated_mm = {seated:g}")
