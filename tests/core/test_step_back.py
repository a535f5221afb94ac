"""A goto's step back from a stop the judge left undecided (blocked or free), and what must not follow it.

Virtual clock, no threads, no sleeps. Most tests reuse the bench's known undecided stop (seed 8 on the
slow, noisy desk going up into a chair arm, the first test below): the first stop
is left undecided, and the desk steps back down about 40 mm before coming back.
"""
from __future__ import annotations

import dataclasses
import random

from deskpi.bench.desks import FAMILIES
from deskpi.bench.faults import _move, _warm_rig, controller_for
from deskpi.core.faults import FaultKind
from deskpi.core.types import Direction
from deskpi.sim.physics import Obstruction
from deskpi.sim.virtual import VirtualRig

SLOW = FAMILIES["slow-heavy"]


def _undecided_stop_scenario():
    """Seed 8, slow-heavy: up from 800 mm into a chair arm 60 mm above (40 N/mm); its first stop is undecided."""
    rig = _warm_rig(8, SLOW, False)
    _move(rig, 800.0)
    rig.rest(60)
    arm = Obstruction(rig.true_height + 60.0, +1, 40.0)
    rig.physics.obstruction = arm
    rig.rest_for_duty(20)
    rig.ctrl.move_to(1100.0, rig.t)
    rig.kick()
    return rig, arm


def test_a_stop_left_undecided_steps_back_before_it_meets_the_obstacle_again():
    # Seed 8 on the slow, noisy desk, going up into a chair arm (40 N/mm): the desk settled half-way
    # between where the readings saw it meet something and where a free desk would have stopped,
    # and eighteen readings did not settle which. Resuming from there would press the arm harder
    # from the start; the desk steps back far enough to come at it again at full speed, and the
    # second stop at the same height is latched.
    rig, arm = _undecided_stop_scenario()
    runs, events, heights = [], [], []       # heights: (how many motor runs so far, true height)

    def watch(r) -> bool:
        if r.drive is not None and (not runs or runs[-1] != r.drive):
            runs.append(r.drive)
        heights.append((len(runs), r.true_height))
        events.extend(k for k, _ in r.ctrl.drain_events())
        return "fault" in events or "move_done" in events

    rig.run_until(watch, rig.t + 60)
    assert events == ["suspicion", "suspicion_dismissed", "suspicion", "fault"], events
    assert rig.ctrl.fault.kind is FaultKind.OBSTRUCTION
    assert [int(d) for d in runs] == [1, -1, 1], runs
    first_stop = max(h for n, h in heights if n == 1)
    stepped_back_to = min(h for n, h in heights if n == 2)
    assert first_stop - stepped_back_to >= rig.ctrl.cfg.backoff_mm
    assert stepped_back_to < arm.height_mm - 20.0, "clear of the arm, and then some"
    assert rig.physics.peak_force_n < 700.0


def test_something_met_while_stepping_back_is_not_backed_off_from_towards_the_first_obstacle():
    # The desk stops undecided against the arm, steps back down and meets something below it at once
    # (a knee, a chair: modelled as a wall 1 mm below; the simulator has one obstruction). Backing off
    # from it means driving up, towards what the undecided stop may have met (the first version drove
    # 30 mm up, past the first stop, and pressed the arm to 1052 N): the desk stays where it is.
    rig, arm = _undecided_stop_scenario()
    state = {"stepped_back": False, "up_after_fault": False, "last": None}

    def watch(r) -> bool:
        r.ctrl.drain_events()
        if r.drive is not state["last"]:
            if r.drive is Direction.DOWN and not state["stepped_back"]:
                state["stepped_back"] = True
                r.physics.obstruction = Obstruction(r.true_height - 1.0, -1, None)
            elif r.drive is Direction.UP and r.ctrl.fault is not None:
                state["up_after_fault"] = True
            state["last"] = r.drive
        return False

    rig.run_until(watch, rig.t + 20)
    assert state["stepped_back"], "the first stop was not undecided: the scenario no longer steps back"
    assert rig.ctrl.fault is not None and rig.ctrl.fault.kind is FaultKind.OBSTRUCTION
    assert not state["up_after_fault"], "drove back towards the first stop"
    assert rig.drive is None and not rig.ctrl.busy


def test_stepping_back_onto_the_bottom_end_stop_is_not_an_obstruction():
    # An installer with `rezero_at_bottom` puts min_mm on the bottom end stop; here it is 30 mm under
    # the undecided stop and the sensor reads 8 mm high there (the drift the end-stop rules allow for).
    # The step back is clamped to min_mm and rests on the end stop, but pressed.on_end_stop and
    # near_end_stop are asked about the goal's target (1100 mm, up), not the step back's, so resting on
    # the stop is latched as an obstruction, and its back-off goes up into the chair arm.
    # (The config is swapped in at the first stop only to reuse seed 8's known undecided stop.)
    rig, arm = _undecided_stop_scenario()
    state = {"first_stop": None, "last": None, "stepped_back": False}

    def watch(r) -> bool:
        r.ctrl.drain_events()
        if r.drive is None and state["last"] is Direction.UP and state["first_stop"] is None:
            state["first_stop"] = r.true_height
            lo = round(r.true_height) - 30.0
            r.ctrl.cfg = dataclasses.replace(r.ctrl.cfg, min_mm=lo, bottom_on_end_stop=True)
            r.physics.spec = dataclasses.replace(r.physics.spec, min_mm=lo + 8.0)
        if r.drive is Direction.DOWN and r.ctrl.fault is None:
            state["stepped_back"] = True
        state["last"] = r.drive
        return False

    rig.run_until(watch, rig.t + 20)
    assert state["stepped_back"], "the first stop was not undecided: the scenario no longer steps back"
    fault = rig.ctrl.fault
    # Meeting the arm again at the same height may latch; resting on the end stop must not.
    assert fault is None or fault.height_mm > state["first_stop"] - 10.0, (
        fault, f"first stop {state['first_stop']:.0f} mm; arm pressed to {rig.physics.peak_force_n:.0f} N")


def _warm_up(seed: int):
    """The fault bench's warm-up (deskpi.bench.faults._warm_rig) on a healthy slow, noisy desk; first fault seen."""
    p = SLOW.params
    ctrl = controller_for(SLOW, False)
    lo, hi = ctrl.cfg.min_mm, ctrl.cfg.max_mm
    rig = VirtualRig(ctrl, p.desk(), p.sensor(), seed=seed, start_mm=(lo + hi) / 2)
    rig.settle(1.0)
    rng = random.Random(seed)
    for frac in (0.7, 0.25, 0.8, 0.2, 0.6, 0.35, 0.65, 0.3)[: 6 + rng.randint(0, 2)]:
        _move(rig, lo + frac * (hi - lo))
        rig.rest(rng.uniform(5, 30))
        if ctrl.fault is not None:
            return ctrl.fault
    return None


def test_a_step_back_on_a_healthy_desk_does_not_run_the_motor_past_its_duty_cycle():
    # Seed 202: a false collapse alarm left undecided at 906 mm on a move up to 1008; the step back and
    # the return add ~3 s of motor time nobody budgeted (move_to checked the duty cycle for the move
    # alone, and this move was given 15.5 s), and the healthy desk latches DUTY_CYCLE at 989 mm.
    # Before the change it resumed from 906 and arrived.
    fault = _warm_up(202)
    assert fault is None or fault.kind is not FaultKind.DUTY_CYCLE, fault


def test_a_healthy_desk_that_steps_back_is_not_latched_as_seen_three_times():
    # Seed 203, the very first move (945 -> 1071): a false alarm dismissed, a second one undecided at
    # 1057 (counted as dismissed), the step back to 1016 and the return give a fresh approach a third
    # chance at a false alarm (at 1043, judged free) and "seen 3 times in one move" latches an
    # obstruction on a desk with nothing in its way. Before the change it resumed and arrived.
    fault = _warm_up(203)
    assert fault is None, fault


def test_a_new_target_below_an_undecided_stop_is_gone_to_directly_not_by_a_step_back():
    rig, arm = _undecided_stop_scenario()
    state = {"asked": False, "drives": []}

    def watch(r) -> bool:
        events = [k for k, _ in r.ctrl.drain_events()]
        if not state["asked"] and r.drive is None and r.ctrl.state.value == "settling" and r.true_height > 865:
            r.ctrl.move_to(855.0, r.t)           # asked while the first stop settles
            state["asked"] = True
        elif state["asked"] and r.drive is not None and (not state["drives"] or state["drives"][-1] != r.drive):
            state["drives"].append(r.drive)
        return "move_done" in events or "fault" in events

    rig.run_until(watch, rig.t + 30)
    assert state["asked"]
    assert state["drives"] == [Direction.DOWN], state["drives"]
    assert rig.ctrl.fault is None and abs(rig.true_height - 855.0) <= rig.ctrl.cfg.tolerance_mm + 2.0


def test_a_healthy_desk_stepped_back_meets_the_height_again_with_its_line_at_full_length():
    # Seed 5, the heaviest load (0.78: 17 of the learned 22 mm/s), up from 644 to 1025 mm: a false
    # collapse alarm at 985 mm is left undecided and the desk steps back. Stepped back only far enough
    # for the collapse test to settle in, the return leg reached 985 mm on a reference line 0.7 s long,
    # where the test is likeliest to be fooled; a second false alarm at 983 mm (judged free: it rested
    # 1 mm from where a free desk would) was latched "a second time at" that height. Stepped back far
    # enough for a full-length line, the desk arrives.
    rig = _warm_rig(5, SLOW, False)
    _move(rig, 644.0)
    rig.rest(20)
    rig.physics.new_load = lambda p=rig.physics: setattr(p, "load", 0.78)
    rig.rest_for_duty(30)
    rig.ctrl.move_to(1025.0, rig.t)
    rig.kick()
    runs: list[Direction] = []
    events: list[str] = []

    def watch(r) -> bool:
        if r.drive is not None and (not runs or runs[-1] != r.drive):
            runs.append(r.drive)
        events.extend(k for k, _ in r.ctrl.drain_events())
        return "fault" in events or "move_done" in events

    rig.run_until(watch, rig.t + 90)
    assert [int(d) for d in runs][:3] == [1, -1, 1], ("the scenario no longer steps back", runs)
    assert rig.ctrl.fault is None, rig.ctrl.fault
    assert events[-1] == "move_done" and abs(rig.true_height - 1025.0) <= rig.ctrl.cfg.tolerance_mm + 2.0
