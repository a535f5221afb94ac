"""What the desk's physical buttons mean: a pure state machine.

Standard library only, no threads, no clock: every input carries the time
(`now`, seconds on any monotonic scale) and the answer is a list of actions for
the adapter (deskpi.hw.buttons.ButtonPanel) to carry out, plus `next_wake(now)`,
the moment the machine wants `tick()` to be called again.

Buttons are named by strings: ``"up"``, ``"down"``, ``"preset-1"`` ..
``"preset-4"``.

The rules, in the order they are checked when a button goes down:

1. **Child lock on.** Every press gives ``[Stop(), Beep("locked")]`` and
   nothing else: stop always works, nothing moves.
2. **A second button while another is held** gives ``[Stop()]`` and voids
   every press in progress (no more holds, no recall, no save) until those
   buttons are released. So two buttons at once never move the desk, and
   pressing any button while holding another stops it.
3. **The desk is in an automatic move** (``moving=True``: a preset recall, a
   remote or scheduled move) gives ``[Stop()]`` and nothing else for that
   press: its release recalls nothing and a long press saves nothing.
4. **UP / DOWN** move only while held: ``Hold(direction)`` on press and again
   every ``repeat_s`` (renewing the controller's short lease), ``Release()`` on
   release.
5. **Presets**, normal mode: a short touch (released before ``long_press_s``)
   gives ``Recall(slot)`` on release; a long press gives
   ``[Save(slot), Beep("preset_saved")]`` the moment the threshold is crossed
   (the release then does nothing).
6. **Presets**, ``hold_to_run_only`` mode: ``Recall(slot)`` on press and
   ``Stop()`` on release, so the desk moves only while the preset is held.
   Because the press itself moves the desk, a long press cannot mean "save
   the height I am at" once the desk has moved: it saves only when the recall
   was refused (e.g. the preset is empty), which the adapter reports with
   ``on_refused``. Otherwise save from the web page or the CLI.

**Child-lock combination:** hold UP and DOWN together for ``lock_hold_s``
(3 s). The second of the two presses stops the desk (rule 2); after 3 s with
both still held (and no other button) the lock toggles: locking gives
``[Stop(), SetLock(True), Beep("locked")]``, unlocking gives
``[SetLock(False), Beep("unlocked")]``. With ``child_lock_enabled=False`` the
combination can only unlock (a lock set from elsewhere must not be a trap);
it never locks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from deskpi.core.types import Direction

UP = "up"
DOWN = "down"
PRESET_SLOTS = (1, 2, 3, 4)
#: Every button name the logic knows, in panel order.
BUTTONS = (UP, DOWN) + tuple(f"preset-{s}" for s in PRESET_SLOTS)
#: How long UP and DOWN must be held together to toggle the child lock.
LOCK_HOLD_S = 3.0


def preset_key(slot: int) -> str:
    if slot not in PRESET_SLOTS:
        raise ValueError(f"preset slot {slot!r}: slots are {', '.join(map(str, PRESET_SLOTS))}")
    return f"preset-{slot}"


def preset_slot(button: str) -> int | None:
    """The slot of a preset button's name, or None for up/down."""
    if button.startswith("preset-"):
        return int(button[len("preset-"):])
    return None


# -- actions -------------------------------------------------------------------
class Action:
    """Base class of everything the logic asks the adapter to do."""


@dataclass(frozen=True)
class Hold(Action):
    direction: Direction


@dataclass(frozen=True)
class Release(Action):
    pass


@dataclass(frozen=True)
class Stop(Action):
    reason: str = field(default="", compare=False)


@dataclass(frozen=True)
class Recall(Action):
    slot: int


@dataclass(frozen=True)
class Save(Action):
    slot: int


@dataclass(frozen=True)
class SetLock(Action):
    locked: bool


@dataclass(frozen=True)
class Beep(Action):
    pattern: str


# -- the machine -----------------------------------------------------------------
@dataclass
class _Press:
    button: str
    t0: float
    void: bool = False                 # no further actions of its own (rules 1-3)
    next_hold: float | None = None     # up/down: when the next Hold is due
    long_done: bool = False            # preset: the long-press threshold was handled
    recalled: bool = False             # preset, hold-to-run: Recall was emitted
    refused: bool = False              # preset, hold-to-run: that Recall was refused


class ButtonLogic:
    def __init__(self, long_press_s: float, hold_to_run_only: bool = False, child_lock_enabled: bool = True,
                 repeat_s: float = 0.15, lock_hold_s: float = LOCK_HOLD_S) -> None:
        if not long_press_s > 0:
            raise ValueError(f"long_press_s = {long_press_s!r}: must be positive")
        if not repeat_s > 0:
            raise ValueError(f"repeat_s = {repeat_s!r}: must be positive")
        if not lock_hold_s > 0:
            raise ValueError(f"lock_hold_s = {lock_hold_s!r}: must be positive")
        self.long_press_s = float(long_press_s)
        self.hold_to_run_only = bool(hold_to_run_only)
        self.child_lock_enabled = bool(child_lock_enabled)
        self.repeat_s = float(repeat_s)
        self.lock_hold_s = float(lock_hold_s)
        self.locked = False
        self._presses: dict[str, _Press] = {}
        self._combo_at: float | None = None     # when UP+DOWN toggles the lock
        self._now = float("-inf")

    # -- introspection -----------------------------------------------------------
    @property
    def pressed(self) -> tuple[str, ...]:
        """Buttons currently held, in the order they went down."""
        return tuple(self._presses)

    def _clock(self, now: float) -> float:
        # Events may be stamped slightly before the last tick; time never runs back.
        self._now = max(self._now, float(now))
        return self._now

    # -- inputs --------------------------------------------------------------------
    def on_press(self, button: str, now: float, *, moving: bool = False, locked: bool | None = None) -> list[Action]:
        """`button` went down. `moving`: the desk is moving (any source) right now.
        `locked`: the lock state as the rest of the system knows it (None: unchanged)."""
        self._check(button)
        now = self._clock(now)
        out = self.tick(now)
        if locked is not None:
            self.locked = bool(locked)
        if button in self._presses:
            return out                  # a repeated edge (bounce): already down
        others = list(self._presses.values())
        press = _Press(button, now)
        self._presses[button] = press
        # The combination starts only as exactly UP + DOWN, completed by this press.
        self._combo_at = now + self.lock_hold_s if set(self._presses) == {UP, DOWN} else None

        if self.locked or others:
            press.void = True
            for p in others:
                p.void = True
            out = [a for a in out if not isinstance(a, Hold)]      # no renewal just before the stop
            if self.locked:
                return out + [Stop("child lock: only stop works"), Beep("locked")]
            return out + [Stop("two buttons at once")]
        if moving:
            press.void = True
            return out + [Stop("button pressed during an automatic move")]
        slot = preset_slot(button)
        if slot is None:
            press.next_hold = now + self.repeat_s
            return out + [Hold(Direction.UP if button == UP else Direction.DOWN)]
        if self.hold_to_run_only:
            press.recalled = True
            return out + [Recall(slot)]
        return out          # normal preset: decided on release or at the long-press threshold

    def on_release(self, button: str, now: float) -> list[Action]:
        self._check(button)
        now = self._clock(now)
        out = self.tick(now)          # a long press crossed late still saves before the release counts
        press = self._presses.pop(button, None)
        if button in (UP, DOWN):
            self._combo_at = None
        if press is None or press.void:
            return out
        slot = preset_slot(button)
        if slot is None:
            return out + [Release()]
        if self.hold_to_run_only:
            return out + ([Stop("preset released (hold-to-run)")] if press.recalled else [])
        if not press.long_done:
            return out + [Recall(slot)]
        return out

    def on_refused(self, action: Action, now: float) -> None:
        """The adapter could not carry out `action` (MotionRefused): adjust.

        A refused Hold stops repeating for that press (its release still says
        Release); a refused hold-to-run Recall lets a long press save."""
        now = self._clock(now)
        if isinstance(action, Hold):
            p = self._presses.get(UP if action.direction is Direction.UP else DOWN)
            if p is not None:
                p.next_hold = None
        elif isinstance(action, Recall):
            p = self._presses.get(preset_key(action.slot))
            if p is not None and p.recalled:
                p.refused = True

    def tick(self, now: float) -> list[Action]:
        now = self._clock(now)
        out: list[Action] = []
        for p in self._presses.values():
            if p.void:
                continue
            slot = preset_slot(p.button)
            if slot is None:
                if p.next_hold is not None and now >= p.next_hold:
                    out.append(Hold(Direction.UP if p.button == UP else Direction.DOWN))
                    p.next_hold = now + self.repeat_s
            elif self._long_pending(p) and now >= p.t0 + self.long_press_s:
                p.long_done = True
                out += [Save(slot), Beep("preset_saved")]
        if self._combo_at is not None and now >= self._combo_at:
            self._combo_at = None
            if self.locked:
                self.locked = False
                out += [SetLock(False), Beep("unlocked")]
            elif self.child_lock_enabled:
                self.locked = True
                out += [Stop("child lock"), SetLock(True), Beep("locked")]
        return out

    def next_wake(self, now: float) -> float | None:
        """When tick() next has something to do (absolute time), or None."""
        times: list[float] = []
        for p in self._presses.values():
            if p.void:
                continue
            if p.next_hold is not None:
                times.append(p.next_hold)
            elif preset_slot(p.button) is not None and self._long_pending(p):
                times.append(p.t0 + self.long_press_s)
        if self._combo_at is not None:
            times.append(self._combo_at)
        return min(times) if times else None

    def cancel(self, now: float) -> list[Action]:
        """Forget every press (shutting down): Stop if a press of ours may be moving the desk."""
        now = self._clock(now)
        moving = any(not p.void and (p.next_hold is not None or p.recalled) for p in self._presses.values())
        self._presses.clear()
        self._combo_at = None
        return [Stop("button panel closing")] if moving else []

    # -- helpers -------------------------------------------------------------------
    def _long_pending(self, p: _Press) -> bool:
        if p.long_done:
            return False
        if self.hold_to_run_only:
            return p.refused        # only a press that did not move the desk may save
        return True

    @staticmethod
    def _check(button: str) -> None:
        if button not in BUTTONS:
            raise ValueError(f"unknown button {button!r}; buttons are {', '.join(BUTTONS)}")
