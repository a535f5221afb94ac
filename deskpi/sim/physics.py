"""Physics of a motorised desk, integrated exactly between events.

Velocity changes at a constant rate within each phase (soft-start ramp,
cruise, coast-down), so position is a quadratic we can integrate exactly and
the simulation is as fast on a virtual clock as it is faithful on a real one.
The model records every interlock violation it is subjected to.
"""
from __future__ import annotations

import bisect
import math
import random
from collections import deque
from dataclasses import dataclass, field, replace

#: How much of the charge drawn is kept: more than the longest averaging a current sensor does.
CHARGE_LOG_S = 0.25


@dataclass(frozen=True)
class DeskSpec:
    speed_up_mm_s: float = 35.0
    speed_down_mm_s: float = 38.0
    load_variation: float = 0.15        # each move's speed is nominal * (1 +- this), uniformly
    soft_start_s: float = 0.2
    relay_delay_s: float = 0.01
    coast_mm: float = 7.5               # mean coast after the power is cut at nominal speed
    coast_up_factor: float = 0.8        # gravity shortens the coast going up ...
    coast_down_factor: float = 1.2      # ... and lengthens it going down
    coast_jitter: float = 0.05
    min_mm: float = 620.0
    max_mm: float = 1270.0
    dead_time_s: float = 0.1            # a reversal sooner than this is a violation
    overheat: bool = False
    thermal_limit_s: float = 120.0      # continuous motor seconds before the thermal cut-out
    thermal_cool_tau_s: float = 300.0
    # The motor as a force source: it pushes with up to this force (both columns together) and
    # slows as the force it meets rises (a DC motor's straight speed-torque line).
    stall_force_n: float = 1200.0
    # Supply current: running, per direction (lifting the desktop takes more), and stalled.
    current_up_a: float = 3.0
    current_down_a: float = 1.6
    current_stall_a: float = 9.0
    surge_tau_s: float = 0.03            # the start-up surge decays with this time constant

    def with_(self, **kw) -> DeskSpec:
        return replace(self, **kw)


@dataclass
class Violation:
    t: float
    kind: str       # both_on | no_dead_time
    detail: str


@dataclass
class Obstruction:
    """Something in the desk's way: a wall (stiffness None) or a hand, a knee, a chair arm.

    A soft obstacle pushes back with stiffness x compression, so the desk slows over a few
    millimetres while the motor's force (and current) rises, instead of stopping dead.
    """

    height_mm: float
    direction: int      # +1 blocks upward travel above height, -1 blocks downward below it
    stiffness_n_mm: float | None = None

    def compression(self, height_mm: float) -> float:
        return max(self.direction * (height_mm - self.height_mm), 0.0)


@dataclass
class DeskPhysics:
    spec: DeskSpec
    rng: random.Random
    height_mm: float = 800.0
    t: float = 0.0
    v: float = 0.0                       # signed mm/s
    load: float = 1.0
    reversed_wiring: bool = False
    stalled: bool = False
    obstruction: Obstruction | None = None
    violations: list[Violation] = field(default_factory=list)
    heat_s: float = 0.0
    thermal_tripped: bool = False
    last_motion_t: float = 0.0
    contact_t: float | None = None       # when the desk first touched the obstruction
    peak_compression_mm: float = 0.0
    peak_force_n: float = 0.0            # most force the motor pushed the obstruction with
    _on_since: float | None = None       # when the motor was last energised (for the surge)
    _up: float = 0.0                     # output levels as the motor sees them (after relay delay)
    _down: float = 0.0
    _pending: list[tuple[float, float, float]] = field(default_factory=list)
    _decel: float = 0.0
    _cmd_up: float = 0.0                 # output levels as commanded (for violation checks)
    _cmd_down: float = 0.0
    _off_at: dict = field(default_factory=lambda: {1: -math.inf, -1: -math.inf})
    #: When a deque, the charge the motor has drawn (A s, actual and as a healthy motor would) is
    #: noted after every step as (t, charge, healthy charge): what an averaging current sensor reads.
    charge_log: deque[tuple[float, float, float]] | None = None

    # -- inputs -------------------------------------------------------------
    def set_outputs(self, up: float, down: float, t: float) -> None:
        """The controller's outputs changed at t (levels 0..1, e.g. relay on = 1)."""
        self.advance(t)
        if up > 0 and down > 0:
            self.violations.append(Violation(t, "both_on", f"up={up:.2f} down={down:.2f}"))
        for d, new, old in ((1, up, self._cmd_up), (-1, down, self._cmd_down)):
            if new > 0 and old <= 0 and t - self._off_at[-d] < self.spec.dead_time_s - 1e-9:
                self.violations.append(Violation(
                    t, "no_dead_time",
                    f"{'up' if d > 0 else 'down'} on {1000 * (t - self._off_at[-d]):.1f} ms after the other way"))
            if new <= 0 < old:
                self._off_at[d] = t
        starting = (up > 0 or down > 0) and self._cmd_up <= 0 and self._cmd_down <= 0
        if starting and self.v == 0 and t - self.last_motion_t > 1.0:
            self.new_load()   # someone put something on the desk or leant on it since last time
        self._cmd_up, self._cmd_down = up, down
        self._pending.append((t + self.spec.relay_delay_s, up, down))
        # By time only, and stably: an "off" given at the same instant as the "on" before
        # it must still come after it (sorting on the levels too ran the motor on forever).
        self._pending.sort(key=lambda p: p[0])

    def set_motor(self, direction: int | None, t: float, power: float = 1.0) -> None:
        self.set_outputs(power if direction == 1 else 0.0, power if direction == -1 else 0.0, t)

    # -- integration --------------------------------------------------------
    def advance(self, t_end: float) -> None:
        guard = 0
        while self.t < t_end - 1e-12:
            guard += 1
            if guard > 10000:
                raise RuntimeError("desk physics failed to converge")
            while self._pending and self._pending[0][0] <= self.t + 1e-12:
                was_on = self._motor()[0] != 0
                _, self._up, self._down = self._pending.pop(0)
                on = self._motor()[0] != 0
                if on and not was_on:
                    self._on_since = self.t
                elif not on:
                    self._on_since = None
            t_next = min(t_end, self._pending[0][0]) if self._pending else t_end
            if self._soft_contact_near():
                # Force changes with every millimetre of compression: small steps keep it smooth.
                t_next = min(t_next, self.t + 0.001)
            if self.charge_log is not None and self._on_since is not None and (
                    self.t - self._on_since < 10 * self.spec.surge_tau_s):
                # The start-up surge decays exponentially: small steps keep its charge exact.
                t_next = min(t_next, self.t + 0.001)
            if self.charge_log is None:
                self._step(t_next)
            else:
                t0, a0, h0 = self.t, self.current_a(), self.current_a(healthy=True)
                self._step(t_next)
                self._note_charge(t0, a0, h0)
            self._note_contact()

    def _note_charge(self, t0: float, a0: float, h0: float) -> None:
        log = self.charge_log
        assert log is not None
        _, q, qh = log[-1] if log else (t0, 0.0, 0.0)
        dt = self.t - t0
        log.append((self.t, q + (a0 + self.current_a()) / 2 * dt, qh + (h0 + self.current_a(healthy=True)) / 2 * dt))
        while len(log) > 2 and log[1][0] < self.t - CHARGE_LOG_S:
            log.popleft()

    def mean_current_a(self, t0: float, t1: float) -> tuple[float, float]:
        """The current averaged over [t0, t1] (t1 no later than now), actual and as a healthy motor's."""
        q0, h0 = self._charge_at(t0)
        q1, h1 = self._charge_at(t1)
        return (q1 - q0) / (t1 - t0), (h1 - h0) / (t1 - t0)

    def _charge_at(self, t: float) -> tuple[float, float]:
        log = self.charge_log
        assert log, "charge is only known with charge_log on, after a step"
        if t <= log[0][0]:
            return log[0][1], log[0][2]
        i = bisect.bisect_left(log, t, key=lambda e: e[0])
        if i >= len(log):
            return log[-1][1], log[-1][2]
        (ta, qa, ha), (tb, qb, hb) = log[i - 1], log[i]
        f = (t - ta) / (tb - ta) if tb > ta else 1.0
        return qa + f * (qb - qa), ha + f * (hb - ha)

    def _motor(self) -> tuple[int, float]:
        """Direction and power the motor is actually driven with."""
        if self._up > 0 and self._down > 0:
            return 0, 0.0      # both relays on: motor terminals shorted, a brake
        if self._up > 0:
            d, p = 1, self._up
        elif self._down > 0:
            d, p = -1, self._down
        else:
            return 0, 0.0
        return (-d if self.reversed_wiring else d), p

    def _nominal(self, d: int) -> float:
        return self.spec.speed_up_mm_s if d > 0 else self.spec.speed_down_mm_s

    def _target_velocity(self) -> float:
        d, p = self._motor()
        if d == 0 or self.stalled or self.thermal_tripped:
            return 0.0
        lo, hi = self._bounds()
        if (d > 0 and self.height_mm >= hi - 1e-9) or (d < 0 and self.height_mm <= lo + 1e-9):
            return 0.0
        slow = 1.0
        ob = self.obstruction
        if ob is not None and ob.stiffness_n_mm is not None and d == ob.direction:
            slow = max(1.0 - self.contact_force_n() / self.spec.stall_force_n, 0.0)
        return d * p * self._nominal(d) * self.load * slow

    # -- contact and current --------------------------------------------------
    def contact_force_n(self) -> float:
        """Force a soft obstruction pushes back with right now (0 when not touching)."""
        ob = self.obstruction
        if ob is None or ob.stiffness_n_mm is None:
            return 0.0
        return ob.stiffness_n_mm * ob.compression(self.height_mm)

    def _soft_contact_near(self) -> bool:
        ob = self.obstruction
        if ob is None or ob.stiffness_n_mm is None:
            return False
        gap = ob.direction * (ob.height_mm - self.height_mm)      # > 0 before contact
        return gap < abs(self.v) * 0.05 + 1.0 and (self.v * ob.direction > 0 or self._motor()[0] == ob.direction)

    def _note_contact(self) -> None:
        ob = self.obstruction
        if ob is None:
            return
        touching = ob.direction * (self.height_mm - ob.height_mm) >= -1e-6
        if touching and self.contact_t is None:
            self.contact_t = self.t
        if touching:
            self.peak_compression_mm = max(self.peak_compression_mm, ob.compression(self.height_mm))
            force = self.contact_force_n() if ob.stiffness_n_mm is not None else (
                self.spec.stall_force_n if self._motor()[0] == ob.direction else 0.0)
            self.peak_force_n = max(self.peak_force_n, force)

    def current_a(self, *, healthy: bool = False) -> float:
        """The motor supply current right now, without sensor noise.

        `healthy`: what the same motor would draw right now in free travel (nothing in the
        way, not stalled), surge included: the reference an ideal detector knows.
        """
        d, p = self._motor()
        if d == 0:
            return 0.0
        running = (self.spec.current_up_a if d > 0 else self.spec.current_down_a) * (2.0 - self.load)
        stall = self.spec.current_stall_a
        lo, hi = self._bounds()
        blocked = (self.stalled or self.thermal_tripped
                   or (d > 0 and self.height_mm >= hi - 1e-9) or (d < 0 and self.height_mm <= lo + 1e-9))
        if healthy:
            amps = running
        elif blocked and self.v == 0:
            amps = stall
        else:
            force = self.contact_force_n() if self.obstruction is not None and self.obstruction.direction == d else 0.0
            amps = running + (stall - running) * min(force / self.spec.stall_force_n, 1.0)
        if self._on_since is not None:
            amps += (stall - amps) * math.exp(-(self.t - self._on_since) / self.spec.surge_tau_s)
        return p * amps

    def _bounds(self) -> tuple[float, float]:
        lo, hi = self.spec.min_mm, self.spec.max_mm
        ob = self.obstruction
        if ob is not None and ob.stiffness_n_mm is None:
            if ob.direction < 0 and self.height_mm >= ob.height_mm - 1e-9:
                lo = max(lo, ob.height_mm)
            elif ob.direction > 0 and self.height_mm <= ob.height_mm + 1e-9:
                hi = min(hi, ob.height_mm)
        return lo, hi

    def _coast_decel(self, v: float) -> float:
        d = 1 if v > 0 else -1
        factor = self.spec.coast_up_factor if d > 0 else self.spec.coast_down_factor
        jitter = max(0.5, self.rng.gauss(1.0, self.spec.coast_jitter))
        coast = self.spec.coast_mm * factor * jitter * abs(v) / self._nominal(d)
        if coast <= 1e-6:
            return math.inf
        return v * v / (2 * coast)

    def _step(self, t_end: float) -> None:
        vt = self._target_velocity()
        dt_total = t_end - self.t
        v = self.v
        accel_rate = max(self._nominal(1), self._nominal(-1)) / max(self.spec.soft_start_s, 1e-6)
        if abs(v - vt) < 1e-9:
            a, phase_dt = 0.0, dt_total
            self.v = v = vt
        elif vt != 0 and (v == 0 or (v > 0) == (vt > 0)) and abs(vt) > abs(v):
            a = accel_rate if vt > v else -accel_rate
            phase_dt = min(dt_total, (vt - v) / a)
            self._decel = 0.0
        elif vt != 0 and (vt > 0) == (v > 0) and self.contact_force_n() > 0:
            # Pushing into something soft: the motor slows as fast as the force rises.
            a = -accel_rate if v > vt else accel_rate
            phase_dt = min(dt_total, abs(v - vt) / accel_rate)
            self._decel = 0.0
        else:
            if self._decel <= 0:
                self._decel = self._coast_decel(v) if v != 0 else accel_rate
                if vt != 0 and (vt > 0) != (v > 0):
                    self._decel = max(self._decel, accel_rate)
            if math.isinf(self._decel):
                self.v = vt if (vt == 0 or (vt > 0) == (v > 0)) else 0.0
                return
            decel = self._decel
            force = self.contact_force_n()
            if force > 0:
                # Coasting into something soft: it pushes back, and the drive that takes the
                # stall force to stop it within the soft start stops it that much sooner.
                decel += accel_rate * force / self.spec.stall_force_n
            a = -decel if v > vt else decel
            phase_dt = min(dt_total, abs(v - vt) / decel)
            self._integrate(a, phase_dt, vt)
            self._heat(phase_dt)
            return
        self._integrate(a, phase_dt, vt)
        self._heat(phase_dt)

    def _integrate(self, a: float, dt: float, vt: float) -> None:
        v0, x0 = self.v, self.height_mm
        x1 = x0 + v0 * dt + 0.5 * a * dt * dt
        v1 = v0 + a * dt
        if abs(v1 - vt) < 1e-6 or (a != 0 and (v1 - vt) * (v0 - vt) < 0):
            v1 = vt
        lo, hi = self._bounds()
        hit = None
        if x1 > hi and v0 >= 0:
            hit = hi
        elif x1 < lo and v0 <= 0:
            hit = lo
        if hit is not None:
            # Solve x0 + v0 s + a s^2 / 2 = hit for the first s in [0, dt].
            s = _first_root(0.5 * a, v0, x0 - hit, dt)
            self.t += s
            self.height_mm = hit
            self.v = 0.0
            self._decel = 0.0
            self.last_motion_t = self.t
            return
        self.t += dt
        self.height_mm = x1
        self.v = v1
        if v1 == 0 and vt == 0:
            self._decel = 0.0
        if v0 != 0 or v1 != 0:
            self.last_motion_t = self.t

    def _heat(self, dt: float) -> None:
        if not self.spec.overheat:
            return
        d, _ = self._motor()
        if d != 0:
            self.heat_s += dt
        self.heat_s *= math.exp(-dt / self.spec.thermal_cool_tau_s)
        if self.heat_s >= self.spec.thermal_limit_s:
            self.thermal_tripped = True
        elif self.thermal_tripped and self.heat_s < 0.7 * self.spec.thermal_limit_s:
            self.thermal_tripped = False

    # -- helpers ------------------------------------------------------------
    def new_load(self) -> None:
        f = self.spec.load_variation
        self.load = 1.0 + self.rng.uniform(-f, f)

    @property
    def motor_on(self) -> bool:
        return self._motor()[0] != 0 or self._cmd_up > 0 or self._cmd_down > 0

    @property
    def at_rest(self) -> bool:
        return self.v == 0 and not self._pending and self._motor()[0] == 0


def _first_root(a: float, b: float, c: float, limit: float) -> float:
    if abs(a) < 1e-12:
        return min(max(-c / b, 0.0), limit) if b else 0.0
    disc = max(b * b - 4 * a * c, 0.0)
    roots = sorted(((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)))
    for r in roots:
        if -1e-9 <= r <= limit + 1e-9:
            return min(max(r, 0.0), limit)
    return limit
