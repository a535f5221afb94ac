"""`deskpi bench mqtt --json --quick` runs against Debian's Mosquitto and reports every figure.

Only the structure is checked: the targets are what the benchmark measures, not what tests assert.
"""
from __future__ import annotations

import math

import pytest
from mqtt_kit import require_mqtt

pytestmark = pytest.mark.timeout(400)
SUMMARY = {"n", "p50", "p99", "max"}


def test_the_mqtt_bench_runs_and_reports_every_figure(cli):
    require_mqtt()
    out = cli.json("bench", "mqtt", "--json", "--quick", timeout=380)
    assert out["quick"] is True
    height = out["height_to_message_ms"]
    assert height.keys() >= SUMMARY | {"superseded_in_outbox"} and height["n"] > 0
    presses = out["press_to_motor_on_ms"]
    for phase in ("mqtt_off", "broker_up", "broker_down", "broker_stalled"):
        assert presses[phase].keys() == SUMMARY and presses[phase]["n"] > 0, phase
    assert presses["reconnected_after_restart"] is True and isinstance(presses["missed"], int)
    idle = out["idle"]
    assert all(math.isfinite(idle[k]) and idle[k] >= 0 for k in ("mqtt_on_cpu_percent", "mqtt_off_cpu_percent"))
    assert out["targets"] == {"height_to_message_p99_ms": 100.0, "press_to_motor_on_p99_ms": 20.0,
                              "idle_cpu_percent": 1.5}
    assert set(out["met"]) == set(out["targets"]) and all(isinstance(v, bool) for v in out["met"].values())
