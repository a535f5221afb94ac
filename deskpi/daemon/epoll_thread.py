"""One thread serving many non-blocking sockets from one epoll set: what the web gate and the live streams share.

Other threads hand it work through an inbox and a wake pipe (never by touching its
sockets), the thread polls, gives each ready socket to its owner, and looks at its
timers at least every `TICK_S`. One odd socket must never stop the thread: an
unexpected error drops that socket and the loop goes on. At the end every socket,
and everything still in the inbox, is closed. Subclasses say what a handed-over item
becomes (`_take`), what to do when a socket is ready (`_ready`), what is due (`_tick`)
and how an item or an entry is closed (`_discard`, `_end`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from typing import Any

log = logging.getLogger(__name__)

TICK_S = 0.25           # how often timers are looked at when no socket is ready


class EpollThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._epoll = select.epoll()
        self._entries: dict[int, Any] = {}          # fd -> the subclass's entry (with an `events` attribute)
        self._inbox: deque = deque()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_lock = threading.Lock()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._closed = False
        self._shut_down = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2)
        elif not self._thread.is_alive():
            self._shut()

    # -- from any thread --------------------------------------------------------------------
    def _give(self, item: Any) -> None:
        if self._closed:
            self._discard(item)
            return
        self._inbox.append(item)
        self._wake()
        if self._shut_down:                         # the thread ended meanwhile: nobody will take it
            while self._inbox:
                with contextlib.suppress(IndexError):
                    self._discard(self._inbox.popleft())

    def _wake(self) -> None:
        # Callers may keep waking after the thread stopped: a closed pipe's number may belong to
        # another file by then, so it is written only while open, under the lock that closes it.
        with self._wake_lock:
            if self._wake_w >= 0:
                with contextlib.suppress(OSError):          # already woken (the pipe is full)
                    os.write(self._wake_w, b"x")

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._closed:
                for fd, events in self._epoll.poll(TICK_S):
                    if fd == self._wake_r:
                        self._drain_inbox()
                    elif fd in self._entries:
                        try:
                            self._ready(fd, events)
                        except Exception:
                            log.exception("%s: dropping a connection after an unexpected error", self.name)
                            self._drop(fd)
                self._tick(time.monotonic())
        finally:
            self._shut()

    def _drain_inbox(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        while self._inbox:
            self._take(self._inbox.popleft())

    def _want(self, fd: int, entry: Any, events: int) -> None:
        if entry.events != events:
            self._epoll.modify(fd, events)
            entry.events = events

    def _drop(self, fd: int) -> None:
        entry = self._entries.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        if entry is not None:
            self._end(entry)

    def _shut(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for fd in list(self._entries):
            self._drop(fd)
        while self._inbox:
            self._discard(self._inbox.popleft())
        with contextlib.suppress(OSError, ValueError):
            self._epoll.close()
        with self._wake_lock:
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_r = self._wake_w = -1

    # -- what a subclass says ---------------------------------------------------------------
    def _take(self, item: Any) -> None:
        raise NotImplementedError

    def _ready(self, fd: int, events: int) -> None:
        raise NotImplementedError

    def _tick(self, now: float) -> None:
        raise NotImplementedError

    def _discard(self, item: Any) -> None:
        """Close an item that never became an entry."""
        raise NotImplementedError

    def _end(self, entry: Any) -> None:
        """Close an entry dropped from the set."""
        raise NotImplementedError
