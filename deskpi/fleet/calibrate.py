"""`deskpi calibrate`: measure this desk and write what was found into the config.

The daemon owns the GPIO, so every move is made by the live daemon through its
control socket (a "measured move" returns the sensor's readings and when the
motor was on); this module only plans the moves and does the arithmetic:

- sensor offset: the desk at rest against one tape-measured height;
- sensor offset and scale (two-point, `--at MM`): the desk at rest at two heights at least 100 mm
  apart, each tape-measured; the air temperature the echoes were converted at is recorded beside them
  (`calibration_temperature_c`: what the desk falls back to without a thermometer reading);
- wiring direction: a short move; a desk that went the wrong way (the
  controller faults with wrong_direction within a fraction of a second) means
  the up and down outputs are swapped in the config;
- speed per direction: a straight line through the readings while the motor
  ran at full speed; coast: where the desk came to rest beyond that line's
  position at the moment the motor was cut;
- limits (optional): the desk driven to each configured end in short steps;
  one that stalls before the end has found its end stop, and the limit is
  pulled in to just short of it;
- motor current (with a current sensor, `[current]`): the daemon learns each
  direction's healthy running current from every healthy move, these included;
  it is reported, not written (it lives in the learned model), and nothing is
  claimed about it when the sensor is off or not reading.

The config file is rewritten atomically with tomlkit, so comments and layout
stay; the result is validated before it is written.
"""
from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deskpi.core.motion.linefit import fit_line

SKIP_AFTER_ON_S = 0.5       # soft start and relay delay: not yet full speed
SETTLE_AFTER_CUT_S = 0.7    # coast (0.1-0.4 s on typical desks) is over; the controller may correct soon after
MAX_OFFSET_CHANGE_MM = 300.0
DIRECTION_PULSE_MM = 25.0
LIMIT_STEP_MM = 20.0
LIMIT_APPROACH_MM = 60.0
LIMIT_MARGIN_MM = 10.0
END_STOP_FAULTS = ("stall", "obstruction")
#: White noise brings the current checks this near to cutting a healthy move (5.6 sd on the ramp) about
#: once in ten thousand moves: nearer, as a rule, is a current that is not what they assume.
PEAK_WARN = 0.85
MIN_POINT_GAP_MM = 100.0
SCALE_RANGE = (0.9, 1.1)      # [sensor] scale's range: an HC-SR04's clock is good to well under 1 %


class CalibrationError(ValueError):
    """Calibration cannot go on; the message says what was found and what to check."""


def check_two_points(at: list[float], measured_mm: float | None) -> None:
    """A two-point calibration has exactly two tape measurements: refused before anything moves."""
    if len(at) + (measured_mm is not None) != 2:
        raise CalibrationError(f"a two-point calibration takes two heights: --at MM twice (e.g. --at 700 --at 1150), "
                               f"or --measured-mm N (where the desk is now) and --at MM once; got {len(at)} --at and "
                               f"{'a' if measured_mm is not None else 'no'} --measured-mm")


# ------------------------------------------------------------------------------------ the maths

def rest_height(readings: list[float]) -> tuple[float, float]:
    """Median and robust spread (MAD sigma) of readings of a desk at rest."""
    if len(readings) < 3:
        raise CalibrationError(f"only {len(readings)} sensor readings; need at least 3 at rest")
    med = statistics.median(readings)
    return med, 1.4826 * statistics.median(abs(x - med) for x in readings)


#: A desktop's height above the floor that a tape can give (mm): anything else is a typo or a unit mix-up.
TAPE_MM = (300.0, 2000.0)


def is_tape_mm(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and TAPE_MM[0] <= value <= TAPE_MM[1]


def offset_correction(offset_mm: float, reported_mm: float, measured_mm: float) -> float:
    """The sensor offset that makes the reported height the tape-measured one.

    height = offset + sign * distance for every mounting, so the offset moves by
    exactly how far the reported height is off.
    """
    if not is_tape_mm(measured_mm):
        raise CalibrationError(f"--measured-mm {measured_mm!r}: must be the desktop's height above the floor in mm, "
                               f"{TAPE_MM[0]:g}-{TAPE_MM[1]:g}")
    error = measured_mm - reported_mm
    if abs(error) > MAX_OFFSET_CHANGE_MM:
        raise CalibrationError(
            f"--measured-mm {measured_mm:g} is {error:+.0f} mm from the {reported_mm:.0f} mm the sensor reports; more "
            f"than {MAX_OFFSET_CHANGE_MM:.0f} mm means a unit mix-up (mm, not cm) or a sensor that sees something "
            f"other than the floor: check it and measure again")
    return round(offset_mm + error, 1)


def _tape(measured_mm: float, flag: str) -> float:
    if not is_tape_mm(measured_mm):
        raise CalibrationError(f"{flag} {measured_mm!r}: must be the desktop's height above the floor in mm, "
                               f"{TAPE_MM[0]:g}-{TAPE_MM[1]:g}")
    return float(measured_mm)


def two_point(offset_mm: float, scale: float, points: list[tuple[float, float]]) -> tuple[float, float]:
    """The offset and scale that make two reported heights the tape-measured ones: (reported, measured) pairs.

    reported = offset + sign * scale * distance for every mounting, so a new scale s' and offset o' give
    new(R) = o' + (s' / s) (R - o): a straight line through both points.
    """
    (r1, t1), (r2, t2) = points
    t1, t2 = _tape(t1, "tape measurement"), _tape(t2, "tape measurement")
    if abs(r2 - r1) < MIN_POINT_GAP_MM:
        raise CalibrationError(f"the two heights are {abs(r2 - r1):.0f} mm apart as the sensor reads them; they "
                               f"must be at least {MIN_POINT_GAP_MM:g} mm apart (e.g. --at 700 --at 1150)")
    ratio = (t2 - t1) / (r2 - r1)
    new_scale = scale * ratio
    if not SCALE_RANGE[0] <= new_scale <= SCALE_RANGE[1]:
        raise CalibrationError(
            f"the tape says the desk moved {t2 - t1:+.0f} mm where the sensor saw {r2 - r1:+.0f} mm (scale "
            f"{new_scale:.3f}, allowed {SCALE_RANGE[0]:g}-{SCALE_RANGE[1]:g}): a unit mix-up (mm, not cm), a "
            f"misread tape or a sensor that sees something other than the floor; check and measure again")
    new_offset = t1 - ratio * (r1 - offset_mm)
    if abs(new_offset - offset_mm) > MAX_OFFSET_CHANGE_MM:
        raise CalibrationError(f"the new offset {new_offset:.0f} mm is more than {MAX_OFFSET_CHANGE_MM:.0f} mm from "
                               f"{offset_mm:g} mm: check the tape measurements (mm, not cm)")
    return round(new_offset, 1), round(new_scale, 4)


@dataclass(frozen=True)
class MoveMeasurement:
    direction: str
    start_mm: float | None
    final_mm: float | None
    speed_mm_s: float | None      # None: too short or too few readings at full speed
    coast_mm: float | None        # None: no readings at rest after the cut

    @property
    def moved_mm(self) -> float | None:
        if self.start_mm is None or self.final_mm is None:
            return None
        return self.final_mm - self.start_mm


def analyse_move(readings: list[tuple[float, float]], drive: list[list]) -> MoveMeasurement | None:
    """Speed and coast from one measured move: readings (t, mm) and motor intervals [on, off, direction].

    Only the longest motor interval in the move's direction counts: a pause
    (the controller stops for a missed ping and carries on) splits a move, and
    a correction pulse afterwards is the controller's doing, not the desk's coast.
    """
    spans = [(i, float(on), float(off), str(d)) for i, (on, off, d) in enumerate(drive or []) if off is not None]
    if not spans:
        return None
    first_on, direction = float(drive[0][0]), str(drive[0][2])
    i, on, off, _ = max((s for s in spans if s[3] == direction), key=lambda s: s[2] - s[1])
    sign = 1 if direction == "up" else -1
    next_on = float(drive[i + 1][0]) if len(drive) > i + 1 else math.inf
    before = [h for t, h in readings if first_on - 2.0 <= t <= first_on]
    steady = [(t, h) for t, h in readings if on + SKIP_AFTER_ON_S <= t <= off]
    after = [h for t, h in readings if off + SETTLE_AFTER_CUT_S <= t < next_on]
    start = statistics.median(before[-9:]) if before else None
    final = statistics.median(after) if len(after) >= 3 else None
    line = fit_line(steady) if len(steady) >= 5 else None
    speed = coast = None
    if line is not None:
        v = sign * line.slope
        if v > 1.0:
            speed = round(v, 2)
            if final is not None:
                at_cut = line.at(off)
                coast = round(sign * (final - at_cut), 1)
    return MoveMeasurement(direction, start, final, speed, coast)


def direction_verdict(commanded: str, start_mm: float, final_mm: float | None, fault_kind: str | None,
                      noise_mm: float = 2.0) -> str:
    """'ok', 'reversed' or 'no_motion' for a short move in the commanded direction."""
    if fault_kind == "wrong_direction":
        return "reversed"
    if final_mm is None:
        return "no_motion"
    moved = (final_mm - start_mm) * (1 if commanded == "up" else -1)
    threshold = max(5.0, 3 * noise_mm)
    if moved >= threshold:
        return "ok"
    if moved <= -threshold:
        return "reversed"
    return "no_motion"


def summarise(moves: list[MoveMeasurement]) -> dict[str, dict[str, Any]]:
    """Per direction: the median speed and coast over the moves that measured them."""
    out: dict[str, dict[str, Any]] = {}
    for d in ("up", "down"):
        speeds = [m.speed_mm_s for m in moves if m.direction == d and m.speed_mm_s is not None]
        coasts = [m.coast_mm for m in moves if m.direction == d and m.coast_mm is not None]
        out[d] = {"speed_mm_s": round(statistics.median(speeds), 1) if speeds else None,
                  "coast_mm": round(statistics.median(coasts), 1) if coasts else None,
                  "moves": len(speeds)}
    return out


def speed_moves(start_mm: float, lo: float, hi: float, distance_mm: float, per_direction: int) -> list[float]:
    """Targets for up/down pairs that end where the desk started, kept 10 mm inside the limits."""
    lo, hi = lo + 10.0, hi - 10.0
    if hi - lo < 2 * DIRECTION_PULSE_MM:
        raise CalibrationError(f"the desk's travel {lo - 10:g}-{hi + 10:g} mm is too short to measure speeds")
    distance = min(distance_mm, hi - lo)
    up_first = start_mm + distance <= hi
    home = min(max(start_mm, lo), hi)
    away = home + distance if up_first else home - distance
    if not lo <= away <= hi:
        away = hi if up_first else lo
    return [away, home] * per_direction


def limit_targets(here: float, limit: float, sign: int) -> list[float]:
    """A normal move to near a limit, then short steps to it: an end stop is met at low speed-in-hand."""
    approach = limit - sign * LIMIT_APPROACH_MM
    targets = [approach] if sign * (approach - here) > 0 else []
    pos = approach if targets else here
    while sign * (limit - pos) > LIMIT_STEP_MM:
        pos += sign * LIMIT_STEP_MM
        targets.append(round(pos, 1))
    targets.append(limit)
    return targets


# ------------------------------------------------------------------------------- the config file

def config_changes_text(changes: dict[tuple[str, str], Any]) -> list[str]:
    return [f"[{s}] {k} = {v!r}" for (s, k), v in changes.items()]


def write_config(path: Path, changes: dict[tuple[str, str], Any], *, dry_run: bool = False) -> str:
    """Apply `changes` to the TOML at `path` keeping its comments; validate; write atomically under the
    same lock as `deskpi config set` and `deskpi apply`, so no admin's change is lost. Returns the text."""
    import tomlkit

    from deskpi.config import ConfigError, from_mapping
    from deskpi.fleet.config_edit import EditError, config_lock
    from deskpi.util.files import InputTooLarge, atomic_write, read_text_capped

    try:
        lock = contextlib.nullcontext() if dry_run else config_lock(path)
        with lock:
            try:
                text = read_text_capped(path, what="a config file")
            except InputTooLarge as exc:
                raise CalibrationError(str(exc)) from None
            except FileNotFoundError:
                text = ("# deskpi configuration (written by `deskpi calibrate`; see deskpi.example.toml for "
                        "every option)\n")
            doc = tomlkit.parse(text)
            for (section, key), value in changes.items():
                if section not in doc:
                    doc.add(section, tomlkit.table())
                doc[section][key] = value
            new_text = tomlkit.dumps(doc)
            try:
                from_mapping(doc.unwrap(), str(path))
            except ConfigError as exc:
                raise CalibrationError(f"the calibrated config would be invalid, so nothing was written: {exc}"
                                       ) from None
            if not dry_run:
                atomic_write(path, new_text)
    except EditError as exc:
        raise CalibrationError(str(exc)) from None
    return new_text


# ------------------------------------------------------------------------------- the procedure

Request = Callable[..., dict]


@dataclass
class Result:
    start_mm: float | None = None
    reported_mm: float | None = None
    measured_mm: float | None = None
    points: list[dict] = field(default_factory=list)      # two-point: reported and tape-measured heights
    direction: str | None = None
    moves: list[dict] = field(default_factory=list)
    speeds: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)
    current: dict = field(default_factory=dict)
    changes: dict[tuple[str, str], Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["changes"] = {f"{s}.{k}": v for (s, k), v in self.changes.items()}
        return d


class Calibration:
    """Runs the steps against a daemon through `request(cmd, **fields)` (a ControlClient's request)."""

    def __init__(self, request: Request, settings, *, say: Callable[[str], None] = lambda s: None) -> None:
        self.request = request
        self.settings = settings
        self.say = say
        self.result = Result()

    def _move(self, target: float) -> dict:
        return self.request("calibrate", step="move", target_mm=round(target, 1), timeout_s=90.0, rest_s=0.3,
                            wait_s=120.0)

    def run(self, *, measured_mm: float | None, moves_per_direction: int, distance_mm: float,
            limits: bool, check_direction: bool = True, at: list[float] | None = None,
            ask: Callable[[float], float] | None = None) -> Result:
        """`at`: heights (as the sensor reads them now) to take the desk to for a two-point calibration, each
        tape-measured there through `ask(reported_mm)`; with `measured_mm`, where the desk is now is one of
        the two points."""
        r = self.result
        status = self.request("status")
        lo, hi = status["limits"]["min_mm"], status["limits"]["max_mm"]
        rest = self.request("calibrate", step="measure", seconds=1.5, wait_s=15.0)
        r.reported_mm, noise = rest_height(rest["readings"])
        home = r.start_mm = round(r.reported_mm, 1)
        self.say(f"desk at rest at {r.reported_mm:.1f} mm (sensor noise {noise:.1f} mm)")

        def fixed(h: float) -> float:
            return h
        correction: Callable[[float], float] = fixed
        if at:
            correction = self._two_point(rest, measured_mm, at, ask, lo, hi)
            self._move(home)
        elif measured_mm is not None:
            new_offset = offset_correction(rest["offset_mm"], r.reported_mm, measured_mm)
            shift = new_offset - rest["offset_mm"]

            def correction(h: float) -> float:
                return h + shift
            r.measured_mm = measured_mm
            r.changes[("sensor", "offset_mm")] = new_offset
            self._record_temperature([rest])
            self.say(f"tape says {measured_mm:g} mm: sensor offset {rest['offset_mm']:g} -> {new_offset:g} mm")
        plan = speed_moves(home, lo, hi, distance_mm, moves_per_direction) if moves_per_direction > 0 else []
        up = plan[0] > home if plan else home + DIRECTION_PULSE_MM <= hi - 10
        if check_direction:
            if not self._direction(home, up, noise):
                return r
            if not plan:
                self._move(home)
        if plan:
            self._speeds(plan)
        if limits:
            self._limits(lo, hi, correction)
        self._current()
        return r

    def _two_point(self, rest: dict, measured_mm: float | None, at: list[float],
                   ask: Callable[[float], float] | None, lo: float, hi: float) -> Callable[[float], float]:
        """Offset and scale from two tape-measured heights; returns the map from old readings to new heights."""
        r = self.result
        if ask is None:
            raise CalibrationError("a two-point calibration needs the tape measurements typed in as it goes")
        check_two_points(at, measured_mm)
        for target in at:
            if not lo <= target <= hi:
                raise CalibrationError(f"--at {target:g}: must be within the desk's limits {lo:g}-{hi:g} mm")
        points, replies = [], [rest]
        if measured_mm is not None:
            points.append((r.reported_mm, _tape(measured_mm, "--measured-mm")))
        for target in at:
            out = self._move(target)
            if out.get("fault"):
                raise CalibrationError(f"the move to {target:g} mm faulted: {out['fault']}")
            here = self.request("calibrate", step="measure", seconds=1.5, wait_s=15.0)
            replies.append(here)
            reported, _ = rest_height(here["readings"])
            points.append((reported, _tape(ask(reported), "tape measurement")))
            self.say(f"at {reported:.1f} mm by the sensor the tape says {points[-1][1]:g} mm")
        offset, scale = rest["offset_mm"], rest.get("scale", 1.0)
        new_offset, new_scale = two_point(offset, scale, points)
        r.points = [{"reported_mm": round(a, 1), "measured_mm": b} for a, b in points]
        r.changes[("sensor", "offset_mm")] = new_offset
        r.changes[("sensor", "scale")] = new_scale
        self._record_temperature(replies)
        self.say(f"two-point: sensor offset {offset:g} -> {new_offset:g} mm, scale {scale:g} -> {new_scale:g}")
        ratio = new_scale / scale
        return lambda h: new_offset + ratio * (h - offset)

    def _record_temperature(self, replies: list[dict]) -> None:
        """The air temperature the measured echoes were converted at (a daemon that predates it says none)."""
        temps = [x["air_c"] for x in replies if isinstance(x.get("air_c"), (int, float))]
        if temps:
            self.result.changes[("sensor", "calibration_temperature_c")] = round(sum(temps) / len(temps), 1)

    def _current(self) -> None:
        """The healthy running current the daemon has learned per direction, or why there is none."""
        r = self.result
        st = self.request("status")
        sensor = st.get("current") or {}
        if not sensor.get("running"):
            why = ("off ([current] enabled = false)" if not sensor.get("enabled") else
                   f"configured but not reading: {sensor.get('problem') or 'unknown'} (deskpi doctor)")
            r.current = {"sensor": "off" if not sensor.get("enabled") else "unavailable"}
            r.notes.append(f"the motor current sensor is {why}: no running current was measured, and stalls and "
                           "obstructions are seen by the ultrasonic sensor alone")
            return
        r.current = {"sensor": "on"}
        for d in ("up", "down"):
            m = (st.get("learned") or {}).get(d) or {}
            n = m.get("current_moves") or 0
            peak = m.get("current_peak") if n else None
            r.current[d] = {"running_a": m.get("current_a") if n else None,
                            "sd_a": m.get("current_sd_a") if n else None, "moves": n, "peak_share": peak}
            if n:
                sd = f" (+-{m['current_sd_a']:g} A)" if m.get("current_sd_a") is not None else ""
                near = "" if peak is None else f"; its checks came within {peak:.0%} of cutting one"
                self.say(f"running current {d}: {m['current_a']:g} A{sd} over {n} healthy move(s){near}")
                if peak is not None and peak >= PEAK_WARN:
                    r.notes.append(
                        f"the current checks came within {peak:.0%} of cutting a healthy move {d} (at most "
                        f"{PEAK_WARN:.0%} is expected): this motor's current is noisier, or wobbles more slowly, than "
                        "they assume, and a healthy move may be stopped as an obstruction; see 'Averaging' in "
                        "hardware/README.md")
            else:
                self.say(f"running current {d}: not learned yet (no healthy move {d} with the sensor reading)")

    def _direction(self, here: float, up: bool, noise: float) -> bool:
        """A short move the way the speed moves start (so it costs no extra move back)."""
        r = self.result
        target = here + DIRECTION_PULSE_MM if up else here - DIRECTION_PULSE_MM
        self.say(f"direction check: a short move {'up' if up else 'down'} to {target:.0f} mm")
        out = self._move(target)
        verdict = direction_verdict("up" if up else "down", here, out.get("final_mm"), out.get("fault_kind"), noise)
        r.direction = verdict
        if verdict == "reversed":
            m = self.settings.motor
            r.changes[("motor", "up_pin")] = m.down_pin
            r.changes[("motor", "down_pin")] = m.up_pin
            r.notes.append("the desk moved the wrong way: up_pin and down_pin are swapped in the config; the fault "
                           "stays latched until the daemon restarts with it (sudo systemctl restart deskpi); then "
                           "run `deskpi calibrate` again for the speeds")
            return False
        if verdict == "no_motion":
            why = out.get("fault") or "the height did not change"
            raise CalibrationError(f"the desk did not move on a {DIRECTION_PULSE_MM:g} mm test move ({why}); check "
                                   f"the motor supply, the control box and the wiring (deskpi doctor)")
        return True

    def _speeds(self, plan: list[float]) -> None:
        r = self.result
        measured: list[MoveMeasurement] = []
        for target in plan:
            out = self._move(target)
            if out.get("fault"):
                raise CalibrationError(f"a calibration move faulted: {out['fault']}")
            m = analyse_move([tuple(x) for x in out["readings"]], out["drive"])
            if m is not None:
                measured.append(m)
                r.moves.append(asdict(m))
                self.say(f"move {m.direction} to {target:.0f} mm: speed {_fmt(m.speed_mm_s, 'mm/s')}, "
                         f"coast {_fmt(m.coast_mm, 'mm')}")
        r.speeds = summarise(measured)
        for d in ("up", "down"):
            v = r.speeds[d]["speed_mm_s"]
            if v is not None:
                r.changes[("desk", f"speed_{d}_mm_s")] = min(max(v, 5.0), 150.0)
        if any(r.speeds[d]["coast_mm"] is not None for d in ("up", "down")):
            r.notes.append("coast is reported, not written: the config has no key for it and the daemon learns "
                           "the stop lag per direction from every move (these moves included)")

    def _limits(self, lo: float, hi: float, correction: Callable[[float], float]) -> None:
        r = self.result
        home = self.request("status")["height_mm"] or r.start_mm
        for name, limit, sign in (("max_mm", hi, 1), ("min_mm", lo, -1)):
            found = None
            here = self.request("status")["height_mm"]
            for target in limit_targets(here, limit, sign):
                out = self._move(target)
                if out.get("fault_kind") in END_STOP_FAULTS:
                    # Where the readings put the desk when it stalled, before any back-off.
                    found = out.get("fault_height_mm") or out.get("final_mm")
                    self.request("clear-fault")
                    break
                if out.get("fault"):
                    raise CalibrationError(f"moving towards the {name} limit faulted: {out['fault']}")
            if found is None:
                r.limits[name] = {"configured": limit, "end_stop_mm": None}
                self.say(f"{name}: reached {limit:g} mm without meeting an end stop; kept")
                continue
            new = round(correction(found - sign * LIMIT_MARGIN_MM), 1)
            r.limits[name] = {"configured": limit, "end_stop_mm": found, "new": new}
            r.changes[("desk", name)] = new
            self.say(f"{name}: end stop at {found:.0f} mm before the {limit:g} mm limit; new limit {new:g} mm")
        self._move(min(max(home, lo), hi))


def _fmt(v: float | None, unit: str) -> str:
    return "not measured" if v is None else f"{v:g} {unit}"
