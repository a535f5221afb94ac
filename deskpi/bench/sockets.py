"""`deskpi bench sockets`: a real `deskpi sim` under hundreds of idle and slowloris sockets.

What an unlucky office (or a colleague with a script) does to a desk's web server: open a few hundred
TCP connections and send nothing, plus some that send a request header one byte every few seconds
(slowloris). Reported, for the same sim in the same run:

- the sim's threads (``Threads:`` of /proc/PID/status) and open file descriptors before, the most
  seen during the attack, and after it;
- ``POST /api/v1/stop`` (signed in with an API token) latency without the attack and during it, each
  on a new connection and on a kept-alive one, with enough samples for a p99;
- how many attack sockets the server closed (idle or slow past ``[web] timeout_s``; they reconnect).

Targets (issue 11): threads at most 64 and Stop within 20 ms at p99 during the attack.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import selectors
import socket
import threading
import time

from deskpi.bench.web import SimServer, percentile

TARGET_THREADS = 64
TARGET_STOP_P99_MS = 20.0


def proc_counts(pid: int) -> dict:
    """{"threads": N, "fds": N} of a process (Linux /proc)."""
    threads = None
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = None
    return {"threads": threads, "fds": fds}


class Attack:
    """`idle` sockets that never send, `slow` ones sending a header byte every `interval_s`; any the
    server closes is opened again, so the numbers hold for as long as the attack runs."""

    def __init__(self, port: int, *, idle: int, slow: int, interval_s: float) -> None:
        self.port, self.idle, self.slow, self.interval_s = port, idle, slow, interval_s
        self.closed_by_server = 0
        self.failed_connects = 0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="attack", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def open(self) -> int:
        return len(self._sel.get_map() or {})

    def _open(self, slow: bool) -> None:
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError:
            self.failed_connects += 1
            return
        s.setblocking(False)
        if slow:
            s.send(b"GET /api/v1/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self._sel.register(s, selectors.EVENT_READ, slow)

    def _run(self) -> None:
        for i in range(self.idle + self.slow):
            self._open(slow=i >= self.idle)
        self.ready.set()
        next_byte = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            for key, _ in self._sel.select(timeout=0.05):
                s, slow = key.fileobj, key.data
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:                         # the server closed it: open another
                    self._sel.unregister(s)
                    s.close()
                    self.closed_by_server += 1
                    self._open(slow)
            if time.monotonic() >= next_byte:
                next_byte += self.interval_s
                for key in list((self._sel.get_map() or {}).values()):
                    if key.data:
                        with contextlib.suppress(OSError):       # closed meanwhile: select reports it
                            key.fileobj.send(b"x")
        for key in list((self._sel.get_map() or {}).values()):
            key.fileobj.close()
        self._sel.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def stop_latency(server: SimServer, stops: int) -> dict:
    """`stops` POST /api/v1/stop on a new connection each, and as many on one kept-alive connection."""
    headers = {"Authorization": f"Bearer {server.token}"}
    fresh: list[float] = []
    kept: list[float] = []
    errors = 0
    keep = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for _ in range(stops):
            for sample, conn in ((fresh, None), (kept, keep)):
                c = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                t0 = time.perf_counter()
                try:
                    c.request("POST", "/api/v1/stop", headers=headers)
                    resp = c.getresponse()
                    resp.read()
                    ok = resp.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    if conn is not None:
                        keep.close()
                        keep = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                dt = (time.perf_counter() - t0) * 1000
                if conn is None:
                    c.close()
                if ok:
                    sample.append(dt)
                else:
                    errors += 1
    finally:
        keep.close()

    def stats(v: list[float]) -> dict:
        return {"n": len(v), "p50": percentile(v, 0.5), "p90": percentile(v, 0.9), "p99": percentile(v, 0.99),
                "max": percentile(v, 1.0)}

    return {"new_connection_ms": stats(fresh), "keep_alive_ms": stats(kept), "errors": errors}


def run(*, idle: int = 300, slowloris: int = 20, stops: int = 200, interval_s: float = 3.0) -> dict:
    server = SimServer()
    pid = server.proc.pid
    try:
        stop_latency(server, 5)                          # warm up: the token's first use is written down
        before = proc_counts(pid)
        quiet = stop_latency(server, stops)
        attack = Attack(server.port, idle=idle, slow=slowloris, interval_s=interval_s)
        attack.start()
        attack.ready.wait(60)
        peak = dict(before)
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.05):
                now = proc_counts(pid)
                for k, v in now.items():
                    if v is not None and (peak.get(k) is None or v > peak[k]):
                        peak[k] = v

        sampler = threading.Thread(target=sample, name="sampler", daemon=True)
        sampler.start()
        time.sleep(1.0)                                 # let the server take every socket in
        held = attack.open
        during = stop_latency(server, stops)
        sampling.set()
        sampler.join(5)
        attack.stop()
        time.sleep(1.0)
        after = proc_counts(pid)
        stop_p99 = max(during["new_connection_ms"]["p99"] or 0, during["keep_alive_ms"]["p99"] or 0)
        return {
            "attack": {"idle_sockets": idle, "slowloris_sockets": slowloris, "slowloris_byte_every_s": interval_s,
                       "open_when_measured": held, "closed_by_server": attack.closed_by_server,
                       "failed_connects": attack.failed_connects},
            "threads": {"before": before["threads"], "during_max": peak["threads"], "after": after["threads"]},
            "fds": {"before": before["fds"], "during_max": peak["fds"], "after": after["fds"]},
            "stop_without_attack": quiet,
            "stop_during_attack": during,
            "targets": {"threads_max": TARGET_THREADS, "stop_p99_ms": TARGET_STOP_P99_MS},
            "met": {"threads": peak["threads"] is not None and peak["threads"] <= TARGET_THREADS,
                    "stop_p99": during["errors"] == 0 and stop_p99 <= TARGET_STOP_P99_MS},
        }
    finally:
        server.close()
