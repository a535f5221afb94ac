"""Safety properties of the pure motion controller under arbitrary request/reading sequences.

Hypothesis drives a pure MotionController on a fake clock (no threads, no sleeps)
with random requests (move_to with random or out-of-range targets, hold/release,
stop, clear_fault), random readings (good, lost, silent, wild) and random time
steps. A tiny kinematic desk in this file turns the controller's commands into
heights, so moves really happen, overshoot, hit obstructions and stall.

After every call the properties are checked:

(a) the drive never reverses direction without having been off for at least the
    dead time (tracked from the commands and from `controller.drive`);
(b) the motor is never started in a direction that leads further out of the soft
    limits, and while it runs the controller's own height estimate never goes more
    than `limit_overrun_mm` past the limit it is heading for;
(c) whenever a fault is latched after a tick, that tick's Command.drive is None,
    with one documented exception: after an OBSTRUCTION the controller backs off
    ~backoff_mm the other way while the fault stays latched. That is allowed only
    for an OBSTRUCTION fault, only in the direction opposite to the one the motor
    was driven in when the fault was raised, only while no target is exposed
    (target_mm is None), and for no more than one back-off approach per fault.
Also: no request or tick ever raises anything but MotionRefused, and no INTERNAL
fault (an exception on a motion path) is ever raised.
"""
from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskpi.core.faults import FaultKind, MotionRefused
from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.core.types import Direction, Reading

UP, DOWN = Direction.UP, Direction.DOWN
LO, HI = 640.0, 1260.0


@dataclass
class ToyDesk:
    """Constant speed while driven (after a 10 ms relay delay), hard end stops, optional trouble."""

    height: float
    obstruction: tuple[float, int] | None = None   # (height, direction it blocks)
    stalled: bool = False
    drive: Direction | None = None
    on_since: float = 0.0
    t: float = 0.0

    def set_drive(self, drive: Direction | None, t: float) -> None:
        self.advance(t)
        if drive is not self.drive:
            self.drive = drive
            self.on_since = t

    def advance(self, t: float) -> None:
        dt = t - self.t
        self.t = t
        if self.drive is None or self.stalled or dt <= 0:
            return
        active = min(dt, max(t - (self.on_since + 0.01), 0.0))
        speed = 35.0 if self.drive is UP else 38.0
        h = self.height + int(self.drive) * speed * active
        h = min(max(h, 600.0), 1300.0)
        if self.obstruction is not None:
            ob_h, ob_d = self.obstruction
            if ob_d > 0 and self.height <= ob_h < h or ob_d < 0 and self.height >= ob_h > h:
                h = ob_h
        self.height = h


# -- strategies ----------------------------------------------------------------------------

targets = st.one_of(
    st.floats(min_value=LO, max_value=HI),
    st.floats(min_value=500.0, max_value=1400.0),
    st.sampled_from([LO, HI, LO - 0.1, HI + 0.1, math.nan, math.inf, -math.inf, "abc", None]),
)
requests = st.one_of(
    st.just(None), st.just(None), st.just(None), st.just(None),      # mostly: nothing new, time passes
    st.tuples(st.just("move_to"), targets),
    st.tuples(st.just("hold"), st.sampled_from([UP, DOWN])),
    st.just(("release",)),
    st.just(("stop",)),
    st.just(("clear_fault",)),
)
readings = st.sampled_from(["ok"] * 8 + ["lost", "silent", "wild", "none"])
time_steps = st.one_of(
    st.sampled_from([0.0, 0.01, 0.06, 0.06, 0.06, 0.1, 0.099, 0.101]),
    st.floats(min_value=0.0, max_value=0.4),
    st.sampled_from([2.0, 700.0]),                 # an idle pause; long enough to reset the duty cycle
)
steps = st.lists(
    st.tuples(requests, time_steps, readings, st.floats(min_value=-4.0, max_value=4.0)),
    min_size=1, max_size=120,
)
scenarios = st.fixed_dictionaries({
    "start": st.one_of(st.floats(min_value=LO, max_value=HI), st.sampled_from([LO, HI, LO + 1.0, HI - 1.0])),
    "obstruction": st.one_of(
        st.none(),
        st.tuples(st.floats(min_value=LO + 20, max_value=HI - 20), st.sampled_from([1, -1])),
    ),
    "stalled": st.sampled_from([False] * 5 + [True]),
    "wild": st.floats(min_value=250.0, max_value=2400.0),
    "noise_seed": st.integers(min_value=0, max_value=2 ** 32),
})


class Checker:
    """Watches every drive the controller asks for and asserts the safety properties."""

    def __init__(self, ctrl: MotionController) -> None:
        self.ctrl = ctrl
        self.cfg = ctrl.cfg
        self.prev: Direction | None = None
        self.last_driven: Direction | None = None
        self.off_at: dict[Direction, float] = {}
        self.drive_when_faulted: Direction | None = None
        self.fault_seen = None
        self.backoff_starts = 0

    def observe(self, drive: Direction | None, now: float, *, from_tick: bool) -> None:
        ctrl, cfg = self.ctrl, self.cfg
        # Fault bookkeeping: which way had the motor last been driven when this fault was
        # raised? (An obstruction may be confirmed only after the motor was cut and the
        # desk settled, so "last driven" rather than "driven at that instant".)
        if ctrl.fault is not None and ctrl.fault is not self.fault_seen:
            if self.fault_seen is None or ctrl.fault.kind is not self.fault_seen.kind or \
                    ctrl.fault.t != self.fault_seen.t:
                self.drive_when_faulted = self.last_driven
                self.backoff_starts = 0
            self.fault_seen = ctrl.fault
        if ctrl.fault is None:
            self.fault_seen = None

        # (a) reversal only through off, and only after the dead time
        if drive is not None and self.prev is not None:
            assert drive is self.prev, f"direct reversal {self.prev} -> {drive} at {now}"
        if drive is not None and drive is not self.prev:
            off = self.off_at.get(drive.opposite)
            assert off is None or now - off >= cfg.dead_time_s - 1e-9, \
                f"{drive} at {now:.4f}, only {now - off:.4f} s after {drive.opposite} went off"
        if self.prev is not None and drive is not self.prev:
            self.off_at[self.prev] = now

        # (b) never start outwards from a limit; never run far past the limit ahead.
        # Judged on ticks: between ticks the controller cannot act, and a request
        # only ever turns the motor off (or renews a hold it already runs).
        if drive is not None and from_tick:
            h = ctrl.height_mm()
            assert h is not None
            limit = cfg.max_mm if drive is UP else cfg.min_mm
            beyond = int(drive) * (h - limit)
            if drive is not self.prev:
                assert beyond < 0, f"started {drive} at {h:.1f} mm, limit {limit}"
            assert beyond <= cfg.limit_overrun_mm + 1e-9, f"driving {drive} at {h:.1f} mm, limit {limit}"

        # (c) a latched fault means the motor is off, except for the obstruction back-off
        if from_tick and ctrl.fault is not None and drive is not None:
            assert ctrl.fault.kind is FaultKind.OBSTRUCTION, f"motor {drive} with fault {ctrl.fault.message}"
            assert self.drive_when_faulted is not None and drive is self.drive_when_faulted.opposite, \
                "a back-off only goes away from the obstruction"
            assert ctrl.target_mm is None
            if drive is not self.prev:
                self.backoff_starts += 1
                # One back-off per obstruction, in a few approaches at most (a first short pulse
                # off a squeezed obstacle may fall short), never a hunt.
                assert self.backoff_starts <= MotionController.BACKOFF_APPROACHES, "a bounded back-off"
        self.prev = drive
        if drive is not None:
            self.last_driven = drive


def run(scenario: dict, stream: list, first_target: float | None = None, honour_wake: bool = False) -> None:
    """Play a stream of (request, time step, reading kind, offset) against a controller and a toy desk.

    Each good reading is the toy desk's height plus the step's offset plus Gaussian
    noise (sigma 1.5 mm) from a PRNG seeded by the scenario: a real sensor never
    repeats a value exactly, and hypothesis loves repeating one offset.
    With honour_wake, the controller is also ticked at the wake_at times it asks for,
    as the daemon's loop does; without, time jumps however the stream says.
    """
    rng = random.Random(scenario.get("noise_seed", 0))
    cfg = MotionConfig(min_mm=LO, max_mm=HI, duty_max_on_s=20.0, duty_window_s=600.0)
    ctrl = MotionController(cfg)
    desk = ToyDesk(scenario["start"], scenario["obstruction"], scenario["stalled"])
    check = Checker(ctrl)
    warm_up = [(None, 0.06, "ok", 0.0)] * 10
    if first_target is not None:
        warm_up.append((("move_to", first_target), 0.0, "none", 0.0))
    now = 0.0
    wake = None

    def tick(reading: Reading | None) -> None:
        nonlocal wake
        cmd = ctrl.tick(now, reading)
        assert cmd.drive is ctrl.drive
        assert cmd.wake_at is None or cmd.wake_at >= now
        wake = cmd.wake_at
        check.observe(cmd.drive, now, from_tick=True)
        desk.set_drive(cmd.drive, now)
        for kind, ev in ctrl.drain_events():
            assert kind != "fault" or ev.kind is not FaultKind.INTERNAL, ev.message

    for request, dt, reading_kind, noise in warm_up + list(stream):
        while honour_wake and wake is not None and now < wake <= now + dt:
            dt -= wake - now
            now = wake
            desk.advance(now)
            tick(None)
        now += dt
        desk.advance(now)
        if request is not None:
            name, *args = request
            with contextlib.suppress(MotionRefused):
                getattr(ctrl, name)(*args, now)
            check.observe(ctrl.drive, now, from_tick=False)
        if reading_kind == "ok":
            reading = Reading.ok(now, desk.height + noise + rng.gauss(0.0, 1.5))
        elif reading_kind == "wild":
            reading = Reading.ok(now, scenario["wild"])
        elif reading_kind == "lost":
            reading = Reading.lost(now)
        elif reading_kind == "silent":
            reading = Reading.silent(now)
        else:
            reading = None
        tick(reading)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios, stream=steps)
def test_safety_properties_hold_for_any_request_sequence(scenario: dict, stream: list) -> None:
    run(scenario, stream)


# Sequences that mostly let a move run: a first move, then small steps with good
# readings and only the odd request, so the controller gets deep into approaches,
# settles, corrections, watchdogs (stall, obstruction, back-off) and the duty cycle.
busy_steps = st.lists(
    st.tuples(
        st.one_of(*[st.just(None)] * 40, st.tuples(st.just("move_to"), st.floats(min_value=LO, max_value=HI)),
                  st.tuples(st.just("hold"), st.sampled_from([UP, DOWN])), st.just(("stop",)),
                  st.just(("clear_fault",)), st.just(("release",))),
        st.sampled_from([0.06, 0.06, 0.06, 0.03, 0.1]),
        st.sampled_from(["ok"] * 40 + ["lost", "wild", "silent", "none"]),
        st.floats(min_value=-3.0, max_value=3.0),
    ),
    min_size=100, max_size=250,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenario=scenarios, first_target=st.floats(min_value=LO, max_value=HI),
       in_the_way=st.one_of(st.none(), st.floats(min_value=40.0, max_value=150.0)), stream=busy_steps)
def test_safety_properties_hold_during_long_moves(scenario: dict, first_target: float, in_the_way,
                                                  stream: list) -> None:
    if in_the_way is not None and abs(first_target - scenario["start"]) > in_the_way + 50.0:
        # Put an obstruction in the path of the first move, so the watchdogs and the back-off run.
        d = 1 if first_target > scenario["start"] else -1
        scenario = {**scenario, "obstruction": (scenario["start"] + d * in_the_way, d)}
    run(scenario, stream, first_target, honour_wake=True)


# A move into trouble: an obstruction in its path or a stalled motor, readings that are
# mostly good, and only a few late requests. This is where (c)'s exception, the
# back-off, actually runs.
trouble_steps = st.lists(
    st.tuples(st.just(None), st.sampled_from([0.06, 0.06, 0.06, 0.059, 0.061, 0.03]),
              st.sampled_from(["ok"] * 60 + ["lost", "wild"]), st.floats(min_value=-2.0, max_value=2.0)),
    min_size=150, max_size=250,
)
late_requests = st.lists(
    st.tuples(st.integers(min_value=60, max_value=249),
              st.sampled_from([("stop",), ("clear_fault",), ("move_to", 900.0), ("hold", UP), ("hold", DOWN)])),
    max_size=3,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(start=st.floats(min_value=LO + 100, max_value=HI - 100), direction=st.sampled_from([1, -1]),
       distance=st.floats(min_value=30.0, max_value=90.0), stalled=st.sampled_from([False, False, True]),
       noise_seed=st.integers(min_value=0, max_value=2 ** 32), stream=trouble_steps, late=late_requests)
def test_safety_properties_hold_when_a_move_runs_into_trouble(start: float, direction: int, distance: float,
                                                              stalled: bool, noise_seed: int, stream: list,
                                                              late: list) -> None:
    target = HI if direction > 0 else LO
    scenario = {"start": start, "obstruction": None if stalled else (start + direction * distance, direction),
                "stalled": stalled, "wild": 2000.0, "noise_seed": noise_seed}
    stream = list(stream)
    for index, request in late:
        if index < len(stream):
            stream[index] = (request, *stream[index][1:])
    run(scenario, stream, target, honour_wake=True)


def test_the_checker_catches_a_reversal_without_dead_time() -> None:
    """The properties above can fail: feed the checker a bad drive sequence directly."""
    ctrl = MotionController(MotionConfig(min_mm=LO, max_mm=HI))
    ctrl.tick(0.0, Reading.ok(0.0, 900.0))
    check = Checker(ctrl)
    check.observe(UP, 0.0, from_tick=True)
    check.observe(None, 1.0, from_tick=True)
    try:
        check.observe(DOWN, 1.05, from_tick=True)
    except AssertionError as exc:
        assert "after up went off" in str(exc)
    else:
        raise AssertionError("the checker missed a reversal 50 ms after off")


def test_the_checker_catches_driving_while_faulted() -> None:
    ctrl = MotionController(MotionConfig(min_mm=LO, max_mm=HI))
    for i in range(5):
        ctrl.tick(i * 0.06, Reading.ok(i * 0.06, 900.0))
    ctrl.tick(0.3, Reading.silent(0.3))
    ctrl.tick(0.36, Reading.silent(0.36))
    assert ctrl.fault is not None and ctrl.fault.kind is FaultKind.SENSOR_DEAD
    check = Checker(ctrl)
    try:
        check.observe(UP, 0.4, from_tick=True)
    except AssertionError as exc:
        assert "with fault sensor_dead" in str(exc)
    else:
        raise AssertionError("the checker missed a motor on during a fault")
