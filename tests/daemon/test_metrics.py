"""The desk's Prometheus counts (deskpi/daemon/metrics.py) and their text (deskpi/daemon/metrics_export.py):
each hook counts what it should, under its label and no other, the exposition parses with prometheus_client's
own parser into every family with its type, and a running sim daemon with [metrics] on counts its real
moves, stops, loop wakes, readings and faults."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
from helpers import ManualClock, calm, running_sim_daemon, wait_until
from prometheus_client.parser import text_string_to_metric_families

from deskpi.config import defaults
from deskpi.core.faults import Fault, FaultKind
from deskpi.core.types import Caller, Direction, Reading, Source
from deskpi.daemon.metrics import LAG_BUCKETS, MOVE_SOURCES, DeskMetrics, Histogram

#: Every family /metrics promises (issue 13), with its type as prometheus_client's parser names it.
FAMILIES = {
    "deskpi_height_mm": "gauge", "deskpi_moves": "counter", "deskpi_faults": "counter",
    "deskpi_motor_seconds": "counter", "deskpi_stop_latency_seconds": "histogram",
    "deskpi_control_loop_lag_seconds": "histogram", "deskpi_sensor_readings": "counter",
    "deskpi_reminders": "counter", "deskpi_web_requests": "counter", "deskpi_up": "gauge",
    "deskpi_build_info": "gauge", "deskpi_fault_active": "gauge", "deskpi_moving": "gauge",
    "deskpi_posture_changes": "counter", "deskpi_standing_seconds": "counter",
}


def families(metrics: DeskMetrics) -> dict:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(fams: dict, name: str, **labels) -> float:
    family = name.removesuffix("_total").removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
    found = [s.value for s in fams[family].samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, fams[family].samples)
    return found[0]


def test_every_family_is_there_with_its_type_before_anything_happened():
    fams = families(DeskMetrics())
    assert {name: fams[name].type for name in FAMILIES} == FAMILIES
    assert value(fams, "deskpi_up") == 0.0 and math.isnan(value(fams, "deskpi_height_mm"))
    # every known label value is there from the start, so rate() and alerts see a 0, not a gap
    assert {s.labels["source"] for s in fams["deskpi_moves"].samples} == set(MOVE_SOURCES)
    assert {s.labels["kind"] for s in fams["deskpi_faults"].samples} == {k.value for k in FaultKind}
    assert {s.labels["kind"] for s in fams["deskpi_fault_active"].samples} == {k.value for k in FaultKind}


def test_moves_count_by_who_asked_and_only_moves_and_holds():
    m = DeskMetrics()
    m.on_request(Source.BUTTON, "hold", {"direction": "up"})
    m.on_request(Source.REMOTE, "move", {"target_mm": 900}, Caller("web", user="Zelda Quist", via="token"))
    m.on_request(Source.REMOTE, "move", {"target_mm": 900}, Caller("cli", user="Zelda Quist"))
    m.on_request(Source.SCHEDULE, "move", {"target_mm": 1100})
    m.on_request(Source.REMOTE, "move", {}, Caller("carrier-pigeon"))
    for action in ("stop", "recall", "save", "clear_fault"):
        m.on_request(Source.BUTTON, action, {})
    fams = families(m)
    assert {s.labels["source"]: s.value for s in fams["deskpi_moves"].samples} == {
        "button": 1, "web": 1, "cli": 1, "schedule": 1, "mqtt": 0, "other": 1}


def test_faults_count_by_kind_and_the_live_state_shows_the_active_one():
    m = DeskMetrics()
    m.on_event("fault", Fault(FaultKind.OBSTRUCTION, "something in the way", 1.0, 800.0))
    m.on_event("fault", Fault(FaultKind.OBSTRUCTION, "again", 2.0, 800.0))
    m.on_event("move_done", object())
    m.live = lambda: {"up": True, "height_mm": 801.5, "fault": "obstruction", "moving": False}
    fams = families(m)
    assert value(fams, "deskpi_faults_total", kind="obstruction") == 2
    assert value(fams, "deskpi_faults_total", kind="stall") == 0
    assert value(fams, "deskpi_fault_active", kind="obstruction") == 1
    assert value(fams, "deskpi_fault_active", kind="stall") == 0
    assert value(fams, "deskpi_up") == 1 and value(fams, "deskpi_height_mm") == 801.5


def test_motor_seconds_add_up_by_direction_including_a_run_still_going():
    clock = ManualClock(100.0)
    m = DeskMetrics(clock=clock)
    m.motor(100.0, Direction.UP)
    m.motor(102.5, Direction.UP)            # still up: nothing to note
    m.motor(104.0, None)
    m.motor(105.0, Direction.DOWN)
    clock.advance(6.0)                       # 106: down for a second so far
    fams = families(m)
    assert value(fams, "deskpi_motor_seconds_total", direction="up") == pytest.approx(4.0)
    assert value(fams, "deskpi_motor_seconds_total", direction="down") == pytest.approx(1.0)


def test_readings_are_counted_by_status_and_still_fed_on():
    fed = []
    m = DeskMetrics()
    feed = m.counting(fed.append)
    readings = [Reading.ok(1.0, 740.0), Reading.lost(1.1), Reading.ok(1.2, 741.0), Reading.silent(1.3)]
    for r in readings:
        feed(r)
    assert fed == readings
    fams = families(m)
    counted = {s.labels["status"]: s.value for s in fams["deskpi_sensor_readings"].samples}
    assert counted == {"ok": 2, "lost": 1, "silent": 1}


def test_histograms_are_cumulative_with_sum_and_count():
    m = DeskMetrics()
    for lag in (0.0004, 0.0015, 0.0015, 0.3, 5.0):
        m.loop_lag(lag)
    fams = families(m)
    buckets = {s.labels["le"]: s.value for s in fams["deskpi_control_loop_lag_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets["0.0005"] == 1 and buckets["0.002"] == 3 and buckets["0.25"] == 3 and buckets["1.0"] == 4
    assert buckets["+Inf"] == 5 and len(buckets) == len(LAG_BUCKETS) + 1
    assert value(fams, "deskpi_control_loop_lag_seconds_count") == 5
    assert value(fams, "deskpi_control_loop_lag_seconds_sum") == pytest.approx(5.3034)
    h = Histogram((0.1, 1.0))
    h.observe(0.1)                       # on a bound: counted in it (le means "less or equal")
    assert h.cumulative() == [("0.1", 1), ("1.0", 1), ("+Inf", 1)]


def test_posture_and_standing_are_the_desks_own_over_the_en_527_bands():
    clock = ManualClock(0.0)
    m = DeskMetrics(clock=clock)
    for height, dt in ((720, 30), (900, 30), (1100, 30), (1100, 30), (1100, 30), (940, 30), (800, 30)):
        m.height(height)
        clock.advance(dt)
    m.height(None)                           # unknown from here: no standing is counted across it
    clock.advance(3600)
    m.height(1100)
    clock.advance(30)
    m.height(1100)
    fams = families(m)
    # sit -> stand (at 1100) -> sit (at 800, 940 is still the band) -> unknown -> stand again (no change seen)
    assert value(fams, "deskpi_posture_changes_total") == 2
    # standing from the first 1100 to 800 (4 x 30 s; 940 is in the band, still standing) and the last 30 s
    assert value(fams, "deskpi_standing_seconds_total") == pytest.approx(150.0)


def test_a_long_silence_between_heights_counts_at_most_two_minutes_of_standing():
    clock = ManualClock(0.0)
    m = DeskMetrics(clock=clock)
    m.height(1100)
    clock.advance(8 * 3600)                  # the desk left raised overnight with the daemon stalled
    m.height(1100)
    assert value(families(m), "deskpi_standing_seconds_total") == pytest.approx(120.0)


def test_reminders_and_web_responses_count_by_outcome_and_code():
    m = DeskMetrics()
    for outcome in ("shown", "shown", "confirmed", "snoozed", "mystery"):
        m.reminder(outcome)
    for code in (200, 200, 401, 404):
        m.web_response(code)
    fams = families(m)
    reminders = {s.labels["outcome"]: s.value for s in fams["deskpi_reminders"].samples}
    assert reminders == {"shown": 2, "confirmed": 1, "snoozed": 1, "expired": 1, "acknowledged": 0, "skipped": 0}
    assert {s.labels["code"]: s.value for s in fams["deskpi_web_requests"].samples} == {
        "200": 2, "401": 1, "404": 1}


def test_a_sim_daemon_with_metrics_on_counts_its_real_moves_stops_wakes_and_readings(tmp_path):
    settings = defaults()
    settings = replace(settings, metrics=settings.metrics.replace(enabled=True))
    with running_sim_daemon(tmp_path / "data", settings=settings) as d:
        metrics = d.parts.service.metrics
        assert metrics is not None and d.parts.metrics is metrics
        service = d.parts.service
        service.move_to(800.0, Source.REMOTE, by=Caller("web", user="Zelda Quist"))
        wait_until(lambda: d.parts.controller.drive is not None, 10, "the motor to start")
        calm(d)                              # the whole move: the loop woke for its cut, at least
        service.stop(Source.BUTTON)
        fams = families(metrics)
        assert value(fams, "deskpi_up") == 1
        assert 600 < value(fams, "deskpi_height_mm") < 1300
        assert value(fams, "deskpi_moves_total", source="web") == 1
        assert value(fams, "deskpi_stop_latency_seconds_count") >= 1
        assert value(fams, "deskpi_control_loop_lag_seconds_count") > 0
        assert value(fams, "deskpi_sensor_readings_total", status="ok") > 0
        assert value(fams, "deskpi_motor_seconds_total", direction="up") > 0
        text = metrics.render()[0].decode()
        assert "Zelda" not in text and "Quist" not in text


def test_with_metrics_off_nothing_is_counted_or_hooked(tmp_path):
    with running_sim_daemon(tmp_path / "data") as d:
        assert d.parts.metrics is None and d.parts.service.metrics is None
        assert d.parts.loop.on_lag is None and d.parts.loop.on_stop is None


def test_a_failing_metrics_hook_never_stops_the_loop_or_a_stop(tmp_path):
    def broken(seconds: float) -> None:
        raise RuntimeError("a bug in the metrics")

    with running_sim_daemon(tmp_path / "data") as d:
        loop, service = d.parts.loop, d.parts.service
        loop.on_lag = loop.on_stop = broken
        service.move_to(800.0, Source.REMOTE)
        wait_until(lambda: d.parts.controller.drive is not None, 10, "the motor to start")
        service.stop(Source.BUTTON)                       # no exception reaches whoever pressed Stop
        assert d.parts.controller.drive is None
        calm(d)                                           # the loop kept running through its wakes
        assert loop.alive and d.parts.controller.fault is None
