"""`deskpi bench control`: stopping accuracy and speed against a naive baseline and the physical limit.

Three controllers make the same moves to the same targets on the same simulated desk: deskpi's,
the naive `baseline` most hobby projects ship (`naive.py`) and the all-knowing `oracle`
(`oracle.py`). Each move's desk (its load and its coast's jitter) is drawn from the seed and
the move's index, so move i meets the same desk whichever controller makes it.
`time_vs_oracle` is defined in `oracle.py`.
"""
from __future__ import annotations

import random
import statistics
import time

from deskpi.core.faults import MotionRefused
from deskpi.core.motion.config import Command, MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.core.types import CurrentSample, Reading
from deskpi.sim.physics import DeskSpec
from deskpi.sim.virtual import CurrentSpec, VirtualRig

from .desks import BenchParams
from .naive import NaiveController
from .oracle import MoveTime, OracleController, time_vs_oracle


def limits_for(desk: DeskSpec) -> tuple[float, float]:
    """Soft limits a little inside the desk's own end stops, as an installer would set them."""
    return desk.min_mm + 10.0, desk.max_mm - 10.0


NEAR_END_MM = 50.0     # the end-of-travel family's targets lie this close to a limit


def targets(params: BenchParams, lo: float, hi: float, *, near_end: bool = False) -> list[float]:
    rng = random.Random(params.seed)
    if near_end:
        # Within a few centimetres of either end: short moves at one end and full-travel ones.
        return [round(rng.uniform(lo, lo + NEAR_END_MM) if rng.random() < 0.5
                      else rng.uniform(hi - NEAR_END_MM, hi), 1) for _ in range(params.moves)]
    return [round(rng.uniform(lo, hi), 1) for _ in range(params.moves)]


def summarise(errors: list[float], ratios: list[float], violations: int, faults: int) -> dict:
    errs = sorted(abs(e) for e in errors)

    def pct(p: float) -> float:
        if not errs:
            return float("nan")
        k = min(len(errs) - 1, max(0, round(p * (len(errs) - 1))))
        return round(errs[k], 2)

    return {
        "moves": len(errors),
        "p50_error_mm": pct(0.50),
        "p95_error_mm": pct(0.95),
        "max_error_mm": round(errs[-1], 2) if errs else float("nan"),
        "median_time_ratio": round(statistics.median(ratios), 3) if ratios else float("nan"),
        "interlock_violations": violations,
        "faults": faults,
    }


def run_virtual(params: BenchParams, controller_factory, log=None, *, current: bool = False,
                near_end: bool = False, times: list[MoveTime | None] | None = None) -> dict:
    """Moves to random targets on the virtual clock; `current` fits the desk with a current sensor,
    `near_end` puts the targets near the ends of travel; `times` gets one entry per target
    (None for a move that faulted, was refused or went nowhere)."""
    desk = params.desk()
    lo, hi = limits_for(desk)
    ctrl = controller_factory(lo, hi)
    rig = VirtualRig(ctrl, desk, params.sensor(), seed=params.seed * 7919 + 1, start_mm=(lo + hi) / 2,
                     current=CurrentSpec() if current else None)
    if hasattr(ctrl, "attach"):
        ctrl.attach(rig.physics)       # the oracle reads the true desk
    rig.settle(2.0)
    errors, ratios, faults, refused = [], [], 0, 0
    pauses = 0         # suspicions, each a pause of the motor whatever the judge then made of it
    rng = random.Random(params.seed + 17)
    for i, target in enumerate(targets(params, lo, hi, near_end=near_end)):
        if times is not None:
            times.append(None)
        rest = rng.uniform(1.0, 5.0)
        duty = getattr(ctrl, "duty", None)
        if duty is not None:
            need = abs(target - rig.true_height) / min(params.speed_up, params.speed_down) * 1.5 + 2
            rest = max(rest, duty.ready_at(rig.t, need) - rig.t + 0.5)
        rig.rest(rest)
        # This move's load and coast, the same for every controller (see the module docstring).
        rig.physics.rng = random.Random(params.seed * 1_000_003 + i)
        if not ask(ctrl, rig, target):
            refused += 1         # never moved: counted with the faults, so every move is accounted for
            faults += 1
            continue
        start_true = rig.true_height
        t_cmd = rig.t
        rig.kick()
        done: list = []

        def finished(r, done: list = done) -> bool:
            nonlocal pauses
            for kind, ev in ctrl.drain_events():
                if kind in ("move_done", "fault"):
                    done.append((kind, ev))
                pauses += kind == "suspicion"
            return bool(done)

        rig.run_until(finished, rig.t + 120.0)
        # Let the desk come fully to rest before judging where it ended up.
        rig.run_until(lambda r: r.physics.at_rest and r.t - r.physics.last_motion_t > 0.05, rig.t + 5.0)
        if not done or done[0][0] == "fault":
            faults += 1
            if log is not None:
                log.append(done[0][1] if done else "timeout")
            if getattr(ctrl, "fault", None) is not None:
                ctrl.clear_fault(rig.t)
            continue
        errors.append(rig.true_height - target)
        nominal = params.speed_up if target > start_true else params.speed_down
        distance = abs(target - start_true)
        if distance > ctrl_tolerance(ctrl):
            took = max(rig.physics.last_motion_t - t_cmd, 0.0)
            ratios.append(took / (distance / nominal))
            if times is not None:
                times[-1] = MoveTime(took, distance, nominal)
            if log is not None:
                corr = done[0][1].corrections if hasattr(done[0][1], "corrections") else 0
                log.append((round(distance), round(ratios[-1], 3), round(errors[-1], 2), corr))
    return summarise(errors, ratios, len(rig.physics.violations), faults) | {
        "refused_no_fresh_height": refused, "pauses": pauses}


def ask(ctrl, rig: VirtualRig, target: float) -> bool:
    """Ask for a move; refused for want of a fresh height (a few lost echoes in a row at the
    idle pace, as it should be), a person presses again a moment later, twice at most."""
    for _ in range(3):
        try:
            ctrl.move_to(target, rig.t, source="bench")
            return True
        except MotionRefused:
            rig.settle(0.5)
    return False


def ctrl_tolerance(ctrl) -> float:
    cfg = getattr(ctrl, "cfg", None)
    return cfg.tolerance_mm if cfg is not None else 2.0


def deskpi_controller(lo: float, hi: float, *, current: bool = False) -> MotionController:
    return MotionController(MotionConfig(min_mm=lo, max_mm=hi, current_sensing=current))


class TimedController(MotionController):
    """deskpi's controller, with the CPU time of each reading it handles while the motor is on in `spent`:
    what a slower board (a Pi Zero 2 W is some 8x slower than a desktop) must fit in between two pings."""

    def __init__(self, cfg: MotionConfig, spent: list[float]) -> None:
        super().__init__(cfg)
        self.spent = spent

    def tick(self, now: float, reading: Reading | CurrentSample | None = None) -> Command:
        if not isinstance(reading, Reading) or self.drive is None:
            return super().tick(now, reading)
        # The thread's own CPU time: other work on a busy machine does not count against it.
        t0 = time.thread_time()
        command = super().tick(now, reading)
        self.spent.append(time.thread_time() - t0)
        return command


def cpu_figures(spent: list[float]) -> dict:
    """CPU time per reading on this machine (not the virtual clock): p50, p99, max in microseconds."""
    if not spent:
        return {"readings": 0}
    xs = sorted(spent)
    return {"readings": len(xs), "p50": round(1e6 * xs[len(xs) // 2], 1),
            "p99": round(1e6 * xs[int(0.99 * (len(xs) - 1))], 1), "max": round(1e6 * xs[-1], 1)}


def run(params: BenchParams, *, near_end: bool = False) -> dict:
    ours: list[MoveTime | None] = []
    best: list[MoveTime | None] = []
    spent: list[float] = []
    result = run_virtual(params, lambda lo, hi: TimedController(MotionConfig(min_mm=lo, max_mm=hi), spent),
                         near_end=near_end, times=ours)
    result["cpu_per_reading_us"] = cpu_figures(spent)
    result["baseline"] = run_virtual(params, lambda lo, hi: NaiveController(), near_end=near_end)
    result["oracle"] = run_virtual(params, lambda lo, hi: OracleController(), near_end=near_end, times=best)
    result |= time_vs_oracle(ours, best)
    result["clock"] = "virtual"
    return result


def run_real_one(params: BenchParams, controller_factory, out: dict, key: str) -> None:
    """The full stack on a real clock: mock pins, drive, reader thread, control loop thread."""
    import threading
    import time

    from deskpi.sim.stack import build_sim_stack

    desk = params.desk()
    lo, hi = limits_for(desk)
    stack = build_sim_stack(desk=desk, sensor=params.sensor(), seed=params.seed, start_mm=(lo + hi) / 2)
    ctrl = controller_factory(lo, hi)
    stack.loop.ctrl = ctrl
    done = threading.Event()
    results: list = []

    def on_event(kind, ev) -> None:
        if kind in ("move_done", "fault"):
            results.append((kind, ev))
            done.set()

    stack.loop.listeners.append(on_event)
    errors, ratios, faults = [], [], 0
    try:
        time.sleep(1.0)       # let the reader fill the window
        for target in targets(params, lo, hi):
            done.clear()
            results.clear()
            start_true = stack.desk.true_height()
            t_cmd = time.monotonic()
            stack.loop.move_to(target, source="bench")
            if not done.wait(90.0):
                faults += 1
                stack.loop.stop_motion("bench timeout")
                continue
            deadline = time.monotonic() + 5.0
            while not stack.desk.at_rest() and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.3)
            if results[0][0] == "fault":
                faults += 1
                stack.loop.clear_fault()
                continue
            errors.append(stack.desk.true_height() - target)
            distance = abs(target - start_true)
            nominal = params.speed_up if target > start_true else params.speed_down
            if distance > ctrl_tolerance(ctrl):
                ratios.append(max(stack.desk.physics.last_motion_t - t_cmd, 0.0) / (distance / nominal))
        result = summarise(errors, ratios, len(stack.desk.violations), faults)
        lags = sorted(stack.loop.lag_s)
        if lags:
            result["loop_lag_p99_ms"] = round(1000 * lags[int(0.99 * (len(lags) - 1))], 2)
        out[key] = result
    finally:
        stack.close()


def run_real(params: BenchParams) -> dict:
    import threading

    # A simulated motor has no thermals: lift the duty cycle so ten moves fit in a minute.
    def ours(lo: float, hi: float) -> MotionController:
        return MotionController(MotionConfig(min_mm=lo, max_mm=hi, duty_max_on_s=600.0))

    out: dict = {}
    threads = [threading.Thread(target=run_real_one, args=(params, ours, out, "deskpi")),
               threading.Thread(target=run_real_one, args=(params, lambda lo, hi: NaiveController(), out, "baseline"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = out["deskpi"]
    result["baseline"] = out["baseline"]
    result["clock"] = "real"
    return result
