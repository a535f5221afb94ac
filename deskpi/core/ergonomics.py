"""Recommended desk heights from a person's stature (pure, standard library only).

The formulas (docs/ERGONOMICS.md, "Desk height from stature"):

- S = stature + a shoe allowance: 25 mm for men, 45 mm for women, 35 mm when
  the sex is not given (or an explicit ``shoe_mm``, 0 for bare feet);
- seated work surface  ~ 0.37  x S;
- standing work surface ~ 0.615 x S.

They are a fit to the ANSI/HFES 100-2007 ranges and Pheasant's anthropometry:
a 175 cm man comes out at ~657 mm seated and ~1092 mm standing. The result is
clamped to the desk's travel, with a note saying what to do about it (a
footrest, the chair, a keyboard riser), and always a reminder that these are
starting points to fine-tune: forearms level, elbows at 90-110 degrees.

Heights are millimetres of the work surface above the floor.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TypeGuard

SEATED_FACTOR = 0.37
STANDING_FACTOR = 0.615
SHOE_ALLOWANCE_MM = {"male": 25.0, "female": 45.0, None: 35.0}
STATURE_RANGE_CM = (100.0, 250.0)
SHOE_RANGE_MM = (0.0, 100.0)
LIMITS_RANGE_MM = (300.0, 2000.0)
#: Typical desk travel (docs/ERGONOMICS.md) when the caller does not pass the desk's own limits.
DEFAULT_LIMITS_MM = (620.0, 1270.0)
#: EN 527-1 work-surface ranges for office desks (information, not a rule for one person).
EN527_SEATED_MM = (650.0, 850.0)
EN527_STANDING_MM = (950.0, 1250.0)
#: When only a seated height is known, stand this much higher (LINAK's default).
STANDING_OFFSET_MM = 300.0

FINE_TUNE_NOTE = ("These are starting points: fine-tune until, with relaxed shoulders, your forearms are level "
                  "and your elbows are at 90-110 degrees, the keyboard just below elbow height.")


class ErgonomicsError(ValueError):
    """An input is out of range; names the field, the value given and what is allowed."""

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field_name} = {value!r} is not allowed (allowed: {allowed})")


@dataclass(frozen=True)
class Recommendation:
    sit_mm: int                 # what to use: clamped to the desk, rounded to the millimetre
    stand_mm: int
    sit_raw_mm: float           # what the formulas give before clamping
    stand_raw_mm: float
    shoe_mm: float              # the allowance that was used
    clamped: bool
    notes: list[str] = field(default_factory=list)
    stature_cm: float = 0.0
    sex: str | None = None
    limits_mm: tuple[float, float] = DEFAULT_LIMITS_MM

    def to_dict(self) -> dict:
        """JSON-ready: what `deskpi ergonomics --json` prints."""
        d = asdict(self)
        d["limits_mm"] = list(self.limits_mm)
        d["en527_seated_mm"] = list(EN527_SEATED_MM)
        d["en527_standing_mm"] = list(EN527_STANDING_MM)
        return d


def _number(name: str, value: object, lo: float, hi: float, unit: str) -> float:
    allowed = f"{lo:g}-{hi:g} {unit}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ErgonomicsError(name, value, f"a number, {allowed}")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ErgonomicsError(name, value, allowed)
    return v


def _check_limits(limits: object) -> tuple[float, float]:
    lo_allowed, hi_allowed = LIMITS_RANGE_MM
    allowed = f"(min_mm, max_mm) with {lo_allowed:g} <= min_mm < max_mm <= {hi_allowed:g}"
    lo: object
    hi: object
    try:
        # Any iterable of two will do, so unpack rather than test its type; anything else fails here.
        lo, hi = limits                           # type: ignore[misc]
    except (TypeError, ValueError):
        raise ErgonomicsError("limits", limits, allowed) from None
    if not (_finite_number(lo) and _finite_number(hi) and lo_allowed <= lo < hi <= hi_allowed):
        raise ErgonomicsError("limits", limits, allowed)
    return float(lo), float(hi)


def _finite_number(v: object) -> TypeGuard[float]:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def shoe_allowance_mm(sex: str | None = None) -> float:
    if sex not in SHOE_ALLOWANCE_MM:
        raise ErgonomicsError("sex", sex, "'male', 'female' or None (neutral)")
    return SHOE_ALLOWANCE_MM[sex]


def standing_from_seated(sit_mm: float) -> float:
    """A standing height when only the seated one is known: seated + 300 mm."""
    return float(sit_mm) + STANDING_OFFSET_MM


def recommend(stature_cm: float, shoe_mm: float | None = None, *, sex: str | None = None,
              limits: tuple[float, float] = DEFAULT_LIMITS_MM) -> Recommendation:
    """Seated and standing work-surface heights for a person of `stature_cm`.

    `shoe_mm` overrides the allowance chosen by `sex` (None: 25 mm men, 45 mm
    women, 35 mm neutral). `limits` is the desk's (min_mm, max_mm) travel.
    Raises ErgonomicsError (a ValueError) naming the field, value and range.
    """
    stature = _number("stature_cm", stature_cm, *STATURE_RANGE_CM, "cm")
    allowance = shoe_allowance_mm(sex)
    if shoe_mm is not None:
        allowance = _number("shoe_mm", shoe_mm, *SHOE_RANGE_MM, "mm")
    lo, hi = _check_limits(limits)

    s_mm = stature * 10.0 + allowance
    sit_raw = SEATED_FACTOR * s_mm
    stand_raw = STANDING_FACTOR * s_mm
    notes: list[str] = []

    sit = min(max(sit_raw, lo), hi)
    stand = min(max(stand_raw, lo), hi)
    if sit_raw < lo:
        notes.append(f"Seated: {sit_raw:.0f} mm is below the desk's minimum of {lo:.0f} mm. Set the desk to "
                     f"{lo:.0f} mm, raise the chair until your forearms are level with the desk, and use a "
                     f"footrest so your feet rest flat.")
    elif sit_raw > hi:
        notes.append(f"Seated: {sit_raw:.0f} mm is above the desk's maximum of {hi:.0f} mm. Set the desk to "
                     f"{hi:.0f} mm and lower the chair until your forearms are level with the desk.")
    if stand_raw > hi:
        notes.append(f"Standing: {stand_raw:.0f} mm is above the desk's maximum of {hi:.0f} mm. Use the "
                     f"maximum and bring the keyboard up to elbow height with a desktop riser; do not hunch.")
    elif stand_raw < lo:
        notes.append(f"Standing: {stand_raw:.0f} mm is below the desk's minimum of {lo:.0f} mm. Use the "
                     f"minimum and stand on a stable platform so the desk reaches your elbows.")
    clamped = (sit != sit_raw) or (stand != stand_raw)

    if not EN527_SEATED_MM[0] <= sit_raw <= EN527_SEATED_MM[1]:
        notes.append(f"For information: {sit_raw:.0f} mm is outside the EN 527-1 seated range "
                     f"{EN527_SEATED_MM[0]:.0f}-{EN527_SEATED_MM[1]:.0f} mm, which is drawn for the average "
                     f"office worker; your own fit comes first.")
    if not EN527_STANDING_MM[0] <= stand_raw <= EN527_STANDING_MM[1]:
        notes.append(f"For information: {stand_raw:.0f} mm is outside the EN 527-1 standing range "
                     f"{EN527_STANDING_MM[0]:.0f}-{EN527_STANDING_MM[1]:.0f} mm, which is drawn for the "
                     f"average office worker; your own fit comes first.")
    notes.append(FINE_TUNE_NOTE)

    return Recommendation(sit_mm=int(round(sit)), stand_mm=int(round(stand)),
                          sit_raw_mm=round(sit_raw, 1), stand_raw_mm=round(stand_raw, 1),
                          shoe_mm=allowance, clamped=clamped, notes=notes, stature_cm=stature, sex=sex,
                          limits_mm=(lo, hi))
