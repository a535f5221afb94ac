"""`deskpi bench control|faults` command-line contract, run as subprocesses.

Only structure and sanity are checked here; the performance targets are what
the benchmarks measure, not what the test suite asserts.
"""
from __future__ import annotations

import math

import pytest

SUMMARY_KEYS = {"moves", "p50_error_mm", "p95_error_mm", "max_error_mm", "median_time_ratio",
                "interlock_violations", "faults"}
REQUIRED_FAULTS = ("sensor_dead", "sensor_stuck", "stall", "obstruction_down", "obstruction_up",
                   "reversed_wiring")


def check_summary(s: dict, moves_asked: int) -> None:
    assert s.keys() >= SUMMARY_KEYS, f"missing {SUMMARY_KEYS - s.keys()}"
    assert isinstance(s["moves"], int) and isinstance(s["faults"], int)
    assert isinstance(s["interlock_violations"], int)
    # Every requested move ends either measured or as a fault.
    assert 0 < s["moves"] <= moves_asked
    assert s["moves"] + s["faults"] == moves_asked
    for key in ("p50_error_mm", "p95_error_mm", "max_error_mm", "median_time_ratio"):
        assert isinstance(s[key], (int, float)) and math.isfinite(s[key]) and s[key] >= 0, (key, s[key])
    assert s["p50_error_mm"] <= s["p95_error_mm"] <= s["max_error_mm"]
    assert s["median_time_ratio"] > 0


@pytest.fixture(scope="module")
def control(cli) -> dict:
    return cli.json("bench", "control", "--json", "--moves", "40", "--seed", "3")


@pytest.fixture(scope="module")
def faults(cli) -> dict:
    return cli.json("bench", "faults", "--json", "--trials", "2")


# -- bench control ----------------------------------------------------------------


def test_control_prints_summary_and_baseline(control):
    check_summary(control, 40)
    assert isinstance(control["baseline"], dict)
    check_summary(control["baseline"], 40)


def test_control_has_no_interlock_violations(control):
    assert control["interlock_violations"] == 0
    assert control["baseline"]["interlock_violations"] == 0


def test_control_beats_the_naive_baseline_at_p95(control):
    assert control["p95_error_mm"] < control["baseline"]["p95_error_mm"]


def test_control_is_deterministic_for_a_seed(cli, control):
    # All but the CPU time per reading, which is this machine's own time, not the virtual clock's.
    again = cli.json("bench", "control", "--json", "--moves", "40", "--seed", "3")
    assert {k: v for k, v in again.items() if k != "cpu_per_reading_us"} == \
        {k: v for k, v in control.items() if k != "cpu_per_reading_us"}


def test_control_reports_its_cpu_time_per_reading(control):
    cpu = control["cpu_per_reading_us"]
    assert cpu["readings"] > 0 and 0 < cpu["p50"] <= cpu["p99"] <= cpu["max"]


def test_control_accepts_every_desk_and_sensor_flag(cli, control):
    proc = cli("bench", "control", "--json", "--moves", "40", "--seed", "3",
               "--speed-up", "30", "--speed-down", "32", "--coast-mm", "12", "--noise-mm", "3",
               "--outliers", "0.02", "--dropouts", "0.03", "--load-variation", "0.25")
    out = cli.parse(proc)
    check_summary(out, 40)
    check_summary(out["baseline"], 40)
    assert out["interlock_violations"] == 0
    # The flags reach the simulation: a different desk gives different numbers.
    assert out != control


@pytest.mark.parametrize("flag", ["--speed-up", "--speed-down", "--coast-mm", "--noise-mm", "--outliers",
                                  "--dropouts", "--load-variation", "--moves", "--seed"])
def test_control_rejects_non_numeric_flag_values(cli, flag):
    proc = cli("bench", "control", "--json", flag, "lots")
    assert proc.returncode == 2
    assert flag in proc.stderr
    assert proc.stdout == ""


def test_control_help_has_an_example(cli):
    proc = cli("bench", "control", "--help")
    assert proc.returncode == 0
    assert "deskpi bench control" in proc.stdout
    for flag in ("--json", "--moves", "--seed", "--speed-up", "--speed-down", "--coast-mm", "--noise-mm",
                 "--outliers", "--dropouts", "--load-variation"):
        assert flag in proc.stdout


# -- bench faults -------------------------------------------------------------------


def test_faults_lists_every_fault_with_its_numbers(faults):
    assert isinstance(faults.get("faults"), list)
    by_name = {}
    for entry in faults["faults"]:
        assert {"name", "detected", "motor_off_ms", "travel_after_mm"} <= entry.keys(), entry
        assert isinstance(entry["detected"], bool)
        for key in ("motor_off_ms", "travel_after_mm"):
            assert isinstance(entry[key], (int, float)) and math.isfinite(entry[key]) and entry[key] >= 0, entry
        assert entry["name"] not in by_name, f"duplicate entry {entry['name']}"
        by_name[entry["name"]] = entry
    missing = set(REQUIRED_FAULTS) - by_name.keys()
    assert not missing, f"missing faults: {sorted(missing)}"


@pytest.mark.parametrize("name", REQUIRED_FAULTS)
def test_faults_are_all_detected(faults, name):
    entry = next(e for e in faults["faults"] if e["name"] == name)
    assert entry["detected"] is True, entry


def test_bench_day_prints_the_contract_keys_with_the_safety_zeros(cli):
    day = cli.json("bench", "day", "--json", "--seed", "2", "--week", "4", "--compliance", "0.8")
    for key in ("standing_min", "sitting_min", "posture_changes", "reminders", "max_standing_block_min",
                "auto_moves_without_presence", "moves_outside_working_hours"):
        assert key in day
    assert day["auto_moves_without_presence"] == 0 and day["moves_outside_working_hours"] == 0
    assert day["standing_min"] + day["sitting_min"] > 0


@pytest.mark.parametrize("args, fragment", [(["--compliance", "1.5"], "probability"), (["--week", "0"], "week")])
def test_bench_day_rejects_impossible_arguments(cli, args, fragment):
    out = cli("bench", "day", "--json", *args)
    assert out.returncode == 2 and fragment in out.stderr


# -- desk families --------------------------------------------------------------------


def test_faults_reports_both_sensing_modes_with_bounds_and_forces(faults):
    assert faults["desk"] == "default"
    for entries in (faults["faults"], faults["current_sensing"]["faults"]):
        names = {e["name"] for e in entries}
        assert {"soft_obstruction_down", "soft_obstruction_up"} <= names
        for e in entries:
            assert e["target_ms"] in (300.0, 50.0)
            assert isinstance(e["meets_target"], bool) and e["physics_allows_target"] in (True, False, None)
            assert e["bound_ms"] is None or e["bound_ms"] >= 0
            if e["target_sensing"] == "ultrasonic" and not e["name"].startswith("sensor_"):
                # The oracle weighs only what was in before the motor went off: never later than it.
                assert isinstance(e["oracle_meets_target"], bool)
                assert e["oracle_on_readings_ms"] is None or e["oracle_on_readings_ms"] <= e["motor_off_ms"]
                assert e["worst_over_oracle_ms"] is None or e["worst_over_oracle_ms"] >= 0
            else:
                assert "oracle_on_readings_ms" not in e, e        # a sensor fault shows on its first ping
            if "obstruction" in e["name"]:
                assert e["peak_force_n"] >= 0 and e["peak_compression_mm"] >= 0 and e["min_backed_off_mm"] >= 0


def test_faults_runs_a_named_family_with_a_flag_changed(cli):
    out = cli.json("bench", "faults", "--json", "--trials", "1", "--desk", "slow-heavy", "--current", "on",
                   "--noise-mm", "2")
    assert out["desk"] == "slow-heavy" and out["spec"]["speed_up"] == 22.0 and out["spec"]["noise_mm"] == 2.0
    assert all(e["detected"] for e in out["current_sensing"]["faults"])


@pytest.mark.parametrize("args, fragment", [
    (["--desk", "wobbly"], "default, slow-heavy, fast-coasting, end-of-travel"),
    (["--speed-up", "0"], "--speed-up 0 is outside 2..200"),
    (["--noise-mm", "nan"], "--noise-mm nan is outside"),
    (["--trials", "0"], "--trials 0 must be 1-1000"),
    # a trace replays one trial: one fault, one seed, one sensing
    (["--trace", "stall"], "must be FAULT:SEED"),
    (["--trace", "meteor:1000"], "FAULT one of sensor_dead"),
    (["--trace", "stall:x"], "must be FAULT:SEED"),
    (["--trace", "stall:1000"], "say --current on or --current off"),
])
def test_faults_refuses_an_unknown_desk_or_an_impossible_flag(cli, args, fragment):
    proc = cli("bench", "faults", "--json", *args)
    assert proc.returncode == 2 and fragment in proc.stderr and proc.stdout == ""


def test_control_takes_a_desk_family(cli):
    out = cli.json("bench", "control", "--json", "--moves", "20", "--desk", "fast-coasting")
    assert out["desk"] == "fast-coasting"
    check_summary(out, 20)
    assert cli("bench", "control", "--json", "--desk", "nope").returncode == 2


def test_a_measurement_that_could_not_be_taken_is_null_not_nan(cli):
    # Half the echoes lost and half the rest wild: no move pairs up with the oracle's, so there is
    # no time ratio to give. Python's json writes that as NaN, which jq and browsers refuse.
    out = cli.json("bench", "control", "--json", "--quick", "--outliers", "0.5", "--dropouts", "0.5")
    assert out["time_vs_oracle_pairs"] == 0 and out["time_vs_oracle"] is None


def test_faults_runs_on_a_desk_slower_than_any_family(cli):
    # 15 mm/s: a move from end to end takes longer than the bench once allowed for (it assumed 20 mm/s),
    # and the controller refused it for the motor's duty cycle: a traceback instead of a result.
    out = cli.json("bench", "faults", "--json", "--trials", "1", "--current", "off",
                   "--speed-up", "15", "--speed-down", "18", "--coast-mm", "0.5")
    assert {e["name"] for e in out["faults"]} >= set(REQUIRED_FAULTS)
    assert all(e["detected"] and e["false_faults"] == 0 for e in out["faults"]), out["faults"]


def test_the_slowest_trial_can_be_replayed_line_by_line(cli):
    out = cli.json("bench", "faults", "--json", "--trials", "2", "--current", "off", "--desk", "slow-heavy")
    entry = next(e for e in out["faults"] if e["name"] == "obstruction_up")
    seed = entry["worst_trial_seed"]
    assert seed in (1000, 1001)
    replay = cli.json("bench", "faults", "--json", "--desk", "slow-heavy", "--current", "off",
                      "--trace", f"obstruction_up:{seed}")
    assert replay["trial"]["motor_off_ms"] == pytest.approx(entry["motor_off_ms"], abs=0.05)
    lines = replay["trace"]
    assert "a wall at" in lines[0] and any("the fault begins (contact)" in line for line in lines)
    assert any("fault latched: obstruction" in line for line in lines)
    assert lines[-1].startswith("observable ") and f"motor off {entry['motor_off_ms']:.0f} ms" in lines[-1]
    text = cli("bench", "faults", "--desk", "slow-heavy", "--current", "off", "--trace", f"obstruction_up:{seed}")
    assert text.returncode == 0 and text.stdout.splitlines() == lines
