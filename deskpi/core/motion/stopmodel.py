"""What the controller has learned about this desk, per direction.

Three numbers describe a direction well enough to stop on a millimetre:

- speed_mm_s: steady travel speed.
- startup_s: time lost at the start (relay delay plus half the soft-start
  ramp): once up to speed the desk is where a desk at full speed from the
  command would be `startup_s` later.
- stop_lag_s: after the motor is cut at speed v the desk still travels
  v * stop_lag_s, as measured by the same filter that timed the cut. This is
  coast, relay delay and any filter lag in one number; expressing it in time
  rather than millimetres keeps it right when load changes the speed.

All three start from cautious guesses and are learned from completed moves.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..types import Direction
from .trajectory import TrajectoryFit

_MIN_RATE = 0.15   # steady-state weight of a new observation (tracks slow drift)
#: What a stop lag is known to before this desk's own stops have shown their scatter (s), and how
#: many stops' worth that guess weighs. One stop's lag fell 10-21 ms from the learned one after
#: 3-6 stops on the simulator's desks, 23-51 ms once learned: 45 ms is tighter than the count-based
#: guess it replaced (75 ms after 4 stops), which missed 5 of 40 soft obstacles at the end of travel.
LAG_SD_PRIOR = (0.045, 2.0)
_SCATTER_MEMORY = 20   # stops the learned scatter remembers
#: A healthy move's current peak is remembered at this share a move after (1/e after ~50 moves).
PEAK_MEMORY = 0.98


@dataclass
class DirectionModel:
    speed_mm_s: float = 30.0
    startup_s: float = 0.15
    stop_lag_s: float = 0.25
    pulse_gain: float = 1.0      # actual / modelled travel of short, open-loop pulses
    current_a: float = 0.0       # healthy running current of the motor (with a current sensor)
    current_peak: float = 0.0    # how near the current checks came to tripping on a healthy move (share)
    stop_lag_var: float = 0.0    # how far one stop's lag falls from the learned one (mean square, s^2)
    speed_n: int = 0
    startup_n: int = 0
    stop_lag_n: int = 0
    pulse_n: int = 0
    current_n: int = 0
    stop_lag_var_n: int = 0

    @property
    def ramp_s(self) -> float:
        """Soft-start ramp length implied by startup_s for a linear ramp."""
        return 2.0 * self.startup_s

    @property
    def coast_mm(self) -> float:
        return self.speed_mm_s * self.stop_lag_s

    def learn_speed(self, v: float) -> None:
        if 1.0 <= v <= 200.0:
            self.speed_n += 1
            self.speed_mm_s += _rate(self.speed_n) * (v - self.speed_mm_s)

    def learn_startup(self, s: float) -> None:
        s = min(max(s, 0.02), 1.5)   # no motor reaches speed instantly
        self.startup_n += 1
        self.startup_s += _rate(self.startup_n) * (s - self.startup_s)

    def learn_stop_lag(self, s: float) -> None:
        s = min(max(s, 0.0), 2.0)
        if self.stop_lag_n >= 3:
            # Only once the lag itself is learned: the first stops' misses are the learning, not the scatter.
            self.stop_lag_var_n += 1
            rate = max(1.0 / self.stop_lag_var_n, 1.0 / _SCATTER_MEMORY)
            self.stop_lag_var += rate * ((s - self.stop_lag_s) ** 2 - self.stop_lag_var)
        self.stop_lag_n += 1
        self.stop_lag_s += _rate(self.stop_lag_n) * (s - self.stop_lag_s)

    def stop_lag_sd(self) -> float:
        """How far the next stop's lag may fall from the learned one (s): this desk's own scatter,
        weighed against a cautious guess while few stops have shown it."""
        sd0, w0 = LAG_SD_PRIOR
        n = min(self.stop_lag_var_n, _SCATTER_MEMORY)
        return math.sqrt((w0 * sd0 * sd0 + n * self.stop_lag_var) / (w0 + n))

    def learn_pulse_gain(self, g: float) -> None:
        g = min(max(g, 0.5), 2.0)
        self.pulse_n += 1
        self.pulse_gain += max(1.0 / (self.pulse_n + 1), 0.2) * (g - self.pulse_gain)

    def learn_current(self, amps: float, peak: float | None = None) -> None:
        if 0.05 <= amps <= 40.0:
            self.current_n += 1
            self.current_a += _rate(self.current_n) * (amps - self.current_a)
            if peak is not None and 0.0 <= peak < 1.0:
                # The nearest recent call: a move's peak fades over some fifty moves.
                self.current_peak = max(peak, self.current_peak * PEAK_MEMORY)

    def travel_for_on_time(self, on_s: float, speed: float | None = None) -> float:
        """Distance (mm) the desk covers for the motor on for on_s, coast included."""
        v = self.speed_mm_s if speed is None else speed
        r = self.ramp_s
        if on_s <= 0:
            return 0.0
        if r <= 0 or on_s >= r:
            return v * (on_s - r / 2) + v * self.stop_lag_s
        v_cut = v * on_s / r
        return v * on_s * on_s / (2 * r) + v_cut * self.stop_lag_s

    def on_time_for_travel(self, distance_mm: float, speed: float | None = None) -> float:
        """Inverse of travel_for_on_time: how long to power the motor to cover a distance."""
        v = self.speed_mm_s if speed is None else speed
        if distance_mm <= 0 or v <= 0:
            return 0.0
        r, tau = self.ramp_s, self.stop_lag_s
        if r > 0 and distance_mm < self.travel_for_on_time(r, v):
            return max(-tau + (tau * tau + 2 * r * distance_mm / v) ** 0.5, 0.0)
        return max(distance_mm / v + r / 2 - tau, 0.0)


def _rate(n: int) -> float:
    return max(1.0 / n, _MIN_RATE)


@dataclass
class StopModel:
    up: DirectionModel = field(default_factory=DirectionModel)
    down: DirectionModel = field(default_factory=DirectionModel)

    def __getitem__(self, direction: Direction) -> DirectionModel:
        return self.up if direction is Direction.UP else self.down

    @classmethod
    def initial(cls, speed_up_mm_s: float = 30.0, speed_down_mm_s: float = 30.0) -> StopModel:
        return cls(DirectionModel(speed_mm_s=speed_up_mm_s), DirectionModel(speed_mm_s=speed_down_mm_s))

    def learn_stop(self, direction: Direction, fit: TrajectoryFit, t_cut: float, final: float,
                   pulse: tuple[float, float, float] | None, running_a: float | None,
                   current_peak: float | None = None) -> None:
        """What a free stop at `final` teaches: a short pulse its gain (pulse: start, travel wanted, gain
        used), a steady run the stop lag, speed and start-up; running_a, the motor's running current, and
        current_peak, how near the current checks came to cutting this healthy move."""
        m = self[direction]
        steady = fit.steady_samples()
        v_cut = fit.speed(t_cut)
        if pulse is not None and steady < 5:
            start, wanted, gain_used = pulse
            modelled = wanted / gain_used
            if modelled > 0.5:
                m.learn_pulse_gain((direction * (final - start)) / modelled)
        if steady >= 5 and v_cut > 3.0:
            m.learn_stop_lag(direction * (final - fit.position(t_cut)) / v_cut)
            other = self[direction.opposite]
            if other.stop_lag_n == 0:
                # Same desk, same control box: a better first guess than the default.
                other.stop_lag_s = m.stop_lag_s
        if running_a is not None:
            m.learn_current(running_a, current_peak)
        if steady >= 8:
            m.learn_speed(fit.fit.v)
            line = fit.steady_line()
            if line is not None:
                c, v = line   # y = c + d * v * (t - t_on) once up to speed
                m.learn_startup(direction * (fit.x0 - c) / v)

    def to_dict(self) -> dict:
        return {"version": 1, "up": asdict(self.up), "down": asdict(self.down)}

    @classmethod
    def from_dict(cls, data: object) -> StopModel:
        """Rebuild a saved model; anything malformed or out of range is a ValueError."""
        if not isinstance(data, dict):
            raise ValueError(  # noqa: TRY004 - a wrong shape is corrupt data; learned_model.load catches ValueError
                f"stop model must be a mapping, got {type(data).__name__}")
        if data.get("version") != 1:
            raise ValueError(f"unknown stop model version {data.get('version')!r}; expected 1")
        return cls(_direction_from(data, "up"), _direction_from(data, "down"))


#: Plausible ranges for saved values: (min, max) inclusive.
_RANGES = {
    "speed_mm_s": (1.0, 200.0),
    "startup_s": (0.0, 1.5),
    "stop_lag_s": (0.0, 2.0),
    "pulse_gain": (0.3, 3.0),
    "current_a": (0.0, 40.0),
    "current_peak": (0.0, 1.0),
    "stop_lag_var": (0.0, 4.0),
}


def _direction_from(data: dict, key: str) -> DirectionModel:
    raw = data.get(key)
    if not isinstance(raw, dict):
        raise ValueError(  # noqa: TRY004 - a wrong shape is corrupt data; learned_model.load catches ValueError
            f"stop model '{key}' must be a mapping, got {type(raw).__name__}")
    values: dict = {}
    for name, (lo, hi) in _RANGES.items():
        if name not in raw:
            continue
        v = raw[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise ValueError(f"stop model {key}.{name} must be a number in {lo}..{hi}, got {v!r}")
        values[name] = float(v)
    for name in ("speed_n", "startup_n", "stop_lag_n", "pulse_n", "current_n", "stop_lag_var_n"):
        if name in raw:
            v = raw[name]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"stop model {key}.{name} must be a count >= 0, got {v!r}")
            values[name] = v
    model = DirectionModel(**values)
    if model.current_n >= 3 and model.current_a < 0.05:
        raise ValueError(f"stop model {key}.current_a {model.current_a!r} A is no running current "
                         f"(learned from {model.current_n} moves); expected at least 0.05 A")
    return model
