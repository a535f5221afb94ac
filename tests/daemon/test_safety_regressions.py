"""Regression tests for the safety review's findings 1-6 and 8 (fixed in "Safety fixes from review").

Each test is a reproduction from the review turned into an assertion, named for the
behaviour it pins down (the sections below keep the review's numbering); each fails on
the code before that commit and passes after it (except the few marked as guards,
which pin down that a fix did not over-reach). Nothing here relies on how fast this
machine is: the controller runs on the virtual rig's clock, the loop-level tests on
a clock the test moves by hand, and the threaded ones synchronise on conditions,
with timeouts that only stop a hang (or a desk that keeps running) from going on
for ever.

 1. stop() while an obstruction suspicion is pending: no automatic back-off.
 2. After a stop, hold renewals from the same source are refused until it releases.
 3. A lost button release edge: the desk stops while the pin reads released.
 4. Shutdown refuses new motion (arbiter.closing); the motor is never energised again.
 5. A second signal during shutdown does not deadlock.
 6. An H-bridge with a long soft stop cuts at once on stop_motion and on a fault.
 8. Config bounds: sensor interval_s, motor ramp_down_s, desk duty_max_on_s < duty_window_s.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from helpers import ManualClock, wait_until

import deskpi
from deskpi.config import ConfigError, defaults, from_mapping, load
from deskpi.core.faults import FaultKind, MotionRefused
from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController, State
from deskpi.core.types import Direction, Reading, Source
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.daemon.control_loop import ControlLoop
from deskpi.daemon.root import Daemon
from deskpi.daemon.sdnotify import Notifier
from deskpi.daemon.service import DeskService
from deskpi.hw.buttons import ButtonPanel
from deskpi.hw.drives import HBridgeDrive
from deskpi.people.presets import PresetStore
from deskpi.sim.physics import DeskSpec, Obstruction
from deskpi.sim.sensor_model import SensorSpec
from deskpi.sim.stack import build_sim_stack
from deskpi.sim.virtual import VirtualRig

UP, DOWN = Direction.UP, Direction.DOWN
# The package under test, wherever it was imported from (subprocesses must run the same code).
ROOT = Path(deskpi.__file__).resolve().parents[1]


# -- shared fakes ----------------------------------------------------------------------------

class RecordingDrive:
    """Stands in for a relay drive: records every direction it is asked for, in order."""

    def __init__(self) -> None:
        self.direction: Direction | None = None
        self.calls: list[Direction | None] = []
        self._lock = threading.Lock()

    def set(self, direction, power: float = 1.0):
        with self._lock:
            self.direction = None if direction is None else Direction(direction)
            self.calls.append(self.direction)
            return self.direction

    def off(self):
        return self.set(None)

    def energised_since(self, index: int) -> list[Direction]:
        with self._lock:
            return [d for d in self.calls[index:] if d is not None]


# == 1. stop while an obstruction is suspected ================================================

OBSTRUCTIONS = {
    # name: (start, target, obstruction, direction of travel)
    "going-up": (800.0, 1150.0, Obstruction(1000.0, +1), UP),
    "going-down": (1100.0, 650.0, Obstruction(850.0, -1), DOWN),
}


def _suspicion_pending(ctrl: MotionController) -> bool:
    settle = getattr(ctrl, "_settle", None)
    return settle is not None and getattr(settle, "suspect", None) is not None


def _run_into_obstruction(name: str, seed: int, request: str) -> tuple[MotionController, VirtualRig]:
    """Move (or hold, renewing every 0.15 s) into an obstruction until the controller has
    paused the motor on suspicion of it and is settling to confirm; return at that tick."""
    start, target, obstruction, travel = OBSTRUCTIONS[name]
    ctrl = MotionController(MotionConfig(min_mm=630.0, max_mm=1260.0))
    rig = VirtualRig(ctrl, DeskSpec(), SensorSpec(), seed=seed, start_mm=start)
    rig.settle(2.0)
    ctrl.drain_events()
    rig.physics.obstruction = obstruction
    if request == "move":
        ctrl.move_to(target, rig.t)
    else:
        ctrl.hold(travel, rig.t)
    rig.kick()
    renewed = [rig.t]

    def suspected(r: VirtualRig) -> bool:
        if _suspicion_pending(ctrl) or ctrl.fault is not None:
            return True
        if request == "hold" and r.t - renewed[0] >= 0.15:
            ctrl.hold(travel, r.t)          # the finger is still down
            renewed[0] = r.t
        return False

    assert rig.run_until(suspected, rig.t + 60.0), "the desk never met the obstruction"
    assert ctrl.fault is None and _suspicion_pending(ctrl), \
        f"scenario: expected a pending obstruction suspicion, got fault={ctrl.fault} state={ctrl.state}"
    assert rig.drive is None and ctrl.state is State.SETTLING, "scenario: the motor is paused while it settles"
    assert rig.true_height == pytest.approx(obstruction.height_mm, abs=0.01)
    return ctrl, rig


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", OBSTRUCTIONS)
@pytest.mark.parametrize("request_kind", ["move", "hold"])
def test_a_stop_while_an_obstruction_is_suspected_never_backs_the_desk_off(request_kind: str, name: str,
                                                                          seed: int) -> None:
    ctrl, rig = _run_into_obstruction(name, seed, request_kind)
    obstruction = OBSTRUCTIONS[name][2]
    ctrl.stop(rig.t, "user pressed stop")
    rig.kick()
    drives: list[tuple[float, Direction | None]] = []
    rig.run_until(lambda r: drives.append((r.t, r.drive)) and False, rig.t + 10.0)   # well past the settle
    on = [(round(t, 2), d) for t, d in drives if d is not None]
    assert not on, f"the motor ran after the stop (an automatic back-off?): {on[:3]}"
    assert rig.true_height == pytest.approx(obstruction.height_mm, abs=0.01)
    # The fault may still be recorded -- but without a back-off, and nothing is left to do.
    assert ctrl.fault is None or ctrl.fault.kind is FaultKind.OBSTRUCTION
    assert not ctrl.busy or ctrl.state is State.FAULT
    assert rig.physics.violations == []


def test_letting_go_of_a_hold_while_an_obstruction_is_suspected_never_backs_the_desk_off() -> None:
    """Letting go of a held button is a person saying stop, too (the fix covers release())."""
    ctrl, rig = _run_into_obstruction("going-up", 1, "hold")
    ctrl.release(rig.t)
    rig.kick()
    drives: list[Direction | None] = []
    rig.run_until(lambda r: drives.append(r.drive) and False, rig.t + 10.0)
    assert set(drives) == {None}, "the motor ran after the button was let go"


# == 2. hold renewals after a stop ===========================================================

class LoopRig:
    """A real ControlLoop (thread running) on a clock the test moves, with a recording drive."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.drive = RecordingDrive()
        self.ctrl = MotionController(MotionConfig())
        self.loop = ControlLoop(self.ctrl, self.drive, clock=self.clock)
        self.arbiter = MotionArbiter(self.loop)
        self.height = 800.0

    def processed(self) -> int:
        with self.loop.lock:
            return sum(self.ctrl.estimator.counts.values())

    def feed(self, n: int = 1) -> None:
        """n readings at the current (manual) time; returns once the loop has taken them."""
        before = self.processed()
        for i in range(n):
            self.loop.feed(Reading.ok(self.clock(), self.height + (0.5 if i % 2 else -0.5)))
        wait_until(lambda: self.processed() >= before + n, 10, "the loop to take the readings")

    def step(self, dt: float) -> None:
        """Time passes by dt (a desk at rest: readings keep arriving)."""
        self.clock.advance(dt)
        self.feed()


@pytest.fixture
def looprig():
    r = LoopRig()
    r.loop.start()
    r.feed(9)
    yield r
    r.loop.close()


def test_hold_renewals_after_a_stop_are_refused_until_the_hold_is_released(looprig) -> None:
    r = looprig
    r.arbiter.hold(UP, Source.REMOTE, "web hold")
    assert r.drive.direction is UP
    for _ in range(3):                       # a phone renewing its hold (clock frozen: the desk is "moving")
        r.arbiter.hold(UP, Source.REMOTE, "web hold")
    assert r.drive.direction is UP

    r.arbiter.stop(Source.BUTTON)            # the person at the desk presses a button
    assert r.drive.direction is None
    mark = len(r.drive.calls)

    # The phone keeps renewing every 0.15 s for 4 s -- past the settle, well past the lease.
    for _ in range(27):
        r.step(0.15)
        with pytest.raises(MotionRefused, match="stopped"):
            r.arbiter.hold(UP, Source.REMOTE, "web hold")
        assert r.drive.direction is None
    with r.loop.lock:
        assert r.ctrl.state is State.IDLE and not r.ctrl.busy, "nothing left to carry out"
    assert r.drive.energised_since(mark) == [], "a renewal after the stop moved the desk"
    assert r.arbiter.owner is None

    # Let go; a new press moves the desk again.
    r.arbiter.release(Source.REMOTE)
    r.step(0.15)
    r.arbiter.hold(UP, Source.REMOTE, "web hold")
    assert r.drive.direction is UP
    assert r.arbiter.owner is Source.REMOTE
    r.arbiter.release(Source.REMOTE)
    assert r.drive.direction is None


def test_a_stopped_source_may_hold_again_after_a_pause(looprig) -> None:
    """A guard (passes before and after the fix): the refusal is for renewals of the stopped
    hold only -- a source that went quiet for longer than the renewal window is a new press."""
    r = looprig
    r.arbiter.hold(UP, Source.REMOTE, "web hold")
    r.arbiter.stop(Source.BUTTON)
    for _ in range(20):                      # 3 s with no renewals: the desk settles
        r.step(0.15)
    with r.loop.lock:
        assert not r.ctrl.busy
    r.arbiter.hold(UP, Source.REMOTE, "web hold")
    assert r.drive.direction is UP
    r.arbiter.release(Source.REMOTE)
    assert r.drive.direction is None


# == 3. lost button release edge =============================================================

@pytest.fixture
def panel_stack():
    stack = build_sim_stack(seed=5)
    arbiter = MotionArbiter(stack.loop)
    cfg = stack.controller.cfg
    service = DeskService(stack.loop, arbiter, PresetStore(None, (cfg.min_mm, cfg.max_mm)))
    panel = ButtonPanel(defaults().buttons, service, pin_factory=stack.factory, repeat_s=0.15)
    try:
        wait_until(lambda: stack.controller.height_mm() is not None, 15, "a height from the simulated sensor")
        yield stack, panel
    finally:
        panel.close()
        stack.close()


def test_a_button_released_without_its_release_edge_still_stops_the_desk(panel_stack) -> None:
    stack, panel = panel_stack
    btn = panel.buttons["up"]
    start = stack.desk.physics.height_mm
    panel.press("up", True)
    wait_until(lambda: stack.drive.direction is UP, 10, "the desk to move up while UP is held")

    # The release edge is lost (e.g. dropped inside a debounce window): the pin goes back
    # to 'released' but the callback never runs.
    callback, btn.when_released = btn.when_released, None
    try:
        panel.press("up", False)
    finally:
        btn.when_released = callback
    assert not btn.is_pressed

    # Fixed: the next hold renewal reads the pin, finds it released and lets go (~0.15 s).
    # Before the fix the renewals went on and the desk ran towards the soft limit (~15 s away).
    wait_until(lambda: stack.drive.direction is None, 3.0, "the desk to stop after the button was released")
    assert panel.flush(5.0)                 # the worker has finished what it was doing
    assert panel.logic.pressed == (), "the button logic still believes UP is held"
    assert panel.logic.next_wake(panel.clock()) is None, "no further hold renewal is scheduled"
    assert stack.drive.direction is None and not btn.is_pressed
    assert stack.desk.physics.height_mm - start < 120.0


# == 4. shutdown refuses new motion ===========================================================

def _installed_handler(d: Daemon):
    """Install the daemon's handlers, take the SIGTERM one and put pytest's back at once."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        d.install_signal_handlers()
        return signal.getsignal(signal.SIGTERM)
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def test_after_sigterm_every_motion_request_is_refused_and_the_motor_stays_off(tmp_path) -> None:
    d = Daemon(defaults(), sim=True, data_dir=tmp_path / "data", seed=11, notifier=Notifier(env={}))
    d.start()
    try:
        p = d.parts
        wait_until(lambda: d.ready_at is not None, 30, "the daemon to be ready")
        assert p.buttons is not None
        handler = _installed_handler(d)

        energised: list[tuple[str, str]] = []
        armed = threading.Event()
        orig_set = p.drive.set

        def spy(direction, *a, **kw):
            got = orig_set(direction, *a, **kw)
            if armed.is_set() and got is not None:
                energised.append((str(got), threading.current_thread().name))
            return got

        p.drive.set = spy
        armed.set()
        handler(signal.SIGTERM, None)                 # what `systemctl stop` does
        assert d.stopped.is_set()

        refusals: list[str] = []
        accepted: list[str] = []

        def try_to_move(when: str) -> None:
            for what, call in (("web move", lambda: p.service.move_to(1100.0, Source.REMOTE, "web")),
                               ("web hold", lambda: p.service.hold(UP, Source.REMOTE, "web hold")),
                               ("button hold", lambda: p.service.hold(DOWN, Source.BUTTON))):
                try:
                    call()
                except MotionRefused as exc:
                    refusals.append(f"{when}: {what}: {exc}")
                else:
                    accepted.append(f"{what} {when}")

        try_to_move("after the signal")
        assert accepted == [], f"motion accepted after the signal: {accepted}; energised: {energised}"
        assert getattr(p.arbiter, "closing", None) is True
        p.service.press_sim_key("up", True)            # a finger on the desk's button
        assert p.buttons.flush(5.0)
        assert p.drive.direction is None

        # A request that arrives while shutdown() is under way (just after its stop).
        orig_stop = p.loop.stop_motion

        def stop_then_request(reason: str = "stop") -> None:
            orig_stop(reason)
            if reason == "shutdown":
                try_to_move("during shutdown")

        p.loop.stop_motion = stop_then_request
        d.shutdown()
        assert accepted == [], f"motion accepted during shutdown: {accepted}; energised: {energised}"
        assert any(r.startswith("during shutdown") for r in refusals), "shutdown never reached its stop"
        assert all("shutting down" in r for r in refusals), refusals
        assert energised == [], f"the motor was energised after the signal: {energised}"
        assert p.drive.direction is None
    finally:
        d.shutdown()


# == 5. a second signal during shutdown =======================================================

DOUBLE_SIGNAL_SCRIPT = textwrap.dedent("""
    import faulthandler, logging, os, signal, sys, time
    from pathlib import Path
    logging.basicConfig(level=logging.CRITICAL)
    from deskpi.config import defaults
    from deskpi.daemon.root import Daemon
    from deskpi.daemon.sdnotify import Notifier
    faulthandler.dump_traceback_later(20, exit=True)      # a deadlock ends here, with a traceback
    d = Daemon(defaults(), sim=True, data_dir=Path.cwd(), seed=1, notifier=Notifier(env={}))
    d.build()
    d.install_signal_handlers()
    os.kill(os.getpid(), signal.SIGINT)                   # the first Ctrl-C
    assert d.stopped.wait(5), "the first signal was not handled"
    drv = d.parts.drive
    orig_release = drv._release
    sent = []
    def release_with_a_signal_in_the_middle():
        # Ctrl-C pressed again (or systemctl stop twice) while shutdown is inside the
        # drive's lock, turning the motor off (the pin write this stands for).
        sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        orig_release()
    drv._release = release_with_a_signal_in_the_middle
    d.shutdown()
    print("shutdown completed; signals during shutdown:", len(sent), flush=True)
""")


def test_a_second_signal_while_shutdown_holds_the_drive_lock_does_not_deadlock(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", DOUBLE_SIGNAL_SCRIPT], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"shutdown hung or failed (rc={proc.returncode}):\n{out}\n{err[-3000:]}"
    assert "shutdown completed" in out
    assert "signals during shutdown: 0" not in out, "the scenario did not put a signal inside shutdown"


def test_deskpi_sim_exits_cleanly_on_ctrl_c_twice(tmp_path, notify_socket) -> None:
    """The end-to-end form: Ctrl-C twice on `deskpi sim`, the second once shutdown has begun.
    (Landing inside the drive's lock is a matter of luck here; the test above forces it.)"""
    path, messages = notify_socket
    env = dict(os.environ, NOTIFY_SOCKET=path, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--port", "0", "--data-dir",
                             str(tmp_path / "d")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any("READY=1" in m for m in messages), 30, "READY=1 from deskpi sim")
        proc.send_signal(signal.SIGINT)
        wait_until(lambda: any("STOPPING=1" in m for m in messages) or proc.poll() is not None, 20,
                   "STOPPING=1 from deskpi sim")
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]


# == 6. H-bridge: a stop is a stop, not a soft stop ==========================================

@pytest.fixture
def hbridge_loop():
    """A ControlLoop holding UP through an H-bridge with a 3 s soft stop. The drive and the
    loop share a clock that stands still, so a ramp, if one is started, never progresses."""
    clock = ManualClock()
    factory = MockFactory(pin_class=MockPWMPin)
    drive = HBridgeDrive(17, 18, ramp_up_s=0.0, ramp_down_s=3.0, pin_factory=factory, clock=clock)
    ctrl = MotionController(MotionConfig())
    for i in range(9):
        ctrl.tick(clock(), Reading.ok(clock(), 800.0 + (0.5 if i % 2 else -0.5)))
    loop = ControlLoop(ctrl, drive, clock=clock)
    try:
        loop.hold(UP, source="test")
        # No soft start: the drive's own thread reaches full power on its next step.
        wait_until(lambda: drive.duty == 1.0 and factory.pin(17).state == 1.0, 10, "full power up")
        assert drive.direction is UP and factory.pin(18).state == 0
        yield loop, drive, factory
    finally:
        loop.close()
        drive.close()


def _outputs(factory) -> tuple[float, float]:
    return factory.pin(17).state, factory.pin(18).state


def test_a_stop_cuts_an_hbridge_at_once_without_its_soft_stop(hbridge_loop) -> None:
    loop, drive, factory = hbridge_loop
    loop.stop_motion("STOP pressed")
    assert _outputs(factory) == (0, 0), "still driven after stop: a soft-stop ramp ran instead of a cut"
    assert drive.direction is None and drive.duty == 0


def test_a_fault_cuts_an_hbridge_at_once_without_its_soft_stop(hbridge_loop) -> None:
    loop, drive, factory = hbridge_loop
    loop.request(lambda c, now: c.fail("injected fault", now))
    assert loop.ctrl.fault is not None
    assert _outputs(factory) == (0, 0), "still driven after a fault: a soft-stop ramp ran instead of a cut"
    assert drive.direction is None and drive.duty == 0


# == 8. config bounds ========================================================================

@pytest.mark.parametrize("text, needles", [
    ("[sensor]\ninterval_s = 0.2\n", ["[sensor] interval_s = 0.2"]),
    ("[sensor]\ninterval_s = 1.0\n", ["[sensor] interval_s = 1.0"]),
    ('[motor]\ndriver = "hbridge"\nramp_down_s = 0.6\n', ["[motor] ramp_down_s = 0.6"]),
    ('[motor]\ndriver = "hbridge"\nramp_down_s = 3.0\n', ["[motor] ramp_down_s = 3.0"]),
    ("[desk]\nduty_max_on_s = 600.0\nduty_window_s = 600.0\n",
     ["[desk] duty_max_on_s = 600", "duty_window_s = 600"]),
], ids=["interval-0.2", "interval-1.0", "ramp_down-0.6", "ramp_down-3.0", "duty-equal"])
def test_unsafe_timing_config_values_are_refused_naming_section_key_and_value(tmp_path, text: str,
                                                                             needles: list[str]) -> None:
    path = tmp_path / "deskpi.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, message
    assert any(all(n in p for n in needles) for p in info.value.problems), info.value.problems


def test_the_timing_bounds_themselves_are_accepted() -> None:
    """Guard (passes before and after): the limits are inclusive where documented."""
    s = from_mapping({"sensor": {"interval_s": 0.1}, "motor": {"driver": "hbridge", "ramp_down_s": 0.5},
                      "desk": {"duty_max_on_s": 599.0, "duty_window_s": 600.0}})
    assert (s.sensor.interval_s, s.motor.ramp_down_s, s.desk.duty_max_on_s) == (0.1, 0.5, 599.0)
