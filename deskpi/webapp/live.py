"""Live updates for every open page: one sampler thread, any number of Server-Sent Event streams.

The sampler reads each source (desk state, the live reminder) ten times a second
and bumps a version when what a person would see has changed. A stream sends
only the newest value of each kind it has not sent yet, so a slow phone on bad
Wi-Fi skips stale heights instead of queueing them, and memory never grows
with the number or slowness of clients.

Each client's place in the feed is a `LiveCursor`: `pull(now)` gives the text it
has not been sent yet (events, a keepalive ping, or the `session` end). A change
is rendered and JSON-encoded once per version and audience (the part of a
rendering that depends on who reads it, e.g. their claim view), not once per
stream: with 50 phones open, one height change is one json.dumps, not 50.
Cursors are pulled either by `stream()` (a generator a worker thread iterates,
as any WSGI server can) or, under deskpi's own web server, by its one streaming
thread: a view that finds `DETACH_KEY` in the WSGI environ hands the cursor to
the server (deskpi.daemon.web_streams) and returns at once.
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
#: How long one rendering is shared: the claim view counts down its seconds, so a rendering is
#: reused by the streams served in the same moment, never by one that opens much later.
SHARED_S = 0.1
#: The WSGI environ key under which a server that writes streams itself offers `detach(cursor)`.
DETACH_KEY = "deskpi.detach"


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
        self._shared: dict = {}                 # key -> (made at, value), for the current version only
        self._watchers: set[Callable[[], None]] = set()

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
                self._shared = {}           # renderings of older versions are never asked for again
                self._cond.notify_all()
            self._tell_watchers()

    def watch(self, wake: Callable[[], None]) -> None:
        """Call wake() (from the sampler's thread: it must not block) whenever something changed or the
        feed closed: a thread serving cursors without waiting on the feed learns when to pull."""
        with self._cond:
            self._watchers.add(wake)

    def _tell_watchers(self) -> None:
        with self._cond:
            watchers = list(self._watchers)
        for wake in watchers:
            try:
                wake()
            except Exception:
                log.exception("live feed: waking a stream writer failed")

    @property
    def closed(self) -> bool:
        return self._closed

    def shared(self, key, make: Callable[[], object], now: float):
        """make()'s value, made once for this version and `key` and reused for SHARED_S."""
        table = self._shared            # a value made while the version moves on goes with the old table
        hit = table.get(key)
        if hit is not None and now - hit[0] < SHARED_S:
            return hit[1]
        value = make()
        table[key] = (now, value)
        return value

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._tell_watchers()
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

    def cursor(self, render: Callable[[str, object], object | None], still_allowed: Callable[[], bool], *,
               audience: Callable[[str, object], object] | None = None,
               keepalive_s: float = KEEPALIVE_S) -> LiveCursor:
        """One client's place in the feed (after a successful try_open; close() gives the slot back).
        render(name, value) -> the JSON-able data for this client, or None to skip. audience(name, value)
        -> a hashable key: clients with the same key get the same rendering, made once per version (None:
        render for this client alone). still_allowed() is re-checked every keepalive_s and ends the
        stream with a `session` event when the client's sign-in is gone."""
        return LiveCursor(self, render, still_allowed, audience, keepalive_s)

    def stream(self, render: Callable[[str, object], object | None], still_allowed: Callable[[], bool],
               *, keepalive_s: float = KEEPALIVE_S,
               audience: Callable[[str, object], object] | None = None) -> Iterator[str]:
        """SSE text for one client (after a successful try_open), for a thread that iterates it."""
        cursor = self.cursor(render, still_allowed, audience=audience, keepalive_s=keepalive_s)
        try:
            yield cursor.preamble
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._closed or self._version != cursor.seen_version,
                                        timeout=keepalive_s)
                text = cursor.pull(time.monotonic())
                if text:
                    yield text
                if cursor.ended:
                    return
        finally:
            cursor.close()

    def _fresh(self, sent: dict[str, int]) -> tuple[int, list[tuple[str, int, object]]]:
        with self._cond:
            return self._version, [(n, ver, v) for n, (ver, v) in self._latest.items() if sent.get(n) != ver]

    def _text(self, name: str, version: int, value: object, cursor: LiveCursor, now: float) -> str:
        def make() -> str:
            data = cursor.render(name, value)
            return "" if data is None else f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        if cursor.audience is None:
            return make()
        return self.shared(("text", name, version, cursor.audience(name, value)), make, now)


class LiveCursor:
    """What one client has been sent and when its sign-in is next checked; see LiveFeed.cursor."""

    preamble = f"retry: {RETRY_MS}\n\n"

    def __init__(self, feed: LiveFeed, render, still_allowed, audience, keepalive_s: float) -> None:
        self.feed = feed
        self.render = render
        self.still_allowed = still_allowed
        self.audience = audience
        self.keepalive_s = keepalive_s
        self.seen_version = -1
        self.next_check = time.monotonic() + keepalive_s       # the next ping or sign-in check is due then
        self.ended = False
        self._sent: dict[str, int] = {}
        self._closed = False

    def pull(self, now: float) -> str:
        """What this client has not been sent yet ("" for nothing); `ended` is set when the stream is over
        (the feed closed, or the `session` end returned here)."""
        if self.feed.closed:
            self.ended = True
            return ""
        self.seen_version, fresh = self.feed._fresh(self._sent)
        out = []
        for name, version, value in fresh:
            self._sent[name] = version
            text = self.feed._text(name, version, value, self, now)
            if text:
                out.append(text)
        if now >= self.next_check:
            self.next_check = now + self.keepalive_s
            if not self.still_allowed():
                self.ended = True
                return 'event: session\ndata: {"signed_in":false}\n\n'
            if not out:
                out.append("event: ping\ndata: {}\n\n")
        return "".join(out)

    def watch(self, wake: Callable[[], None]) -> None:
        self.feed.watch(wake)

    def close(self) -> None:
        """Give the stream's slot back (once)."""
        if self._closed:
            return
        self._closed = True
        with self.feed._cond:
            self.feed._streams -= 1
