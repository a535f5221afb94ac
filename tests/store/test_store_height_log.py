"""The height log: its policy, posture edges, bulk logging, retention and size."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from deskpi.store import HEARTBEAT_S, HeightSample, Store, StoreError, posture_edges_for, should_log_height

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


# ------------------------------------------------------------------------------------- height log

@pytest.mark.parametrize(("last", "t", "h", "expected", "why"), [
    (None, T0, 700, True, "first sample"),
    ((T0, 700), T0 + 5, 704, False, "4 mm is noise"),
    ((T0, 700), T0 + 5, 705, True, "5 mm is a change"),
    ((T0, 700), T0 + 5, 695, True, "down too"),
    ((T0, 848), T0 + 5, 852, True, "4 mm, but from sitting into the between band (850)"),
    ((T0, 951), T0 + 5, 948, True, "from standing into the between band (950)"),
    ((T0, 898), T0 + 5, 902, False, "4 mm within the between band"),
    ((T0, 700), T0 + 5, None, True, "the height became unknown"),
    ((T0, None), T0 + 5, 700, True, "and known again"),
    ((T0, None), T0 + 5000, None, False, "unknown holds: no heartbeat"),
    ((T0, 700), T0 + 0.5, None, False, "unknown, but held back a second like any change"),
    ((T0, 700), T0 + 0.5, 740, False, "moving: at most one change row a second"),
    ((T0, 700), T0 + 1.0, 740, True, "a second later"),
    ((T0, 700), T0 + HEARTBEAT_S - 1, 702, False, "unchanged, before the heartbeat"),
    ((T0, 700), T0 + HEARTBEAT_S, 702, True, "heartbeat"),
    ((T0, 700), T0 - 3600, 700, True, "the clock stepped back: re-anchor"),
])
def test_height_log_policy(last, t, h, expected, why) -> None:
    assert should_log_height(last, t, h, edges_mm=(850, 950)) is expected, why


def test_log_height_writes_changes_and_heartbeats_only(store: Store) -> None:
    assert store.posture_edges_mm == (850, 950)
    written = [store.log_height(T0 + i, 700 + (i % 3), "sensor") for i in range(1200)]   # 20 min at rest, noisy
    assert sum(written) == 2 and written[0] and written[600]            # first row + one heartbeat
    assert store.log_height(T0 + 1200, 760.4)                           # a change
    assert not store.log_height(T0 + 1200.5, 790)                       # held back (moving)
    assert store.log_height(T0 + 1201, 820)
    rows = store.heights_between(T0, T0 + 2000)
    assert rows == [HeightSample(T0, 700.0, "sensor"), HeightSample(T0 + 600, 700.0, "sensor"),
                    HeightSample(T0 + 1200, 760.0, "sensor"), HeightSample(T0 + 1201, 820.0, "sensor")]
    assert store.heights_between(T0 + 1, T0 + 1200) == [rows[1]]
    assert store.heights_between(T0 + 1, T0 + 1200, include_previous=True) == rows[:2]


def test_a_held_back_change_is_written_on_flush_and_close(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        s.log_height(T0, 700)
        assert not s.log_height(T0 + 0.3, 720)              # the desk stopped right there; nothing follows
        assert not s.log_height(T0 + 0.4, 721)              # (still pending; 721 replaces 720)
    with Store.open(path) as s:
        assert [r.height_mm for r in s.heights_between(0, T0 + 10)] == [700, 721]
        assert not s.flush_heights()
        s.log_height(T0 + 1, 721)
        assert not s.log_height(T0 + 1.2, 730)              # pending...
        assert not s.log_height(T0 + 1.4, 722)              # ...but the desk came back: nothing to flush
        assert not s.flush_heights()


def test_the_last_logged_height_is_recovered_at_open(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        assert s.last_logged_height is None
        assert s.log_height(T0, 1100)
    with Store.open(path) as s:
        assert s.last_logged_height == (T0, 1100.0)
        assert not s.log_height(T0 + 60, 1102)              # same height as before the restart: no row
        assert s.log_height(T0 + HEARTBEAT_S, 1102)


def test_posture_edges_follow_the_active_user(store: Store) -> None:
    assert posture_edges_for(700, 1100) == (860, 940)                   # midpoint 900 +- 10 % of the 400 mm gap
    assert posture_edges_for(700, None) == posture_edges_for(700, 1000)  # standing unknown: seated + 300 mm
    assert posture_edges_for(None, None) == (850, 950)
    assert posture_edges_for(800, 850) == (815, 835)                     # at least +- 10 mm
    store.add_user("Ann", seated_mm=700, standing_mm=1100)
    assert store.posture_edges_mm == (850, 950)
    store.set_active_user("Ann")
    assert store.posture_edges_mm == (860, 940)
    store.update_user("Ann", seated_mm=640, standing_mm=1060)
    assert store.posture_edges_mm == (808, 892)
    store.log_height(T0, 806)
    assert store.log_height(T0 + 5, 809)                    # 3 mm, but across Ann's edge
    store.posture_edges_mm = [1000, 900]                    # explicit beats derived
    assert store.posture_edges_mm == (900, 1000)
    store.posture_edges_mm = None
    store.remove_user("Ann")
    assert store.posture_edges_mm == (850, 950)
    for bad in (5, [5], [], [900] * 5, ["900"], [True]):
        with pytest.raises(StoreError, match="posture_edges_mm = "):
            store.posture_edges_mm = bad


def test_unknown_heights_are_logged_as_transitions(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        assert s.log_height(T0, 700)
        assert s.log_height(T0 + 10, None)                  # the sensor went stale
        assert not s.log_height(T0 + 11, None)
        assert not s.log_height(T0 + 10 + 2 * HEARTBEAT_S, None)
    with Store.open(path) as s:
        assert s.last_logged_height == (T0 + 10, None)      # recovered as unknown
        assert s.log_height(T0 + 5000, 701)
        assert [r.height_mm for r in s.heights_between(0, T0 + 6000)] == [700, None, 701]


def test_bulk_logging_applies_the_same_policy_and_validates_everything_first(tmp_path: Path) -> None:
    rng = random.Random(4)
    samples, h, t = [], 700.0, T0
    for _ in range(3000):
        t += rng.choice([0.07, 0.5, 2, 30, 200])
        h = min(1250.0, max(620.0, h + rng.choice([0, 0, 0, 1, -1, 3, 40, -40])))
        samples.append((t, h, "sensor"))
    with Store.open(tmp_path / "one.db") as a, Store.open(tmp_path / "bulk.db") as b:
        single = sum(a.log_height(*s) for s in samples)
        assert b.log_heights(samples[:1000]) + b.log_heights(samples[1000:]) == single
        assert a.heights_between(0, t + 1) == b.heights_between(0, t + 1)
        with pytest.raises(StoreError, match="height_mm = -3"):
            b.log_heights([(t + 1, 700, "sensor"), (t + 2, -3, "sensor")])
        with pytest.raises(StoreError, match="source = 'Sensor!'"):
            b.log_height(t + 3, 700, "Sensor!")
        with pytest.raises(StoreError, match="t = nan"):
            b.log_height(float("nan"), 700)
        assert b.heights_between(0, t + 10) == a.heights_between(0, t + 1)
        assert b.last_logged_height == a.last_logged_height


def test_purge_deletes_rows_older_than_the_retention(store: Store) -> None:
    day = 86400.0
    store.add_user("Ann")
    for d in range(0, 500, 10):
        store.log_height(T0 + d * day, 700 + (d % 20) * 10)
        store.append_audit("cli", "move", t=T0 + d * day)
        store.record_reminder("Ann", "stand", T0 + d * day)
    now = T0 + 500 * day
    counts = store.purge(now)                               # default 400 days
    assert counts == {"height_log": 10, "reminders": 10, "audit": 10}
    assert min(r.t for r in store.heights_between(0, now)) == T0 + 100 * day
    assert len(store.list_audit(limit=1000)) == 40 and len(store.list_reminders()) == 40
    assert store.purge(now) == {"height_log": 0, "reminders": 0, "audit": 0}
    assert store.purge(now, retention_days=30)["height_log"] == 37
    with pytest.raises(StoreError, match="retention_days = 0"):
        store.purge(now, retention_days=0)
    assert store.integrity_check() == "ok"


def test_a_year_of_use_fits_in_a_few_megabytes(tmp_path: Path) -> None:
    """250 working days x ~30 moves sampled at 15 Hz, the desk at rest between them, the daemon running 24/7."""
    rng = random.Random(2024)
    start = 1_704_067_200.0                                 # 2024-01-01 00:00 UTC, a Monday
    sit, stand = 690.0, 1090.0

    def rest(t0: float, t1: float, h: float):               # estimator output at rest: one a minute will do
        t = t0
        while t < t1:
            yield (t, h + rng.gauss(0, 1.0), "sensor")
            t += 60.0

    def move(t: float, a: float, b: float):                 # 35 mm/s, 15 Hz
        n = max(1, int(abs(b - a) / 35.0 * 15))
        for i in range(1, n + 1):
            yield (t + i / 15, a + (b - a) * i / n, "sensor")

    path = tmp_path / "deskpi.db"
    working_days = 0
    with Store.open(path) as s:
        h = sit
        for day in range(366):
            d0 = start + day * 86400
            samples = []
            if day % 7 < 5 and working_days < 250:
                working_days += 1
                t = d0
                for k in range(30):                              # 09:00-18:00, ~18 min apart
                    nxt = d0 + 9 * 3600 + k * 1080 + rng.uniform(-120, 120)
                    samples += rest(t, nxt, h)
                    target = (stand if h < 900 else sit) + rng.uniform(-15, 15)
                    samples += move(nxt, h, target)
                    t, h = nxt + abs(target - h) / 35 + 1, target
                samples += rest(t, d0 + 86400, h)
            else:
                samples += rest(d0, d0 + 86400, h)
            s.log_heights(samples)
        rows = s.db.conn.execute("SELECT COUNT(*) FROM height_log").fetchone()[0]
        s.purge(start + 366 * 86400)
    size = path.stat().st_size
    assert working_days == 250
    assert rows < 250 * 30 * 15 + 366 * 150, rows           # ~a dozen rows a move, a heartbeat every 10 min
    assert size < 20 * 1024 * 1024, f"{size / 1e6:.1f} MB for {rows} rows"
    print(f"a year: {rows} rows, {size / 1e6:.2f} MB")
