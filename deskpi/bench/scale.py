"""`deskpi bench scale`: a hot desk shared by many people, with a month and with a year of data.

The history is made by the day simulator and stored through the store's own API
(deskpi/bench/scale_data.py); the month is the last days of the same history, so both sizes
hold the same people and the same recent weeks. For each size:

- the database: its size and rows, and upgrading it from the oldest schema the migrations
  support (version 1, filled with the same rows) by opening it with this code;
- against a real `deskpi sim` on that data directory (deskpi/bench/soak_sim.py):
  `GET /api/v1/stats` for one person and for the whole desk (`/api/v1/stats/desk`), the 28 days the
  statistics page asks, one request at a time; a few over the whole history (everyone's: at
  most the quarter the API allows); `GET /api/v1/state`
  under live streams while the desk moves (`api_under_load` of deskpi/bench/web.py); the
  daemon's resident memory (now and its peak); `deskpi stats --json` and `deskpi backup` as
  subprocesses while the daemon runs.

Each figure's growth from the month to the year is its ratio, against the ratio of the
height-log rows: flat (under 1.5x), linear (at most 1.5x the data's ratio) or worse.
"""
from __future__ import annotations

import datetime as dt
import http.client
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from deskpi.bench.latency import cpu_seconds
from deskpi.bench.scale_data import simulate_days, write_day
from deskpi.bench.soak_sim import ADMIN, SoakSim
from deskpi.bench.web import SimServer, api_under_load, percentile
from deskpi.webapp.api_people import DESK_STATS_DAYS

TARGETS = {"stats_p99_ms": 150.0, "state_p99_ms": 25.0, "rss_mb": 80.0, "backup_s": 5.0}
PAGE_DAYS = 28                     # the largest window the statistics page asks for
FLAT, LINEAR_SLACK = 1.5, 1.5


class _Sim:
    """What `api_under_load` needs of a server (SimServer's own request and state) for a SoakSim."""

    request = SimServer.request
    state = SimServer.state

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> tuple[int, float, int]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, (time.perf_counter() - t0) * 1000, len(body)


def _latency(port: int, token: str, paths: list[str], *, pid: int, tail: bool = True) -> dict:
    """Wall time of each request, one at a time, and the daemon's CPU time per request meanwhile
    (its own work, whatever else the machine runs; its other threads are counted in too)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    lat, errors, size = [], 0, 0
    cpu0 = cpu_seconds(pid)
    try:
        for p in paths:
            status, ms, n = _get(conn, p, token)
            if status == 200:
                lat.append(ms)
                size = n
            else:
                errors += 1
    finally:
        conn.close()
    cpu_ms = round((cpu_seconds(pid) - cpu0) * 1000 / max(1, len(paths)), 1)
    return {"requests": len(lat), "errors": errors, "daemon_cpu_ms_per_request": cpu_ms,
            "p50_ms": percentile(lat, 0.5), **({"p99_ms": percentile(lat, 0.99)} if tail else {}),
            "max_ms": percentile(lat, 1.0), "response_bytes": size}


def _cli_times(data: Path, args: list[str], runs: int) -> dict:
    times, failed = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(data), *args], text=True,
                             capture_output=True, timeout=300, check=False)
        times.append(time.perf_counter() - t0)
        if out.returncode != 0:
            failed = f"exit {out.returncode}: {out.stderr.strip()[-200:]}"
    return {"runs": runs, "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
            **({"error": failed} if failed else {})}


def _proc_memory(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024, 1)}


def _db_figures(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("height_log", "reminders", "audit", "active_user_log", "users")}
    finally:
        conn.close()
    size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    return {"bytes": size, "mb": round(size / 2**20, 2), "rows": rows}


def _as_version_1(src: Path, dest: Path) -> None:
    """A database at schema version 1 holding every row of `src` that version 1 has a place for."""
    from sqlite_utils import Database

    from deskpi.store.migrations import migrate

    conn = sqlite3.connect(dest)
    try:
        migrate(Database(conn), target=1)
        conn.execute("ATTACH DATABASE ? AS src", [str(src)])
        tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' "
                                             "AND name != 'schema_version'")]
        for t in tables:
            cols = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({t})"))
            conn.execute(f"INSERT INTO main.{t} ({cols}) SELECT {cols} FROM src.{t}")
        conn.commit()
        conn.execute("DETACH DATABASE src")
    finally:
        conn.close()


def _upgrade(db: Path, work: Path, runs: int) -> dict:
    from deskpi.store import Store

    old = work / "v1.db"
    _as_version_1(db, old)
    times = []
    for i in range(runs):
        copy = work / f"upgrade-{i}.db"
        shutil.copyfile(old, copy)
        t0 = time.perf_counter()
        with Store.open(copy) as store:
            version = store.schema_version
        times.append(time.perf_counter() - t0)
        for p in work.glob(f"upgrade-{i}.db*"):
            p.unlink()
    old.unlink()
    return {"from_version": 1, "to_version": version, "runs": runs, "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3)}


def _build(sims: dict[str, SoakSim], spans: dict[str, int], people: list[str], seed: int) -> dict:
    """Both histories from one simulation: the month is the year's last days."""
    from deskpi.core.habits.local_days import local_date
    from deskpi.people.accounts import local_zone
    from deskpi.store import Store

    zone = local_zone(None)
    now = time.time()
    today = local_date(now, zone)
    firsts = {k: today - dt.timedelta(days=n - 1) for k, n in spans.items()}
    first = min(firsts.values())
    added = dt.datetime.combine(first - dt.timedelta(days=1), dt.time(9), tzinfo=zone).timestamp()
    t0 = time.perf_counter()
    stores = {k: Store.open(s.data / "deskpi.db") for k, s in sims.items()}
    try:
        for store in stores.values():
            store.add_user(ADMIN[0], role="admin", now=added)
            for name in people:
                store.add_user(name, seated_mm=720, standing_mm=1100, now=added)
        days = 0
        for day in simulate_days(first, today, people, zone, seed=seed, since=first, until=now):
            days += 1
            for k, store in stores.items():
                if day.date >= firsts[k]:
                    write_day(store, day)
    finally:
        for store in stores.values():
            store.close()
    return {"days_simulated": days, "seconds": round(time.perf_counter() - t0, 1), "first_day": first.isoformat(),
            "last_day": today.isoformat()}


def _measure(sim: SoakSim, span: int, people: list[str], *, requests: int, load_s: float, runs: int) -> dict:
    db = sim.data / "deskpi.db"
    out: dict = {"days": span, "database": _db_figures(db),
                 "upgrade_from_oldest_schema": _upgrade(db, sim.dir, runs)}
    sim.launch()
    assert sim.proc is not None
    pid = sim.proc.pid
    started = _proc_memory(pid)["rss_mb"]
    who = [people[i % len(people)] for i in range(requests)]
    out["stats_person"] = _latency(sim.port, sim.token, [f"/api/v1/stats?days={PAGE_DAYS}&user={w}" for w in who],
                                   pid=pid)
    out["stats_desk"] = _latency(sim.port, sim.token, [f"/api/v1/stats/desk?days={PAGE_DAYS}"] * requests,
                                 pid=pid)
    whole, desk_days = min(span, 400), min(span, DESK_STATS_DAYS)
    few = max(2, requests // 20)
    whole_person = [f"/api/v1/stats?days={whole}&user={w}" for w in who[:few]]
    out["stats_whole_history"] = {
        "days": whole, "desk_days": desk_days,
        "note": f"{few} requests each: a median and a maximum, no tail; everyone's at most {DESK_STATS_DAYS} days",
        "person": _latency(sim.port, sim.token, whole_person, pid=pid, tail=False),
        "desk": _latency(sim.port, sim.token, [f"/api/v1/stats/desk?days={desk_days}"] * few, pid=pid,
                         tail=False)}
    server = _Sim(sim.port, sim.token)
    load = api_under_load(server, sse_clients=len(people), rps=50.0, seconds=load_s)
    out["state_under_streams"] = load
    out["cli_stats"] = _cli_times(sim.data, ["stats", "--json"], runs)
    backup = sim.dir / "backup.db"
    out["cli_backup"] = _cli_times(sim.data, ["backup", str(backup), "--force", "--json"], runs)
    out["daemon_memory"] = {"rss_at_start_mb": started, **_proc_memory(pid)}
    sim.stop()
    out["daemon_log"] = sim.log_summary()
    return out


def _growth(month: dict, year: dict) -> dict:
    data = year["database"]["rows"]["height_log"] / max(1, month["database"]["rows"]["height_log"])
    figures = {
        "stats_person_p99_ms": lambda r: r["stats_person"]["p99_ms"],
        "stats_desk_p99_ms": lambda r: r["stats_desk"]["p99_ms"],
        "stats_person_daemon_cpu_ms": lambda r: r["stats_person"]["daemon_cpu_ms_per_request"],
        "stats_desk_daemon_cpu_ms": lambda r: r["stats_desk"]["daemon_cpu_ms_per_request"],
        "stats_whole_history_desk_p50_ms": lambda r: r["stats_whole_history"]["desk"]["p50_ms"],
        "state_p99_ms": lambda r: r["state_under_streams"]["state_latency_ms"]["p99"],
        "cli_stats_s": lambda r: r["cli_stats"]["median_s"],
        "database_mb": lambda r: r["database"]["mb"],
        "backup_s": lambda r: r["cli_backup"]["median_s"],
        "upgrade_s": lambda r: r["upgrade_from_oldest_schema"]["median_s"],
        "rss_mb": lambda r: r["daemon_memory"]["peak_rss_mb"],
    }
    out: dict = {"height_log_rows_ratio": round(data, 2),
                 "rule": f"flat: under {FLAT}x; linear: at most {LINEAR_SLACK}x the rows' ratio; else worse"}
    for name, get in figures.items():
        a, b = get(month), get(year)
        if not a or b is None:
            out[name] = {"month": a, "year": b, "ratio": None, "growth": "unknown"}
            continue
        ratio = b / a
        kind = "flat" if ratio < FLAT else "linear" if ratio <= LINEAR_SLACK * data else "worse than linear"
        out[name] = {"month": a, "year": b, "ratio": round(ratio, 2), "growth": kind}
    return out


def _targets(year: dict) -> dict:
    got = {"stats_person_p99_ms": (year["stats_person"]["p99_ms"], TARGETS["stats_p99_ms"]),
           "stats_desk_p99_ms": (year["stats_desk"]["p99_ms"], TARGETS["stats_p99_ms"]),
           "state_p99_ms": (year["state_under_streams"]["state_latency_ms"]["p99"], TARGETS["state_p99_ms"]),
           "rss_mb": (year["daemon_memory"]["peak_rss_mb"], TARGETS["rss_mb"]),
           "backup_s": (year["cli_backup"]["max_s"], TARGETS["backup_s"])}
    return {k: {"value": v, "target": t, "met": v is not None and v <= t} for k, (v, t) in got.items()}


def run(*, people: int = 50, days: int = 365, quick: bool = False, seed: int = 1) -> dict:
    """Both sizes, measured one after the other; `days` is the long history, the short one a twelfth of it.

    The short one is never less than a week (where the long one allows): a day or two can be a weekend,
    when nobody claims the desk, and then it holds no working day to measure.
    """
    spans = {"month": max(1, min(max(7, round(days / 12)), days - 1)), "year": days}
    requests, load_s, runs = (20, 2.0, 1) if quick else (200, 5.0, 5)
    sims = {k: SoakSim(0, seed) for k in spans}          # the default pool: live streams hold no worker
    names = [f"person{i:02d}" for i in range(1, people + 1)]
    try:
        result: dict = {"quick": quick, "people": people, "seed": seed, "cpus": os.cpu_count(),
                        "stats_window_days": PAGE_DAYS, "data": _build(sims, spans, names, seed)}
        for k, sim in sims.items():
            result[k] = _measure(sim, spans[k], names, requests=requests, load_s=load_s, runs=runs)
        result["growth"] = _growth(result["month"], result["year"])
        result["targets"] = _targets(result["year"])
        return result
    finally:
        for sim in sims.values():
            sim.close()
