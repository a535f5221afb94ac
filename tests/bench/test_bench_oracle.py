"""`deskpi bench control`'s oracle: the all-knowing controller deskpi's moves are timed against.

The shape of the JSON is checked through the command line (`--quick`, a real process); the
oracle's own claim, that it reads the true desk and not the sensor, on the virtual rig.
No timing thresholds: what deskpi achieves against the oracle is what the bench reports.
"""
from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from deskpi.bench.control import run_virtual
from deskpi.bench.desks import FAMILIES
from deskpi.bench.naive import NaiveController
from deskpi.bench.oracle import MoveTime, OracleController, time_vs_oracle
from deskpi.sim.physics import DeskPhysics, DeskSpec

QUICK_MOVES = 30
SUMMARY_KEYS = {"moves", "p50_error_mm", "p95_error_mm", "max_error_mm", "median_time_ratio",
                "interlock_violations", "faults"}


def check_summary(s: dict, moves_asked: int) -> None:
    assert s.keys() >= SUMMARY_KEYS, f"missing {SUMMARY_KEYS - s.keys()}"
    assert s["moves"] + s["faults"] == moves_asked
    for key in ("p50_error_mm", "p95_error_mm", "max_error_mm", "median_time_ratio"):
        assert isinstance(s[key], (int, float)) and math.isfinite(s[key]) and s[key] >= 0, (key, s[key])
    assert s["p50_error_mm"] <= s["p95_error_mm"] <= s["max_error_mm"]


@pytest.fixture(scope="module")
def quick(cli) -> dict:
    return cli.json("bench", "control", "--json", "--quick", "--seed", "3")


def test_quick_runs_a_few_moves_with_every_block(quick):
    check_summary(quick, QUICK_MOVES)
    for block in ("baseline", "oracle"):
        check_summary(quick[block], QUICK_MOVES)
    assert quick["clock"] == "virtual" and quick["desk"] == "default"


def test_the_oracle_stops_on_target_and_never_faults_on_a_healthy_desk(quick):
    oracle = quick["oracle"]
    assert oracle["faults"] == 0 and oracle["refused_no_fresh_height"] == 0
    assert oracle["moves"] == QUICK_MOVES
    assert oracle["interlock_violations"] == 0
    # What is left is the coast's own jitter: well under a millimetre or two on this desk.
    assert oracle["p95_error_mm"] <= 2.0, oracle
    assert oracle["p95_error_mm"] < quick["baseline"]["p95_error_mm"]


def test_time_vs_oracle_is_a_ratio_over_paired_moves(quick):
    ratio, pairs = quick["time_vs_oracle"], quick["time_vs_oracle_pairs"]
    assert isinstance(ratio, float) and math.isfinite(ratio) and ratio > 0
    assert isinstance(pairs, int) and 0 < pairs <= QUICK_MOVES
    for key in ("time_vs_oracle_p90", "time_vs_oracle_total"):
        assert isinstance(quick[key], float) and math.isfinite(quick[key]) and quick[key] > 0, key
    assert quick["time_vs_oracle_p90"] >= ratio


def test_the_end_of_travel_family_and_drawn_desks_have_an_oracle_too(cli):
    for args in (("--desk", "end-of-travel"), ("--speed-up", "45", "--coast-mm", "25", "--noise-mm", "3")):
        out = cli.json("bench", "control", "--json", "--quick", "--seed", "2", *args)
        check_summary(out["oracle"], QUICK_MOVES)
        assert out["oracle"]["faults"] == 0
        assert math.isfinite(out["time_vs_oracle"])


def test_help_explains_time_vs_oracle_and_quick(cli):
    proc = cli("bench", "control", "--help")
    assert proc.returncode == 0
    for word in ("--quick", "oracle", "time_vs_oracle", "median"):
        assert word in proc.stdout


def test_the_oracle_reads_the_true_height_not_the_sensor():
    # A sensor so noisy no real controller could stop within centimetres on it.
    params = replace(FAMILIES["default"].params, moves=25, seed=5, noise_mm=30.0, outliers=0.3, dropouts=0.3)
    result = run_virtual(params, lambda lo, hi: OracleController())
    assert result["faults"] == 0 and result["moves"] == 25
    assert result["max_error_mm"] <= 2.0, result


def test_the_oracle_gives_up_on_a_desk_that_cannot_move():
    physics = DeskPhysics(DeskSpec(), random.Random(1), height_mm=800.0)
    physics.stalled = True
    oracle = OracleController()
    oracle.attach(physics)
    oracle.move_to(1000.0, 0.0)
    t, cmd = 0.0, oracle.tick(0.0)
    while cmd.wake_at is not None and t < 100.0:
        t = cmd.wake_at
        physics.advance(t)
        if cmd.drive is not None and not physics.motor_on:
            physics.set_motor(int(cmd.drive), t)
        cmd = oracle.tick(t)
    kinds = [kind for kind, _ in oracle.drain_events()]
    assert kinds == ["fault"] and cmd.drive is None


def test_pairs_skip_faulted_moves_and_credit_the_extra_distance():
    ours = [MoveTime(10.0, 100.0, 10.0), None, MoveTime(3.0, 20.0, 10.0), MoveTime(5.0, 40.0, 10.0)]
    best = [MoveTime(9.0, 90.0, 10.0), MoveTime(4.0, 30.0, 10.0), None, MoveTime(5.0, 40.0, 10.0)]
    out = time_vs_oracle(ours, best)
    # Pair 0: 10 s against 9 s + 10 mm at 10 mm/s = 10 s; pair 3: 5 s against 5 s.
    assert out["time_vs_oracle_pairs"] == 2 and out["time_vs_oracle"] == 1.0
    assert out["time_vs_oracle_total"] == 1.0
    assert math.isnan(time_vs_oracle([None], [None])["time_vs_oracle"])


def test_the_median_holds_while_the_tail_shows_a_slow_move():
    best = [MoveTime(10.0, 100.0, 10.0)] * 5
    ours = [MoveTime(10.0, 100.0, 10.0)] * 4 + [MoveTime(20.0, 100.0, 10.0)]
    out = time_vs_oracle(ours, best)
    assert out["time_vs_oracle"] == 1.0
    assert out["time_vs_oracle_p90"] == 2.0 and out["time_vs_oracle_total"] == 1.2


def test_a_controller_that_stops_late_is_reported_slower_than_the_oracle():
    # The naive controller cuts when a lagging median crosses the target, so it coasts past it
    # and every move takes longer: a deliberately poor controller must show as one.
    params = replace(FAMILIES["fast-coasting"].params, moves=30, seed=4)
    late: list = []
    best: list = []
    run_virtual(params, lambda lo, hi: NaiveController(), times=late)
    run_virtual(params, lambda lo, hi: OracleController(), times=best)
    out = time_vs_oracle(late, best)
    assert out["time_vs_oracle_pairs"] >= 25
    assert out["time_vs_oracle"] > 1.03, out      # over the target: reported as missing it
