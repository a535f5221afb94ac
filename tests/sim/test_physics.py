"""Desk physics: exact integration, soft start, coast, end stops, obstruction, violations."""
from __future__ import annotations

import random

import pytest

from deskpi.sim.physics import DeskPhysics, DeskSpec, Obstruction

UP, DOWN = 1, -1

# No randomness: every move at nominal speed, every coast exactly as specified.
SPEC = DeskSpec(speed_up_mm_s=35.0, speed_down_mm_s=38.0, load_variation=0.0, soft_start_s=0.2,
                relay_delay_s=0.01, coast_mm=7.5, coast_up_factor=0.8, coast_down_factor=1.2,
                coast_jitter=0.0, min_mm=620.0, max_mm=1270.0, dead_time_s=0.1)
ACCEL = max(35.0, 38.0) / 0.2           # mm/s^2 during the soft start


def desk(height: float = 800.0, spec: DeskSpec = SPEC, **kw) -> DeskPhysics:
    return DeskPhysics(spec, random.Random(0), height_mm=height, **kw)


def expected_up(t: float, t_on: float = 0.0, start: float = 800.0, v: float = 35.0) -> float:
    """Closed form for a desk switched on at t_on: relay delay, linear ramp, cruise."""
    tau = t - t_on - SPEC.relay_delay_s
    if tau <= 0:
        return start
    t_ramp = v / ACCEL
    if tau < t_ramp:
        return start + 0.5 * ACCEL * tau * tau
    return start + v * t_ramp / 2 + v * (tau - t_ramp)


@pytest.mark.parametrize("t", [0.005, 0.01, 0.05, 0.1, 0.19, 0.5, 3.0])
def test_motion_matches_the_closed_form(t: float) -> None:
    d = desk()
    d.set_motor(UP, 0.0)
    d.advance(t)
    assert d.t == pytest.approx(t)
    assert d.height_mm == pytest.approx(expected_up(t), abs=1e-9)


@pytest.mark.parametrize("steps", [1, 7, 300], ids=["one-step", "seven-steps", "300-steps"])
def test_integration_is_exact_whatever_the_step(steps: int) -> None:
    d = desk()
    d.set_motor(UP, 0.0)
    for i in range(1, steps + 1):
        d.advance(3.0 * i / steps)
    assert d.height_mm == pytest.approx(expected_up(3.0), abs=1e-9)


def test_constant_speed_covers_speed_times_time() -> None:
    d = desk()
    d.set_motor(DOWN, 0.0)
    d.advance(1.0)
    h1 = d.height_mm
    d.advance(3.5)
    assert d.v == pytest.approx(-38.0)
    assert h1 - d.height_mm == pytest.approx(38.0 * 2.5, abs=1e-9)


def test_soft_start_ramps_linearly_after_the_relay_delay() -> None:
    d = desk()
    d.set_motor(UP, 0.0)
    d.advance(0.01)
    assert d.v == 0.0 and d.height_mm == 800.0          # relay not closed yet
    d.advance(0.06)
    assert d.v == pytest.approx(ACCEL * 0.05)
    d.advance(0.11)
    assert d.v == pytest.approx(ACCEL * 0.10)
    d.advance(0.5)
    assert d.v == pytest.approx(35.0)                    # and no further


@pytest.mark.parametrize("direction, load, coast", [
    (UP, 1.0, 7.5 * 0.8),
    (DOWN, 1.0, 7.5 * 1.2),
    (UP, 0.5, 7.5 * 0.8 * 0.5),      # half the speed, half the coast
    (DOWN, 0.6, 7.5 * 1.2 * 0.6),
])
def test_coast_is_proportional_to_speed(direction: int, load: float, coast: float) -> None:
    d = desk()
    d.set_motor(direction, 0.0)
    d.load = load
    d.advance(2.0)
    d.set_motor(None, 2.0)
    d.advance(2.0 + SPEC.relay_delay_s)       # the motor only sees the cut after the relay delay
    at_cut = d.height_mm
    d.advance(5.0)
    assert d.v == 0.0
    assert direction * (d.height_mm - at_cut) == pytest.approx(coast, abs=1e-9)
    assert d.at_rest


@pytest.mark.parametrize("direction, start, stop", [(UP, 1260.0, 1270.0), (DOWN, 630.0, 620.0)])
def test_end_stops_clamp(direction: int, start: float, stop: float) -> None:
    d = desk(start)
    d.set_motor(direction, 0.0)
    d.advance(5.0)
    assert d.height_mm == stop and d.v == 0.0
    d.advance(10.0)                           # still driven: still there
    assert d.height_mm == stop


@pytest.mark.parametrize("obstruction, direction, start, blocked_at", [
    (Obstruction(900.0, UP), UP, 850.0, 900.0),
    (Obstruction(700.0, DOWN), DOWN, 750.0, 700.0),
])
def test_obstruction_blocks_only_its_own_direction(obstruction, direction, start, blocked_at) -> None:
    d = desk(start, obstruction=obstruction)
    d.set_motor(direction, 0.0)
    d.advance(5.0)
    assert d.height_mm == blocked_at and d.v == 0.0
    d.set_motor(None, 5.0)
    d.set_motor(-direction, 6.0)
    d.advance(7.0)
    assert direction * (blocked_at - d.height_mm) > 20.0, "free to move away from it"
    assert d.violations == []


def test_a_stalled_desk_does_not_move() -> None:
    d = desk(stalled=True)
    d.set_motor(UP, 0.0)
    d.advance(3.0)
    assert d.height_mm == 800.0 and d.motor_on


def test_reversed_wiring_moves_the_other_way() -> None:
    d = desk(reversed_wiring=True)
    d.set_motor(UP, 0.0)
    d.advance(2.0)
    assert d.height_mm < 800.0 - 50.0


# -- interlock violations ----------------------------------------------------------

def test_both_directions_on_is_a_violation_and_a_brake() -> None:
    d = desk()
    d.set_outputs(1.0, 1.0, 0.5)
    d.advance(2.0)
    assert [v.kind for v in d.violations] == ["both_on"]
    assert d.violations[0].t == 0.5
    assert d.height_mm == 800.0


@pytest.mark.parametrize("sequence", [
    [(UP, 0.0), (DOWN, 1.0)],                        # straight from up to down
    [(UP, 0.0), (None, 1.0), (DOWN, 1.05)],          # off, but not long enough
    [(DOWN, 0.0), (None, 1.0), (UP, 1.0999)],
], ids=["direct", "50-ms", "just-short"])
def test_reversal_without_dead_time_is_a_violation(sequence) -> None:
    d = desk()
    for direction, t in sequence:
        d.set_motor(direction, t)
    assert [v.kind for v in d.violations] == ["no_dead_time"]
    assert "ms after the other way" in d.violations[0].detail


@pytest.mark.parametrize("sequence", [
    [(UP, 0.0), (None, 1.0), (DOWN, 1.1)],           # exactly the dead time
    [(UP, 0.0), (None, 1.0), (DOWN, 3.0)],
    [(UP, 0.0), (None, 1.0), (UP, 1.0)],             # same direction again at once
    [(DOWN, 0.0), (None, 1.0), (UP, 1.2), (None, 2.0), (DOWN, 2.1)],
], ids=["exact", "long", "same-direction", "twice"])
def test_a_proper_reversal_is_not_a_violation(sequence) -> None:
    d = desk()
    for direction, t in sequence:
        d.set_motor(direction, t)
    d.advance(4.0)
    assert d.violations == []
