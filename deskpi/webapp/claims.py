"""Who may move the desk from a phone: the claim.

A phone on the office LAN could belong to anyone, so remote motion needs the
person to be at the desk. A signed-in user asks to claim it; the server draws
one of the desk's preset buttons at random (`secrets`) for that request, the
phone says "press preset N on the desk", and only a press of preset N within
the window grants it. That press is taken as proof of presence and does
nothing else; a press of any other preset does its normal job and grants
nothing. While requests are pending the desk's LED blinks (the heartbeat asks
`has_pending`).

The person holding the claim stays in control:

- While the claim is held, no press grants anything: every press is taken as
  the holder's own (it does what a press does and keeps the claim in use).
- A request made while someone holds the claim waits (up to `wait_s`) for the
  holder's consent or absence. The holder sees it (who, since when) and may
  refuse it; a refused person cannot ask again for `refused_s` while that
  claim lasts. The holder consents by releasing the desk; absence is the claim
  ending by itself after the idle time. Either way every waiting request then
  has a fresh window (`window_s`) for its own preset press.
- Requests of several people may wait at once, each on its own preset (so at
  most one per preset button); asking again keeps your preset and restarts
  your time.

The claim lasts until its holder releases it, until nobody has used the desk
for the idle time, or until an admin releases it by force.

Pure bookkeeping with an injected clock and one lock; the caller decides what a
grant means (making the claimant the active user).
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WINDOW_S = 30.0
WAIT_S = 120.0          # a request waits this long for the holder's consent or absence
REFUSED_S = 300.0       # a refused person may not ask again for this long (while that claim lasts)
SLOTS = (1, 2, 3, 4)


class ClaimError(Exception):
    """A request or refusal that cannot be made now. `kind`: "busy" (every preset button is taken
    by a waiting request), "refused" (the holder refused this person a moment ago), "no_buttons"
    (the desk has no preset button to confirm with), "not_holder" (only the holder may refuse)."""

    def __init__(self, kind: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after_s = retry_after_s


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


def concerns(view: ClaimView, name: str | None) -> bool:
    """Whether `view.for_user(name)` differs from what someone it does not mention sees."""
    return (_same(view.holder, name) or view.request_of(name) is not None
            or any(_same(who, name) for who, _by in view.refused))


@dataclass(frozen=True)
class Request:
    """A pending request as the views show it."""
    name: str
    slot: int
    since: float            # wall-clock (Unix) time it was made
    age_s: float
    left_s: float           # until it ends by itself
    waiting: bool           # someone else holds the claim: no press can grant it now


@dataclass
class _Pending:
    name: str
    slot: int
    at: float               # clock time
    wall: float             # Unix time
    until: float


@dataclass(frozen=True)
class ClaimView:
    holder: str | None
    idle_left_s: float | None       # until the holder's claim ends by itself
    requests: tuple[Request, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()     # (refused person, by whom) while the refusal stands

    @property
    def pending(self) -> str | None:
        """The oldest waiting request's person."""
        return self.requests[0].name if self.requests else None

    @property
    def window_left_s(self) -> float | None:
        return self.requests[0].left_s if self.requests else None

    @property
    def state(self) -> str:
        return "claimed" if self.holder is not None else "pending" if self.requests else "none"

    @property
    def user(self) -> str | None:
        return self.holder if self.holder is not None else self.pending

    def request_of(self, name: str | None) -> Request | None:
        return next((r for r in self.requests if _same(r.name, name)), None)

    def for_user(self, name: str | None, *, required: bool) -> dict:
        """What `name` should see: their own claim or request first, else whoever holds or waits.
        The holder also sees who asks for the desk; a requester sees which preset to press."""
        own = self.request_of(name)
        if _same(self.holder, name):
            state, user, mine, left = "claimed", self.holder, True, self.idle_left_s
        elif own is not None:
            state, user, mine, left = "pending", own.name, True, own.left_s
        elif self.holder is not None:
            state, user, mine, left = "claimed", self.holder, False, self.idle_left_s
        elif self.requests:
            state, user, mine, left = "pending", self.requests[0].name, False, self.requests[0].left_s
        else:
            state, user, mine, left = "none", None, False, None
        holder_here = _same(self.holder, name)
        return {"state": state, "user": user, "mine": mine,
                "expires_in_s": None if left is None else round(left, 1), "required": required,
                "press_preset": None if own is None else own.slot,
                "waiting_for": self.holder if own is not None and own.waiting else None,
                "requests": [{"user": r.name, "since": round(r.since, 1), "age_s": round(r.age_s, 1),
                              "expires_in_s": round(r.left_s, 1)} for r in self.requests] if holder_here else [],
                "refused_by": next((by for who, by in self.refused if _same(who, name)), None)}


class ClaimBook:
    def __init__(self, *, idle_s: float, window_s: float = WINDOW_S, wait_s: float = WAIT_S,
                 refused_s: float = REFUSED_S, slots: Sequence[int] = SLOTS,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 choose: Callable[[Sequence[int]], int] = secrets.choice,
                 on_grant: Callable[[str], None] | None = None) -> None:
        if not idle_s > 0 or not window_s > 0 or not wait_s > 0 or not refused_s >= 0:
            raise ValueError(f"idle_s, window_s and wait_s must be positive and refused_s not negative, got "
                             f"{idle_s!r}, {window_s!r}, {wait_s!r} and {refused_s!r}")
        if any(s not in SLOTS for s in slots):
            raise ValueError(f"preset slots {list(slots)!r}: each must be one of {list(SLOTS)}")
        self.idle_s = float(idle_s)
        self.window_s = float(window_s)
        self.wait_s = float(wait_s)
        self.refused_s = float(refused_s)
        self.slots = tuple(sorted(set(slots)))
        self.clock = clock
        self.wall = wall
        self.choose = choose
        self.on_grant = on_grant
        self._lock = threading.Lock()
        self._holder: str | None = None
        self._last_use = 0.0
        self._pending: list[_Pending] = []                    # oldest first
        self._refused: dict[str, tuple[str, str, float]] = {}  # casefolded name -> (name, by, until)

    # -- time passing --------------------------------------------------------------------
    def _expire(self, now: float) -> None:
        if self._holder is not None and now - self._last_use >= self.idle_s:
            self._free(self._last_use + self.idle_s)         # the holder is gone: that is absence
        self._pending = [p for p in self._pending if now < p.until]
        self._refused = {k: v for k, v in self._refused.items() if now < v[2]}

    def _free(self, at: float) -> None:
        """The holder's claim ended at `at` (released or idle): waiting requests get their window."""
        self._pending = [p for p in self._pending if at < p.until]
        for p in self._pending:
            p.until = at + self.window_s          # a fresh window, no longer than one made now
        self._holder = None
        self._refused.clear()

    def _find(self, name: str) -> _Pending | None:
        return next((p for p in self._pending if _same(p.name, name)), None)

    # -- reading ---------------------------------------------------------------------------
    def view(self) -> ClaimView:
        with self._lock:
            now = self.clock()
            self._expire(now)
            held = self._holder is not None
            return ClaimView(
                self._holder, None if not held else self._last_use + self.idle_s - now,
                tuple(Request(p.name, p.slot, p.wall, now - p.at, p.until - now, held) for p in self._pending),
                tuple((name, by) for name, by, _ in self._refused.values()))

    def holder(self) -> str | None:
        with self._lock:
            self._expire(self.clock())
            return self._holder

    def holds(self, name: str) -> bool:
        return _same(self.holder(), name)

    def has_pending(self) -> bool:
        """Is anyone waiting for a press (the LED shows it)?"""
        with self._lock:
            self._expire(self.clock())
            return bool(self._pending)

    def slot_for(self, name: str) -> int | None:
        """The preset `name` has to press, if they have a request waiting."""
        with self._lock:
            self._expire(self.clock())
            p = self._find(name)
            return None if p is None else p.slot

    # -- changing ---------------------------------------------------------------------------
    def request(self, name: str) -> ClaimView:
        """Ask for the desk. A first request draws a free preset at random; asking again keeps it
        and restarts the time. Raises ClaimError when it cannot be made now."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if _same(self._holder, name):
                self._last_use = now
            else:
                self._ask(name, now)
        return self.view()

    def _ask(self, name: str, now: float) -> None:
        refusal = self._refused.get(name.casefold())
        if refusal is not None:
            left = refusal[2] - now
            raise ClaimError("refused", f"{refusal[1]} refused your request for the desk; you may ask again "
                                        f"in {left:.0f} s, or when they release it", left)
        until = now + (self.wait_s if self._holder is not None else self.window_s)
        mine = self._find(name)
        if mine is not None:
            mine.until = max(mine.until, until)
            return
        if not self.slots:
            raise ClaimError("no_buttons", "this desk has no preset button to confirm a claim with "
                                           "([buttons] preset_pins is empty); ask an admin")
        taken = {p.slot for p in self._pending}
        free = [s for s in self.slots if s not in taken]
        if not free:
            soonest = min(p.until for p in self._pending) - now
            raise ClaimError("busy", f"{len(self._pending)} requests are already waiting, one for each "
                                     f"preset button; try again in {soonest:.0f} s", soonest)
        self._pending.append(_Pending(name, self.choose(free), now, self.wall(), until))

    def button_pressed(self, slot: int) -> str | None:
        """Preset `slot` was pressed at the desk. Returns who was granted the claim (the press is
        then consumed), or None (the press does its normal job): while someone holds the claim
        the press is theirs and grants nothing; otherwise only the preset a request drew grants it."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self._holder is not None:
                self._last_use = now          # somebody is at the desk: the claim is in use
                return None
            match = next((p for p in self._pending if p.slot == slot), None)
            if match is None:
                return None
            self._pending.remove(match)
            self._holder = match.name
            self._last_use = now
            self._refused.clear()
            granted = match.name
        if self.on_grant is not None:
            self.on_grant(granted)
        return granted

    def touch(self, name: str | None = None) -> None:
        """The holder (or, with no name, anyone at the desk) used it: restart the idle time."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if self._holder is not None and (name is None or _same(self._holder, name)):
                self._last_use = now

    def release(self, name: str, *, force: bool = False) -> bool:
        """Give up the claim (or cancel one's request); `force` (an admin) ends the claim and every
        request. True if there was something to release. The holder releasing consents to the
        waiting requests: each may now be granted by its own preset press."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            before = len(self._pending)
            self._pending = [p for p in self._pending if not (force or _same(p.name, name))]
            released = len(self._pending) != before
            if self._holder is not None and (force or _same(self._holder, name)):
                self._free(now)
                released = True
            return released

    def refuse(self, by: str, name: str, *, force: bool = False) -> bool:
        """The holder (or an admin, `force`) refuses `name`'s request: it ends now and `name` may not
        ask again for `refused_s` while this claim lasts. False if `name` has no request waiting;
        ClaimError("not_holder") if `by` does not hold the claim."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if not force and not _same(self._holder, by):
                who = "nobody holds it" if self._holder is None else f"{self._holder} holds it"
                raise ClaimError("not_holder", f"only the person holding the desk may refuse a request ({who})")
            mine = self._find(name)
            if mine is None:
                return False
            self._pending.remove(mine)
            if self.refused_s > 0:
                self._refused[mine.name.casefold()] = (mine.name, self._holder or by, now + self.refused_s)
            return True

    def rename(self, old: str, new: str) -> None:
        """A person was renamed: what they hold or asked for stays theirs under the new name."""
        with self._lock:
            if _same(self._holder, old):
                self._holder = new
            for p in self._pending:
                if _same(p.name, old):
                    p.name = new
            self._refused = {(new.casefold() if _same(who, old) else key): (new if _same(who, old) else who,
                                                                            new if _same(by, old) else by, until)
                             for key, (who, by, until) in self._refused.items()}

    def forget(self, name: str) -> None:
        """A user was removed: whatever they held or asked for goes."""
        self.release(name, force=False)
        with self._lock:
            self._refused.pop(name.casefold(), None)
