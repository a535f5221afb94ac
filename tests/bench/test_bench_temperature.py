"""`deskpi bench control --temperature-drift C`: the JSON's shape, and a swing it cannot simulate refused."""
from __future__ import annotations

import math

import pytest

KEYS = {"moves", "p50_error_mm", "p95_error_mm", "max_error_mm", "interlock_violations", "faults", "fault_kinds",
        "mean_error_mm", "air_c"}


@pytest.fixture(scope="module")
def drift(cli) -> dict:
    return cli.json("bench", "control", "--json", "--moves", "6", "--seed", "2", "--temperature-drift", "15")


def test_the_report_has_both_runs_over_the_swing(drift):
    t = drift["temperature"]
    assert t["swing_c"] == 15 and t["air_c"] == [15.0, 30.0] and t["calibrated_at_c"] == 20.0
    assert t["target_p95_mm"] == 3.0 and isinstance(t["meets_target"], bool)
    for run in ("compensated", "uncompensated"):
        r = t[run]
        assert set(r) >= KEYS, run
        assert r["moves"] + r["faults"] == 6 and r["interlock_violations"] == 0
        assert all(math.isfinite(r[k]) for k in ("p50_error_mm", "p95_error_mm", "max_error_mm"))
        lo, hi = r["air_c"]
        assert 15.0 <= lo <= hi <= 30.0
    ref = t["reference"]
    assert KEYS - {"air_c"} <= set(ref) and ref["moves"] + ref["faults"] == 6
    assert -0.5 <= t["compensated"]["thermometer_bias_c"] <= 0.5
    assert "thermometer_bias_c" not in t["uncompensated"]
    assert "baseline" in drift and "p95_error_mm" in drift          # bench control's own report is still there


def test_without_the_flag_there_is_no_temperature_block(cli):
    assert "temperature" not in cli.json("bench", "control", "--json", "--moves", "2")


@pytest.mark.parametrize("swing", ["50", "-1", "hot"])
def test_a_swing_it_cannot_simulate_is_refused(cli, swing):
    p = cli("bench", "control", "--json", "--moves", "2", "--temperature-drift", swing)
    assert p.returncode == 2 and "--temperature-drift" in p.stderr and "0-40 degC" in p.stderr and not p.stdout
