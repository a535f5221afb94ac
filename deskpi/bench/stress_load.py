"""The load of `deskpi bench stress`, each part in its own process so that neither the daemon under test
nor the bench's timing shares an interpreter (or its GIL) with it:

    python -m deskpi.bench.stress_load hog                      # one core's worth of pure Python
    python -m deskpi.bench.stress_load fsync DIR                # write 4 KiB and fsync, in a loop
    python -m deskpi.bench.stress_load phones PORT TOKEN N RPS  # N live streams and RPS requests a second

Each runs until SIGTERM, then prints one JSON line of what it did (the hog's share of the CPU is read
from /proc by the bench instead). Phones use the soak's HTTP client (deskpi/bench/soak_http.py); a
refused stream (the live-stream cap) tries again after 2 s, as the page falls back to polling.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

READS = ("/state", "/state", "/presets", "/reminder", "/claim")
RETRY_S = 2.0


def _until_term() -> threading.Event:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    return done


def hog() -> None:
    while True:
        pass


def fsync_storm(directory: str) -> None:
    done = _until_term()
    path = Path(directory) / "stress-fsync.bin"
    block = os.urandom(4096)
    n, t0 = 0, time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while not done.is_set():
            os.pwrite(fd, block, (n % 256) * 4096)      # a 1 MiB file rewritten in place, never growing
            os.fsync(fd)
            n += 1
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    print(json.dumps({"fsyncs": n, "seconds": round(time.monotonic() - t0, 2)}), flush=True)


def phones(port: int, token: str, n: int, rps: float) -> None:
    from deskpi.bench.soak_http import Client, Stream, Tally

    done = _until_term()
    tally = Tally()
    current: list[Stream | None] = [None] * n
    open_samples: list[int] = []
    took_ms: list[float] = []

    def live(i: int) -> None:
        phone = Client(port, tally, token=token)
        while not done.is_set():
            stream = Stream(phone)
            current[i] = stream
            stream.run(time.monotonic() + 3600, done)
            current[i] = None
            if not done.is_set():
                tally.add("streams_ended")
                done.wait(RETRY_S)

    def reads(k: int, share: float) -> None:
        c = Client(port, tally, token=token)
        nxt, i = time.monotonic(), k
        while not done.is_set():
            t = time.monotonic()
            c.request("GET", READS[i % len(READS)])
            took_ms.append(1000 * (time.monotonic() - t))
            i += 1
            nxt += 1.0 / share
            done.wait(max(0.0, nxt - time.monotonic()))
        c.close()

    readers = max(1, min(16, round(rps / 4)))     # each paced at a few a second: a slow answer is caught up
    threads = [threading.Thread(target=live, args=(i,), daemon=True) for i in range(n)]
    threads += [threading.Thread(target=reads, args=(k, rps / readers), daemon=True) for k in range(readers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while not done.wait(1.0):
        open_samples.append(sum(1 for s in current if s is not None and s.events > 0))
    seconds = time.monotonic() - t0
    req = tally.requests()
    events = tally.counts["stream_events"] + sum(s.events for s in current if s is not None)
    took_ms.sort()
    print(json.dumps({"seconds": round(seconds, 2),
                      "reads_answered": req["answered_2xx"] - tally.counts["streams_opened"],
                      "streams_opened": tally.counts["streams_opened"],
                      "streams_refused": req["by_status"].get("503", 0), "stream_events": events,
                      "read_ms": {"p50": took_ms[len(took_ms) // 2], "p99": took_ms[int(0.99 * (len(took_ms) - 1))]}
                      if took_ms else None,
                      "open_streams": open_samples, "5xx": req["5xx"], "transport_errors": req["transport_errors"]}),
          flush=True)
    os._exit(0)      # stream threads may sit in a read until the server's next ping


def main(argv: list[str]) -> int:
    what = argv[0] if argv else ""
    if what == "hog":
        hog()
    elif what == "fsync" and len(argv) == 2:
        fsync_storm(argv[1])
    elif what == "phones" and len(argv) == 5:
        phones(int(argv[1]), argv[2], int(argv[3]), float(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
