"""Presets of whoever is using the desk: the active user's, or the desk's own when nobody is."""
from __future__ import annotations

from deskpi.people.presets import PresetError, PresetStore, checked_height
from deskpi.store import StoreError


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
        self.fallback._check_slot(slot)
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
        self.fallback._check_slot(slot)
        try:
            return self.store.set_preset(user, slot, h)
        except StoreError as exc:
            raise PresetError(str(exc)) from None

    @property
    def active_user(self) -> str | None:
        return self._user()
