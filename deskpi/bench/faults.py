"""`deskpi bench faults`: inject each fault mid-move and time the reaction.

Each trial warms a controller up on a healthy desk (so it has learned the
desk, as it would have in service), starts a long move, injects the fault and
records, on the desk's true state:

- detected: the controller latched a fault;
- motor_off_ms: from the moment the fault became observable in the readings
  (the first ping that could show it) to the motor outputs going off;
- travel_after_mm: how far the desk went on in the faulty direction after the
  onset, coast included (for an obstruction: before it backed off).

The worst trial is reported; p50 alongside.
"""
from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.sim.physics import DeskSpec, Obstruction
from deskpi.sim.sensor_model import SensorSpec
from deskpi.sim.virtual import VirtualRig

FAULTS = ("sensor_dead", "sensor_stuck", "sensor_stale", "stall", "obstruction_down", "obstruction_up",
          "reversed_wiring")


@dataclass
class Trial:
    detected: bool
    kind: str | None
    motor_off_ms: float
    travel_after_mm: float
    backed_off_mm: float


def _warm_rig(seed: int, desk: DeskSpec, sensor: SensorSpec) -> VirtualRig:
    lo, hi = desk.min_mm + 10, desk.max_mm - 10
    ctrl = MotionController(MotionConfig(min_mm=lo, max_mm=hi))
    rig = VirtualRig(ctrl, desk, sensor, seed=seed, start_mm=900.0)
    rig.settle(1.0)
    rng = random.Random(seed)
    for target in (1100, 800, 1150, 750, 1000, 850, 1050, 780)[: 6 + rng.randint(0, 2)]:
        _move(rig, target)
        rig.rest(rng.uniform(5, 30))
    return rig


def _wait_for_duty(rig: VirtualRig, target: float) -> None:
    rig.rest_for_duty(abs(target - rig.true_height) / 25.0 + 3.0)


def _move(rig: VirtualRig, target: float) -> list:
    done: list = []
    _wait_for_duty(rig, target)
    rig.ctrl.move_to(target, rig.t)
    rig.kick()

    def finished(r) -> bool:
        done.extend(ev for ev in r.ctrl.drain_events() if ev[0] in ("move_done", "fault"))
        return bool(done)

    rig.run_until(finished, rig.t + 60)
    rig.run_until(lambda r: r.physics.at_rest, rig.t + 5)
    return done


def run_trial(name: str, seed: int, desk: DeskSpec = DeskSpec(),  # noqa: B008 - frozen spec, safe to share
              sensor: SensorSpec = SensorSpec()) -> Trial:  # noqa: B008 - frozen spec, safe to share
    rig = _warm_rig(seed, desk, sensor)
    rng = random.Random(seed * 31 + 7)
    going_up = name != "obstruction_down" and (name == "obstruction_up" or rng.random() < 0.5)
    start = 700.0 if going_up else 1200.0
    _move(rig, start)
    rig.rest(60)
    target = 1200.0 if going_up else 700.0
    d = 1 if going_up else -1
    ping = rig.sensor_spec.ping_interval_s

    onset = None
    if name in ("stall", "reversed_wiring"):
        setattr(rig.physics, "stalled" if name == "stall" else "reversed_wiring", True)
    elif name.startswith("obstruction"):
        rig.physics.obstruction = Obstruction(start + d * rng.uniform(60, 120), d)
    _wait_for_duty(rig, target)
    rig.ctrl.move_to(target, rig.t)
    t_cmd = rig.t
    rig.kick()
    if name in ("stall", "reversed_wiring"):
        onset = t_cmd
    elif name.startswith("obstruction"):
        blocked = lambda r: r.physics.v == 0 and r.t - t_cmd > 0.5  # noqa: E731
        rig.run_until(blocked, t_cmd + 30)
        onset = rig.physics.last_motion_t
    else:
        rig.run_until(lambda r: False, t_cmd + rng.uniform(1.5, 3.0))
        onset = rig.t
        if name == "sensor_dead":
            rig.sensor.dead = True
        elif name == "sensor_stuck":
            rig.sensor.stuck = True
        elif name == "sensor_stale":
            rig.sensor.spec = rig.sensor.spec.__class__(**{**rig.sensor.spec.__dict__, "dropouts": 1.0})
    h_onset = rig.true_height
    # First ping that could show the fault: for a start-up fault, the first ping
    # after the desk would have begun to move; otherwise the first ping after onset.
    # For a fault present from the start, the readings can first show it once a
    # healthy desk would have moved by the sensor noise (linear soft start).
    accel = max(desk.speed_up_mm_s, desk.speed_down_mm_s) / desk.soft_start_s
    ramp_to_noise = (2 * sensor.noise_mm / accel) ** 0.5
    observable_from = onset + (desk.relay_delay_s + ramp_to_noise if name in ("stall", "reversed_wiring") else 0.0)
    observable = rig.next_ping_at
    while observable < observable_from:
        observable += ping

    off_at = None
    fault = None
    peak = 0.0                     # furthest travel past the onset height, in the faulty direction
    peak_h = h_onset
    backed = 0.0                   # how far it came back from that furthest point afterwards
    sign = d
    while rig.t < onset + 30:
        rig.run_until(lambda r: True, rig.t + 0.01)
        h = rig.true_height
        if name == "reversed_wiring":
            sign = -d             # the desk runs the other way
        if sign * (h - h_onset) > peak:
            peak, peak_h = sign * (h - h_onset), h
        backed = max(backed, sign * (peak_h - h))
        if off_at is None and rig.drive is None:
            off_at = rig.t
        for kind, ev in rig.ctrl.drain_events():
            if kind == "fault" and fault is None:
                fault = ev
        if fault is not None and rig.physics.at_rest and not rig.ctrl.busy and rig.t - off_at > 0.5:
            break
    off = off_at if off_at is not None else rig.t
    return Trial(detected=fault is not None, kind=fault.kind.value if fault else None,
                 motor_off_ms=max(off - observable, 0.0) * 1000.0, travel_after_mm=peak, backed_off_mm=backed)


def run(trials: int = 10, seed: int = 1) -> dict:
    out = []
    for name in FAULTS:
        results = [run_trial(name, seed * 1000 + i) for i in range(trials)]
        offs = [r.motor_off_ms for r in results]
        travel = [r.travel_after_mm for r in results]
        entry = {
            "name": name,
            "detected": all(r.detected for r in results),
            "motor_off_ms": round(max(offs), 1),
            "travel_after_mm": round(max(travel), 1),
            "trials": trials,
            "detected_trials": sum(r.detected for r in results),
            "kinds": sorted({r.kind for r in results if r.kind}),
            "p50_motor_off_ms": round(statistics.median(offs), 1),
            "p50_travel_after_mm": round(statistics.median(travel), 1),
        }
        if name.startswith("obstruction"):
            entry["min_backed_off_mm"] = round(min(r.backed_off_mm for r in results), 1)
        out.append(entry)
    return {"faults": out, "clock": "virtual", "statistic": "worst trial (p50 alongside)"}
