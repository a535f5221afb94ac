"""`deskpi bench control --temperature-drift C`: stopping accuracy as the room's air drifts over C degC.

Every move happens at another moment of the year: the air (deskpi/sim/air.py: winter to summer, cooler
nights) lies somewhere in 15..15+C degC, the simulated echoes take as long as that air makes them, and
deskpi converts them at what it believes. The same targets and seed run twice:

- `uncompensated`: no thermometer; echoes are converted at the calibration temperature (20 degC);
- `compensated`: a DS18B20 beside the sensor, as deskpi/hw/thermometer.py reads it: the datasheet's
  +-0.5 degC accuracy as one bias for the run, its 1/16 degC steps;
- `reference`: the same moves in air that stays at the calibration temperature, what the desk does
  when temperature does not matter (its faults are the desk family's own false alarms).

The error is the true resting height against the target. Target: p95 <= 3 mm compensated. A move that
faults is counted in `faults` (by kind in `fault_kinds`), not in the errors: uncompensated, warm air reads
short, so a target near the top limit can lie beyond the desk's own end stop, and the desk stalls there.
"""
from __future__ import annotations

import random

from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.sim.air import AirDrift
from deskpi.sim.virtual import VirtualRig

from .control import ask, limits_for, summarise, targets
from .desks import BenchParams

LOW_C = 15.0
CALIBRATED_AT_C = 20.0
TARGET_P95_MM = 3.0
DS18B20_ACCURACY_C = 0.5
DS18B20_STEP_C = 0.0625
SETTLE_S = 3.0


def drift_for(swing_c: float) -> AirDrift:
    """Seasons and days that together span LOW_C..LOW_C + swing_c."""
    daily = min(3.0, swing_c)
    return AirDrift(winter_c=LOW_C + daily / 2, summer_c=LOW_C + swing_c - daily / 2, daily_c=daily)


def run_one(params: BenchParams, swing_c: float, *, compensated: bool, still: bool = False) -> dict:
    desk = params.desk()
    lo, hi = limits_for(desk)
    drift = drift_for(swing_c)
    rng = random.Random(params.seed + 29)
    bias = random.Random(params.seed + 31).uniform(-DS18B20_ACCURACY_C, DS18B20_ACCURACY_C)
    now = {"air": CALIBRATED_AT_C}

    def thermometer(_t: float) -> float:
        return round((now["air"] + bias) / DS18B20_STEP_C) * DS18B20_STEP_C

    ctrl = MotionController(MotionConfig(min_mm=lo, max_mm=hi))
    rig = VirtualRig(ctrl, desk, params.sensor(), seed=params.seed * 7919 + 1, start_mm=(lo + hi) / 2,
                     air=lambda _t: now["air"],
                     assumed_c=thermometer if compensated else (lambda _t: CALIBRATED_AT_C))
    rig.settle(2.0)
    errors: list[float] = []
    airs: list[float] = []
    faults = 0
    kinds: dict[str, int] = {}
    for target in targets(params, lo, hi):
        when = drift.at(rng.uniform(0, 365), rng.uniform(0, 24))
        now["air"] = CALIBRATED_AT_C if still else when
        need = abs(target - rig.true_height) / min(params.speed_up, params.speed_down) * 1.5 + 2
        rig.rest(max(rng.uniform(1.0, 5.0), ctrl.duty.ready_at(rig.t, need) - rig.t + 0.5))
        # The air changed between moves in one step, which a room does over hours: let the height the desk
        # believes settle at the new temperature before moving, as it would have long before.
        rig.settle(SETTLE_S)
        if not ask(ctrl, rig, target):
            faults += 1
            kinds["refused"] = kinds.get("refused", 0) + 1
            continue
        rig.kick()
        done: list = []

        def finished(r, done: list = done) -> bool:
            done.extend(e for e in ctrl.drain_events() if e[0] in ("move_done", "fault"))
            return bool(done)

        rig.run_until(finished, rig.t + 120.0)
        rig.run_until(lambda r: r.physics.at_rest and r.t - r.physics.last_motion_t > 0.05, rig.t + 5.0)
        if not done or done[0][0] == "fault":
            faults += 1
            kind = getattr(getattr(done[0][1], "kind", None), "value", "timeout") if done else "timeout"
            kinds[kind] = kinds.get(kind, 0) + 1
            if ctrl.fault is not None:
                ctrl.clear_fault(rig.t)
            continue
        errors.append(rig.true_height - target)
        airs.append(now["air"])
    out = summarise(errors, [], len(rig.physics.violations), faults)
    out.pop("median_time_ratio")
    out["fault_kinds"] = kinds
    out["mean_error_mm"] = round(sum(errors) / len(errors), 2) if errors else float("nan")
    if compensated:
        out["thermometer_bias_c"] = round(bias, 2)
    if airs:
        out["air_c"] = [round(min(airs), 1), round(max(airs), 1)]
    return out


def run(params: BenchParams, swing_c: float) -> dict:
    if not 0 <= swing_c <= 40:
        raise ValueError(f"--temperature-drift {swing_c:g}: must be 0-40 degC (15 is winter to summer indoors)")
    with_source = run_one(params, swing_c, compensated=True)
    without = run_one(params, swing_c, compensated=False)
    reference = run_one(params, swing_c, compensated=False, still=True)
    reference.pop("air_c", None)
    return {"swing_c": swing_c, "air_c": [LOW_C, LOW_C + swing_c], "calibrated_at_c": CALIBRATED_AT_C,
            "compensated": with_source, "uncompensated": without, "reference": reference,
            "target_p95_mm": TARGET_P95_MM,
            # The thermometer must hold the accuracy and add no fault the same desk does not have in still air.
            "meets_target": with_source["p95_error_mm"] <= TARGET_P95_MM
            and with_source["faults"] <= reference["faults"]}
