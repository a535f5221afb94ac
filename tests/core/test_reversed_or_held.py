"""A fault at the start: a motor held still, or one turning the wrong way? The message tells the installer
what to fix (the supply, or the wiring), so the kind matters as much as the latch.

Pure: the verdict and the current check alone, then the fault bench's known trials (virtual clock, no threads).
"""
from __future__ import annotations

import pytest

from deskpi.bench.desks import FAMILIES
from deskpi.bench.faults import run_trial
from deskpi.core.faults import FaultKind
from deskpi.core.motion.current import CurrentCheck
from deskpi.core.motion.judge import Suspicion, verdict
from deskpi.core.types import Direction

START = 1180.0
READINGS = [0.3, -1.4, 1.8, -0.2, 2.1, -1.5]


def _start_fault(expected_travel: float, *, other_way: bool = False) -> Suspicion:
    d = Direction.DOWN
    return Suspicion(FaultKind.STALL, "the desk did not move", d, START, START + d * expected_travel,
                     0.15 * expected_travel, start_sd_mm=1.0, other_way=other_way)


def _kind(sus: Suspicion, moved_mm: float) -> FaultKind | None:
    final = START + sus.direction * moved_mm
    found = verdict(sus, [final + e for e in READINGS], final, 0.6, 2.5)
    return None if found is None else found[0]


@pytest.mark.parametrize(("moved", "kind"), [
    (-4.6, FaultKind.WRONG_DIRECTION),   # seed 1004, slow-heavy: nearer 6 mm the wrong way than the start
    (-3.5, FaultKind.WRONG_DIRECTION),
    (-1.9, FaultKind.STALL),             # the furthest a stalled slow desk's rest read the wrong way in 20 trials
    (0.0, FaultKind.STALL),
    (0.5, FaultKind.STALL),
])
def test_a_fault_at_the_start_is_told_by_which_rest_it_is_nearer(moved, kind):
    # A healthy desk would have gone 6 mm by then. Held, it rests at its start; reversed, about 6 mm the
    # wrong way. Either is a fault (far short of a free desk): the rest says which. Under the old rule
    # ("clearly the wrong way", 4 mm and more past the margin) half the slow desk's reversed motors were
    # told as stalls.
    assert _kind(_start_fault(6.0), moved) is kind


@pytest.mark.parametrize(("moved", "kind"), [(-2.5, FaultKind.WRONG_DIRECTION), (-0.8, FaultKind.STALL),
                                             (0.6, FaultKind.STALL)])
def test_the_other_ways_current_says_reversed_once_the_desk_is_clearly_on_the_wrong_side(moved, kind):
    # Paused 0.16 s in by its current, a slow desk has gone 2 mm: too little for the rest to tell alone.
    # The motor drew the other direction's running current, more than this one ever draws: then 1.5 sd of
    # the rest's uncertainty (here 2.3 mm) on the wrong side of the start will do, where half the travel
    # would otherwise be asked.
    assert _kind(_start_fault(6.0, other_way=True), -4.6) is FaultKind.WRONG_DIRECTION
    assert _kind(_start_fault(6.0, other_way=True), moved) is kind


@pytest.mark.parametrize(("moved", "kind"), [(-3.5, FaultKind.STALL), (-8.0, FaultKind.WRONG_DIRECTION)])
def test_on_the_end_stop_only_a_clear_reversal_is_one(moved, kind):
    # A desk asked down onto its bottom end stop is held there by the stop; a sensor drifted a few mm
    # reads that rest a few mm off. A reversal by the margin is still a reversal, and is latched (finished
    # as arrived instead, the re-zero would have taken the wrong way's travel for the sensor's drift).
    sus = _start_fault(6.0)
    final = START + sus.direction * moved
    found = verdict(sus, [final + e for e in READINGS], final, 0.6, 2.5, on_stop=True)
    assert found is not None and found[0] is kind


def _found(check: CurrentCheck, amps: float) -> str:
    for k in range(80):
        found = check.add(k * 0.005, amps, moved_mm=0.0)
        if found is not None:
            assert found[0] is FaultKind.STALL
            return found[1]
    raise AssertionError("no finding")


def test_a_current_the_other_way_draws_is_named_and_flagged():
    # Learned: 1.3 A down, 3.4 A up (lifting the desktop). Going down, 3.5 A is what going up draws.
    check = CurrentCheck(t_on=0.0, surge_s=0.15, rise_a=0.3, learned_a=1.3, other_a=3.4)
    assert "what it draws going the other way" in _found(check, 3.5) and check.other_way


@pytest.mark.parametrize(("amps", "other_a"), [
    (2.2, 3.4),     # over this way's learned current, under anything the other way draws: a heavier load
    (9.0, 3.4),     # far over either: a motor held still
    (3.5, None),    # the other way not learned yet
])
def test_a_current_that_is_not_the_other_ways_is_not_flagged(amps, other_a):
    check = CurrentCheck(t_on=0.0, surge_s=0.15, rise_a=0.3, learned_a=1.3, other_a=other_a)
    assert "other way" not in _found(check, amps) and not check.other_way


@pytest.mark.parametrize(("seed", "current"), [(1001, False), (1004, False), (1004, True), (1018, True)])
def test_a_reversed_slow_desk_is_told_as_reversed(seed, current):
    # Slow-heavy: each of these was latched as a stall ("check the motor supply"), 2-5 mm the wrong way.
    trial = run_trial("reversed_wiring", seed, FAMILIES["slow-heavy"], current=current)
    assert trial.detected and trial.kind == "wrong_direction", trial


@pytest.mark.parametrize("seed", [1007, 1011, 1014, 1017])
def test_a_stalled_slow_desk_is_still_told_as_a_stall(seed):
    # Their rests read up to 2 mm the wrong way, and three of them were first suspected as the wrong way.
    trial = run_trial("stall", seed, FAMILIES["slow-heavy"])
    assert trial.detected and trial.kind == "stall", trial
