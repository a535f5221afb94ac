"""The status LED and the buzzer: gpiozero devices driven by named patterns.

`Indicators(settings.indicators, pin_factory)` builds a PWMLED (or a plain LED
when the pin cannot do PWM) and a Buzzer on the configured pins; a pin that is
None is simply not connected, and the object still works (it just has nothing
to drive). A device that cannot be built is a warning in `problems`, never a
crash: indicators are optional, the desk must still move.

- `set_state(name)`: the continuous state ('idle', 'moving', 'fault',
  'locked', 'warning_countdown', 'claim_pending'; None turns everything off;
  the daemon's heartbeat picks it with `indicator_patterns.desk_state`).
  Setting the state it already has does not restart its animation.
- `show(name)`: a one-shot event ('preset_saved', 'error', 'reminder',
  'unlocked', or one pass of any looping pattern) played over the state, which
  resumes when it ends.
- `close()`: everything off, devices closed.

What each pattern looks like is in deskpi.core.panel.indicator_patterns; a small thread
samples it (every `frame_s` while something animates, not at all while the
output is constant) and writes the pins only when a level changes.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from deskpi.core.panel import indicator_patterns as patterns
from deskpi.core.panel.indicator_patterns import OFF, Level, level_at

log = logging.getLogger(__name__)

FRAME_S = 0.02


class Indicators:
    def __init__(self, settings, pin_factory=None, *, clock: Callable[[], float] = time.monotonic,
                 frame_s: float = FRAME_S, start: bool = True) -> None:
        self.settings = settings
        self.clock = clock
        self.frame_s = frame_s
        self.problems: list[str] = []
        self.led = self._build_led(settings.led_pin, settings.led_active_high, pin_factory)
        self.buzzer = self._build_buzzer(settings.buzzer_pin, settings.buzzer_active_high, pin_factory)
        self._cond = threading.Condition()
        self._state: tuple[str, float] | None = None       # (pattern name, started at)
        self._overlay: tuple[str, float] | None = None
        self._written: tuple[float, bool] | None = None
        self.level: Level = OFF
        self._closed = False
        self._thread: threading.Thread | None = None
        if start and (self.led is not None or self.buzzer is not None):
            self._thread = threading.Thread(target=self._run, name="indicators", daemon=True)
            self._thread.start()

    # -- devices ---------------------------------------------------------------------
    def _build_led(self, pin, active_high: bool, pin_factory):
        if pin is None:
            return None
        from gpiozero import LED, PWMLED
        from gpiozero.exc import PinPWMUnsupported
        try:
            try:
                return PWMLED(pin, active_high=active_high, initial_value=0, pin_factory=pin_factory)
            except PinPWMUnsupported:
                return LED(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except Exception as exc:  # noqa: BLE001 - an optional part must not stop the daemon
            self.problems.append(f"[indicators] led_pin = {pin}: cannot drive the LED ({exc}); carrying on without it")
            log.warning(self.problems[-1])
            return None

    def _build_buzzer(self, pin, active_high: bool, pin_factory):
        if pin is None:
            return None
        from gpiozero import Buzzer
        try:
            return Buzzer(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except Exception as exc:  # noqa: BLE001
            self.problems.append(f"[indicators] buzzer_pin = {pin}: cannot drive the buzzer ({exc}); "
                                 "carrying on without it")
            log.warning(self.problems[-1])
            return None

    # -- requests --------------------------------------------------------------------
    @property
    def state(self) -> str | None:
        with self._cond:
            return None if self._state is None else self._state[0]

    @property
    def showing(self) -> str | None:
        """The one-shot pattern playing now, if any."""
        with self._cond:
            return None if self._overlay is None else self._overlay[0]

    def set_state(self, state: str | None) -> None:
        if state is not None:
            patterns.get(state)
        with self._cond:
            if self._closed:
                return
            current = None if self._state is None else self._state[0]
            if state == current:
                return              # the daemon re-asserts its state often: keep the animation's phase
            self._state = None if state is None else (state, self.clock())
            self._cond.notify_all()

    def show(self, pattern: str) -> None:
        patterns.get(pattern)
        with self._cond:
            if self._closed:
                return
            self._overlay = (pattern, self.clock())
            self._cond.notify_all()

    # -- rendering ---------------------------------------------------------------------
    def level_at(self, now: float) -> Level:
        """What should show at `now` (and drop a finished one-shot)."""
        with self._cond:
            if self._closed:
                return OFF
            if self._overlay is not None:
                lv = level_at(self._overlay[0], self._overlay[1], now, once=True)
                if not lv.done:
                    return lv
                self._overlay = None
            if self._state is None:
                return OFF
            return level_at(self._state[0], self._state[1], now)

    def render(self, now: float) -> Level:
        """Write the level for `now` to the pins (only what changed); return it."""
        lv = self.level_at(now)
        with self._cond:
            if self._closed:
                return OFF
            self.level = lv
            self._write(lv.led, lv.buzzer)
        return lv

    def _write(self, led: float, buzzer: bool) -> None:
        if self._written == (led, buzzer):
            return
        try:
            if self.led is not None:
                if hasattr(self.led, "pulse"):                 # PWMLED
                    self.led.value = led
                else:
                    self.led.value = led >= 0.5
            if self.buzzer is not None:
                self.buzzer.value = buzzer
            self._written = (led, buzzer)
        except Exception:
            log.exception("could not drive the indicators")

    def _animating(self) -> bool:
        if self._overlay is not None:
            return True
        return self._state is not None and not patterns.get(self._state[0]).static

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
            self.render(self.clock())
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(timeout=self.frame_s if self._animating() else None)

    # -- shutdown ------------------------------------------------------------------------
    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._state = self._overlay = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        # Everything off, then the devices closed; each step runs even if one fails.
        for dev in (self.led, self.buzzer):
            if dev is None:
                continue
            for step in (dev.off, dev.close):
                try:
                    step()
                except Exception:
                    log.exception("closing an indicator failed")
        self.level = OFF
