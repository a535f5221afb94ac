"""ControlLoop (deskpi.daemon.control_loop) with a recording drive and a frozen clock.

The loop thread is real; the clock it hands the controller is frozen, so
readings fed by the test stay fresh however slowly this machine runs, and
nothing here depends on timing. The full stack on simulated pins is in
test_sim_stack.py.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from helpers import wait_until

from deskpi.core.faults import FaultKind, MotionRefused
from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController, State
from deskpi.core.types import Direction, Reading
from deskpi.daemon.control_loop import ControlLoop

UP, DOWN = Direction.UP, Direction.DOWN




class FrozenClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingDrive:
    """Stands in for RelayPairDrive: records every call and the thread it came from."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.direction: Direction | None = None
        self.calls: list[tuple[Direction | None, str]] = []
        self.timeline: list[tuple[float, Direction | None]] = []   # (clock time, direction) per call
        self.clock = clock
        self._lock = threading.Lock()

    def set(self, direction, power: float = 1.0):
        with self._lock:
            self.direction = None if direction is None else Direction(direction)
            self.calls.append((self.direction, threading.current_thread().name))
            if self.clock is not None:
                self.timeline.append((self.clock(), self.direction))
            return self.direction

    def off(self):
        return self.set(None)


class Events:
    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []
        self.cond = threading.Condition()

    def __call__(self, kind, ev) -> None:
        with self.cond:
            self.items.append((kind, ev))
            self.cond.notify_all()

    def wait_for(self, kind: str, timeout: float = 10.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: any(k == kind for k, _ in self.items), timeout)
        assert ok, f"no {kind!r} event; got {[k for k, _ in self.items]}"
        return next(ev for k, ev in self.items if k == kind)


class Rig:
    def __init__(self) -> None:
        self.clock = FrozenClock()
        self.drive = RecordingDrive(self.clock)
        self.ctrl = MotionController(MotionConfig())
        self.loop = ControlLoop(self.ctrl, self.drive, clock=self.clock)
        self.events = Events()
        self.loop.listeners.append(self.events)

    def processed(self) -> int:
        """How many readings the controller has classified so far."""
        with self.loop.lock:
            return sum(self.ctrl.estimator.counts.values())

    def feed_fresh(self, height: float = 800.0, n: int = 9) -> None:
        """Feed n readings at the frozen 'now' and wait until the loop has taken them all."""
        before = self.processed()
        for i in range(n):
            self.loop.feed(Reading.ok(self.clock.t, height + (0.5 if i % 2 else -0.5)))
        wait_until(lambda: self.processed() >= before + n, 10, "the loop to take the readings")


@pytest.fixture
def rig():
    r = Rig()
    r.loop.start()
    yield r
    r.loop.close()


def test_loop_thread_takes_readings(rig):
    rig.feed_fresh(812.0)
    with rig.loop.lock:
        assert rig.ctrl.estimator.height() == pytest.approx(812.0, abs=0.6)
        assert rig.ctrl.estimator.is_fresh(rig.clock.t)


def test_move_without_readings_is_refused(rig):
    with pytest.raises(MotionRefused, match="no fresh height"):
        rig.loop.move_to(900.0)
    assert rig.drive.direction is None


def test_hold_energises_the_drive_and_release_turns_it_off(rig):
    rig.feed_fresh()
    rig.loop.hold(UP)
    assert rig.drive.direction is UP
    rig.loop.release()
    assert rig.drive.direction is None


def test_move_to_drives_towards_the_target(rig):
    rig.feed_fresh(800.0)
    rig.loop.move_to(700.0)
    assert rig.drive.direction is DOWN
    assert rig.ctrl.target_mm == 700.0


def test_stop_motion_turns_the_drive_off_before_the_controller_hears_of_it(rig):
    rig.feed_fresh()
    rig.loop.hold(UP)
    assert rig.drive.direction is UP
    seen: list = []
    real_stop = rig.ctrl.stop

    def spy_stop(now, reason="stop"):
        seen.append(rig.drive.direction)
        return real_stop(now, reason)

    rig.ctrl.stop = spy_stop
    stopper = threading.Thread(target=rig.loop.stop_motion, name="stopper")
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()
    assert seen == [None], "the drive was still on when the controller was told to stop"
    assert rig.drive.direction is None
    assert (None, "stopper") in rig.drive.calls
    assert rig.ctrl.state is not State.MOVING_UP


def test_stop_motion_is_not_delayed_by_the_loop_lock(rig):
    """Stop beats everything: even with the loop's lock held elsewhere, the motor goes off."""
    rig.feed_fresh()
    rig.loop.hold(UP)
    locked, release = threading.Event(), threading.Event()

    def hog():
        with rig.loop.lock:
            locked.set()
            release.wait(10)

    hogger = threading.Thread(target=hog, name="lock-hog")
    hogger.start()
    try:
        assert locked.wait(10)
        stopper = threading.Thread(target=rig.loop.stop_motion, name="stopper")
        stopper.start()
        wait_until(lambda: rig.drive.direction is None, 10, "the drive to go off")
        # The drive went off while the lock was still taken: the stopper is still waiting for it.
        assert stopper.is_alive()
    finally:
        release.set()
        hogger.join(10)
    stopper.join(10)
    assert not stopper.is_alive()
    assert rig.drive.direction is None


def test_a_failing_listener_does_not_break_the_loop(rig):
    calls = []

    def bad(kind, ev):
        calls.append(kind)
        raise RuntimeError("listener bug")

    rig.loop.listeners.insert(0, bad)
    rig.feed_fresh(800.0)
    # A target within tolerance finishes at once with a move_done event.
    rig.loop.move_to(801.0)
    report = rig.events.wait_for("move_done")
    assert report.target_mm == 801.0
    assert calls == ["move_done"]
    # The loop thread is alive and still turns readings into decisions: two
    # silent pings make it latch a dead-sensor fault, reported to both listeners.
    assert rig.loop._thread.is_alive()
    rig.loop.feed(Reading.silent(rig.clock.t))
    rig.loop.feed(Reading.silent(rig.clock.t))
    fault = rig.events.wait_for("fault")
    assert fault.kind is FaultKind.SENSOR_DEAD
    assert calls == ["move_done", "fault"]
    assert rig.loop._thread.is_alive()


def test_fault_latches_until_cleared(rig):
    rig.feed_fresh()
    rig.loop.hold(UP)
    rig.loop.feed(Reading.silent(rig.clock.t))
    rig.loop.feed(Reading.silent(rig.clock.t))
    rig.events.wait_for("fault")
    assert rig.drive.direction is None
    rig.feed_fresh()
    with pytest.raises(MotionRefused, match="fault"):
        rig.loop.move_to(900.0)
    assert rig.drive.direction is None
    rig.loop.clear_fault()
    rig.events.wait_for("fault_cleared")
    assert rig.ctrl.fault is None
    rig.loop.move_to(900.0)
    # Step the clock with fresh readings (past the dead time and the settle
    # after the cut) until the move starts: at most 10 s of desk time.
    for _ in range(100):
        if rig.drive.direction is UP:
            break
        rig.clock.t += 0.1
        rig.feed_fresh(n=3)
    assert rig.drive.direction is UP
    assert rig.ctrl.fault is None


def test_request_exceptions_propagate_and_the_loop_carries_on(rig):
    def boom(ctrl, now):
        raise KeyError("nope")

    with pytest.raises(KeyError):
        rig.loop.request(boom)
    assert rig.loop.request(lambda c, now: now) == rig.clock.t
    assert rig.loop._thread.is_alive()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_crash_in_the_loop_thread_turns_the_motor_off_and_latches_a_fault(rig):
    armed = threading.Event()

    def on_tick(cmd):
        if armed.is_set() and threading.current_thread().name == "control-loop":
            raise RuntimeError("bug in a tick hook")

    rig.loop.on_tick = on_tick
    rig.feed_fresh()
    rig.loop.hold(UP)
    assert rig.drive.direction is UP
    thread = rig.loop._thread
    armed.set()
    rig.loop.feed(Reading.ok(rig.clock.t, 800.0))     # wakes the loop thread
    thread.join(10)
    assert not thread.is_alive()
    assert rig.drive.direction is None
    assert rig.ctrl.fault is not None and rig.ctrl.fault.kind is FaultKind.INTERNAL


def test_close_turns_the_drive_off_and_joins_the_thread():
    r = Rig()
    r.loop.start()
    r.feed_fresh()
    r.loop.hold(UP)
    thread = r.loop._thread
    r.loop.close()
    assert not thread.is_alive()
    assert r.drive.direction is None


def test_hold_whose_lease_expires_during_a_pause_does_not_restart_the_motor(rig):
    rig.feed_fresh()
    rig.loop.hold(UP)
    lease_until = rig.clock.t + rig.ctrl.cfg.hold_lease_s
    assert rig.drive.direction is UP
    # One silent ping: the controller pauses (motor off), the hold goal stands.
    rig.loop.feed(Reading.silent(rig.clock.t))
    wait_until(lambda: rig.drive.direction is None, 10, "the precautionary pause")
    # Nobody renews the hold. Readings come back; step up to 10 s of desk time.
    for _ in range(200):
        rig.clock.t += 0.05
        rig.feed_fresh(n=1)
        with rig.loop.lock:
            if rig.ctrl.state is State.IDLE:
                break
    assert rig.ctrl.state is State.IDLE
    late = [t for t, d in rig.drive.timeline if d is not None and t >= lease_until]
    assert late == [], f"motor energised {late[0] - lease_until:.2f} s after the hold's lease ran out"


class GatedController:
    """Wraps the controller so the loop thread can be held after it has decided to
    drive UP but before it writes the pins: the window a stop must not lose."""

    def __init__(self, ctrl) -> None:
        self._ctrl = ctrl
        self.armed = threading.Event()
        self.entered = threading.Event()
        self.proceed = threading.Event()

    def __getattr__(self, name):
        return getattr(self._ctrl, name)

    def tick(self, now, reading=None):
        cmd = self._ctrl.tick(now, reading)
        if (cmd.drive is not None and self.armed.is_set()
                and threading.current_thread().name == "control-loop"):
            self.armed.clear()
            self.entered.set()
            self.proceed.wait(10)
        return cmd


def test_stop_is_not_undone_by_a_tick_already_in_flight():
    """A tick that decided UP just before stop_motion must not write UP after the stop's own off().

    stop_motion's drive.off() happens without waiting for the tick (it only waits
    for a pin write in progress, which is microseconds); the tick, when it goes on,
    sees the stop and leaves the motor off.
    """
    r = Rig()
    gate = GatedController(r.ctrl)
    r.loop.ctrl = gate
    r.loop.start()
    stopper = None
    try:
        r.feed_fresh()
        r.loop.hold(UP)
        assert r.drive.direction is UP
        gate.armed.set()
        r.loop.feed(Reading.ok(r.clock.t, 800.0))        # the loop ticks, decides UP ...
        assert gate.entered.wait(10)                      # ... and is held before its write
        stopper = threading.Thread(target=r.loop.stop_motion, name="stopper")
        stopper.start()
        wait_until(lambda: (None, "stopper") in r.drive.calls, 10, "the stop's own drive.off()")
        gate.proceed.set()
        stopper.join(10)
        assert not stopper.is_alive()
        stop_at = r.drive.calls.index((None, "stopper"))
        after = [c for c in r.drive.calls[stop_at:] if c[0] is not None]
        assert after == [], f"the motor was turned back on after stop_motion turned it off: {after}"
        assert r.drive.direction is None
    finally:
        gate.proceed.set()
        if stopper is not None:
            stopper.join(10)
        r.loop.close()
