"""`deskpi bench stress --quick` as a subprocess: the JSON has its shape, and impossible settings are
refused with the value given and what is allowed. How fast the desk reacts is what the benchmark
reports, never what this test asserts."""
from __future__ import annotations

import json
import math
import os

import pytest

LATENCIES = ("press_to_motor_on_ms", "release_to_motor_off_ms", "api_stop_to_motor_off_ms",
             "control_loop_late_wake_ms")
COUNTS = ("missed_presses", "missed_releases", "missed_stops", "cut_before_release", "cut_before_stop",
          "moves_refused", "moves_not_started", "faults_cleared")


@pytest.fixture(scope="module")
def stress(cli) -> dict:
    proc = cli("bench", "stress", "--json", "--quick", "--phones", "8", "--rps", "10", timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout

    def no_nan(word: str) -> float:
        raise AssertionError(f"{word} is not JSON a strict parser reads")
    return json.loads(lines[0], parse_constant=no_nan)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_the_report_has_every_section(stress):
    assert stress.keys() >= {"quick", "daemon", "asked", "load", "reference", "loaded", "sim_log", "met", "all_met"}
    assert stress["quick"] is True
    assert stress["asked"]["phones"] == 8 and stress["asked"]["rps"] == 10
    assert stress["daemon"]["cpu"] and all(isinstance(c, int) for c in stress["daemon"]["cpu"])
    assert isinstance(stress["daemon"]["nice"], int)


@pytest.mark.parametrize("phase", ["reference", "loaded"])
def test_each_phase_reports_the_same_latencies(stress, phase):
    p = stress[phase]
    for key in LATENCIES:
        s = p[key]
        assert {"n", "p50", "p99", "max"} <= s.keys(), (key, s)
        if s["n"]:
            assert all(_number(s[k]) for k in ("p50", "p99", "max")), (key, s)
            assert s["p50"] <= s["p99"] <= s["max"], (key, s)
        else:
            assert s["p50"] is s["p99"] is s["max"] is None, (key, s)
    assert isinstance(p["control_loop_late_wake_ms"]["over_20ms"], int)
    for key in COUNTS:
        assert isinstance(p[key], int) and p[key] >= 0, (key, p[key])
    presses = p["presses"]
    assert p["press_to_motor_on_ms"]["n"] + p["missed_presses"] == presses
    assert {"moves", "p95", "max"} <= p["stop_accuracy_mm"].keys()
    assert isinstance(p["fault_kinds"], list) and len(p["fault_kinds"]) == p["faults_cleared"]
    # every miss is counted; the first few say what the daemon was doing then
    misses = p["missed_presses"] + p["missed_releases"] + p["missed_stops"]
    assert isinstance(p["missed"], list) and len(p["missed"]) == min(misses, 3)
    for m in p["missed"]:
        assert m["what"] in ("presses", "releases", "stops") and {"status", "log"} <= m.keys(), m


def test_the_load_says_what_it_achieved(stress):
    load = stress["load"]
    assert load.keys() >= {"cpu", "hog_cpu_share", "daemon_cpu_share", "hog_nice", "fsyncs_per_s", "requests_per_s",
                           "live_streams_open", "live_streams_refused"}
    assert 0 <= load["hog_cpu_share"] <= 1.05 and 0 <= load["daemon_cpu_share"] <= 1.05
    assert load["hog_nice"] == stress["daemon"]["nice"]         # the hog competes at the daemon's priority
    assert stress["daemon"]["cpu"] == [load["cpu"]]
    assert _number(load["fsyncs_per_s"]) and _number(load["requests_per_s"])
    assert set(load["live_streams_open"]) == {"min", "median", "max"}


def test_met_is_one_verdict_per_target(stress):
    met = stress["met"]
    assert set(met) == {f"{k}_p99_le_20" for k in LATENCIES} | {"no_missed_presses"}
    assert all(isinstance(v, bool) for v in met.values())
    assert stress["all_met"] == all(met.values())


@pytest.mark.parametrize(("args", "words"), [
    (["--cpu", "999"], ["--cpu 999", "the CPUs here are"]),
    (["--phones", "-1"], ["--phones -1", "0-200"]),
    (["--rps", "10000"], ["--rps 10000", "0-500"]),
    (["--presses", "0"], ["--presses 0", "1-5000"]),
])
def test_an_impossible_setting_is_refused(cli, args, words):
    proc = cli("bench", "stress", "--json", "--quick", *args, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and all(w in message for w in words), message
    assert not any(w in message for w in ("/api/", "POST", "GET", "DELETE", "Traceback")), message


def test_the_cpu_it_names_are_this_machines():
    usable = sorted(os.sched_getaffinity(0))
    from deskpi.bench.stress import StressConfigError, check

    check(cpu=usable[0], phones=50, rps=50, presses=200, moves=10)
    with pytest.raises(StressConfigError, match=", ".join(map(str, usable))):
        check(cpu=max(usable) + 1, phones=50, rps=50, presses=200, moves=10)


def test_a_miss_is_kept_with_what_the_daemon_said_then(tmp_path):
    from types import SimpleNamespace

    from deskpi.bench import stress as bench

    log = tmp_path / "sim.log"
    log.write_text("before the press\n")
    sim = SimpleNamespace(dir=tmp_path)
    sim.log_size = lambda: bench.SoakSim.log_size(sim)
    sim.log_since = lambda offset: bench.SoakSim.log_since(sim, offset)
    rig = SimpleNamespace(sim=sim, state=lambda: {"state": "settling", "height_mm": 901.5, "pid": 7})
    out = {"missed_presses": 0, "missed": []}
    for _ in range(5):
        mark = sim.log_size()
        with log.open("a") as f:
            f.write("INFO deskpi.hw.buttons: button: Hold(UP) refused: the desk is settling\n")
        bench._missed(rig, out, "presses", mark, key="up", button_edge=True)
    assert out["missed_presses"] == 5 and len(out["missed"]) == bench.MISSED_KEPT
    first = out["missed"][0]
    assert first["what"] == "presses" and first["key"] == "up" and first["button_edge"] is True
    assert first["status"]["state"] == "settling" and "pid" not in first["status"]
    assert first["log"] == ["INFO deskpi.hw.buttons: button: Hold(UP) refused: the desk is settling"]
