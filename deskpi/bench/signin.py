"""`deskpi bench signin`: what a burst of sign-ins with made-up names costs the daemon in memory.

Each PIN check runs scrypt, which takes 16 MiB while it runs. Without a bound, sixty sign-ins at
once took a daemon from ~130 MB to ~900 MB: a Pi with 512 MB would be killed. This starts a real
`deskpi sim` subprocess (as `deskpi bench web` does), reads its resident memory from
/proc/PID/status when idle, fires N concurrent sign-ins with made-up names and PINs from one
address while sampling the sim's memory, and reports:

- idle_rss_mb, peak_rss_mb (the highest sample), vmhwm_mb (the kernel's high-water mark before
  and after the burst), delta_mb (the peak over idle; the target is at most target_delta_mb);
- how many sign-ins got 401 (checked and wrong) and 429 (refused before any PIN was hashed:
  locked out, too many under way, or no PIN-check slot free within the wait), and any other status;
- latency percentiles of the sign-ins, in ms.

Linux only (/proc). The numbers are reported, never asserted by the tests.
"""
from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from pathlib import Path

from deskpi.bench.web import SimServer

#: The issue's target: a burst leaves the peak within this much of the idle daemon.
TARGET_DELTA_MB = 100.0


def percentile(values: list[float], p: float) -> float | None:
    """The p-quantile (0..1) of `values` by nearest rank, rounded to 0.01; None for no values."""
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))], 2) if v else None


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (from /proc/PID/status)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(rest.split()[0]) / 1024.0          # kB -> MB
    return out


def _sign_in(port: int, timeout_s: float) -> tuple[int, float]:
    """One sign-in with a made-up name and PIN: (status, latency ms); status 0 when the connection failed."""
    body = json.dumps({"name": f"nobody-{secrets.token_hex(4)}", "pin": f"{secrets.randbelow(10 ** 6):06d}"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/api/v1/session", body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        conn.close()
    return status, (time.perf_counter() - t0) * 1000


def burst(server: SimServer, *, requests: int, timeout_s: float = 30.0, sample_s: float = 0.005) -> dict:
    """`requests` sign-ins released together against `server`, its memory sampled meanwhile."""
    pid = server.proc.pid
    time.sleep(0.5)                                     # let the sim settle after its start
    idle = proc_status(pid)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    start = threading.Barrier(requests + 1, timeout=30)
    done = threading.Event()
    samples: list[float] = []

    def sampler() -> None:
        while not done.is_set():
            try:
                samples.append(proc_status(pid)["VmRSS"])
            except (OSError, KeyError):
                return
            done.wait(sample_s)

    def client() -> None:
        try:
            start.wait()
        except threading.BrokenBarrierError:
            return
        r = _sign_in(server.port, timeout_s)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(requests)]
    watch = threading.Thread(target=sampler, daemon=True)
    watch.start()
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(timeout_s + 5)
    elapsed = time.monotonic() - t0
    time.sleep(0.2)                                      # memory freed after the last answer is still seen
    done.set()
    watch.join(5)
    after = proc_status(pid)
    statuses: dict[str, int] = {}
    for status, _ms in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    latencies = [ms for _status, ms in results]
    peak = max(samples + [after["VmRSS"]])
    # The high-water mark counts only if it rose during the burst (the sim's start may have set it).
    hwm_peak = after["VmHWM"] if after["VmHWM"] > idle["VmHWM"] else peak
    top = max(peak, hwm_peak)
    return {
        "requests": requests, "answered": len(results), "elapsed_s": round(elapsed, 2),
        "idle_rss_mb": round(idle["VmRSS"], 1), "peak_rss_mb": round(peak, 1),
        "vmhwm_mb": {"before": round(idle["VmHWM"], 1), "after": round(after["VmHWM"], 1)},
        "rss_after_mb": round(after["VmRSS"], 1), "samples": len(samples),
        "delta_mb": round(top - idle["VmRSS"], 1), "target_delta_mb": TARGET_DELTA_MB,
        "within_target": top - idle["VmRSS"] <= TARGET_DELTA_MB,
        "status_401": statuses.get("401", 0), "status_429": statuses.get("429", 0),
        "status_other": {k: v for k, v in statuses.items() if k not in ("401", "429")},
        "latency_ms": {"p50": percentile(latencies, 0.5), "p90": percentile(latencies, 0.9),
                       "p99": percentile(latencies, 0.99), "max": percentile(latencies, 1.0)},
    }


def run(*, requests: int = 60) -> dict:
    if requests < 1:
        raise ValueError(f"--requests {requests}: give at least 1 sign-in")
    server = SimServer()
    try:
        return burst(server, requests=requests)
    finally:
        server.close()
