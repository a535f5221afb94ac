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

import logging
import select
import ssl
import time
from typing import Protocol

from deskpi.daemon.epoll_thread import EpollThread

log = logging.getLogger(__name__)

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


class StreamWriter(EpollThread):
    """`adopt(conn, source, chunked)` from any thread; the `web-streams` thread writes from then on."""

    def __init__(self, *, timeout_s: float) -> None:
        super().__init__("web-streams")
        self.timeout_s = timeout_s
        self.closed_slow = 0            # streams closed because the client took nothing for timeout_s
        self._news = False

    @property
    def open(self) -> int:
        return len(self._entries)

    def adopt(self, conn, source: Source, chunked: bool) -> None:
        self._give((conn, source, chunked))

    def news(self) -> None:
        """Something changed in the feed (called from its sampler: only flags it and wakes the thread)."""
        self._news = True
        self._wake()

    # -- the thread -----------------------------------------------------------------------
    def _take(self, item) -> None:
        conn, source, chunked = item
        try:
            conn.socket.setblocking(False)
            fd = conn.socket.fileno()
            self._epoll.register(fd, _READ_EVENTS)
        except (OSError, ValueError):
            _close_stream(conn, source)
            return
        now = time.monotonic()
        stream = self._entries[fd] = _Stream(conn, source, chunked, now)
        source.watch(self.news)
        self._fill(fd, stream, now)

    def _discard(self, item) -> None:
        _close_stream(item[0], item[1])

    def _end(self, entry: _Stream) -> None:
        _close_stream(entry.conn, entry.source)

    def _ready(self, fd: int, events: int) -> None:
        stream = self._entries[fd]
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

    def _tick(self, now: float) -> None:
        news, self._news = self._news, False
        for fd, stream in list(self._entries.items()):
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


def _close_stream(conn, source: Source) -> None:
    try:
        source.close()
    finally:
        try:
            conn.close()
        except Exception:           # a connection that cannot even close is gone anyway
            log.debug("closing a stream's connection failed", exc_info=True)
