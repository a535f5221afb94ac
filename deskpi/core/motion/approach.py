"""One run of the motor towards a height, with the monitors that watch it, and the settle after it.

An approach is built afresh every time the motor goes on: its trajectory fit starts from where
the desk rests, and its monitors (start-up, collapse, early stop, bend, resume, stuck sensor, current)
are tuned to what the stop model has learned of this desk in this direction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..types import Direction
from .bend import BendCheck
from .config import MotionConfig
from .current import BEYOND_SHARE, LOAD_ALLOWANCE, CurrentCheck
from .judge import Suspicion
from .monitors import CollapseCheck, EarlyStopCheck, StartupCheck, StuckCheck
from .resume import ResumeCheck
from .stopmodel import DirectionModel
from .trajectory import TrajectoryFit


def deadline(now: float, expected_s: float) -> float:
    """When a move expected to take expected_s is overdue: twice that and then some (a heavy load, a pause)."""
    return now + 2.0 * expected_s + 3.0


@dataclass
class Approach:
    direction: Direction
    target: float
    aim: float                  # what the cut is timed for: the target, or a gain-corrected one for a short pulse
    pulse: tuple[float, float, float] | None   # short open-loop pulse: (start, distance wanted, gain used)
    t_on: float
    fit: TrajectoryFit
    startup: StartupCheck
    collapse: CollapseCheck
    early: EarlyStopCheck
    bend: BendCheck
    stuck: StuckCheck
    resume: ResumeCheck | None
    cut_at: float
    deadline: float
    current: CurrentCheck | None = None
    retreat: bool = False       # a goto's step back from an undecided suspicion, not towards its target


@dataclass
class Settle:
    t_cut: float
    settle_from: float
    direction: Direction
    target: float            # what the approach that was cut was heading for
    fit: TrajectoryFit
    learnable: bool
    expected: tuple[float, float] | None = None   # where the fit says the desk will stop, and its sd
    resume: bool = False     # a precautionary pause: carry on towards the goal once settled
    suspect: Suspicion | None = None      # a suspected fault to confirm or dismiss once settled
    stopped: bool = False    # a person stopped the desk while it settled: no automatic motion follows
    pulse: tuple[float, float, float] | None = None
    bend: float = 0.0        # the bend check's evidence of the desk slowing when the motor went off
    readings: list[float] = field(default_factory=list)
    running_a: float | None = None       # the move's healthy running current, to learn once confirmed
    current_peak: float | None = None    # how near its current checks came to tripping (share of the level)
    retreat: bool = False    # the approach was a goto's step back (Approach.retreat)


#: The least share of its learned speed a healthy desk runs at under the heaviest load (+-25 %).
MIN_LOADED = 0.7
#: How far one start-up falls from the learned one (s, the scatter measured on the simulator's desks).
START_SCATTER_S = 0.05


def beyond_healthy_a(m: DirectionModel, other: DirectionModel) -> float | None:
    """A current no healthy move draws, either way, under any load (None until both ways are learned)."""
    if m.current_n < 3 or other.current_n < 3:
        return None
    return BEYOND_SHARE * LOAD_ALLOWANCE * max(m.current_a, other.current_a)


def collapse_check(cfg: MotionConfig, m: DirectionModel, noise_mm: float, ping_s: float) -> CollapseCheck:
    return CollapseCheck(noise_mm=noise_mm, threshold=cfg.collapse_threshold,
                         steady_after_s=max(m.ramp_s, 0.25) + 0.1, speed=m.speed_mm_s, ping_s=ping_s)


def begin(cfg: MotionConfig, m: DirectionModel, *, d: Direction, here: float, start_sd: float, target: float,
          now: float, noise_mm: float, ping_s: float, still: tuple[float, float] | None,
          retreat: bool = False, free_speed: tuple[float, float] | None = None,
          other: DirectionModel | None = None) -> Approach:
    """The approach for a motor going on now in direction d, from `here` (known to start_sd) to target;
    `free_speed`, how fast (and how surely) this move went before a stop judged a false alarm; `other`,
    what the other direction has learned (its current tells a motor turning the wrong way)."""
    fit = TrajectoryFit(direction=d, t_on=now, start_mm=here, start_sd_mm=start_sd,
                        speed_prior=m.speed_mm_s, speed_sd=0.15 * m.speed_mm_s + 10.0 / (m.speed_n + 1),
                        ramp_s=m.ramp_s, noise_mm=noise_mm)
    trusted = m.speed_n >= 3 and m.startup_n >= 3
    distance = abs(target - here)
    pulse = None
    aim = target
    if m.on_time_for_travel(distance) < m.ramp_s + 0.25:
        # Too short for the readings to steer: open loop on the model, scaled by
        # how far such pulses have really gone on this desk.
        pulse = (here, distance, m.pulse_gain)
        aim = here + d * distance / m.pulse_gain
    collapse = collapse_check(cfg, m, noise_mm, ping_s)
    return Approach(
        direction=d, target=target, aim=aim, retreat=retreat, pulse=pulse, t_on=now, fit=fit,
        # Carrying on after a false alarm, the move's own speed is known: a heavily loaded desk's slow
        # start is not a stall, nor its first millimetres, read against the learned pace, the wrong way.
        # Never below what the heaviest load leaves of the learned speed: a speed measured on a short leg
        # that was already slowing would leave a desk held by something free to push on.
        startup=StartupCheck(fit=fit, speed=m.speed_mm_s if free_speed is None else max(
                                 free_speed[0], MIN_LOADED * m.speed_mm_s),
                             noise_mm=noise_mm, trusted=trusted,
                             threshold=cfg.evidence_threshold, startup_s=m.startup_s, still=still),
        collapse=collapse,
        early=EarlyStopCheck(fit=fit, speed=m.speed_mm_s, noise_mm=noise_mm, trusted=trusted,
                             threshold=cfg.collapse_threshold + 2.0, horizon_s=2 * collapse.window_s),
        bend=BendCheck(noise_mm=noise_mm, threshold=cfg.bend_threshold, steady_after_s=collapse.steady_after_s),
        stuck=StuckCheck(),
        resume=None if free_speed is None or not trusted else ResumeCheck(
            fit=fit, free_speed=free_speed, noise_mm=noise_mm,
            anchor_sd_mm=math.hypot(start_sd, m.speed_mm_s * START_SCATTER_S)),
        cut_at=fit.cut_time(aim, m.stop_lag_s),
        deadline=deadline(now, distance / m.speed_mm_s + m.startup_s),
        current=CurrentCheck(t_on=now, surge_s=cfg.current_surge_s, rise_a=cfg.current_rise_a,
                             learned_a=m.current_a if m.current_n >= 3 else None,
                             stall_a=cfg.current_stall_a,
                             beyond_a=None if other is None else beyond_healthy_a(m, other),
                             other_a=other.current_a if other is not None and other.current_n >= 3 else None)
        if cfg.current_sensing else None)
