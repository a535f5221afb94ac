"""`deskpi bench soak`: the whole daemon on the real clock for N minutes, under the traffic of an office.

A real `deskpi sim` subprocess (deskpi/bench/soak_sim.py) gets, all at once:

- phones (deskpi/bench/soak_actors.py) that sign in with name and PIN, keep a live stream open,
  read, hold ▲/▼ with lease renewals and release, recall presets and stop them, sign out or drop
  off abruptly (sockets cut mid-hold: the desk must stop by itself when the lease runs out);
- the desk's own keypad pressed at random (a press that does not do what it should is a missed
  press), reminders skipped ahead and answered, faults injected mid-move and cleared, moves stopped.

Meanwhile the sim's threads, open file descriptors and resident memory are sampled every few
seconds. The report: those series (start after warm-up, end, change in %, min, max), stops
requested vs done, presses and missed presses, every answer by status (5xx apart), reminders,
faults, and SQLite's integrity check of the database after the sim stopped. Goals (a 30-minute
run): threads/fds/RSS flat within ±10 %, every stop done, no missed press, no 5xx.

Bounded: every loop ends by the deadline, every request has a timeout, only 127.0.0.1 is spoken
to, and the sim and its temporary directory go away at the end, on Ctrl-C and on SIGTERM too.
"""
from __future__ import annotations

import signal
import statistics
import threading
import time

from deskpi.bench.soak_actors import desk, phone
from deskpi.bench.soak_checks import GRACE_S, Soak
from deskpi.bench.soak_http import Client, Tally
from deskpi.bench.soak_sim import SoakSim

FLAT_PCT = 10.0
PRESETS = {1: 720.0, 2: 1100.0, 3: 850.0, 4: 1000.0}
#: The first turn at the desk of phone 1, 2, 3, 4...: the warm-up sees a drop-off, a recall and a hold.
FIRST = ("drop", "recall", "hold")
STOP_KINDS = ("api_stop", "button_stop", "button_release", "phone_release", "phone_dropoff")


def warmup_s(minutes: float) -> float:
    return min(60.0, max(5.0, minutes * 6))


def sample_every_s(minutes: float) -> float:
    return min(5.0, max(1.0, minutes * 60 / 20))


def run(minutes: float, *, phones: int = 6, seed: int = 1) -> dict:
    tally = Tally()
    sim = SoakSim(phones, seed)
    restore = _sigterm_as_interrupt()
    try:
        sim.start()
        bench = Client(sim.port, tally, token=sim.token)
        for slot, height in PRESETS.items():
            bench.request("PUT", f"/presets/{slot}", {"height_mm": height})
        bench.close()
        sign_in_burst(sim, tally)
        warm, every = warmup_s(minutes), sample_every_s(minutes)
        t0 = time.monotonic()
        soak = Soak(sim.port, sim.token, tally, deadline=t0 + warm + minutes * 60)
        samples: list[tuple[float, dict]] = []
        actors = [threading.Thread(target=desk, args=(soak, seed), name="soak-desk", daemon=True)]
        actors += [threading.Thread(target=phone, args=(soak, name, pin, seed * 100 + i, FIRST[i % 3]),
                                    name=f"soak-{name}", daemon=True) for i, (name, pin) in enumerate(sim.phones)]
        for t in actors:
            t.start()
        try:
            while soak.running():
                st = sim.stats()
                if st is None:
                    tally.example("sim_died", sim.log_tail())
                    break
                samples.append((time.monotonic() - t0, st))
                soak.stop.wait(max(0.0, min(every, soak.deadline - time.monotonic())))
            final = sim.stats()
            if final is not None:
                samples.append((time.monotonic() - t0, final))
        except BaseException:
            soak.abort.set()
            raise
        finally:
            soak.stop.set()
            for t in actors:
                t.join(timeout=1.0 if soak.abort.is_set() else
                       max(0.1, soak.deadline + GRACE_S + 5 - time.monotonic()))
        elapsed = time.monotonic() - t0
        time.sleep(3.0)                          # the streams and sessions the phones left behind wind down
        after = sim.stats()
        log_before_stop = sim.log_summary()
        sim.stop()
        return report(minutes=minutes, phones=phones, seed=seed, warm=warm, every=every, elapsed=elapsed,
                      samples=samples, after=after, tally=tally, sim=sim, log=log_before_stop,
                      stuck=[t.name for t in actors if t.is_alive()])
    finally:
        sim.close()
        restore()


def sign_in_burst(sim: SoakSim, tally: Tally, rounds: int = 2) -> None:
    """Warm-up: every phone signs in at the same moment, twice. Each PIN check takes 16 MiB (scrypt) and
    the allocator keeps what it got for the most checks at once; after this, the soak's own sign-ins
    (never more at once than there are phones) start from that high-water mark, not below it."""
    def once(name: str, pin: str, barrier: threading.Barrier) -> None:
        c = Client(sim.port, tally)
        try:
            barrier.wait(timeout=30)
            if c.sign_in(name, pin):
                tally.add("phones.sign_ins")
                c.request("DELETE", "/session")
                tally.add("phones.sign_outs")
        except threading.BrokenBarrierError:
            pass
        finally:
            c.close()

    for _ in range(rounds):
        barrier = threading.Barrier(len(sim.phones))
        threads = [threading.Thread(target=once, args=(name, pin, barrier), daemon=True) for name, pin in sim.phones]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)


def _sigterm_as_interrupt():
    """SIGTERM ends the soak like Ctrl-C (so the sim and the temporary directory are cleaned up)."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:                  # not the main thread: nothing to restore
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, old)


def _series(samples: list[tuple[float, dict]], warm: float, after: dict | None) -> dict:
    """start/end: the medians of the first and last tenth of the samples after the warm-up (at least 3
    each), so a request thread or socket more or less at the instant of one sample is not a trend."""
    loaded = [(t, s) for t, s in samples if t >= warm] or samples[-1:]
    out: dict = {"samples": len(loaded)}
    edge = max(3, len(loaded) // 10)
    for key, name, scale in (("threads", "threads", 1), ("fds", "fds", 1), ("rss_kb", "rss_mb", 1024)):
        values = [s[key] / scale for _, s in loaded]
        if not values:
            out[name] = None
            continue
        start, end = statistics.median(values[:edge]), statistics.median(values[-edge:])
        out[name] = {"start": round(start, 1), "end": round(end, 1),
                     "first": round(values[0], 1), "last": round(values[-1], 1),
                     "change_pct": round(100 * (end - start) / start, 1) if start else None,
                     "min": round(min(values), 1), "max": round(max(values), 1),
                     "max_seen": round(max(s[key] / scale for _, s in samples), 1),
                     "trend_per_hour": _trend([t for t, _ in loaded], values),
                     "flat": bool(start) and abs(end - start) <= FLAT_PCT / 100 * start,
                     "after_load": None if after is None else round(after[key] / scale, 1)}
    step = max(1, len(samples) // 24)
    out["series"] = {"columns": ["t_s", "threads", "fds", "rss_mb"],
                     "rows": [[round(t, 1), s["threads"], s["fds"], round(s["rss_kb"] / 1024, 1)]
                              for t, s in samples[::step]]}
    return out


def _trend(times: list[float], values: list[float]) -> float | None:
    """Slope per hour (Theil-Sen: the median of the slopes between every two samples, so one spike, such
    as a burst of sign-ins, does not tilt it): a slow leak shows here before it shows between start and end."""
    step = max(1, len(values) // 200)
    pts = list(zip(times[::step], values[::step], strict=True))
    slopes = [(v2 - v1) / (t2 - t1) for i, (t1, v1) in enumerate(pts) for t2, v2 in pts[i + 1:] if t2 > t1]
    return round(statistics.median(slopes) * 3600, 1) if len(pts) >= 3 and slopes else None


def _stops(tally: Tally) -> dict:
    c = tally.counts
    by_kind = {k: {"requested": c[f"stop.{k}.requested"], "done": c[f"stop.{k}.done"],
                   "late": c[f"stop.{k}.late"], "never": c[f"stop.{k}.never"],
                   "max_ms": tally.maxima.get(f"stop.{k}.max_ms")} for k in STOP_KINDS}
    return {"requested": sum(v["requested"] for v in by_kind.values()),
            "done": sum(v["done"] for v in by_kind.values()), "by_kind": by_kind}


def _group(tally: Tally, prefix: str) -> dict:
    return {k[len(prefix) + 1:]: v for k, v in sorted(tally.counts.items()) if k.startswith(prefix + ".")}


def report(*, minutes, phones, seed, warm, every, elapsed, samples, after, tally, sim, log, stuck) -> dict:
    process = _series(samples, warm, after)
    stops = _stops(tally)
    requests = tally.requests()
    presses = {"total": tally.counts["presses.total"], "missed": tally.counts["presses.missed"],
               "inconclusive": tally.counts["presses.inconclusive"]}
    reminders = {k: tally.counts[f"reminders.{k}"] for k in ("asked", "shown", "answered", "none_due")}
    reminders["by_outcome"] = {o: tally.counts[f"reminders.{o}"] for o in ("confirm", "acknowledge", "snooze", "skip")}
    faults = {k: tally.counts[f"faults.{k}"] for k in ("injected", "detected", "cleared", "unexpected")}
    faults["by_kind"] = {k: v for k, v in _group(tally, "faults").items() if k not in faults}
    database = sim.integrity()
    flat = all(process.get(k) and process[k]["flat"] for k in ("threads", "fds", "rss_mb"))
    return {
        "minutes": minutes, "phones": phones, "seed": seed, "warmup_s": warm, "sample_every_s": every,
        "elapsed_s": round(elapsed, 1),
        "process": process,
        "stops": stops,
        "presses": presses,
        "phones_activity": {**_group(tally, "phones"), "streams_opened": tally.counts["streams_opened"],
                            "stream_events": tally.counts["stream_events"],
                            "moves_not_started": tally.counts["phone_recalls_not_started"]
                            + tally.counts["api_moves_not_started"]},
        "requests": requests,
        "reminders": reminders,
        "faults": faults,
        "database": database,
        "sim": {"exit_code": sim.exit_code, "log": log, "actors_still_running": stuck},
        "goals": {"flat_threads_fds_rss": flat, "every_stop_done": stops["requested"] == stops["done"],
                  "no_missed_presses": presses["missed"] == 0, "no_5xx": requests["5xx"] == 0,
                  "database_ok": bool(database.get("ok")),
                  "faults_cleared": faults["injected"] == faults["cleared"]},
        "examples": dict(sorted(tally.examples.items())),
    }

