"""Preset heights: the desk's own set in a small JSON file, and the active user's set in their profile.

`PresetStore` keeps the desk's presets (used when nobody in particular is at
the desk); `UserPresets` has the same interface and reads and saves the
active user's presets in the store, falling back to the desk's.
"""
from __future__ import annotations

import json
import math
import threading
from pathlib import Path

from deskpi.util.files import atomic_write

SLOTS = (1, 2, 3, 4)
DEFAULTS = {1: 720.0, 2: 1100.0, 3: None, 4: None}   # 1 = sit, 2 = stand


class PresetError(ValueError):
    pass


def checked_height(height_mm: object, limits: tuple[float, float]) -> float:
    """A preset height as a float within the desk's limits, or PresetError saying what is allowed."""
    lo, hi = limits
    try:
        h = float(height_mm)
    except (TypeError, ValueError):
        raise PresetError(f"preset height must be a number of mm within {lo:.0f}-{hi:.0f}, "
                          f"got {height_mm!r}") from None
    if not math.isfinite(h) or not lo <= h <= hi:
        raise PresetError(f"preset height {height_mm!r} mm is outside the desk's limits {lo:.0f}-{hi:.0f} mm")
    return h


def check_slot(slot: int) -> None:
    if slot not in SLOTS:
        raise PresetError(f"preset {slot!r} does not exist; presets are 1-4")


class PresetStore:
    """The desk's presets, kept in a JSON file (None: in memory only)."""

    def __init__(self, path: Path | None, limits: tuple[float, float]) -> None:
        self.path = path
        self.limits = limits
        self._lock = threading.Lock()
        self._values: dict[int, float | None] = dict(DEFAULTS)
        if path is not None and path.exists():
            self._values.update(self._read(path))
        for slot, value in self._values.items():
            if value is not None and not limits[0] <= value <= limits[1]:
                self._values[slot] = min(max(value, limits[0]), limits[1])

    @staticmethod
    def _read(path: Path) -> dict[int, float | None]:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {int(k): (None if v is None else float(v)) for k, v in raw.items() if int(k) in SLOTS}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}      # a damaged file must not stop the desk; defaults stand until the next save

    def get(self, slot: int) -> float | None:
        check_slot(slot)
        with self._lock:
            return self._values[slot]

    def all(self) -> dict[int, float | None]:
        with self._lock:
            return dict(self._values)

    def save(self, slot: int, height_mm: float) -> float:
        check_slot(slot)
        h = checked_height(height_mm, self.limits)
        with self._lock:
            values = {**self._values, slot: round(h, 1)}
            if self.path is not None:      # on disk first: a full disk (StorageFull) changes nothing
                atomic_write(self.path, json.dumps({str(k): v for k, v in values.items()}))
            self._values = values
        return round(h, 1)


class UserPresets:
    """Same interface as PresetStore (get, all, save, limits), backed by the active user's profile."""

    def __init__(self, store, fallback: PresetStore) -> None:
        self.store = store
        self.fallback = fallback
        self.limits = fallback.limits

    def _user(self) -> str | None:
        user = self.store.get_active_user()
        return None if user is None else user.name

    def get(self, slot: int) -> float | None:
        check_slot(slot)
        return self.all()[slot]

    def all(self) -> dict[int, float | None]:
        user = self._user()
        if user is None:
            return self.fallback.all()
        return self.store.get_presets(user)

    def save(self, slot: int, height_mm: float) -> float:
        user = self._user()
        if user is None:
            return self.fallback.save(slot, height_mm)
        h = checked_height(height_mm, self.limits)
        check_slot(slot)
        try:
            return self.store.set_preset(user, slot, h)
        except ValueError as exc:          # the store's StoreError (not imported: the desk must not need sqlite-utils)
            raise PresetError(str(exc)) from None

    @property
    def active_user(self) -> str | None:
        return self._user()
