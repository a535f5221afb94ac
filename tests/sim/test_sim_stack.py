"""The full motion stack on a simulated desk (deskpi.sim.stack.build_sim_stack).

Production drive, ultrasonic reader, controller and control loop on SimFactory
pins, in real time. Accuracy is judged on the simulator's TRUE height, not on
what the controller believes. Tests synchronise on loop events (a listener
feeding a Condition) and on polled predicates with deadlines; moves are short
(60-120 mm) to keep the file fast.
"""
from __future__ import annotations

import threading
import time

import pytest
from helpers import wait_until

from deskpi.core.faults import FaultKind, MotionRefused
from deskpi.core.types import Direction
from deskpi.sim.stack import SimStack, build_sim_stack

UP, DOWN = Direction.UP, Direction.DOWN
SEED = 7
MOVE_TIMEOUT_S = 40.0




class Events:
    """Loop listener: records events (and the drive's state as each arrives)."""

    def __init__(self, stack: SimStack) -> None:
        self.stack = stack
        self.items: list[tuple[str, object, Direction | None]] = []
        self.cond = threading.Condition()
        stack.loop.listeners.append(self)

    def __call__(self, kind, ev) -> None:
        with self.cond:
            self.items.append((kind, ev, self.stack.drive.direction))
            self.cond.notify_all()

    def kinds(self) -> list[str]:
        with self.cond:
            return [k for k, _, _ in self.items]

    def wait_for(self, kinds: tuple[str, ...], timeout: float = MOVE_TIMEOUT_S):
        """First event of one of `kinds`: (kind, payload, drive direction when it was sent)."""
        with self.cond:
            ok = self.cond.wait_for(lambda: any(k in kinds for k, _, _ in self.items), timeout)
            assert ok, f"none of {kinds} within {timeout} s; got {[k for k, _, _ in self.items]}"
            return next(item for item in self.items if item[0] in kinds)


def fresh(stack: SimStack) -> bool:
    with stack.loop.lock:
        est = stack.controller.estimator
        return len(est.recent()) >= est.cfg.window and est.is_fresh(stack.loop.clock())


def wait_fresh(stack: SimStack) -> None:
    wait_until(lambda: fresh(stack), 15, "fresh height readings")


def wait_rest(stack: SimStack) -> None:
    wait_until(lambda: stack.drive.direction is None and stack.desk.at_rest(), 15, "the desk to come to rest")


@pytest.fixture
def stack():
    s = build_sim_stack(seed=SEED)
    try:
        wait_fresh(s)
        yield s
    finally:
        s.close()


def test_move_to_reaches_the_target_on_the_true_height(stack):
    events = Events(stack)
    start = stack.desk.true_height()
    target = round(start + 100.0, 1)
    stack.loop.move_to(target)
    kind, report, drive_then = events.wait_for(("move_done", "fault"))
    assert kind == "move_done", report
    assert drive_then is None
    wait_rest(stack)
    true = stack.desk.true_height()
    assert abs(true - target) <= 3.0, f"stopped at {true:.2f} mm for a target of {target} mm"
    assert report.target_mm == target
    assert stack.desk.violations == []
    assert stack.controller.fault is None
    assert all(lag >= 0 for lag in stack.loop.lag_s)


def test_hold_to_run_moves_while_renewed_and_stops_when_renewals_stop(stack):
    events = Events(stack)
    lease = stack.controller.cfg.hold_lease_s
    start = stack.desk.true_height()
    pace = threading.Event()       # never set: wait() is only the ~0.1 s renewal pace
    stack.loop.hold(UP)
    assert stack.drive.direction is UP
    on_after_renewal = []
    renew_until = time.monotonic() + 1.5
    while time.monotonic() < renew_until:
        pace.wait(0.1)
        t_renew = stack.loop.clock()
        stack.loop.hold(UP)
        on_after_renewal.append(stack.drive.direction is UP)
    # (A precautionary pause for a few lost echoes may briefly cut the motor; the
    # lease itself must never run out while it is being renewed.)
    assert "hold_expired" not in events.kinds()
    assert sum(on_after_renewal) >= 0.8 * len(on_after_renewal), on_after_renewal
    # Renewals stop here. The lease runs out, the loop cuts the motor by itself.
    kind, expired_at, drive_then = events.wait_for(("hold_expired",), timeout=lease + 5.0)
    assert drive_then is None
    assert stack.drive.direction is None
    assert expired_at >= t_renew + lease - 1e-6, "the hold stopped before its lease ran out"
    assert "fault" not in events.kinds()
    wait_rest(stack)
    assert stack.desk.true_height() > start + 20.0
    assert stack.desk.violations == []


def test_stop_motion_turns_the_drive_off_at_once(stack):
    events = Events(stack)
    start = stack.desk.true_height()
    target = start + 120.0
    stack.loop.move_to(target)
    wait_until(lambda: stack.drive.direction is UP and stack.desk.true_height() > start + 10, 15,
               "the desk to get going")
    stack.loop.stop_motion("test")
    assert stack.drive.direction is None
    assert stack.controller.target_mm is None
    wait_rest(stack)
    assert stack.drive.direction is None
    assert stack.desk.true_height() < target - 30.0
    assert "move_done" not in events.kinds()
    assert stack.desk.violations == []


@pytest.mark.parametrize("fault, expected", [
    ("sensor_dead", {FaultKind.SENSOR_DEAD}),
    ("obstruction", {FaultKind.OBSTRUCTION}),
])
def test_fault_mid_move_stops_latches_and_clears(stack, fault, expected):
    events = Events(stack)
    start = stack.desk.true_height()
    stack.loop.move_to(start + 120.0)
    wait_until(lambda: stack.drive.direction is UP and stack.desk.true_height() > start + 15, 15,
               "the desk to get going")
    if fault == "obstruction":
        block_at = stack.desk.true_height() + 25.0
        stack.desk.inject("obstruction", height_mm=block_at, direction=1)
    else:
        stack.desk.inject("sensor_dead")
    kind, f, drive_then = events.wait_for(("fault", "move_done"))
    assert kind == "fault", f"the move finished instead of faulting: {f}"
    assert f.kind in expected, f.message
    assert drive_then is None, "the motor was still on when the fault was announced"
    assert stack.controller.fault is not None
    if fault == "obstruction":
        assert stack.desk.true_height() <= block_at + 1e-6
    else:
        assert stack.drive.direction is None

    # Latched: nothing moves the desk until a person clears it.
    with pytest.raises(MotionRefused, match="fault"):
        stack.loop.move_to(start)
    with pytest.raises(MotionRefused, match="fault"):
        stack.loop.hold(DOWN)

    stack.desk.clear_injections()
    wait_fresh(stack)
    stack.loop.clear_fault()
    assert stack.controller.fault is None
    stack.loop.move_to(start)        # accepted now
    wait_until(lambda: stack.drive.direction is DOWN, 15, "the desk to move after clear_fault")
    stack.loop.stop_motion("test over")
    assert stack.drive.direction is None
    assert stack.desk.violations == []


def test_loop_survives_a_listener_that_raises(stack):
    def broken(kind, ev):
        raise RuntimeError("listener bug")

    stack.loop.listeners.append(broken)
    events = Events(stack)       # registered after the broken one
    start = stack.desk.true_height()
    target = round(start - 60.0, 1)
    stack.loop.move_to(target)
    kind, report, _ = events.wait_for(("move_done", "fault"))
    assert kind == "move_done", report
    assert stack.loop._thread is not None and stack.loop._thread.is_alive()
    assert stack.controller.fault is None
    # Still ticking on readings after the failing callbacks.
    ticks = stack.loop.ticks
    wait_until(lambda: stack.loop.ticks > ticks + 3, 10, "the loop to keep ticking")
    wait_rest(stack)
    assert abs(stack.desk.true_height() - target) <= 3.0
    assert stack.desk.violations == []


def test_close_stops_every_thread_and_leaves_the_motor_off():
    s = build_sim_stack(seed=SEED)
    try:
        wait_fresh(s)
        s.loop.hold(UP)
        assert s.drive.direction is UP
        threads = [s.loop._thread, s.sensor._thread, s.desk._worker]
        assert all(t is not None and t.is_alive() for t in threads)
    finally:
        s.close()
    assert [t.name for t in threads if t.is_alive()] == []
    assert s.drive.direction is None
    # The relay pins are held at their off level after close.
    assert s.factory.pin(17).state == 0 and s.factory.pin(27).state == 0
