"""Starts in a row that a slow desk cannot judge one by one (a stall, the wrong way), weighed together.

Pure: the goal's bookkeeping alone, then the fault bench's known trials (virtual clock, no threads).
"""
from __future__ import annotations

import pytest

from deskpi.bench.desks import FAMILIES
from deskpi.bench.faults import run_trial
from deskpi.core.faults import FaultKind
from deskpi.core.motion.goal import Goal
from deskpi.core.motion.judge import Suspicion, verdict
from deskpi.core.types import Direction


def _stall(start: float, expected_travel: float, d: Direction = Direction.UP,
           kind: FaultKind = FaultKind.STALL) -> Suspicion:
    return Suspicion(kind, "no movement 0.3 s after the motor started", d, start, start + d * expected_travel,
                     0.15 * expected_travel, start_sd_mm=0.5)


def _readings(around: float) -> list[float]:
    return [around + e for e in (0.3, -1.4, 1.8, -0.2, 2.1, -1.5)]


def _goal() -> Goal:
    return Goal(kind="goto", target=1200.0, source="test", t_start=0.0, start_mm=710.0, corrections_left=2)


def test_a_start_after_one_judged_a_false_alarm_is_weighed_from_where_the_first_began():
    g = _goal()
    first = _stall(710.0, 4.5)
    # Rested 0.4 mm on: on its own, 0 mm of 4.5 expected is within what the slow desk's start can do.
    assert verdict(first, _readings(710.4), 710.4, 0.6, 2.5) is None
    g.tried, g.dismissed_at = first, 710.4
    second = g.together(_stall(710.4, 4.5), near_mm=10.0)
    assert second.start_mm == 710.0 and second.expected_mm == pytest.approx(719.0)
    assert second.spread_mm == pytest.approx((2 * 0.675 ** 2) ** 0.5)
    found = verdict(second, _readings(710.2), 710.2, 0.6, 2.5)
    assert found is not None and found[0] is FaultKind.STALL, found


@pytest.mark.parametrize("case", ["obstruction", "other way", "elsewhere", "nothing before"])
def test_only_starts_in_a_row_the_same_way_from_where_the_last_rested_are_weighed_together(case):
    g = _goal()
    g.tried, g.dismissed_at = _stall(710.0, 5.5), 710.4
    sus = _stall(710.4, 5.5)
    if case == "obstruction":
        sus = _stall(710.4, 5.5, kind=FaultKind.OBSTRUCTION)
    elif case == "other way":
        sus = _stall(710.4, 5.5, d=Direction.DOWN)
    elif case == "elsewhere":
        sus = _stall(760.0, 5.5)          # something ran in between: not a start in a row
    else:
        g.tried = None
    assert g.together(sus, near_mm=10.0) is sus


def test_a_stalled_slow_desk_is_latched_on_its_second_start_not_its_third():
    # Seed 1008, slow-heavy, ultrasonic: each start went 0 mm of the 5 mm a healthy one would have by
    # then, each too few to tell on its own; the motor was driven on into the stall three times.
    trial = run_trial("stall", 1008, FAMILIES["slow-heavy"])
    assert trial.detected and trial.kind == "stall"
    assert trial.restarts <= 1, trial


def test_a_reversed_motor_on_a_slow_desk_is_told_as_reversed():
    # Seed 1001, slow-heavy, with current sensing: a motor turning the wrong way draws what the other
    # direction does, more than this one learned, and was paused on it at 0.16 s, 2 mm the wrong way:
    # three such starts were latched as a stall ("check the motor supply"). Two together go 5 mm the
    # wrong way: reversed wiring ("swap the outputs").
    trial = run_trial("reversed_wiring", 1001, FAMILIES["slow-heavy"], current=True)
    assert trial.detected and trial.kind == "wrong_direction", trial
    assert trial.restarts <= 1, trial
