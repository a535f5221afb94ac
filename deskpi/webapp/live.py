"""Live updates for every open page: one sampler thread, any number of Server-Sent Event streams.

The sampler reads each source (desk state, the live reminder) ten times a second
and bumps a version when what a person would see has changed. A stream sends
only the newest value of each kind it has not sent yet, so a slow phone on bad
Wi-Fi skips stale heights instead of queueing them, and memory never grows
with the number or slowness of clients.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

RETRY_MS = 1000          # EventSource reconnects after this long
#: A `ping` event this often on a quiet stream: it keeps proxies from closing it, and a page that
#: hears nothing for longer knows its stream is dead even when the socket still looks open.
KEEPALIVE_S = 5.0


class LiveFeed:
    def __init__(self, sources: dict[str, tuple[Callable[[], object], Callable[[object], object]]], *,
                 interval_s: float = 0.1, max_streams: int = 64) -> None:
        """sources: event name -> (read, key); an event is sent when key(read()) changes."""
        self.sources = sources
        self.interval_s = interval_s
        self.max_streams = max_streams
        self._cond = threading.Condition()
        self._latest: dict[str, tuple[int, object]] = {}
        self._keys: dict[str, object] = {}
        self._version = 0
        self._streams = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- sampler -------------------------------------------------------------------------
    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            time.sleep(self.interval_s)
            try:
                self.sample()
            except Exception:
                log.exception("live feed: sampling failed")

    def sample(self) -> None:
        changed = False
        for name, (read, key) in self.sources.items():
            try:
                value = read()
            except Exception:
                log.exception("live feed: %s unavailable", name)
                continue
            k = key(value)
            if name in self._keys and self._keys[name] == k:
                continue
            with self._cond:
                self._version += 1
                self._keys[name] = k
                self._latest[name] = (self._version, value)
                changed = True
        if changed:
            with self._cond:
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)

    @property
    def streams(self) -> int:
        return self._streams

    # -- streams -------------------------------------------------------------------------
    def try_open(self) -> bool:
        if self._thread is None and not self._closed:
            with self._start_lock:
                if self._thread is None:
                    self.start()            # no sampling at all until somebody watches
        with self._cond:
            if self._closed or self._streams >= self.max_streams:
                return False
            self._streams += 1
            return True

    def stream(self, render: Callable[[str, object], object | None], still_allowed: Callable[[], bool],
               *, keepalive_s: float = KEEPALIVE_S) -> Iterator[str]:
        """SSE text for one client (after a successful try_open). render(name, value) -> the JSON-able
        data for this client, or None to skip; still_allowed() is re-checked now and then and ends
        the stream with a `session` event when the client's sign-in is gone."""
        sent: dict[str, int] = {}
        seen_version = -1
        next_check = time.monotonic() + keepalive_s
        try:
            yield f"retry: {RETRY_MS}\n\n"
            while True:
                with self._cond:
                    self._cond.wait_for(lambda seen=seen_version: self._closed or self._version != seen,
                                        timeout=keepalive_s)
                    if self._closed:
                        return
                    seen_version = self._version
                    fresh = [(n, v) for n, (ver, v) in self._latest.items() if sent.get(n) != ver]
                    versions = {n: ver for n, (ver, _v) in self._latest.items()}
                out = []
                for name, value in fresh:
                    sent[name] = versions[name]
                    data = render(name, value)
                    if data is not None:
                        out.append(f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n")
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + keepalive_s
                    if not still_allowed():
                        yield 'event: session\ndata: {"signed_in":false}\n\n'
                        return
                    if not out:
                        out.append("event: ping\ndata: {}\n\n")
                if out:
                    yield "".join(out)
        finally:
            with self._cond:
                self._streams -= 1
