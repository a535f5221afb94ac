"""`deskpi bench scale --quick` as a subprocess: the JSON has its shape, the two sizes hold what they
should, and a configuration that makes no sense is refused. No timing is asserted: whether the
targets are met is what the benchmark reports."""
from __future__ import annotations

import math

import pytest

from deskpi.bench.scale import TARGETS


@pytest.fixture(scope="module")
def scale(cli) -> dict:
    return cli.json("bench", "scale", "--quick", "--json", timeout=180)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_the_report_has_both_sizes_growth_and_targets(scale):
    assert scale.keys() >= {"quick", "people", "seed", "stats_window_days", "data", "month", "year", "growth",
                            "targets"}
    assert scale["quick"] is True and scale["people"] == 3
    assert scale["data"]["days_simulated"] == scale["year"]["days"] > scale["month"]["days"] >= 1
    assert set(scale["targets"]) == {"stats_person_p99_ms", "stats_desk_p99_ms", "state_p99_ms", "rss_mb",
                                     "backup_s"}
    for name, t in scale["targets"].items():
        assert _number(t["value"]) and t["met"] == (t["value"] <= t["target"]), (name, t)
    assert scale["targets"]["rss_mb"]["target"] == TARGETS["rss_mb"]


@pytest.mark.parametrize("size", ["month", "year"])
def test_each_size_is_measured_in_full(scale, size):
    r = scale[size]
    assert r.keys() >= {"days", "database", "upgrade_from_oldest_schema", "stats_person", "stats_desk",
                        "stats_whole_history", "state_under_streams", "cli_stats", "cli_backup", "daemon_memory"}
    rows = r["database"]["rows"]
    assert rows["users"] == 4 and rows["height_log"] > 0 and rows["active_user_log"] >= 1
    assert r["database"]["bytes"] > 0
    up = r["upgrade_from_oldest_schema"]
    assert up["from_version"] == 1 and up["to_version"] > 1 and _number(up["median_s"])
    for key in ("stats_person", "stats_desk"):
        s = r[key]
        assert s["errors"] == 0 and s["requests"] >= 1, s
        assert s["p50_ms"] <= s["p99_ms"] <= s["max_ms"], s
        assert _number(s["daemon_cpu_ms_per_request"]) and s["daemon_cpu_ms_per_request"] >= 0, s
    whole = r["stats_whole_history"]
    assert whole["days"] == r["days"] and "p99_ms" not in whole["desk"]      # too few requests for a tail
    assert whole["desk_days"] == min(r["days"], 92)
    load = r["state_under_streams"]
    assert load["errors"] == 0 and load["sse_clients"] == scale["people"] and load["requests"] > 0
    for cmd in ("cli_stats", "cli_backup"):
        assert "error" not in r[cmd] and _number(r[cmd]["median_s"]), r[cmd]
    mem = r["daemon_memory"]
    assert 0 < mem["rss_at_start_mb"] <= mem["peak_rss_mb"] and 0 < mem["rss_mb"] <= mem["peak_rss_mb"]
    assert r["daemon_log"]["tracebacks"] == 0, r["daemon_log"]


def test_growth_is_judged_against_the_data(scale):
    g = scale["growth"]
    assert g["height_log_rows_ratio"] > 1
    figures = {k: v for k, v in g.items() if isinstance(v, dict)}
    assert {"stats_person_p99_ms", "stats_desk_p99_ms", "stats_desk_daemon_cpu_ms", "state_p99_ms", "database_mb",
            "backup_s", "upgrade_s", "rss_mb", "cli_stats_s"} <= figures.keys()
    for name, f in figures.items():
        assert f["growth"] in ("flat", "linear", "worse than linear", "unknown"), (name, f)


@pytest.mark.parametrize(("args", "said"), [
    (["--people", "0"], "--people 0 must be 1-200"),
    (["--days", "-1"], "--days -1 must be 2-400"),
    (["--days", "401"], "--days 401 must be 2-400"),
])
def test_a_broken_configuration_is_refused(cli, args, said):
    out = cli("bench", "scale", "--quick", "--json", *args)
    assert out.returncode == 2 and out.stdout == ""
    assert said in out.stderr
