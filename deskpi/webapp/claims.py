"""Who may move the desk from a phone: the claim.

A phone on the office LAN could belong to anyone, so remote motion needs the
person to be at the desk. A signed-in user asks to claim it, then presses any
preset button on the desk within the window; that press is taken as proof of
presence and does nothing else. The claim lasts until its holder releases it,
until nobody has used the desk for the idle time, or until someone else claims
it the same way.

Pure bookkeeping with an injected clock and one lock; the caller decides what a
grant means (making the claimant the active user).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 30.0


@dataclass(frozen=True)
class ClaimView:
    holder: str | None
    idle_left_s: float | None       # until the holder's claim ends by itself
    pending: str | None
    window_left_s: float | None     # to press a button for the pending request

    @property
    def state(self) -> str:
        return "claimed" if self.holder is not None else "pending" if self.pending is not None else "none"

    @property
    def user(self) -> str | None:
        return self.holder if self.holder is not None else self.pending

    def for_user(self, name: str | None, *, required: bool) -> dict:
        """What `name` should see: their own claim or request first, else whoever holds or waits."""
        def same(other):
            return name is not None and other is not None and other.casefold() == name.casefold()
        if same(self.holder):
            state, user, mine, left = "claimed", self.holder, True, self.idle_left_s
        elif same(self.pending):
            state, user, mine, left = "pending", self.pending, True, self.window_left_s
        elif self.holder is not None:
            state, user, mine, left = "claimed", self.holder, False, self.idle_left_s
        elif self.pending is not None:
            state, user, mine, left = "pending", self.pending, False, self.window_left_s
        else:
            state, user, mine, left = "none", None, False, None
        return {"state": state, "user": user, "mine": mine,
                "expires_in_s": None if left is None else round(left, 1), "required": required}


class ClaimBook:
    def __init__(self, *, idle_s: float, window_s: float = WINDOW_S,
                 clock: Callable[[], float] = time.monotonic,
                 on_grant: Callable[[str], None] | None = None) -> None:
        if not idle_s > 0 or not window_s > 0:
            raise ValueError(f"idle_s and window_s must be positive, got {idle_s!r} and {window_s!r}")
        self.idle_s = float(idle_s)
        self.window_s = float(window_s)
        self.clock = clock
        self.on_grant = on_grant
        self._lock = threading.Lock()
        self._holder: str | None = None
        self._last_use = 0.0
        self._pending: str | None = None
        self._pending_until = 0.0

    def _expire(self, now: float) -> None:
        if self._pending is not None and now >= self._pending_until:
            self._pending = None
        if self._holder is not None and now - self._last_use >= self.idle_s:
            self._holder = None

    def view(self) -> ClaimView:
        with self._lock:
            now = self.clock()
            self._expire(now)
            return ClaimView(self._holder, None if self._holder is None else self._last_use + self.idle_s - now,
                             self._pending, None if self._pending is None else self._pending_until - now)

    def holder(self) -> str | None:
        with self._lock:
            self._expire(self.clock())
            return self._holder

    def holds(self, name: str) -> bool:
        holder = self.holder()
        return holder is not None and holder.casefold() == name.casefold()

    def request(self, name: str) -> ClaimView:
        """Start (or restart) the window for `name`; a newer request replaces an older one."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            self._pending = name
            self._pending_until = now + self.window_s
        return self.view()

    def button_pressed(self) -> str | None:
        """A preset button was pressed at the desk. Returns who was granted the claim (the press
        is then consumed), or None when nobody was waiting (the press does its normal job)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self._holder is not None:
                self._last_use = now          # somebody is at the desk: the claim is in use
            granted = self._pending
            if granted is None:
                return None
            self._pending = None
            self._holder = granted
            self._last_use = now
        if self.on_grant is not None:
            self.on_grant(granted)
        return granted

    def touch(self, name: str | None = None) -> None:
        """The holder (or, with no name, anyone at the desk) used it: restart the idle time."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self._holder is not None and (name is None or self._holder.casefold() == name.casefold()):
                self._last_use = now

    def release(self, name: str, *, force: bool = False) -> bool:
        """Give up the claim (or a pending request). True if there was something to release."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            released = False
            if self._pending is not None and (force or self._pending.casefold() == name.casefold()):
                self._pending = None
                released = True
            if self._holder is not None and (force or self._holder.casefold() == name.casefold()):
                self._holder = None
                released = True
            return released

    def forget(self, name: str) -> None:
        """A user was removed: whatever they held goes."""
        self.release(name, force=False)
