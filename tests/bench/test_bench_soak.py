"""`deskpi bench soak` for ~20 s with a few phones, as a subprocess: the JSON has its shape and its
counters agree with each other.

Only what does not depend on timing is asserted: a stop is counted done, late or never; a missed
press is a press; every answer has a status; the database is intact after the sim stopped; no 5xx.
Whether threads/fds/RSS stay flat, every stop is done and no press is missed over 30 minutes is what
the benchmark reports, not what this test asserts.
"""
from __future__ import annotations

import math

import pytest

from deskpi.bench.soak import STOP_KINDS


@pytest.fixture(scope="module")
def soak(cli) -> dict:
    return cli.json("bench", "soak", "--minutes", "0.3", "--phones", "3", "--json", timeout=240)


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def test_the_report_has_every_section(soak):
    assert soak.keys() >= {"minutes", "phones", "warmup_s", "elapsed_s", "process", "stops", "presses", "requests",
                           "reminders", "faults", "database", "sim", "goals", "phones_activity", "examples"}
    assert soak["minutes"] == 0.3 and soak["phones"] == 3
    assert set(soak["goals"]) >= {"flat_threads_fds_rss", "every_stop_done", "no_missed_presses", "no_5xx",
                                  "database_ok"}
    assert all(isinstance(v, bool) for v in soak["goals"].values())


def test_process_series_summarise_threads_fds_and_memory(soak):
    proc = soak["process"]
    assert proc["samples"] >= 2
    for key in ("threads", "fds", "rss_mb"):
        s = proc[key]
        assert {"start", "end", "change_pct", "min", "max", "max_seen", "after_load"} <= s.keys(), s
        assert all(_number(s[k]) for k in ("start", "end", "change_pct", "min", "max", "max_seen")), s
        assert 0 < s["min"] <= min(s["start"], s["end"]) <= max(s["start"], s["end"]) <= s["max"] <= s["max_seen"]
        assert math.isclose(s["change_pct"], 100 * (s["end"] - s["start"]) / s["start"], abs_tol=0.2)
        assert s["flat"] == (abs(s["change_pct"]) <= 10.05), s
    assert soak["goals"]["flat_threads_fds_rss"] == all(proc[k]["flat"] for k in ("threads", "fds", "rss_mb"))
    columns = proc["series"]["columns"]
    assert columns == ["t_s", "threads", "fds", "rss_mb"]
    assert proc["series"]["rows"] and all(len(row) == len(columns) for row in proc["series"]["rows"])


def test_stops_add_up(soak):
    stops = soak["stops"]
    assert set(stops["by_kind"]) == set(STOP_KINDS)
    for kind, k in stops["by_kind"].items():
        assert k["done"] + k["late"] + k["never"] == k["requested"], (kind, k)
        assert (k["max_ms"] is None) == (k["done"] == 0), (kind, k)
    assert stops["requested"] == sum(k["requested"] for k in stops["by_kind"].values())
    assert stops["done"] == sum(k["done"] for k in stops["by_kind"].values())
    assert soak["goals"]["every_stop_done"] == (stops["done"] == stops["requested"])


def test_presses_reminders_and_faults_add_up(soak):
    presses = soak["presses"]
    assert 0 <= presses["missed"] <= presses["total"]
    assert soak["goals"]["no_missed_presses"] == (presses["missed"] == 0)
    r = soak["reminders"]
    assert r["answered"] <= r["shown"] <= r["asked"] and r["shown"] + r["none_due"] <= r["asked"]
    assert sum(r["by_outcome"].values()) == r["answered"]
    f = soak["faults"]
    assert f["detected"] <= f["injected"] and f["cleared"] <= f["injected"]
    assert sum(f["by_kind"].values()) == f["injected"]
    activity = soak["phones_activity"]
    assert activity["sign_ins"] >= 3                   # the warm-up signs every phone in (twice)
    assert activity.get("holds_moved", 0) <= activity.get("holds", 0)
    assert activity.get("dropped_mid_hold", 0) <= activity.get("holds", 0)


def test_every_request_is_counted_and_none_failed_on_the_server(soak):
    req = soak["requests"]
    assert req["total"] > 0 and req["total"] == sum(req["by_status"].values())
    assert req["answered_2xx"] + req["5xx"] + sum(req["other_non_2xx"].values()) == req["total"]
    assert req["5xx"] == 0, soak["examples"].get("5xx")
    assert soak["sim"]["log"]["tracebacks"] == 0, soak["sim"]["log"]


def test_the_database_is_intact_and_the_sim_stopped_cleanly(soak):
    assert soak["database"]["ok"] is True and soak["database"]["integrity_check"] == "ok", soak["database"]
    assert soak["sim"]["exit_code"] == 0
    assert soak["sim"]["actors_still_running"] == []


@pytest.mark.parametrize("args, fragment", [(["--minutes", "0"], "--minutes"), (["--minutes", "-1"], "--minutes"),
                                            (["--phones", "0"], "--phones"), (["--minutes", "lots"], "--minutes")])
def test_impossible_arguments_are_refused(cli, args, fragment):
    out = cli("bench", "soak", "--json", *args)
    assert out.returncode == 2 and fragment in out.stderr and out.stdout == ""
