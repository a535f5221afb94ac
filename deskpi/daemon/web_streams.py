"""One thread writes every live stream (Server-Sent Events) the web server has open.

A stream used to hold a cheroot worker for its whole life: with 48 workers only
36 phones got one, and each of those threads woke on every change to render and
send it, trading the GIL with the motion threads. Now the worker only answers
the request: the app checks the sign-in, takes a stream slot (or answers 503),
sends the head and the `retry:` line as for any response, and hands its cursor
(deskpi.webapp.live.LiveCursor) to the server through the WSGI environ. How the
connection leaves cheroot, without a fork of it:

- the server's gateway puts `detach(cursor)` into the environ (`DETACH_KEY`);
  the view calls it, which only marks the connection;
- once the response head and first chunk are written, the gateway turns
  cheroot's chunked ending off (so no `0\\r\\n\\r\\n` is written) and says the
  connection stays open, so the worker gives it back through `put_conn`, the
  one place cheroot lets go of a kept-alive connection;
- `put_conn` sends a marked connection here instead of to cheroot's selector,
  and the worker is back in the pool. If anything failed on the way (an error
  status, a client already gone) the cursor is closed and its slot freed.

Here every stream is a non-blocking socket in one epoll set (TLS sockets too:
their `send` either takes all of a chunk or raises a want-write, and is retried
with the same bytes). When the feed tells of a change, or a stream's keepalive
or sign-in check is due, each stream with nothing left to write is pulled once;
a stream still writing its last chunk is not pulled, so a slow phone skips
stale heights and holds one chunk at most. A client that has gone (its socket
reads as closed or fails) is closed at once and its slot freed; one that has
taken nothing of a chunk for `timeout_s` is closed as too slow. Writes are
framed in HTTP/1.1 chunks when the head said so.
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import ssl
import threading
import time
from collections import deque
from typing import Protocol

log = logging.getLogger(__name__)

TICK_S = 0.25           # how often due keepalives, sign-in checks and slow writers are looked at
_READ_EVENTS = select.EPOLLIN | select.EPOLLRDHUP


class Source(Protocol):
    """What a stream writes: deskpi.webapp.live.LiveCursor."""

    next_check: float
    ended: bool

    def pull(self, now: float) -> str: ...

    def watch(self, wake) -> None: ...

    def close(self) -> None: ...


class _Stream:
    __slots__ = ("chunked", "conn", "events", "last_progress", "pending", "source")

    def __init__(self, conn, source: Source, chunked: bool, now: float) -> None:
        self.conn = conn
        self.source = source
        self.chunked = chunked
        self.pending = b""
        self.last_progress = now
        self.events = _READ_EVENTS


class StreamWriter:
    """`adopt(conn, source, chunked)` from any thread; the `web-streams` thread writes from then on."""

    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.closed_slow = 0            # streams closed because the client took nothing for timeout_s
        self._epoll = select.epoll()
        self._streams: dict[int, _Stream] = {}
        self._inbox: deque = deque()
        self._news = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_lock = threading.Lock()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._closed = False
        self._shut_down = False
        self._thread = threading.Thread(target=self._run, name="web-streams", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def open(self) -> int:
        return len(self._streams)

    def adopt(self, conn, source: Source, chunked: bool) -> None:
        if self._closed:
            _end(conn, source)
            return
        self._inbox.append((conn, source, chunked))
        self._wake()
        if self._shut_down:                         # the thread ended meanwhile: nobody will take it
            while self._inbox:
                with contextlib.suppress(IndexError):
                    _end(*self._inbox.popleft()[:2])

    def news(self) -> None:
        """Something changed in the feed (called from its sampler: only flags it and wakes the thread)."""
        self._news = True
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)
        elif not self._thread.is_alive():
            self._shut()

    def _wake(self) -> None:
        # The feed keeps calling news() after the server stopped: a closed pipe's number may belong
        # to another file by then, so it is written only while open, under the lock that closes it.
        with self._wake_lock:
            if self._wake_w >= 0:
                with contextlib.suppress(OSError):          # already woken (the pipe is full)
                    os.write(self._wake_w, b"x")

    # -- the thread -----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._closed:
                for fd, events in self._epoll.poll(TICK_S):
                    if fd == self._wake_r:
                        self._drain_inbox()
                    elif fd in self._streams:
                        try:
                            self._ready(fd, events)
                        except Exception:
                            log.exception("live streams: dropping a stream after an unexpected error")
                            self._drop(fd)
                self._serve(time.monotonic())
        finally:
            self._shut()

    def _drain_inbox(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        now = time.monotonic()
        while self._inbox:
            conn, source, chunked = self._inbox.popleft()
            try:
                conn.socket.setblocking(False)
                fd = conn.socket.fileno()
                self._epoll.register(fd, _READ_EVENTS)
            except (OSError, ValueError):
                _end(conn, source)
                continue
            self._streams[fd] = _Stream(conn, source, chunked, now)
            source.watch(self.news)
            self._fill(fd, self._streams[fd], now)

    def _ready(self, fd: int, events: int) -> None:
        stream = self._streams[fd]
        gone = select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
        if events & gone and not self._read(stream):
            self._drop(fd)
            return
        if events & select.EPOLLOUT and stream.pending:
            self._flush(fd, stream, time.monotonic())

    def _read(self, stream: _Stream) -> bool:
        """Whether the client is still there; anything it sends on a stream is ignored."""
        try:
            return stream.conn.socket.recv(4096) != b""
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except (OSError, ValueError):                 # ssl.SSLError included
            return False

    def _serve(self, now: float) -> None:
        news, self._news = self._news, False
        for fd, stream in list(self._streams.items()):
            if stream.pending:
                if now - stream.last_progress > self.timeout_s:
                    self.closed_slow += 1
                    self._drop(fd)
            elif news or now >= stream.source.next_check or stream.source.ended:
                self._fill(fd, stream, now)

    def _fill(self, fd: int, stream: _Stream, now: float) -> None:
        try:
            text = stream.source.pull(now)
        except Exception:
            log.exception("live streams: a stream failed to render; closing it")
            self._drop(fd)
            return
        data = text.encode()
        if stream.chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        if stream.source.ended and stream.chunked:
            data += b"0\r\n\r\n"
        if not data:
            if stream.source.ended:
                self._drop(fd)
            return
        stream.pending = data
        stream.last_progress = now
        self._flush(fd, stream, now)

    def _flush(self, fd: int, stream: _Stream, now: float) -> None:
        try:
            sent = stream.conn.socket.send(stream.pending)
        except (BlockingIOError, ssl.SSLWantWriteError):
            self._want(fd, stream, _READ_EVENTS | select.EPOLLOUT)
            return
        except ssl.SSLWantReadError:
            return
        except (OSError, ValueError):
            self._drop(fd)
            return
        if sent:
            stream.last_progress = now
        stream.pending = stream.pending[sent:]
        if stream.pending:
            self._want(fd, stream, _READ_EVENTS | select.EPOLLOUT)
        elif stream.source.ended:
            self._drop(fd)
        else:
            self._want(fd, stream, _READ_EVENTS)

    def _want(self, fd: int, stream: _Stream, events: int) -> None:
        if stream.events != events:
            self._epoll.modify(fd, events)
            stream.events = events

    def _drop(self, fd: int) -> None:
        stream = self._streams.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        if stream is not None:
            _end(stream.conn, stream.source)

    def _shut(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for fd in list(self._streams):
            self._drop(fd)
        while self._inbox:
            conn, source, _chunked = self._inbox.popleft()
            _end(conn, source)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.close()
        with self._wake_lock:
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_r = self._wake_w = -1


def _end(conn, source: Source) -> None:
    try:
        source.close()
    finally:
        try:
            conn.close()
        except Exception:           # a connection that cannot even close is gone anyway
            log.debug("closing a stream's connection failed", exc_info=True)
