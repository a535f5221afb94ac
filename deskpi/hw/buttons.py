"""The desk's physical buttons: gpiozero Buttons feeding the pure ButtonLogic.

What the buttons do (the full rules are in deskpi.core.panel.button_logic):

- UP / DOWN move the desk only while held.
- PRESET 1-4: a short touch recalls the preset; holding one for
  ``[buttons] long_press_s`` (default 2 s) saves the current height there, with
  a confirmation beep the moment it is saved. With
  ``[buttons] hold_to_run_only = true`` a preset moves the desk only while it
  is held.
- Any button pressed while the desk is moving on its own (a recall, a remote
  or scheduled move) stops it, and does nothing else.
- Two buttons at once never move the desk.

**Child lock:** hold **UP and DOWN together for 3 seconds** to lock the desk;
do the same again to unlock it. While locked, every button only stops the
desk (stop always works) and the LED/buzzer show the 'locked' pattern.
``[buttons] child_lock = false`` disables locking (the combination can then
only unlock a lock set from elsewhere).

**The desk's claim:** when a phone asks to claim the desk, its answer names
one preset (drawn at random); a press of exactly that preset, while nobody
holds the claim and the desk is still, grants it and does nothing else (its
release is swallowed too). Every other press, and every press while someone
holds the claim, is an ordinary press (see deskpi.webapp.claims).

How it is wired: gpiozero runs ``when_pressed``/``when_released`` in whatever
thread saw the edge (for mock pins, synchronously inside ``drive_low()``), so
the callbacks only put ``(event, button, time)`` on a queue. One worker thread
feeds those to ButtonLogic, carries out the actions against the DeskService as
``Source.BUTTON`` and sleeps until the logic's next wake-up. A refused request
(MotionRefused) plays the 'error' pattern; nothing a button does can crash the
worker.

For the simulator, ``press(key, pressed)`` drives the *mock* pin of a button
('up', 'down', 'preset-1'..'preset-4'), so a virtual keypad goes through the
very same gpiozero callbacks as a finger on a real button.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from deskpi.core.faults import MotionRefused
from deskpi.core.panel.button_logic import (
    BUTTONS,
    DOWN,
    UP,
    Action,
    Beep,
    ButtonLogic,
    Hold,
    Recall,
    Release,
    Save,
    SetLock,
    Stop,
    preset_key,
    preset_slot,
)
from deskpi.core.types import Direction, Source

log = logging.getLogger(__name__)

_CLOSE = "close"
_FLUSH = "flush"


class ButtonPanel:
    def __init__(self, settings, service, pin_factory=None, indicators=None,
                 clock: Callable[[], float] = time.monotonic, *, repeat_s: float = 0.15) -> None:
        from gpiozero import Button

        self.settings = settings
        self.service = service
        self.indicators = indicators
        self.clock = clock
        self.pull_up = bool(settings.pull_up)
        self.logic = ButtonLogic(settings.long_press_s, settings.hold_to_run_only, settings.child_lock,
                                 repeat_s=repeat_s)
        self._q: queue.Queue = queue.Queue()
        self._swallowed: set[str] = set()       # keys whose press claimed the desk
        self._closed = False
        self._close_lock = threading.Lock()
        pins: dict[str, int | None] = {UP: settings.up_pin, DOWN: settings.down_pin}
        presets = tuple(settings.preset_pins)
        if len(presets) > 4:
            raise ValueError(f"[buttons] preset_pins = {list(presets)!r}: at most 4 presets")
        for slot in range(1, 5):
            pins[preset_key(slot)] = presets[slot - 1] if slot <= len(presets) else None
        self.pins = pins
        bounce = settings.bounce_s if settings.bounce_s and settings.bounce_s > 0 else None
        self.buttons: dict[str, object] = {}
        try:
            for key in BUTTONS:
                if pins[key] is None:
                    continue
                btn = Button(pins[key], pull_up=self.pull_up, bounce_time=bounce, pin_factory=pin_factory)
                btn.when_pressed = self._callback("press", key)
                btn.when_released = self._callback("release", key)
                _stop_hold_polling(btn)
                self.buttons[key] = btn
        except Exception:
            self._close_devices()
            raise
        self._worker = threading.Thread(target=self._run, name="buttons", daemon=True)
        self._worker.start()

    @property
    def preset_slots(self) -> tuple[int, ...]:
        """The presets that have a button wired (a claim asks for one of these)."""
        return tuple(s for s in range(1, 5) if preset_key(s) in self.buttons)

    # -- gpiozero side: never more than a queue put ------------------------------------
    def _callback(self, event: str, key: str) -> Callable[[], None]:
        def callback() -> None:
            self._q.put((event, key, self.clock()))
        return callback

    # -- simulator keypad ----------------------------------------------------------------
    def press(self, key: str, pressed: bool) -> None:
        """Press (True) or release (False) a button by driving its mock pin."""
        if key not in BUTTONS:
            raise ValueError(f"unknown button {key!r}; buttons are {', '.join(BUTTONS)}")
        if self._closed:
            raise RuntimeError("the button panel is closed")
        btn = self.buttons.get(key)
        if btn is None:
            raise ValueError(f"the {key} button is not connected ([buttons] has no pin for it)")
        pin = btn.pin
        if not hasattr(pin, "drive_low"):
            raise RuntimeError(f"the {key} button is on a real pin ({pin}); only mock pins can be pressed")
        level_high = (not pressed) if self.pull_up else pressed
        if level_high:
            pin.drive_high()
        else:
            pin.drive_low()

    # -- worker ----------------------------------------------------------------------------
    def flush(self, timeout: float = 2.0) -> bool:
        """Wait until every event queued so far has been handled and the timers checked
        against the clock; False on timeout. (Tests on a fake clock advance it, then flush.)"""
        done = threading.Event()
        self._q.put((_FLUSH, done, None))
        return done.wait(timeout)

    def _run(self) -> None:
        while True:
            wake = self.logic.next_wake(self.clock())
            timeout = None if wake is None else max(0.0, wake - self.clock())
            try:
                items = [self._q.get(timeout=timeout)]
            except queue.Empty:
                items = []
            # Edges that already happened come before the timers: drain them first.
            while True:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            flushed: list[threading.Event] = []
            for kind, key, t in items:
                if kind == _CLOSE:
                    self._guarded(lambda: self.logic.cancel(self.clock()))
                    for ev in flushed:
                        ev.set()
                    key.set()
                    return
                if kind == _FLUSH:
                    flushed.append(key)
                elif kind == "press":
                    self._guarded(lambda key=key, t=t: self._pressed(key, t))
                elif kind == "release":
                    self._guarded(lambda key=key, t=t: self._released(key, t))
            self._guarded(lambda: self.logic.tick(self.clock()))
            for ev in flushed:
                ev.set()

    def _guarded(self, step: Callable[[], list[Action]]) -> None:
        """Run one logic step and carry out its actions; nothing here may kill the worker."""
        try:
            self._execute(step())
        except Exception:
            log.exception("button handling failed; stopping the desk")
            self._safe_stop()

    def _pressed(self, key: str, t: float) -> list[Action]:
        moving, locked = self._status()
        claims = getattr(self.service, "claims", None)
        if claims is not None:
            slot = preset_slot(key)
            if slot is not None and not moving:
                # Someone asked on their phone to claim the desk and was told to press this very
                # preset: the press proves they are here, and does nothing else (its release is
                # swallowed too). Any other press (and every press while someone holds the claim)
                # is an ordinary one: the claim book counts it as use and it does its normal job.
                granted = claims.button_pressed(slot)
                if granted is not None:
                    log.info("button %s: desk claimed by %s", key, granted)
                    self._swallowed.add(key)
                    self._show("preset_saved")
                    return []
            else:
                claims.touch()
        return self.logic.on_press(key, t, moving=moving, locked=locked)

    def _released(self, key: str, t: float) -> list[Action]:
        if key in self._swallowed:
            self._swallowed.discard(key)
            return []
        return self.logic.on_release(key, t)

    def _status(self) -> tuple[bool, bool | None]:
        """(is the desk moving, is it locked) as the service sees it: `motion_status`, which reads neither
        the store nor anything slow, since it sits between the button's edge and the motor pin."""
        try:
            return self.service.motion_status()
        except Exception:
            log.exception("could not read the desk's state")
            return False, None

    def _execute(self, actions: list[Action]) -> None:
        skip_saved_beep = False
        for action in actions:
            if isinstance(action, Beep):
                if action.pattern == "preset_saved" and skip_saved_beep:
                    continue
                self._show(action.pattern)
                continue
            try:
                self._do(action)
            except MotionRefused as exc:
                log.info("button: %s refused: %s", action, exc)
                self.logic.on_refused(action, self.clock())
                self._show("error")
                if isinstance(action, Save):
                    skip_saved_beep = True
            except Exception:
                log.exception("button: %s failed", action)
                self._show("error")
                if isinstance(action, Save):
                    skip_saved_beep = True
                elif isinstance(action, (Hold, Recall)):
                    self._safe_stop()
            else:
                # DeskService.save_preset shows 'preset_saved' itself when it has indicators.
                own = getattr(self.service, "indicators", None)
                if isinstance(action, Save) and own is not None and own is self._target():
                    skip_saved_beep = True

    def _do(self, action: Action) -> None:
        s = self.service
        if isinstance(action, Hold):
            key = "up" if action.direction is Direction.UP else "down"
            btn = self.buttons.get(key)
            if btn is not None and not btn.is_pressed:
                # The release edge was lost (debounce, a noisy line): trust the pin's
                # level over our memory of it, so a missed edge cannot run the desk.
                log.warning("button %s reads released while holding; releasing", key)
                for follow in self.logic.on_release(key, self.clock()):
                    if not isinstance(follow, Hold):
                        self._do(follow)
                s.release(Source.BUTTON)
                return
            s.hold(action.direction, Source.BUTTON)
        elif isinstance(action, Release):
            s.release(Source.BUTTON)
        elif isinstance(action, Stop):
            s.stop(Source.BUTTON)
        elif isinstance(action, Recall):
            s.recall_preset(action.slot, Source.BUTTON)
        elif isinstance(action, Save):
            s.save_preset(action.slot, source=Source.BUTTON)
        elif isinstance(action, SetLock):
            setter = getattr(s, "set_locked", None)
            if setter is None:
                setter = s.arbiter.set_locked
            setter(action.locked)
            ind = self._target()
            if ind is not None:
                if action.locked:
                    ind.set_state("locked")
                elif getattr(ind, "state", None) == "locked":
                    ind.set_state("idle")
        else:
            raise TypeError(f"unknown action {action!r}")

    def _target(self):
        return self.indicators if self.indicators is not None else getattr(self.service, "indicators", None)

    def _show(self, pattern: str) -> None:
        ind = self._target()
        if ind is None:
            return
        try:
            ind.show(pattern)
        except Exception:
            log.exception("could not show %r", pattern)

    def _safe_stop(self) -> None:
        try:
            self.service.stop(Source.BUTTON)
        except Exception:
            log.exception("stop failed")

    # -- shutdown -------------------------------------------------------------------------
    def close(self) -> None:
        """Detach the buttons, stop the worker (stopping a move it started), close the devices."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        for btn in self.buttons.values():
            btn.when_pressed = None
            btn.when_released = None
        done = threading.Event()
        self._q.put((_CLOSE, done, None))
        done.wait(2.0)
        self._worker.join(timeout=2.0)
        self._close_devices()

    def _close_devices(self) -> None:
        # Each gpiozero Button's hold thread polls every 0.1 s; closing them one by one
        # costs up to 0.1 s each. Ask them all to stop first so they wind down together.
        for btn in self.buttons.values():
            stopping = getattr(getattr(btn, "_hold_thread", None), "stopping", None)
            if stopping is not None:
                stopping.set()
        for btn in self.buttons.values():
            try:
                btn.close()
            except Exception:
                log.exception("closing a button failed")
        self.buttons = {}


def _stop_hold_polling(btn) -> None:
    """gpiozero gives every Button a thread that wakes ten times a second to
    time `when_held`; ButtonLogic times long presses itself, so at rest those
    wake-ups are the daemon's largest idle cost. Stopping the thread is safe:
    a press then only sets an Event nobody waits on, and close() still works.
    (Private gpiozero API, pinned to 2.x in pyproject.)"""
    thread = getattr(btn, "_hold_thread", None)
    if thread is not None and hasattr(thread, "stop"):
        thread.stop()
