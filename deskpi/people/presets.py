"""Preset heights, kept in a small JSON file written atomically.

(Per-user presets in the database arrive with user profiles; until then the
desk has one set.)
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from pathlib import Path

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


class PresetStore:
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
        self._check_slot(slot)
        with self._lock:
            return self._values[slot]

    def all(self) -> dict[int, float | None]:
        with self._lock:
            return dict(self._values)

    def save(self, slot: int, height_mm: float) -> float:
        self._check_slot(slot)
        h = checked_height(height_mm, self.limits)
        with self._lock:
            self._values[slot] = round(h, 1)
            self._write()
        return round(h, 1)

    def _check_slot(self, slot: int) -> None:
        if slot not in SLOTS:
            raise PresetError(f"preset {slot!r} does not exist; presets are 1-4")

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".presets.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({str(k): v for k, v in self._values.items()}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
