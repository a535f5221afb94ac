"""The simulated current sensor averages as the chip does: the mean current over its last conversion.

The fault bench's current figures stand on this: a reading is as old, and as smoothed, as an
INA219/INA226 averaging over most of the read interval makes it, never the instantaneous current.
"""
from __future__ import annotations

import math
import random
import statistics
from collections import deque

import pytest

from deskpi.core.motion.config import Command
from deskpi.core.types import CurrentSample, Direction
from deskpi.sim.ina_bus import NOISE_WINDOW_S
from deskpi.sim.physics import DeskPhysics, DeskSpec
from deskpi.sim.sensor_model import SensorSpec
from deskpi.sim.virtual import CurrentSpec, VirtualRig

SPEC = DeskSpec(load_variation=0.0, coast_jitter=0.0)
RUNNING_UP_A = SPEC.current_up_a          # at load 1.0


class DriveUntil:
    """Drives up until `off_at`, then stops; keeps every current reading it is handed."""

    busy = True

    def __init__(self, off_at: float) -> None:
        self.off_at = off_at
        self.samples: list[CurrentSample] = []

    def tick(self, now: float, reading=None) -> Command:
        if isinstance(reading, CurrentSample):
            self.samples.append(reading)
        return Command(Direction.UP if now < self.off_at else None, None)


def rig(off_at: float, current: CurrentSpec, seed: int = 3) -> tuple[VirtualRig, DriveUntil]:
    ctrl = DriveUntil(off_at)
    r = VirtualRig(ctrl, SPEC, SensorSpec(), seed=seed, start_mm=800.0, current=current)
    r.current_log = []
    r.kick()
    return r, ctrl


def test_the_charge_drawn_is_the_current_integrated_surge_and_all():
    d = DeskPhysics(SPEC, random.Random(0), height_mm=800.0, charge_log=deque())
    d.set_motor(1, 0.0)
    d.advance(0.1)
    on = SPEC.relay_delay_s
    running, stall, tau = RUNNING_UP_A, SPEC.current_stall_a, SPEC.surge_tau_s
    # Over the surge: running + (stall - running) e^(-t / tau), integrated in closed form.
    a, b = 0.005, 0.045
    surge = running + (stall - running) * tau * (math.exp(-a / tau) - math.exp(-b / tau)) / (b - a)
    assert d.mean_current_a(on + a, on + b)[0] == pytest.approx(surge, rel=1e-3)
    # What a healthy motor draws is the same here: nothing is in the way.
    assert d.mean_current_a(on + a, on + b)[1] == pytest.approx(surge, rel=1e-3)
    assert d.mean_current_a(0.0, on)[0] == 0.0          # the relay had not closed yet
    d.advance(1.0)
    # The surge's tail after ten time constants (e^-10 of it) is taken as straight over a long step.
    assert d.mean_current_a(0.8, 1.0)[0] == pytest.approx(running, rel=1e-4)


def test_a_reading_is_the_mean_over_the_chips_last_finished_conversion():
    spec = CurrentSpec(noise_a=0.0, noise_rel=0.0)
    window = spec.window_s
    r, ctrl = rig(off_at=1.0, current=spec)
    r.run_until(lambda rig: False, 1.5)
    log = r.current_log
    assert log and len(log) == len(ctrl.samples)
    for t, _read, _true, _healthy, end in log:
        assert 0.0 <= t - end < window + 1e-9              # the last conversion finished, never a later one
    cut = 1.0 + SPEC.relay_delay_s                          # the motor's own off (the relay's delay after)
    running = [read for t, read, *_, end in log if end - window > 0.5 and end < cut]
    after = [read for t, read, *_, end in log if end - window > cut]
    between = [read for t, read, *_, end in log if end - window < cut < end]
    assert running and after
    assert running == pytest.approx([RUNNING_UP_A] * len(running), rel=1e-6)
    assert after == [0.0] * len(after)
    # A conversion the motor went off during reads what it averaged: part of the running current.
    assert all(0.0 < read < RUNNING_UP_A for read in between)
    # Reads lag the current: the first one after the cut still shows the motor running.
    first_after_cut = next(read for t, read, *_ in log if t > cut)
    assert first_after_cut > 0.0


def test_no_two_reads_return_the_same_conversion():
    r, _ = rig(off_at=2.0, current=CurrentSpec())
    r.run_until(lambda rig: False, 2.0)
    ends = [end for *_, end in r.current_log]
    assert len(set(ends)) == len(ends)


def test_averaging_longer_divides_the_noise_by_the_square_root_of_the_window():
    fast, slow = CurrentSpec(interval_s=0.002), CurrentSpec(interval_s=0.005)
    assert slow.window_s > 3 * fast.window_s
    assert fast.sd_a(1.6) / slow.sd_a(1.6) == pytest.approx((slow.window_s / fast.window_s) ** 0.5)
    assert CurrentSpec().sd_a(1.6) == pytest.approx((0.03 + 0.02 * 1.6) * (NOISE_WINDOW_S / slow.window_s) ** 0.5)
    # Measured: steady running readings scatter as the spec says.
    r, _ = rig(off_at=20.0, current=slow, seed=5)
    r.run_until(lambda rig: False, 12.0)
    steady = [read for t, read, *_ in r.current_log if t > 0.5]
    assert len(steady) > 2000
    assert statistics.stdev(steady) == pytest.approx(slow.sd_a(RUNNING_UP_A), rel=0.08)
