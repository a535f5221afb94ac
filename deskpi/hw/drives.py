"""Motor drives: the only code that writes the motor's output pins.

Safety rules shared by every drive:

* The motor is off unless a caller keeps asking for a direction. Construction,
  ``close()``, any error on the write path and ``emergency_off()`` leave it off.
* The two directions are never on together, and a reversal rests for the
  interlock's dead time with both outputs off. gpiozero's ``Motor`` has neither
  a lock nor a dead time (two threads energised both directions hundreds of
  times in a 3 s trial), so these drives own the interlock themselves.
* The "off" pin is always written before the "on" pin, so a failed write
  leaves the motor off rather than in both directions.

Pin libraries (lgpio, RPi.GPIO) are never imported here: gpiozero picks them
lazily from ``pin_factory`` (or ``GPIOZERO_PIN_FACTORY``).
"""
from __future__ import annotations

import abc
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from gpiozero import Device, DigitalOutputDevice, PWMOutputDevice

from deskpi.core.motion.interlock import MIN_DEAD_TIME_S, Interlock
from deskpi.core.types import Direction

log = logging.getLogger(__name__)

Clock = Callable[[], float]
PinSpec = int | str

#: Ramp step of the H-bridge thread: fine enough that a 0.2-0.3 s soft start
#: has dozens of steps, coarse enough to cost nothing on a Pi Zero.
RAMP_STEP_S = 0.005


class DriveClosed(RuntimeError):
    """A direction was requested from a drive that has been closed."""


class DriveFault(RuntimeError):
    """The drive failed while writing its outputs and turned itself off."""


def _check_power(power: float) -> float:
    if not (0.0 <= power <= 1.0):  # also rejects NaN
        raise ValueError(f"power={power!r} must be between 0.0 and 1.0")
    return float(power)


def _try_all(actions: Iterable[Callable[[], Any]]) -> None:
    """Run every action even if some fail; re-raise the first failure.

    Shutdown paths must not stop half way: one broken pin must not keep the
    other output on.
    """
    first: BaseException | None = None
    for action in actions:
        try:
            action()
        except Exception as exc:
            log.exception("motor drive: turning an output off failed")
            first = first or exc
    if first is not None:
        raise first


class MotorDrive(abc.ABC):
    """What the motion arbiter needs from a motor output stage."""

    @abc.abstractmethod
    def set(self, direction: Direction | None, power: float = 1.0) -> Direction | None:
        """Ask for ``direction`` (None or power 0 = off); never blocks.

        Returns the direction energised right now, which may be None while a
        reversal waits out the dead time.
        """

    @property
    @abc.abstractmethod
    def direction(self) -> Direction | None:
        """The direction currently energised, or None."""

    @abc.abstractmethod
    def close(self) -> None:
        """Turn the motor off and release the pins. Safe to call twice."""

    def off(self) -> Direction | None:
        return self.set(None)

    def emergency_off(self) -> None:
        """Off now, from any thread, without any soft stop."""
        self.off()

    def __enter__(self) -> MotorDrive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RelayPairDrive(MotorDrive):
    """Two relays (or any on/off switches), one per direction.

    Non-blocking: reversing turns the active relay off and returns None until
    the dead time has passed; the caller simply asks again (the control loop
    does so every tick). ``earliest_on()`` says when that will succeed.
    """

    def __init__(
        self,
        up_pin: PinSpec,
        down_pin: PinSpec,
        *,
        active_high: bool = True,
        dead_time_s: float = MIN_DEAD_TIME_S,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._interlock = Interlock(dead_time_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._active: Direction | None = None
        self._closed = False
        self._up = DigitalOutputDevice(
            up_pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
        )
        try:
            self._down = DigitalOutputDevice(
                down_pin, active_high=active_high, initial_value=False, pin_factory=pin_factory
            )
        except BaseException:
            self._up.close()
            raise

    def _output(self, direction: Direction) -> DigitalOutputDevice:
        return self._up if direction is Direction.UP else self._down

    @property
    def direction(self) -> Direction | None:
        return self._active

    @property
    def dead_time_s(self) -> float:
        return self._interlock.dead_time_s

    def earliest_on(self, direction: Direction | None) -> float:
        """Clock time at which ``set(direction)`` would energise it."""
        with self._lock:
            return self._interlock.earliest_on(direction, self._clock())

    def set(self, direction: Direction | None, power: float = 1.0) -> Direction | None:
        # Normalise: identity checks below must not mistake 1 for Direction.UP.
        power = _check_power(power)
        want = Direction(direction) if direction is not None and power > 0.0 else None
        with self._lock:
            if self._closed:
                if want is None:
                    return None
                raise DriveClosed("relay drive is closed")
            try:
                return self._apply(want)
            except BaseException:
                self._fail_safe()
                raise

    def _apply(self, want: Direction | None) -> Direction | None:
        if want is None or (self._active is not None and want is not self._active):
            self._release()
        if want is None:
            return None
        granted = self._interlock.request(want, self._clock())
        if granted is not None and self._active is not granted:
            self._output(granted.opposite).off()  # off pin before on pin
            self._output(granted).on()
            self._active = granted
        return self._active

    def _release(self) -> None:
        # Both outputs, the active one first: re-asserting "off" on the idle
        # one costs nothing and corrects anything that toggled it behind our back.
        first = self._output(self._active) if self._active else self._up
        second = self._down if first is self._up else self._up
        _try_all([first.off, second.off])
        self._active = None
        # Stamp the dead time after the write, so it is measured at the pins.
        self._interlock.request(None, self._clock())

    def _fail_safe(self) -> None:
        self._active = None
        with contextlib.suppress(Exception):  # already logged; the original error wins
            _try_all([self._up.off, self._down.off])
        self._interlock.request(None, self._clock())

    def close(self) -> None:
        """Turn off, release the pins, and keep them driven at the off level.

        gpiozero's close turns a pin back into an input. A floating input can
        read as "on" to an active-low relay board or to a pin pulled up at boot
        (MockPWMPin even drops it to 0, which an active-low simulated relay
        takes as "on"), so the pins are driven off again as in :func:`safe_off`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            held = [
                (dev.pin_factory, dev.pin.info.name, dev.active_high) for dev in (self._up, self._down)
            ]
            try:
                self._release()
            finally:
                try:
                    _try_all([self._up.close, self._down.close])
                finally:
                    _try_all(partial(_hold_off, *args) for args in held)

    def __repr__(self) -> str:
        return f"<RelayPairDrive up={self._up!r} down={self._down!r} active={self._active}>"


class HBridgeDrive(MotorDrive):
    """An H-bridge driven by two PWM inputs (forward = UP), with soft start/stop.

    A daemon thread ramps the duty cycle in ``RAMP_STEP_S`` steps, computing
    each step from ``clock()`` so ramps keep their length whatever the thread
    scheduling. ``ramp_up_s`` is the time from 0 to the requested power,
    ``ramp_down_s`` the time from the run's power to 0 (a stop from part way up
    a ramp is proportionally shorter). 0 disables a ramp.

    ``set()`` only records the target and advances the ramp by one step, so it
    returns at once; :attr:`direction` is the direction whose input carries (or
    is about to carry) duty, including while it ramps down for a reversal.
    """

    def __init__(
        self,
        forward_pin: PinSpec,
        backward_pin: PinSpec,
        *,
        enable_pin: PinSpec | None = None,
        frequency: float = 1000,
        ramp_up_s: float = 0.3,
        ramp_down_s: float = 0.15,
        dead_time_s: float = MIN_DEAD_TIME_S,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        for name, value in (("ramp_up_s", ramp_up_s), ("ramp_down_s", ramp_down_s)):
            if not (0.0 <= value < math.inf):
                raise ValueError(f"{name}={value!r} must be a finite number >= 0")
        self._interlock = Interlock(dead_time_s)
        self._ramp_up_s = float(ramp_up_s)
        self._ramp_down_s = float(ramp_down_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._closed = False
        self._fault: BaseException | None = None
        self._target: tuple[Direction | None, float] = (None, 0.0)
        self._applied: Direction | None = None
        self._duty = 0.0
        self._run_power = 0.0  # power of the current run: sets the ramp rates
        self._last_step: float | None = None  # time of the last ramp step, None when steady

        devices: list[Any] = []
        try:
            for pin in (forward_pin, backward_pin):
                devices.append(
                    PWMOutputDevice(pin, initial_value=0, frequency=frequency, pin_factory=pin_factory)
                )
            self._enable = (
                DigitalOutputDevice(enable_pin, initial_value=False, pin_factory=pin_factory)
                if enable_pin is not None
                else None
            )
        except BaseException:
            for dev in devices:
                dev.close()
            raise
        self._forward, self._backward = devices
        self._thread = threading.Thread(
            target=self._run, name=f"deskpi-hbridge-{forward_pin}-{backward_pin}", daemon=True
        )
        self._thread.start()

    # -- public -----------------------------------------------------------

    @property
    def direction(self) -> Direction | None:
        return self._applied

    @property
    def duty(self) -> float:
        """Duty cycle currently written to the active input (0 when off)."""
        return self._duty

    @property
    def fault(self) -> BaseException | None:
        """The error that made the drive turn itself off, if any."""
        return self._fault

    @property
    def dead_time_s(self) -> float:
        return self._interlock.dead_time_s

    def set(self, direction: Direction | None, power: float = 1.0) -> Direction | None:
        power = _check_power(power)
        target = (Direction(direction), power) if direction is not None and power > 0 else (None, 0.0)
        with self._lock:
            if self._closed or self._fault is not None:
                if target[0] is None:
                    return None
                if self._closed:
                    raise DriveClosed("H-bridge drive is closed")
                raise DriveFault("H-bridge drive faulted; close and rebuild it") from self._fault
            self._target = target
            self._step_safely(self._clock())
            if self._fault is not None:
                raise DriveFault("H-bridge drive faulted and turned off") from self._fault
            result = self._applied
        self._wake.set()
        return result

    def off(self, immediate: bool = False) -> Direction | None:
        if immediate:
            self.emergency_off()
            return None
        return self.set(None)

    def emergency_off(self) -> None:
        """Both inputs to 0 now, no ramp. Safe from any thread, also after close."""
        with self._lock:
            self._target = (None, 0.0)
            if not self._closed:  # close() already left them off
                self._release()
        self._wake.set()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopping = True
            self._target = (None, 0.0)
            try:
                self._release()
            finally:
                self._wake.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        devices = [self._forward, self._backward] + ([self._enable] if self._enable else [])
        _try_all(dev.close for dev in devices)

    # -- ramp machinery (all called with self._lock held) ------------------

    def _run(self) -> None:
        wait: float | None = None
        while True:
            self._wake.wait(wait)
            self._wake.clear()
            with self._lock:
                if self._stopping or self._fault is not None:
                    return
                wait = self._step_safely(self._clock())

    def _step_safely(self, now: float) -> float | None:
        try:
            return self._step(now)
        except BaseException as exc:
            # Fail safe: anything odd on the write path turns the motor off and
            # latches, so a half-written ramp never stays energised.
            log.exception("H-bridge drive fault; turning the motor off")
            with contextlib.suppress(Exception):  # logged in _try_all
                self._release()
            self._fault = exc  # last: whoever sees the fault sees the motor off
            return None

    def _step(self, now: float) -> float | None:
        """Advance one ramp step; return seconds until the next one (None = idle)."""
        want, power = self._target
        if self._applied is not None:
            if want is self._applied:
                goal = self._run_power = power
            else:
                goal = 0.0  # stop, or the first half of a reversal
            self._duty = self._approach(goal, now)
            if self._duty > 0.0 or goal > 0.0:
                self._write(self._applied, self._duty)
                if self._duty != goal:
                    return RAMP_STEP_S
                self._last_step = None  # steady: the next ramp starts from its own first step
                return None
            self._release()
        if want is None:
            return None
        granted = self._interlock.request(want, now)
        if granted is None:
            # Wake when the dead time is over; set() wakes us earlier if needed.
            return max(self._interlock.earliest_on(want, now) - now, RAMP_STEP_S / 5)
        self._applied = granted
        self._run_power = power
        self._duty = 0.0
        self._last_step = now
        self._passive(granted).value = 0  # off input before on input
        if self._enable is not None:
            self._enable.on()
        return RAMP_STEP_S

    def _approach(self, goal: float, now: float) -> float:
        elapsed = 0.0 if self._last_step is None else max(now - self._last_step, 0.0)
        self._last_step = now
        if goal > self._duty:
            ramp = self._ramp_up_s
            step = math.inf if ramp == 0 else self._run_power * elapsed / ramp
            return min(goal, self._duty + step)
        ramp = self._ramp_down_s
        step = math.inf if ramp == 0 else self._run_power * elapsed / ramp
        return max(goal, self._duty - step)

    def _active(self, direction: Direction) -> PWMOutputDevice:
        return self._forward if direction is Direction.UP else self._backward

    def _passive(self, direction: Direction) -> PWMOutputDevice:
        return self._backward if direction is Direction.UP else self._forward

    def _write(self, direction: Direction, duty: float) -> None:
        passive = self._passive(direction)
        if passive.value != 0:  # never both non-zero, even if something else wrote it
            passive.value = 0
        active = self._active(direction)
        if active.value != duty:  # a caller re-asserting set() 20 times/s must not restart the PWM
            active.value = duty

    def _release(self) -> None:
        """Both inputs to exactly 0 and disabled, at once; start the dead time."""
        self._duty = 0.0
        self._applied = None
        _try_all(
            [self._forward.off, self._backward.off]
            + ([self._enable.off] if self._enable is not None else [])
        )
        # Stamp the dead time after the write, so it is measured at the pins.
        self._interlock.request(None, self._clock())

    def __repr__(self) -> str:
        return (
            f"<HBridgeDrive forward={self._forward!r} backward={self._backward!r} "
            f"direction={self._applied} duty={self._duty:.3f}>"
        )


def safe_off(pins: Iterable[tuple[PinSpec, bool]], pin_factory: Any = None) -> list[PinSpec]:
    """Drive each ``(pin, active_high)`` to its OFF level as an output, and leave it.

    Meant for systemd's ``ExecStartPre=``/``ExecStopPost=`` after a crash: the
    Pi keeps outputs driven after the controlling process dies, so a relay
    left on by a crashed daemon stays on until something drives it off.

    Every pin is tried even if one fails; failures are raised together as a
    :class:`SafeOffError` afterwards. Returns the pins handled.

    Caveat: gpiozero's idea of "closing" a pin is to make it an input again,
    which can float an active-low relay input (or a pin pulled up at boot,
    GPIO0-8) into "on". So this uses the raw pin, never reserves or closes it,
    and takes it out of the factory's table so that gpiozero's exit handler
    (factory.close()) does not reset it either. That holds the level with
    lgpio on Raspberry Pi OS kernels (which keep released lines driven). With
    RPi.GPIO it does not: its factory calls ``GPIO.cleanup()`` for every
    channel at exit. MockFactory pins stay in the table (the simulator reads
    them); their final state is the off level.
    """
    if pin_factory is None:
        Device.ensure_pin_factory()
        pin_factory = Device.pin_factory
    handled: list[PinSpec] = []
    failures: list[tuple[PinSpec, BaseException]] = []
    for spec, active_high in pins:
        try:
            _hold_off(pin_factory, spec, bool(active_high))
        except Exception as exc:  # noqa: BLE001 - collected, raised below
            failures.append((spec, exc))
        else:
            handled.append(spec)
    if failures:
        raise SafeOffError(failures, handled)
    return handled


def _hold_off(factory: Any, spec: PinSpec, active_high: bool) -> None:
    from gpiozero.pins.mock import MockPin  # pure Python; no Pi library involved

    pin = factory.pin(spec)
    # A PWM left running by this process would override the level; stop it.
    # (Skipped when already off: MockPWMPin drops the state to 0 on this write.)
    if getattr(pin, "frequency", None):
        pin.frequency = None
    # output_with_state lets factories that can (RPi.GPIO) switch to output at
    # the right level in one call, without a blip at the wrong level.
    pin.output_with_state(not active_high)
    if not isinstance(pin, MockPin):
        table = getattr(factory, "pins", None)
        if isinstance(table, dict):
            for key, value in list(table.items()):
                if value is pin:
                    del table[key]


class SafeOffError(RuntimeError):
    """Some pins could not be driven to their off level (the others were)."""

    def __init__(self, failures: list[tuple[PinSpec, BaseException]], handled: list[PinSpec]):
        self.failures = failures
        self.handled = handled
        detail = "; ".join(f"pin {pin}: {type(exc).__name__}: {exc}" for pin, exc in failures)
        super().__init__(f"safe-off failed for {len(failures)} pin(s): {detail}")
        if failures:
            self.__cause__ = failures[0][1]
