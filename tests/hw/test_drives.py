"""Motor drives on gpiozero's mock pins.

Safety properties are checked on the pins' own state histories (MockPin.states),
reconstructed into absolute timelines: never both directions on, and a reversal
only after both outputs were off for at least the dead time. The H-bridge has a
thread, so tests synchronise by polling with timeouts, never by sleeping a
guessed amount; ramp shapes are checked with a hand-advanced clock.
"""
from __future__ import annotations

import contextlib
import math
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from helpers import wait_until
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.types import Direction
from deskpi.hw.drives import (
    DriveClosed,
    DriveFault,
    HBridgeDrive,
    MotorDrive,
    RelayPairDrive,
    SafeOffError,
    safe_off,
)

UP, DOWN = Direction.UP, Direction.DOWN
UP_PIN, DOWN_PIN, ENABLE_PIN = 17, 27, 22
# Slack for rebuilding absolute times by summing MockPin's relative stamps.
FLOAT_SLACK_S = 1e-9


# -- helpers ---------------------------------------------------------------


@pytest.fixture
def factory() -> MockFactory:
    """A fresh mock factory per test (pins and reservations start clean)."""
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.close()


class FakeClock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t




class Recorder:
    """Absolute timeline of one mock pin, rebuilt from its ``states`` history."""

    def __init__(self, pin: MockPWMPin) -> None:
        self.pin = pin
        pin.clear_states()
        # clear_states() stamps the history's origin here; states hold deltas from it.
        self.origin = pin._last_change

    def events(self) -> list[tuple[float, float]]:
        t = self.origin
        out = []
        for delta, state in self.pin.states:
            t += delta
            out.append((t, float(state)))
        return out

    def values(self) -> list[float]:
        return [v for _, v in self.events()]


def check_interlock(up: Recorder, down: Recorder, is_on: Callable[[float], bool], dead: float) -> dict:
    """Assert on the merged pin timelines: never both on, reversal only after dead time off.

    Returns how many times each direction was energised, so callers can check
    the test actually exercised something.
    """
    merged = [(t, not is_on(v), name, v) for name, rec in (("up", up), ("down", down)) for t, v in rec.events()]
    # At equal stamps "off" sorts first: writes happen off-before-on under the drive's lock.
    merged.sort(key=lambda e: (e[0], not e[1]))
    on = {"up": False, "down": False}
    last_off: dict[str, float] = {}
    starts = {"up": 0, "down": 0}
    other = {"up": "down", "down": "up"}
    for t, is_off, name, _value in merged:
        if is_off:
            if on[name]:
                last_off[name] = t
            on[name] = False
            continue
        if on[name]:
            continue  # a duty change within the same run
        assert not on[other[name]], f"both outputs on at t={t}: {name} turned on while {other[name]} on"
        if other[name] in last_off:
            gap = t - last_off[other[name]]
            assert gap >= dead - FLOAT_SLACK_S, f"{name} on {gap:.6f} s after {other[name]} off (< {dead})"
        on[name] = True
        starts[name] += 1
    return starts


def relay(factory: MockFactory, **kwargs: Any) -> tuple[RelayPairDrive, Recorder, Recorder]:
    drive = RelayPairDrive(UP_PIN, DOWN_PIN, pin_factory=factory, **kwargs)
    return drive, Recorder(factory.pin(UP_PIN)), Recorder(factory.pin(DOWN_PIN))


def hbridge(factory: MockFactory, **kwargs: Any) -> tuple[HBridgeDrive, Recorder, Recorder]:
    drive = HBridgeDrive(UP_PIN, DOWN_PIN, pin_factory=factory, **kwargs)
    return drive, Recorder(factory.pin(UP_PIN)), Recorder(factory.pin(DOWN_PIN))


def level(pin: MockPWMPin) -> bool:
    return bool(pin.state)


# -- common ---------------------------------------------------------------


def test_drives_are_motor_drives(factory: MockFactory) -> None:
    with RelayPairDrive(5, 6, pin_factory=factory) as r, HBridgeDrive(12, 13, pin_factory=factory) as h:
        assert isinstance(r, MotorDrive) and isinstance(h, MotorDrive)


def test_importing_drives_loads_no_pin_library() -> None:
    code = (
        "import sys, deskpi.hw.drives\n"
        "bad = {'lgpio', 'RPi', 'pigpio', 'gpiozero.pins.lgpio', 'gpiozero.pins.rpigpio'}\n"
        "print(sorted(m for m in sys.modules if m in bad or m.split('.')[0] in bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("cls", [RelayPairDrive, HBridgeDrive])
def test_dead_time_below_minimum_refused(factory: MockFactory, cls: type) -> None:
    with pytest.raises(ValueError, match="0.05"):
        cls(UP_PIN, DOWN_PIN, dead_time_s=0.05, pin_factory=factory)


@pytest.mark.parametrize("cls", [RelayPairDrive, HBridgeDrive])
@pytest.mark.parametrize("power", [-0.1, 1.5, math.nan])
def test_power_out_of_range_refused(factory: MockFactory, cls: type, power: float) -> None:
    with cls(UP_PIN, DOWN_PIN, pin_factory=factory) as drive:
        with pytest.raises(ValueError, match="power"):
            drive.set(UP, power)
        assert drive.direction is None


@pytest.mark.parametrize("cls", [RelayPairDrive, HBridgeDrive])
def test_closed_drive_refuses_motion_but_off_is_harmless(factory: MockFactory, cls: type) -> None:
    drive = cls(UP_PIN, DOWN_PIN, pin_factory=factory)
    drive.set(UP)
    drive.close()
    drive.close()
    assert drive.off() is None
    drive.emergency_off()
    with pytest.raises(DriveClosed):
        drive.set(DOWN)
    assert factory.pin(UP_PIN).state == 0 and factory.pin(DOWN_PIN).state == 0


# -- relay pair ------------------------------------------------------------


def test_relay_starts_off_and_follows_requests(factory: MockFactory) -> None:
    drive, up, down = relay(factory)
    assert (level(up.pin), level(down.pin), drive.direction) == (False, False, None)
    assert drive.set(UP) is UP
    assert (level(up.pin), level(down.pin), drive.direction) == (True, False, UP)
    assert drive.set(UP) is UP
    assert drive.off() is None
    assert (level(up.pin), level(down.pin), drive.direction) == (False, False, None)
    assert drive.set(UP, 0.0) is None, "zero power means off"
    drive.close()


def test_relay_active_low(factory: MockFactory) -> None:
    clock = FakeClock()
    drive, up, down = relay(factory, active_high=False, clock=clock)
    assert (level(up.pin), level(down.pin)) == (True, True), "off is high for active-low"
    assert drive.set(DOWN) is DOWN
    assert (level(up.pin), level(down.pin)) == (True, False)
    drive.off()
    assert (level(up.pin), level(down.pin)) == (True, True)
    clock.t += 1
    assert drive.set(UP) is UP
    assert (level(up.pin), level(down.pin)) == (False, True)
    drive.close()
    assert (level(up.pin), level(down.pin)) == (True, True)


def test_relay_reversal_waits_dead_time_without_blocking() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    clock = FakeClock(10.0)
    drive, up, down = relay(factory, dead_time_s=0.2, clock=clock)
    assert drive.set(UP) is UP
    clock.t = 11.0
    assert drive.set(DOWN) is None, "reversal first turns the motor off"
    assert (level(up.pin), level(down.pin)) == (False, False)
    assert drive.earliest_on(DOWN) == pytest.approx(11.2)
    clock.t = 11.19
    assert drive.set(DOWN) is None
    assert drive.set(UP) is UP, "same direction again is fine at once"
    clock.t = 11.3
    assert drive.set(DOWN) is None
    clock.t = 11.51
    assert drive.set(DOWN) is DOWN
    assert (level(up.pin), level(down.pin)) == (False, True)
    drive.close()


@pytest.mark.parametrize("active_high", [True, False])
def test_relay_reversal_timeline_on_pins(factory: MockFactory, active_high: bool) -> None:
    drive, up, down = relay(factory, active_high=active_high)
    on = (lambda v: v > 0) if active_high else (lambda v: v == 0)
    for target in (UP, DOWN, UP, DOWN):
        wait_until(lambda target=target: drive.set(target) is target, what=f"relay to reach {target}")
    starts = check_interlock(up, down, on, drive.dead_time_s)
    assert starts == {"up": 2, "down": 2}
    drive.close()


class RecordingPin(MockPWMPin):
    """Logs every write (pin number, state) to a list shared through the factory."""

    def _set_state(self, value: float) -> None:
        self._factory.write_log.append((self.info.name, float(value)))
        super()._set_state(value)


def test_relay_writes_off_pin_before_on_pin() -> None:
    factory = MockFactory(pin_class=RecordingPin)
    factory.write_log = []
    clock = FakeClock()
    drive = RelayPairDrive(UP_PIN, DOWN_PIN, pin_factory=factory, clock=clock)
    factory.write_log.clear()
    drive.set(UP)
    assert factory.write_log == [("GPIO27", 0.0), ("GPIO17", 1.0)]
    factory.write_log.clear()
    drive.set(DOWN)
    assert factory.write_log[0] == ("GPIO17", 0.0), "the active output goes off first"
    clock.t += 1
    factory.write_log.clear()
    drive.set(DOWN)
    assert factory.write_log == [("GPIO17", 0.0), ("GPIO27", 1.0)]
    drive.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([UP, DOWN, None]), st.sampled_from([0.0, 0.03, 0.1, 0.25])), max_size=40))
def test_relay_pins_always_match_reported_direction(stream: list) -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    clock = FakeClock()
    drive = RelayPairDrive(UP_PIN, DOWN_PIN, pin_factory=factory, clock=clock)
    up, down = factory.pin(UP_PIN), factory.pin(DOWN_PIN)
    for wanted, step in stream:
        clock.t += step
        got = drive.set(wanted)
        assert got in (None, wanted)
        assert (level(up), level(down)) == (got is UP, got is DOWN)
    drive.close()
    factory.close()


class FlakyPin(MockPWMPin):
    """A pin whose "on" writes fail once armed (a wiring or driver fault)."""

    broken = False

    def _set_state(self, value: float) -> None:
        if self.broken and value > 0:
            raise OSError(f"write to {self.info.name} failed")
        super()._set_state(value)


def test_relay_write_failure_leaves_motor_off() -> None:
    factory = MockFactory(pin_class=FlakyPin)
    drive = RelayPairDrive(UP_PIN, DOWN_PIN, pin_factory=factory)
    factory.pin(DOWN_PIN).broken = True
    assert drive.set(UP) is UP
    drive.off()
    with pytest.raises(OSError):
        wait_until(lambda: drive.set(DOWN) is DOWN)
    assert drive.direction is None
    assert (level(factory.pin(UP_PIN)), level(factory.pin(DOWN_PIN))) == (False, False)
    drive.close()


def hammer(workers: list[Callable[[random.Random], None]], stop_when: Callable[[], bool]) -> None:
    """Run each worker in a loop on its own thread until stop_when() (checked by the caller thread)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(worker: Callable[[random.Random], None], seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                worker(rng)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(w, i), daemon=True) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: stop_when() or bool(errors), timeout=30, what="hammer to finish")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


def phased_choice(start: float) -> Callable[[random.Random], Direction | None]:
    """Chaos half the time, a dominant direction the other half, so reversals do complete."""

    def choose(rng: random.Random) -> Direction | None:
        phase, within = divmod((time.monotonic() - start) / 0.3, 1.0)
        if within < 0.5:
            return rng.choice([UP, DOWN, None])
        return rng.choice([UP if phase % 2 == 0 else DOWN, None, UP if phase % 2 == 0 else DOWN])

    return choose


@pytest.mark.parametrize("active_high", [True, False])
def test_relay_concurrent_callers_never_violate_interlock(factory: MockFactory, active_high: bool) -> None:
    drive, up, down = relay(factory, active_high=active_high)
    start = time.monotonic()
    choose = phased_choice(start)
    seen: set[Direction] = set()

    def worker(rng: random.Random) -> None:
        got = drive.set(choose(rng))
        if got is not None:
            seen.add(got)

    hammer([worker] * 8, lambda: time.monotonic() - start >= 1.0 and seen == {UP, DOWN})
    drive.off()
    on = (lambda v: v > 0) if active_high else (lambda v: v == 0)
    starts = check_interlock(up, down, on, drive.dead_time_s)
    assert starts["up"] >= 1 and starts["down"] >= 1
    drive.close()


# -- H-bridge --------------------------------------------------------------


def test_hbridge_ramp_shape_with_hand_clock(factory: MockFactory) -> None:
    clock = FakeClock(100.0)
    drive, fwd, bwd = hbridge(factory, ramp_up_s=0.3, ramp_down_s=0.15, clock=clock)
    assert drive.set(UP) is UP
    assert fwd.pin.state == 0, "soft start begins at 0"
    for t, duty in [(100.15, 0.5), (100.31, 1.0)]:
        clock.t = t
        wait_until(lambda duty=duty: drive.duty == pytest.approx(duty, abs=1e-9), what=f"duty {duty}")
    assert drive.set(None) is UP, "still energised while it ramps down"
    clock.t = 100.385
    wait_until(lambda: drive.duty == pytest.approx(0.5, abs=1e-9), what="half way down")
    clock.t = 100.5
    wait_until(lambda: drive.direction is None, what="stopped")
    assert fwd.values() == pytest.approx([0.0, 0.5, 1.0, 0.5, 0.0])

    clock.t = 100.55
    assert drive.set(DOWN) is None, "dead time after the stop at 100.5"
    clock.t = 100.61
    wait_until(lambda: drive.direction is DOWN, what="reversal after dead time")
    clock.t = 100.76
    wait_until(lambda: drive.duty == pytest.approx(0.5, abs=1e-9), what="down half way")
    drive.close()
    assert bwd.values() == pytest.approx([0.0, 0.5, 0.0])


def test_hbridge_partial_power_and_power_change(factory: MockFactory) -> None:
    clock = FakeClock(0.0)
    drive, fwd, _ = hbridge(factory, ramp_up_s=0.2, ramp_down_s=0.1, clock=clock)
    drive.set(UP, 0.6)
    clock.t = 0.1
    wait_until(lambda: drive.duty == pytest.approx(0.3, abs=1e-9), what="half of 0.6")
    clock.t = 0.21
    wait_until(lambda: drive.duty == pytest.approx(0.6, abs=1e-9), what="0.6")
    drive.set(UP, 0.3)
    clock.t = 0.32
    wait_until(lambda: drive.duty == pytest.approx(0.3, abs=1e-9), what="lowered to 0.3")
    drive.close()


def test_hbridge_ramps_are_monotonic_in_real_time(factory: MockFactory) -> None:
    drive, fwd, bwd = hbridge(factory, enable_pin=ENABLE_PIN)
    enable = factory.pin(ENABLE_PIN)
    assert drive.set(UP, 0.8) is UP
    assert level(enable)
    wait_until(lambda: fwd.pin.state == pytest.approx(0.8), what="full power")
    rising = fwd.values()
    assert rising == sorted(rising) and rising[-1] == pytest.approx(0.8)
    drive.off()
    wait_until(lambda: drive.direction is None, what="soft stop")
    falling = fwd.values()[len(rising) - 1 :]
    assert falling == sorted(falling, reverse=True) and falling[-1] == 0.0
    assert not level(enable), "enable drops once stopped"
    assert bwd.values() == [0.0]
    drive.close()


def test_hbridge_reversal_timeline(factory: MockFactory) -> None:
    drive, fwd, bwd = hbridge(factory, ramp_up_s=0.05, ramp_down_s=0.05)
    for target in (UP, DOWN, UP):
        drive.set(target)
        wait_until(lambda target=target: drive.direction is target and drive.duty == 1.0,
                   what=f"{target} at full power")
    drive.close()
    starts = check_interlock(fwd, bwd, lambda v: v > 0, drive.dead_time_s)
    assert starts == {"up": 2, "down": 1}


@pytest.mark.parametrize("stop", ["emergency_off", "off_immediate"])
def test_hbridge_emergency_off_is_immediate(factory: MockFactory, stop: str) -> None:
    # A very slow soft stop: anything but an immediate cut would leave duty behind.
    drive, fwd, bwd = hbridge(factory, enable_pin=ENABLE_PIN, ramp_up_s=0.05, ramp_down_s=60.0)
    drive.set(UP)
    wait_until(lambda: fwd.pin.state > 0.2, what="running")
    if stop == "emergency_off":
        drive.emergency_off()
    else:
        drive.off(immediate=True)
    # Checked right after the call returns: no waiting for the thread.
    assert (fwd.pin.state, bwd.pin.state, level(factory.pin(ENABLE_PIN))) == (0, 0, False)
    assert drive.direction is None and drive.duty == 0
    drive.close()
    values = fwd.values()
    assert values[-1] == 0 and values[-2] > 0.2, "straight from running to 0"
    assert values.index(0.0, 1) == len(values) - 1, "the thread never re-energised it"


def test_hbridge_emergency_off_from_another_thread(factory: MockFactory) -> None:
    drive, fwd, bwd = hbridge(factory, ramp_down_s=60.0)
    drive.set(DOWN)
    wait_until(lambda: bwd.pin.state > 0, what="running")
    t = threading.Thread(target=drive.emergency_off)
    t.start()
    t.join(timeout=10)
    assert not t.is_alive()
    assert (fwd.pin.state, bwd.pin.state, drive.direction) == (0, 0, None)
    drive.close()


def test_hbridge_close_stops_thread_and_leaves_outputs_off(factory: MockFactory) -> None:
    drive, fwd, bwd = hbridge(factory, enable_pin=ENABLE_PIN)
    drive.set(UP)
    wait_until(lambda: fwd.pin.state > 0, what="running")
    drive.close()
    assert not drive._thread.is_alive()
    assert (fwd.pin.state, bwd.pin.state, level(factory.pin(ENABLE_PIN))) == (0, 0, False)


def test_hbridge_write_failure_latches_off() -> None:
    factory = MockFactory(pin_class=FlakyPin)
    drive = HBridgeDrive(UP_PIN, DOWN_PIN, pin_factory=factory, ramp_up_s=0.05)
    factory.pin(DOWN_PIN).broken = True
    with contextlib.suppress(DriveFault):  # the first write may already happen inside set()
        drive.set(DOWN)
    wait_until(lambda: drive.fault is not None, what="fault")
    assert (factory.pin(UP_PIN).state, factory.pin(DOWN_PIN).state, drive.direction) == (0, 0, None)
    with pytest.raises(DriveFault):
        drive.set(UP)
    assert drive.off() is None
    drive.close()


def test_hbridge_concurrent_callers_never_violate_interlock(factory: MockFactory) -> None:
    drive, fwd, bwd = hbridge(factory, enable_pin=ENABLE_PIN, ramp_up_s=0.02, ramp_down_s=0.02)
    start = time.monotonic()
    choose = phased_choice(start)
    seen: set[Direction] = set()

    def worker(rng: random.Random) -> None:
        if rng.random() < 0.002:
            drive.emergency_off()
            return
        drive.set(choose(rng), rng.choice([0.5, 1.0]))
        if drive.direction is not None and drive.duty > 0:
            seen.add(drive.direction)

    hammer([worker] * 8, lambda: time.monotonic() - start >= 1.0 and seen == {UP, DOWN})
    drive.close()
    starts = check_interlock(fwd, bwd, lambda v: v > 0, drive.dead_time_s)
    assert starts["up"] >= 1 and starts["down"] >= 1


# -- safe_off --------------------------------------------------------------


def test_safe_off_drives_pins_to_their_off_level(factory: MockFactory) -> None:
    hi, lo = factory.pin(17), factory.pin(27)
    hi.output_with_state(True)  # an active-high relay left on
    lo.output_with_state(False)  # an active-low relay left on
    assert safe_off([(17, True), (27, False)], pin_factory=factory) == [17, 27]
    assert (hi.function, hi.state) == ("output", False)
    assert (lo.function, lo.state) == ("output", True)


def test_safe_off_overrides_boot_pull_up(factory: MockFactory) -> None:
    # GPIO2 has a fixed pull-up: as an input an active-high driver on it would be on.
    pin = factory.pin(2)
    assert pin.state
    safe_off([(2, True)], pin_factory=factory)
    assert (pin.function, pin.state) == ("output", False)


@pytest.mark.parametrize("active_high", [True, False])
def test_safe_off_stops_a_live_drive(factory: MockFactory, active_high: bool) -> None:
    drive = RelayPairDrive(UP_PIN, DOWN_PIN, active_high=active_high, pin_factory=factory)
    drive.set(UP)
    safe_off([(UP_PIN, active_high), (DOWN_PIN, active_high)], pin_factory=factory)
    off = not active_high
    assert (level(factory.pin(UP_PIN)), level(factory.pin(DOWN_PIN))) == (off, off)


def test_safe_off_stops_a_running_pwm(factory: MockFactory) -> None:
    drive, fwd, _ = hbridge(factory, ramp_up_s=0.0)
    drive.set(UP)
    wait_until(lambda: fwd.pin.state == 1.0, what="running")
    safe_off([(UP_PIN, True)], pin_factory=factory)
    assert fwd.pin.state == 0 and fwd.pin.frequency is None
    drive.close()


def test_safe_off_tries_every_pin_then_raises(factory: MockFactory) -> None:
    factory.pin(17).output_with_state(True)
    factory.pin(27).output_with_state(True)
    with pytest.raises(SafeOffError) as info:
        safe_off([(17, True), ("GPIO99", True), (27, True)], pin_factory=factory)
    assert info.value.handled == [17, 27]
    assert [pin for pin, _ in info.value.failures] == ["GPIO99"]
    assert "GPIO99" in str(info.value)
    assert not level(factory.pin(17)) and not level(factory.pin(27))


class _RealishPin:
    """Stands in for an lgpio pin: not a MockPin, so safe_off must detach it."""

    def __init__(self) -> None:
        self.frequency = None
        self.state: bool | None = None
        self.function = "input"

    def output_with_state(self, state: bool) -> None:
        self.function, self.state = "output", state


class _RealishFactory:
    def __init__(self) -> None:
        self.pins: dict[str, _RealishPin] = {}

    def pin(self, name: Any) -> _RealishPin:
        return self.pins.setdefault(str(name), _RealishPin())


def test_safe_off_detaches_real_pins_so_exit_cleanup_cannot_float_them() -> None:
    f = _RealishFactory()
    f.pin(5)
    pin = f.pin(5)
    assert safe_off([(5, False)], pin_factory=f) == [5]
    assert (pin.function, pin.state) == ("output", True)
    assert "5" not in f.pins, "factory.close() at exit would turn it back into an input"
