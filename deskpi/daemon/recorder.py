"""Writes the height log and the motion audit to the store, off the control loop.

An SD card's fsync can take tens of milliseconds; the control loop must never
wait for one. Everything is queued and written by one thread; a full queue
drops the oldest height sample (the next one supersedes it) but never an
audit entry. A full disk (StorageFull from the store) costs the rows that
could not be written, said once a minute by the store's storage monitor
rather than a traceback per row; the thread carries on, and the listeners
still hear every height.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

from deskpi.util.storage import StorageFull

log = logging.getLogger(__name__)

_STOP = object()


class Recorder:
    def __init__(self, store, *, wall_clock=time.time) -> None:
        self.store = store
        self.wall_clock = wall_clock
        self._q: queue.Queue = queue.Queue(maxsize=10000)
        self._last_height: float | None = None
        self._last_push = 0.0
        # Called on the recorder's thread with each height offered to the store (habits watch posture).
        self.listeners: list = []
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def height(self, height_mm: float | None) -> None:
        """Offer the current height (None: unknown). Only changes of >= 1 mm, or one
        sample every 30 s, go to the queue; the store keeps just what statistics need."""
        now = self.wall_clock()
        last = self._last_height
        changed = (height_mm is None) != (last is None) or (
            height_mm is not None and last is not None and abs(height_mm - last) >= 1.0)
        if not changed and now - self._last_push < 30.0:
            return
        self._last_height = height_mm
        self._last_push = now
        self._put(("height", now, height_mm), droppable=True)

    def audit(self, source: str, action: str, *, user: str | None = None, detail: dict | None = None,
              remote: str | None = None) -> None:
        self._put(("audit", self.wall_clock(), source, action, user, detail, remote), droppable=False)

    def _put(self, item, *, droppable: bool) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            if droppable:
                return
            self._q.put(item, timeout=1.0)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _STOP:
                return
            if item[0] == "height":
                _, t, h = item
                self._write(item[0], self.store.log_height, t, h, "sensor")
                try:
                    for fn in list(self.listeners):
                        fn(h)
                except Exception:
                    log.exception("a height listener failed")
            else:
                _, t, source, action, user, detail, remote = item
                self._write(item[0], self.store.append_audit, source, action, user=user, detail=detail,
                            remote=remote, t=t)

    @staticmethod
    def _write(what: str, write, *args, **kwargs) -> None:
        try:
            write(*args, **kwargs)
        except StorageFull:
            pass                    # the store's monitor logs it once a minute and raises the flag
        except Exception:
            log.exception("could not record %s", what)

    def close(self) -> None:
        self._q.put(_STOP)
        self._thread.join(timeout=5.0)
        try:
            self.store.flush_heights()
        except Exception:
            log.exception("could not flush the height log")
