"""Sitting/standing statistics from the measured height log (pure core, synthetic logs)."""
from __future__ import annotations

import itertools
import json
import os
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.habits.local_days import day_start, local_date
from deskpi.core.habits.posture_stats import (
    REMINDER_KINDS,
    PostureLatch,
    Segment,
    Thresholds,
    classify,
    daily,
    posture_changes,
    postures,
    segments,
)

try:
    BERLIN = ZoneInfo("Europe/Berlin")
except ZoneInfoNotFoundError:       # no system tz database (a slim container) and no tzdata package
    if os.environ.get("CI"):
        raise
    pytest.skip("no IANA time zone data: install tzdata", allow_module_level=True)
MONDAY = date(2024, 6, 10)          # an ordinary summer Monday (CEST), ISO week 2024-W24
SIT_MM, STAND_MM = 720.0, 1100.0    # typical settled heights, well inside the default zones


def at(hhmm: str, day: date = MONDAY, tz=BERLIN) -> float:
    """Unix time of a local wall-clock time, 'HH:MM' or 'HH:MM:SS'."""
    parts = [int(p) for p in hhmm.split(":")] + [0]
    return datetime(day.year, day.month, day.day, parts[0], parts[1], parts[2], tzinfo=tz).timestamp()


def hold(t0: float, t1: float, height: float, source: str = "heartbeat", every: float = 600.0):
    """A row at t0 and heartbeat rows every `every` s before t1 (t1 itself excluded)."""
    rows, t = [], t0
    while t < t1:
        rows.append((t, height, source))
        t += every
    return rows


def plan(*steps: tuple[str, float], end: str, day: date = MONDAY, source: str = "sensor"):
    """A log from ('HH:MM', height) steps, each held (with heartbeats) until the next; last until end."""
    rows = []
    times = [at(s, day) for s, _ in steps] + [at(end, day)]
    for (_, h), (t0, t1) in zip(steps, itertools.pairwise(times), strict=True):
        rows += hold(t0, t1, h, source)
    rows.append((times[-1], steps[-1][1], source))
    return rows


def one_day(rows, active, now, profiles=None, **kw):
    return daily(rows, active, profiles or {}, BERLIN, [kw.pop("day", MONDAY)], now, **kw)


def day_of(report, user="alice", i=0):
    bucket = report["unassigned"] if user is None else report["users"][user]
    return bucket["days"][i]


def minutes(rec):
    return {k: rec[k] for k in ("sitting_min", "standing_min", "between_min", "unknown_min")}


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize("height, sit, stand, expected", [
    # no profile: EN 527-1 ranges, < 850 sit, > 950 stand
    (620, None, None, "sit"), (849.9, None, None, "sit"), (850, None, None, "between"),
    (900, None, None, "between"), (950, None, None, "between"), (950.1, None, None, "stand"),
    (1270, None, None, "stand"),
    # profile 700/1100: midpoint 900, between band +-10 % of the 400 mm gap = 860..940
    (700, 700, 1100, "sit"), (859, 700, 1100, "sit"), (860, 700, 1100, "between"),
    (900, 700, 1100, "between"), (941, 700, 1100, "stand"), (1100, 700, 1100, "stand"),
    # a short person: 620/980, midpoint 800 -> 764..836; 840 is standing for them
    (840, 620, 980, "stand"), (760, 620, 980, "sit"),
    # only a seated height: standing = seated + 300 mm (LINAK default): 700/1000 -> 820..880
    (815, 700, None, "sit"), (885, 700, None, "stand"),
    # only a standing height: seated = standing - 300 mm: 800/1100 -> 920..980
    (915, None, 1100, "sit"), (985, None, 1100, "stand"),
    # a narrow sit-stand gap still gets +-10 mm of band: 800/900 -> 840..860
    (839, 800, 900, "sit"), (850, 800, 900, "between"), (861, 800, 900, "stand"),
])
def test_classify(height, sit, stand, expected) -> None:
    assert classify(height, sit, stand) == expected


def test_default_thresholds_are_a_650_1150_profile() -> None:
    assert Thresholds() == Thresholds(850.0, 950.0, "default")
    prof = Thresholds.for_profile(650, 1150)
    assert (prof.sit_below_mm, prof.stand_above_mm, prof.midpoint_mm) == (850.0, 950.0, 900.0)
    assert Thresholds.for_profile(None, None) == Thresholds()


@pytest.mark.parametrize("sit, stand, message", [
    (800, 820, "at least 50 mm above"),
    (1100, 700, "at least 50 mm above"),
    (float("nan"), 1100, "must be numbers"),
])
def test_implausible_profiles_are_refused(sit, stand, message) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds.for_profile(sit, stand)


@pytest.mark.parametrize("bad", [None, float("nan"), "high"])
def test_classify_refuses_a_missing_height(bad) -> None:
    with pytest.raises(ValueError, match="cannot classify"):
        classify(bad)


NOISE_AT_MIDPOINT = [900 + d for d in (-6, 5, -3, 7, -8, 2, 6, -5, 4, -7)] * 5
NOISE_AT_SIT_EDGE = [850 + d for d in (-4, 3, -2, 5, -5, 1)] * 5


@pytest.mark.parametrize("heights, sit, stand, changes, latched", [
    ([720, 722, 719], None, None, 0, ["sit"] * 3),
    ([720, 1100], None, None, 1, ["sit", "stand"]),
    ([720, 900, 1100, 905, 720], None, None, 2, ["sit", "sit", "stand", "stand", "sit"]),
    ([900, 905, 1100], None, None, 0, ["between", "between", "stand"]),   # no posture known before
    (NOISE_AT_MIDPOINT, None, None, 0, ["between"] * 50),
    (NOISE_AT_MIDPOINT, 700, 1100, 0, ["between"] * 50),
    ([720] + NOISE_AT_MIDPOINT + [722], 700, 1100, 0, ["sit"] * 52),     # parked mid-way: no change
    ([720] + NOISE_AT_SIT_EDGE, None, None, 0, ["sit"] * 31),            # noise at a band edge
    ([1100, 942, 938, 941, 939, 1100], 700, 1100, 0, ["stand"] * 6),     # noise at the stand edge
    ([720, 1100] * 5, 700, 1100, 9, ["sit", "stand"] * 5),
])
def test_hysteresis_counts_only_full_crossings(heights, sit, stand, changes, latched) -> None:
    assert posture_changes(heights, sit, stand) == changes
    assert postures(heights, sit, stand) == latched


def test_a_naive_midpoint_threshold_would_have_counted_the_noise() -> None:
    naive = sum(1 for a, b in itertools.pairwise(NOISE_AT_MIDPOINT) if (a < 900) != (b < 900))
    assert naive > 20
    assert posture_changes(NOISE_AT_MIDPOINT, 700, 1100) == 0


def test_latch_forgets_the_posture_on_unknown_but_keeps_the_count() -> None:
    latch = PostureLatch()
    assert [latch.update(h) for h in (720, 1100)] == [False, True]
    assert latch.see("unknown") is False and latch.posture is None
    assert latch.update(720) is False          # not seen changing: not counted
    assert latch.changes == 1


# --------------------------------------------------------------------------- segments


@pytest.mark.parametrize("rows, until, expected", [
    ([], 1000, []),
    ([(0, 720, "s")], 500, [(0, 500, 720)]),
    ([(0, 720, "s")], 900, [(0, 900, 720)]),                         # exactly max_gap: still known
    ([(0, 720, "s")], 2000, [(0, 2000, None)]),                      # daemon off since: unknown tail
    ([(0, 720, "s"), (600, 720, "hb"), (1200, 1100, "s")], 1500,
     [(0, 600, 720), (600, 1200, 720), (1200, 1500, 1100)]),         # heartbeats keep it known
    ([(0, 720, "s"), (3600, 720, "s")], 4000, [(0, 3600, None), (3600, 4000, 720)]),  # daemon off
    ([(0, 720, "s"), (901, 1100, "s")], 1000, [(0, 901, None), (901, 1000, 1100)]),
    ([(1200, 1100, "s"), (0, 720, "s"), (600, 720, "hb")], 1500,     # any order
     [(0, 600, 720), (600, 1200, 720), (1200, 1500, 1100)]),
    ([(0, 720, "s"), (100, 900, "s"), (100, 1100, "s")], 200,        # same instant: the later row wins
     [(0, 100, 720), (100, 200, 1100)]),
    ([(0, 720, "s"), (100, None, "fault"), (200, 1100, "s")], 300,   # no height: unknown
     [(0, 100, 720), (100, 200, None), (200, 300, 1100)]),
    ([(0, 720, "s"), (100, 1100, "s"), (200, 720, "s")], 150, [(0, 100, 720), (100, 150, 1100)]),
    ([(0, 720, "s"), (2000, 720, "s"), (2001, None, "x")], 3000,     # unknown stretches merge
     [(0, 2000, None), (2000, 2001, 720), (2001, 3000, None)]),
    ([(0, 720, "s"), (500, 720, "s")], 100, [(0, 100, 720)]),
    ([(5000, 720, "s")], 100, []),
])
def test_segments(rows, until, expected) -> None:
    got = segments(rows, until)
    assert got == [Segment(*e) for e in expected]
    for a, b in itertools.pairwise(got):
        assert a.t1 == b.t0                  # contiguous


def test_segments_accept_mappings_and_objects_and_a_gap_limit() -> None:
    class Row:
        def __init__(self, t, height_mm):
            self.t, self.height_mm, self.source = t, height_mm, "sensor"
    rows = [{"t": 0, "height_mm": 720, "source": "sensor"}, Row(1000, 1100)]
    assert segments(rows, 1100) == [Segment(0, 1000, None), Segment(1000, 1100, 1100)]
    assert segments(rows, 1100, max_gap_s=1200) == [Segment(0, 1000, 720), Segment(1000, 1100, 1100)]
    with pytest.raises(ValueError, match="max_gap_s"):
        segments(rows, 1100, max_gap_s=0)


def test_a_gap_is_unknown_whatever_window_it_is_cut_by() -> None:
    """A past day's numbers do not change with the end of the window asked for."""
    rows = [(0, 720, "s"), (3600, 720, "s")]
    assert segments(rows, 300) == [Segment(0, 300, None)]


# --------------------------------------------------------------------------- one day


ALICE_8_TO_17 = [(at("08:00"), "alice"), (at("17:00"), None)]


def test_a_simple_day_gives_the_exact_minutes() -> None:
    rows = plan(("09:00", SIT_MM), ("10:00", STAND_MM), ("10:30", SIT_MM), end="12:00")
    rep = one_day(rows, ALICE_8_TO_17, now=at("18:00"))
    day = day_of(rep)
    assert minutes(day) == {"sitting_min": 150.0, "standing_min": 30.0, "between_min": 0.0,
                            # 08:00-09:00 before the first row, 12:00-17:00 daemon silent since 12:00
                            "unknown_min": 360.0}
    assert day["posture_changes"] == 2
    assert day["longest_standing_block_min"] == 30.0
    assert day["date"] == "2024-06-10" and day["week"] == "2024-W24"
    assert day["day_min"] == 18 * 60.0
    nobody = day_of(rep, None)
    assert minutes(nobody) == {"sitting_min": 0.0, "standing_min": 0.0, "between_min": 0.0,
                               "unknown_min": 8 * 60.0 + 60.0}
    assert list(rep["users"]) == ["alice"]
    assert rep["tz"] == "Europe/Berlin" and rep["first_day"] == rep["last_day"] == "2024-06-10"
    assert rep["warnings"] == []


@pytest.mark.parametrize("steps, end, expected", [
    # (sit 9-10, stand 10-10:30, ...): minutes sitting, standing, between; posture changes; longest block
    ([("09:00", SIT_MM), ("10:00", STAND_MM), ("10:30", SIT_MM)], "11:00", (90, 30, 0, 2, 30)),
    ([("09:00", SIT_MM), ("09:20", STAND_MM), ("09:28", SIT_MM), ("09:48", STAND_MM), ("09:56", SIT_MM)],
     "10:00", (44, 16, 0, 4, 8)),                                        # Cornell 20-8-2-ish
    ([("09:00", STAND_MM), ("10:30", 1090), ("11:00", STAND_MM)], "11:30", (0, 150, 0, 0, 150)),  # fine-tune
    ([("09:00", SIT_MM), ("10:00", 900), ("10:15", SIT_MM)], "11:00", (105, 0, 15, 0, 0)),  # parked mid-way
    ([("09:00", STAND_MM), ("10:00", 900), ("10:15", STAND_MM)], "11:00", (0, 105, 15, 0, 60)),
    ([("09:00", 900)], "10:00", (0, 0, 60, 0, 0)),
])
def test_table_of_days(steps, end, expected) -> None:
    rows = plan(*steps, end=end)
    day = day_of(one_day(rows, ALICE_8_TO_17, now=at(end)))
    sit, stand, between, changes, longest = expected
    assert (day["sitting_min"], day["standing_min"], day["between_min"]) == (sit, stand, between)
    assert day["posture_changes"] == changes
    assert day["longest_standing_block_min"] == longest


def desk_move(t0: float, h0: float, h1: float, source: str, speed: float = 35.0):
    """Rows the log writes while the desk travels: one every 5 mm."""
    n = int(abs(h1 - h0) // 5)
    sign = 1 if h1 > h0 else -1
    return [(t0 + k * 5 / speed, h0 + sign * 5 * k, source) for k in range(n + 1)]


@pytest.mark.parametrize("source", ["keypad", "sensor", "api", "schedule"])
def test_keypad_moves_between_log_rows_count_like_any_other(source) -> None:
    """The desk's own keypad bypasses the daemon; the height log still sees the move."""
    rows = hold(at("09:00"), at("10:00"), SIT_MM)
    rows += desk_move(at("10:00"), SIT_MM, STAND_MM, source)             # ~10.9 s up
    rows += hold(at("10:00:11"), at("10:45"), STAND_MM)
    rows += desk_move(at("10:45"), STAND_MM, SIT_MM, source)             # ~10.9 s down
    rows += hold(at("10:45:11"), at("11:00"), SIT_MM) + [(at("11:00"), SIT_MM, "heartbeat")]
    day = day_of(one_day(rows, ALICE_8_TO_17, now=at("11:00")))
    assert day["posture_changes"] == 2
    # Rows every 5 mm at 35 mm/s. Up: sit until the 850 mm row (3.71 s), stand from the 955 mm
    # row (6.71 s). Down: stand until the 950 mm row (4.29 s), sit from the 845 mm row (7.29 s).
    sit_s = 3600 + 26 * 5 / 35 + 900 - 51 * 5 / 35
    stand_s = 2700 - 47 * 5 / 35 + 30 * 5 / 35
    between_s = (47 - 26) * 5 / 35 + (51 - 30) * 5 / 35
    assert (day["sitting_min"], day["standing_min"], day["between_min"]) == (
        round(sit_s / 60, 1), round(stand_s / 60, 1), round(between_s / 60, 1)) == (74.9, 45.0, 0.1)
    assert day["longest_standing_block_min"] == round(stand_s / 60, 1)


@pytest.mark.parametrize("pause_s, known", [
    (300, True),
    (600, True),             # heartbeats every 10 min: all known
    (900, True),             # 15 min: still within max_gap_s
    (901, False),            # a longer silence means the daemon was off: nothing counted
    (3 * 3600, False),
])
def test_heartbeat_gaps_vs_daemon_off_gaps(pause_s, known) -> None:
    rows = [(at("09:00") + k * pause_s, STAND_MM, "heartbeat") for k in range(4)]
    day = day_of(one_day(rows, [(at("09:00"), "alice")], now=rows[-1][0]))
    span = round(3 * pause_s / 60, 1)
    assert (day["standing_min"], day["unknown_min"]) == ((span, 0.0) if known else (0.0, span))
    assert day["longest_standing_block_min"] == (span if known else 0.0)


def test_daemon_off_over_lunch_is_unknown_and_no_change_is_inferred_across_it() -> None:
    rows = hold(at("09:00"), at("12:00"), SIT_MM) + [(at("12:00"), SIT_MM, "s")]
    rows += hold(at("13:30"), at("15:00"), STAND_MM) + [(at("15:00"), STAND_MM, "s")]
    day = day_of(one_day(rows, ALICE_8_TO_17, now=at("15:00")))
    assert (day["sitting_min"], day["standing_min"], day["unknown_min"]) == (180.0, 90.0, 60.0 + 90.0)
    assert day["posture_changes"] == 0       # nobody saw the desk go up


def test_noise_around_the_threshold_is_not_a_posture_change() -> None:
    rows = [(at("09:00") + 20 * i, h, "sensor") for i, h in enumerate(NOISE_AT_MIDPOINT)]
    rows.append((at("09:00") + 20 * len(rows), 900, "heartbeat"))
    for profiles in ({}, {"alice": {"sit_mm": 700, "stand_mm": 1100}}):
        day = day_of(one_day(rows, ALICE_8_TO_17, now=rows[-1][0], profiles=profiles))
        assert day["posture_changes"] == 0
        assert day["between_min"] == pytest.approx(len(NOISE_AT_MIDPOINT) * 20 / 60, abs=0.05)
        assert day["sitting_min"] == day["standing_min"] == 0.0


def test_user_switching_mid_day_attributes_time_and_changes_to_the_right_user() -> None:
    rows = plan(("09:00", SIT_MM), ("11:00", STAND_MM), ("12:30", SIT_MM), ("13:30", 1000),
                ("14:30", STAND_MM), end="15:00")
    active = [(at("09:00"), "alice"), (at("12:00"), "bob"), (at("14:00"), "alice"), (at("15:00"), None)]
    profiles = {"alice": None, "bob": {"sit_mm": 800, "stand_mm": 1200}}   # bob: 960..1040 is between
    rep = one_day(rows, active, now=at("15:00"), profiles=profiles)
    alice, bob = day_of(rep, "alice"), day_of(rep, "bob")
    # alice 09-12: sit 2 h, stand 1 h; 14-15: 1000 mm (stand by default) 30 min, then stand 30 min
    assert minutes(alice) == {"sitting_min": 120.0, "standing_min": 120.0, "between_min": 0.0,
                              "unknown_min": 0.0}
    assert alice["posture_changes"] == 1     # 11:00; at 14:00 she took over a standing desk
    assert alice["longest_standing_block_min"] == 60.0
    # bob 12-14: stand 30 min (taken over: no change), sit 60 min (a change), 1000 mm: between for him
    assert minutes(bob) == {"sitting_min": 60.0, "standing_min": 30.0, "between_min": 30.0,
                            "unknown_min": 0.0}
    assert bob["posture_changes"] == 1
    assert bob["longest_standing_block_min"] == 30.0
    assert rep["users"]["bob"]["thresholds"] == {"sit_below_mm": 960.0, "stand_above_mm": 1040.0,
                                                 "midpoint_mm": 1000.0, "source": "profile"}
    assert rep["users"]["alice"]["thresholds"]["source"] == "default"
    assert day_of(rep, None)["unknown_min"] == 9 * 60.0   # midnight to 09:00, nobody, no rows


def test_a_standing_block_is_broken_by_another_user() -> None:
    rows = plan(("09:00", STAND_MM), end="11:00")
    active = [(at("09:00"), "alice"), (at("09:40"), "bob"), (at("10:00"), "alice")]
    rep = one_day(rows, active, now=at("11:00"))
    assert day_of(rep, "alice")["standing_min"] == 100.0
    assert day_of(rep, "alice")["longest_standing_block_min"] == 60.0
    assert day_of(rep, "bob")["longest_standing_block_min"] == 20.0


# --------------------------------------------------------------------------- midnight and DST


def test_midnight_splits_a_standing_block_between_the_days_but_not_in_the_week() -> None:
    tue = MONDAY + timedelta(days=1)
    rows = hold(at("22:00"), at("23:30"), SIT_MM) + hold(at("23:30"), at("00:30", tue), STAND_MM)
    rows += hold(at("00:30", tue), at("01:00", tue), SIT_MM) + [(at("01:00", tue), SIT_MM, "s")]
    rep = daily(rows, [(at("22:00"), "alice")], {}, "Europe/Berlin", [MONDAY, tue], at("01:00", tue))
    mon_rec, tue_rec = rep["users"]["alice"]["days"]
    assert (mon_rec["sitting_min"], mon_rec["standing_min"]) == (90.0, 30.0)
    assert (tue_rec["sitting_min"], tue_rec["standing_min"]) == (30.0, 30.0)
    assert mon_rec["posture_changes"] == 1 and tue_rec["posture_changes"] == 1
    assert mon_rec["longest_standing_block_min"] == tue_rec["longest_standing_block_min"] == 30.0
    (week,) = rep["users"]["alice"]["weeks"]
    assert week["longest_standing_block_min"] == 60.0
    assert (week["standing_min"], week["posture_changes"]) == (60.0, 2)


@pytest.mark.parametrize("days, hours", [
    ((date(2024, 3, 30), date(2024, 3, 31), date(2024, 4, 1)), (4, 23, 1)),     # spring forward
    ((date(2024, 10, 26), date(2024, 10, 27), date(2024, 10, 28)), (4, 25, 1)),  # fall back
])
def test_days_split_at_local_midnight_across_dst(days, hours) -> None:
    first, _, last = days
    start, now = at("20:00", first), at("01:00", last)
    rows = hold(start, now, STAND_MM) + [(now, STAND_MM, "s")]
    rep = daily(rows, [(start, "alice")], {}, BERLIN, 3, now)
    recs = rep["users"]["alice"]["days"]
    assert [r["date"] for r in recs] == [d.isoformat() for d in days]
    assert [r["standing_min"] for r in recs] == [60.0 * h for h in hours]
    assert [r["day_min"] for r in recs] == [24 * 60.0, hours[1] * 60.0, 60.0]
    assert [r["unknown_min"] for r in rep["unassigned"]["days"]] == [20 * 60.0, 0.0, 0.0]
    assert [r["longest_standing_block_min"] for r in recs] == [60.0 * h for h in hours]
    weeks = rep["users"]["alice"]["weeks"]
    assert [w["days"] for w in weeks] == [2, 1]                      # Sat+Sun, then Monday
    assert weeks[0]["standing_min"] == 60.0 * (hours[0] + hours[1])
    assert weeks[0]["longest_standing_block_min"] == 60.0 * (hours[0] + hours[1])


@pytest.mark.parametrize("zone, day, hours", [
    ("Europe/Berlin", date(2024, 3, 31), 23), ("Europe/Berlin", date(2024, 10, 27), 25),
    ("Europe/Berlin", date(2024, 6, 10), 24),
    ("America/Santiago", date(2023, 9, 3), 23),     # midnight itself is skipped
    ("America/Havana", date(2023, 11, 5), 25),      # midnight happens twice
])
def test_day_start_is_the_first_instant_of_the_local_day(zone, day, hours) -> None:
    t0, t1 = day_start(day, zone), day_start(day + timedelta(days=1), zone)
    assert t1 - t0 == hours * 3600
    assert local_date(t0, zone) == day and local_date(t0 - 1e-3, zone) == day - timedelta(days=1)
    assert local_date(t1 - 1e-3, zone) == day


# --------------------------------------------------------------------------- reminders and goals


def test_reminder_tallies() -> None:
    rows = plan(("09:00", SIT_MM), end="12:00")
    active = [(at("09:00"), "alice"), (at("11:00"), "bob"), (at("12:00"), None)]
    events = [
        (at("09:30"), "alice", "shown"), (at("09:30:05"), "alice", "snoozed"),
        (at("09:35:05"), "alice", "shown"), (at("09:35:30"), "alice", "acknowledged"),
        (at("10:00"), None, "shown"),                 # no user named: whoever was active (alice)
        {"t": at("10:00:10"), "user": None, "event": "confirmed"},
        {"t": at("10:30"), "user": "alice", "kind": "shown"}, {"t": at("10:31"), "user": "alice", "kind": "skipped"},
        (at("11:30"), None, "shown"), (at("11:40"), "bob", "expired"),
        (at("11:45"), "bob", "moved"),                # a kind this module does not know: tallied as is
        (at("13:00"), "alice", "shown"),              # after now: ignored
        (at("09:00", MONDAY - timedelta(days=1)), "alice", "shown"),   # another day: ignored
    ]
    rep = one_day(rows, active, now=at("12:00"), reminders=events)
    assert day_of(rep, "alice")["reminders"] == {"shown": 4, "acknowledged": 1, "snoozed": 1, "skipped": 1,
                                                 "confirmed": 1, "expired": 0}
    assert day_of(rep, "bob")["reminders"] == {"shown": 1, "acknowledged": 0, "snoozed": 0, "skipped": 0,
                                               "confirmed": 0, "expired": 1, "moved": 1}
    assert tuple(day_of(rep, None)["reminders"]) == REMINDER_KINDS
    (week,) = rep["users"]["alice"]["weeks"]
    assert week["reminders"]["shown"] == 4


def test_reminder_records_count_as_shown_plus_their_outcome() -> None:
    """The store keeps one record per reminder: shown_at, user, kind (stand/sit/...), outcome."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Record:
        id: int
        user: str | None
        kind: str
        shown_at: float
        outcome: str | None
        outcome_at: float | None
        stretch_id: str | None = None

    rows = plan(("09:00", SIT_MM), end="12:00")
    records = [Record(1, "alice", "stand", at("09:30"), "snoozed", at("09:30:05")),
               Record(2, "alice", "stand", at("09:35"), "acknowledged", at("09:36")),
               Record(3, None, "stretch", at("10:00"), None, None),          # still open; whoever was active
               {"id": 4, "user": "alice", "kind": "move", "shown_at": at("11:00"), "outcome": "expired"},
               Record(5, "alice", "stand", at("23:59:59", MONDAY - timedelta(days=1)), "skipped",
                      at("00:00:30"))]                                   # shown yesterday: not today's
    rep = one_day(rows, ALICE_8_TO_17, now=at("12:00"), reminders=records)
    assert day_of(rep)["reminders"] == {"shown": 4, "acknowledged": 1, "snoozed": 1, "skipped": 0,
                                        "confirmed": 0, "expired": 1}


def test_reminders_alone_put_a_user_in_the_report() -> None:
    rep = one_day([], [], now=at("12:00"), reminders=[(at("10:00"), "carol", "shown")])
    assert list(rep["users"]) == ["carol"]
    assert day_of(rep, "carol")["reminders"]["shown"] == 1
    assert day_of(rep, "carol")["unknown_min"] == 0.0
    assert day_of(rep, None)["unknown_min"] == 12 * 60.0


WEEK = [MONDAY + timedelta(days=k) for k in range(7)]


def week_of_standing(stand_min_per_day):
    """alice 09:00-17:00 every day; stands the given minutes from 09:00, then sits."""
    rows, active = [], []
    for d, m in zip(WEEK, stand_min_per_day, strict=False):    # a short list leaves the rest of the week empty
        t9 = at("09:00", d)
        active += [(t9, "alice"), (at("17:00", d), None)]
        if m:
            rows += hold(t9, t9 + 60 * m, STAND_MM)
        rows += hold(t9 + 60 * m, at("17:00", d), SIT_MM) + [(at("17:00", d), SIT_MM, "s")]
    return rows, active


@pytest.mark.parametrize("goals, day_goals, day_progress, week_goal, week_progress", [
    (None, [None] * 7, [None] * 7, None, None),
    ({"alice": 120}, [120.0] * 7, [0.5, 1.0, 0.25, 0.0, 1.5, None, None], 840.0, 0.464),
    ({"alice": {MONDAY: 60, "2024-06-11": 240}}, [60.0, 240.0] + [None] * 5,
     [1.0, 0.5] + [None] * 5, 300.0, 1.3),    # a week's standing against its goals
    ({"alice": lambda d: 120 if d.weekday() < 5 else 0}, [120.0] * 5 + [None] * 2,
     [0.5, 1.0, 0.25, 0.0, 1.5, None, None], 600.0, 0.65),
    (lambda user, d: 90 + 30 * d.weekday(), [90.0 + 30 * k for k in range(7)],
     [0.667, 1.0, 0.2, 0.0, 0.857, None, None], 1260.0, 0.31),
])
def test_goal_progress(goals, day_goals, day_progress, week_goal, week_progress) -> None:
    standing = [60, 120, 30, 0, 180, None, None]          # nothing logged at the weekend
    rows, active = week_of_standing([m for m in standing if m is not None])
    now = at("23:00", WEEK[-1])
    rep = daily(rows, active, {}, BERLIN, WEEK, now, goals=goals)
    recs = rep["users"]["alice"]["days"]
    assert [r["standing_goal_min"] for r in recs] == day_goals
    got = [r["goal_progress"] for r in recs]
    assert got[:5] == day_progress[:5]
    # weekend: a goal but no standing gives 0.0, no goal gives None
    assert got[5:] == [None if g is None else 0.0 for g in day_goals[5:]]
    (week,) = rep["users"]["alice"]["weeks"]
    assert week["standing_goal_min"] == week_goal
    assert week["goal_progress"] == week_progress


def test_week_totals_and_averages_per_working_day() -> None:
    rows, active = week_of_standing([60, 120, 30, 0, 180])
    rep = daily(rows, active, {}, BERLIN, WEEK, at("23:00", WEEK[-1]))
    (week,) = rep["users"]["alice"]["weeks"]
    assert (week["week"], week["first_day"], week["last_day"]) == ("2024-W24", "2024-06-10", "2024-06-16")
    assert (week["days"], week["working_days"]) == (7, 5)
    assert week["standing_min"] == 390.0
    assert week["sitting_min"] == 5 * 480.0 - 390.0
    assert week["posture_changes"] == 4                   # Thursday was all sitting
    assert week["longest_standing_block_min"] == 180.0
    assert week["per_working_day"] == {"sitting_min": 402.0, "standing_min": 78.0, "between_min": 0.0,
                                       "posture_changes": 0.8}
    assert rep["unassigned"]["weeks"][0]["working_days"] == 0
    assert rep["unassigned"]["weeks"][0]["per_working_day"]["standing_min"] is None


def test_days_as_a_count_end_today_and_future_days_are_empty() -> None:
    rows = plan(("09:00", SIT_MM), end="10:00")
    rep = daily(rows, ALICE_8_TO_17, {}, BERLIN, 3, at("10:00"))
    assert [d["date"] for d in rep["users"]["alice"]["days"]] == ["2024-06-08", "2024-06-09", "2024-06-10"]
    tomorrow = MONDAY + timedelta(days=1)
    rep = daily(rows, ALICE_8_TO_17, {}, BERLIN, [MONDAY, tomorrow.isoformat()], at("10:00"))
    days = rep["users"]["alice"]["days"]
    assert days[1]["date"] == "2024-06-11" and days[1]["day_min"] == 0.0 and days[1]["sitting_min"] == 0.0


def test_only_the_users_asked_for_and_profiles_without_time() -> None:
    rows = plan(("09:00", SIT_MM), end="10:00")
    rep = one_day(rows, ALICE_8_TO_17, now=at("10:00"), profiles={"dora": (650, 1050)})
    assert list(rep["users"]) == ["alice", "dora"]
    assert day_of(rep, "dora")["sitting_min"] == 0.0
    rep = one_day(rows, ALICE_8_TO_17, now=at("10:00"), users=["zoe"])
    assert list(rep["users"]) == ["zoe"]


@pytest.mark.parametrize("profile, source", [
    (None, "default"),
    ((700, 1100), "profile"),
    ({"sit_mm": 700, "stand_mm": 1100}, "profile"),
    ({"seated_mm": 700, "standing_mm": 1100, "stature_cm": 175}, "profile"),      # a store user row
    (SimpleNamespace(seated_mm=700.0, standing_mm=1100.0, stature_cm=None), "profile"),  # store User
    (SimpleNamespace(sit_mm=700, stand_mm=1100, notes=[]), "profile"),           # a Recommendation
    (SimpleNamespace(seated_mm=800.0, standing_mm=None), "profile"),             # standing = +300 mm
    (SimpleNamespace(seated_mm=None, standing_mm=None, stature_cm=180), "default"),
])
def test_profile_shapes(profile, source) -> None:
    rows = plan(("09:00", 900), end="10:00")
    rep = one_day(rows, ALICE_8_TO_17, now=at("10:00"), profiles={"alice": profile})
    th = rep["users"]["alice"]["thresholds"]
    assert th["source"] == source
    if source == "profile":
        assert th["midpoint_mm"] in (900.0, 950.0)
    assert rep["warnings"] == []


def test_a_bad_profile_falls_back_to_the_defaults_with_a_warning() -> None:
    rows = plan(("09:00", 900), end="10:00")
    rep = one_day(rows, ALICE_8_TO_17, now=at("10:00"), profiles={"alice": {"sit_mm": 900, "stand_mm": 910}})
    assert rep["users"]["alice"]["thresholds"]["source"] == "default"
    assert day_of(rep)["between_min"] == 60.0
    assert len(rep["warnings"]) == 1 and "alice" in rep["warnings"][0] and "50 mm" in rep["warnings"][0]


@pytest.mark.parametrize("kwargs, message", [
    ({"tz": "Mars/Olympus"}, "unknown time zone"),
    ({"days": 0}, "at least 1"),
    ({"days": ["yesterday"]}, "not a date"),
    ({"days": []}, "no days"),
    ({"now": float("nan")}, "now"),
    ({"max_gap_s": -1}, "max_gap_s"),
    ({"goals": {"alice": "lots"}}, "not a number"),
    ({"goals": {"alice": -5}}, "negative"),
])
def test_bad_arguments_are_refused(kwargs, message) -> None:
    args = {"rows": plan(("09:00", SIT_MM), end="10:00"), "active_users": ALICE_8_TO_17, "profiles": {},
            "tz": BERLIN, "days": 1, "now": at("10:00")} | kwargs
    with pytest.raises(ValueError, match=message):
        daily(**args)


def test_the_report_is_plain_json() -> None:
    rows, active = week_of_standing([60, 120, 30, 0, 180])
    rep = daily(rows, active, {"alice": {"sit_mm": 700, "stand_mm": 1100}}, "Europe/Berlin", WEEK,
                at("23:00", WEEK[-1]), reminders=[(at("10:00"), "alice", "shown")], goals={"alice": 120})
    assert json.loads(json.dumps(rep, allow_nan=False)) == rep


def test_rows_before_the_first_day_tell_the_posture_at_midnight() -> None:
    """The count of a day does not depend on how many days are asked for."""
    tue = MONDAY + timedelta(days=1)
    rows = hold(at("20:00"), at("22:00"), SIT_MM) + hold(at("22:00"), at("09:00", tue), 900)
    rows += hold(at("09:00", tue), at("10:00", tue), STAND_MM) + [(at("10:00", tue), STAND_MM, "s")]
    active = [(at("20:00"), "alice")]
    both = daily(rows, active, {}, BERLIN, [MONDAY, tue], at("10:00", tue))
    alone = daily(rows, active, {}, BERLIN, [tue], at("10:00", tue))
    assert both["users"]["alice"]["days"][1] == alone["users"]["alice"]["days"][0]
    assert alone["users"]["alice"]["days"][0]["posture_changes"] == 1


# --------------------------------------------------------------------------- property


BASE_DAYS = [date(2024, 3, 30), date(2024, 6, 10), date(2024, 10, 26)]
HEIGHTS = st.one_of(st.none(), st.floats(600, 1300), st.sampled_from([720.0, 900.0, 1100.0, 850.0, 950.0]))


@settings(max_examples=60, deadline=None)
@given(
    base=st.sampled_from(BASE_DAYS),
    rows=st.lists(st.tuples(st.floats(-6 * 3600, 4 * 86400), HEIGHTS), max_size=60),
    active=st.lists(st.tuples(st.floats(-6 * 3600, 4 * 86400), st.sampled_from(["a", "b", None])), max_size=8),
    now_offset=st.floats(-3600, 4 * 86400),
    max_gap_s=st.sampled_from([900.0, 3600.0, 86400.0]),
)
def test_minutes_of_every_day_add_up_to_the_span_covered(base, rows, active, now_offset, max_gap_s) -> None:
    t_base = day_start(base, BERLIN)
    log = [(t_base + dt, h, "sensor") for dt, h in rows]
    who = [(t_base + dt, u) for dt, u in active]
    now = t_base + now_offset
    days = [base + timedelta(days=k) for k in range(3)]
    rep = daily(log, who, {"a": (700, 1100)}, BERLIN, days, now, max_gap_s=max_gap_s)
    buckets = list(rep["users"].values()) + [rep["unassigned"]]
    for i, d in enumerate(days):
        d0, d1 = day_start(d, BERLIN), day_start(d + timedelta(days=1), BERLIN)
        span_min = max(0.0, min(d1, now) - d0) / 60
        recs = [b["days"][i] for b in buckets]
        assert all(r["day_min"] == round(span_min, 1) for r in recs)
        total = sum(sum(minutes(r).values()) for r in recs)
        assert total == pytest.approx(span_min, abs=0.05 * 4 * len(recs) + 1e-6)
        for r in recs:
            assert min(minutes(r).values()) >= 0
            assert r["longest_standing_block_min"] <= r["standing_min"] + 0.1
            assert 0 <= r["posture_changes"] <= len(log)
    for b in buckets:
        for w in b["weeks"]:
            assert w["longest_standing_block_min"] <= w["standing_min"] + 0.1
            wd = [r for r in b["days"] if r["week"] == w["week"]]
            assert w["posture_changes"] == sum(r["posture_changes"] for r in wd)
            assert w["standing_min"] == pytest.approx(sum(r["standing_min"] for r in wd), abs=0.05 * len(wd) + 1e-6)


def reference_by_minute(log, who, profiles, days, now, max_gap_s):
    """Brute force, one whole minute at a time (every input time is a whole minute)."""
    log = sorted(log, key=lambda r: r[0])
    who = sorted(who, key=lambda w: w[0])
    d_first, d_end = day_start(days[0], BERLIN), day_start(days[-1] + timedelta(days=1), BERLIN)
    win_end = max(d_first, min(d_end, now))
    start = min([d_first] + [r[0] for r in log if r[0] < win_end])
    out, latch, prev_user, run = {}, None, object(), {}
    m = start
    while m < win_end:
        before = [r for r in log if r[0] <= m]
        after = [r for r in log if r[0] > m]
        h = None
        if before:
            t_i, h = before[-1][0], before[-1][1]
            t_next = after[0][0] if after else win_end
            if t_next - t_i > max_gap_s:
                h = None
        users = [u for t, u in who if t <= m]
        user = users[-1] if users else None
        th = Thresholds.for_profile(*profiles[user]) if user in profiles else Thresholds()
        cls = "unknown" if h is None else th.classify(h)
        if user != prev_user or cls == "unknown":
            latch, prev_user = None, user
        change = 0
        if cls in ("sit", "stand"):
            change = int(latch is not None and latch != cls)
            latch = cls
        if m >= d_first:
            d = local_date(m, BERLIN)
            rec = out.setdefault((user, d), {"sit": 0, "stand": 0, "between": 0, "unknown": 0,
                                             "changes": 0, "longest": 0})
            rec[cls] += 1
            rec["changes"] += change
            key = (user, d)
            run[key] = run.get(key, 0) + 1 if cls == "stand" and run.get("last") == (user, m - 60) else (
                1 if cls == "stand" else 0)
            run["last"] = (user, m) if cls == "stand" else None
            rec["longest"] = max(rec["longest"], run[key])
        m += 60
    return out


@settings(max_examples=25, deadline=None)
@given(
    base=st.sampled_from(BASE_DAYS),
    rows=st.lists(st.tuples(st.integers(-300, 3 * 1440 + 300),
                            st.sampled_from([None, 700.0, 855.0, 900.0, 945.0, 1000.0, 1100.0])), max_size=25),
    active=st.lists(st.tuples(st.integers(-300, 3 * 1440), st.sampled_from(["a", "b", None])), max_size=6),
    now_offset=st.integers(0, 3 * 1440 + 120),
    max_gap_min=st.sampled_from([15, 120, 100000]),
)
def test_daily_matches_a_minute_by_minute_brute_force(base, rows, active, now_offset, max_gap_min) -> None:
    t_base = day_start(base, BERLIN)
    log = [(t_base + 60 * m, h, "sensor") for m, h in rows]
    who = [(t_base + 60 * m, u) for m, u in active]
    now = t_base + 60 * now_offset
    days = [base + timedelta(days=k) for k in range(3)]
    profiles = {"a": (700.0, 1100.0)}
    rep = daily(log, who, profiles, BERLIN, days, now, max_gap_s=60 * max_gap_min)
    ref = reference_by_minute(log, who, profiles, days, now, 60 * max_gap_min)
    for user, bucket in list(rep["users"].items()) + [(None, rep["unassigned"])]:
        for d, rec in zip(days, bucket["days"], strict=True):
            exp = ref.get((user, d), {"sit": 0, "stand": 0, "between": 0, "unknown": 0, "changes": 0,
                                      "longest": 0})
            assert (rec["sitting_min"], rec["standing_min"], rec["between_min"], rec["unknown_min"]) == (
                exp["sit"], exp["stand"], exp["between"], exp["unknown"]), (user, d)
            assert rec["posture_changes"] == exp["changes"], (user, d)
            assert rec["longest_standing_block_min"] == exp["longest"], (user, d)


def test_people_of_one_goal_group_not_at_the_desk_share_their_days() -> None:
    """goal_groups: those never at the desk in the days asked for get the same figures, made once."""
    friday = MONDAY + timedelta(days=4)
    rows = [(at("08:50", d), SIT_MM, "s") for d in (MONDAY, friday)]
    rows += [(at("09:30", d), STAND_MM, "s") for d in (MONDAY, friday)]
    rows += [(at("10:00", d), SIT_MM, "s") for d in (MONDAY, friday)]
    timeline = [(at("09:00"), "ada"), (at("12:00"), None), (at("09:00", friday), "bo"), (at("12:00", friday), None)]
    profiles = {n: (SIT_MM, STAND_MM) for n in ("ada", "bo", "cy", "dee", "eve")}
    groups = {"ada": 1, "bo": 1, "cy": 1, "dee": 1, "eve": 2}

    def goals(user, d):
        return 30.0 if user != "eve" else 45.0 if d.weekday() < 5 else None

    now = at("15:00", friday + timedelta(days=3))
    plain = daily(rows, timeline, profiles, BERLIN, 10, now, goals=goals)
    grouped = daily(rows, timeline, profiles, BERLIN, 10, now, goals=goals, goal_groups=groups)
    assert json.dumps(grouped) == json.dumps(plain)
    users = grouped["users"]
    assert users["cy"]["days"] == users["dee"]["days"] and users["cy"]["days"] is not users["dee"]["days"]
    assert all(a is b for a, b in zip(users["cy"]["days"], users["dee"]["days"], strict=True))
    assert users["ada"]["days"] != users["cy"]["days"] != users["eve"]["days"]
