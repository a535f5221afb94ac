"""A lane of its own for Stop through the web: `POST /api/v1/stop` never waits for a free worker.

Live pages hold most of the worker pool for their life and a busy office queues requests behind
them, so a Stop sent from a phone waited tens of milliseconds under load (`deskpi bench stress`).
The gate (deskpi.daemon.web_gate) already has the whole request head when it hands a connection
over; when its request line is exactly `POST /api/v1/stop` the connection goes to this lane's own
cheroot worker threads instead of the shared queue. They answer it through the same WSGI app, so
the session, CSRF and audit checks are the app's as for any request. The lane's queue is small and
its threads fixed: when it is full, the request takes the normal way, so a flood of stops neither
grows threads nor starves anyone else.
"""
from __future__ import annotations

import contextlib
import queue
import re

from cheroot.workers.threadpool import _SHUTDOWNREQUEST, WorkerThread

from deskpi.daemon.priority import favour

#: Only this request line takes the lane: the method and the exact path, a query string allowed.
_STOP_LINE = re.compile(rb"POST /api/v1/stop(?:\?[^ \r\n]*)? HTTP/1\.[01]\r?\n")
THREADS = 2
QUEUE_SIZE = 4


def is_stop_request(head: bytes) -> bool:
    """Whether `head` (what the gate read ahead) starts with Stop's request line."""
    return _STOP_LINE.match(head) is not None


class _LaneView:
    """cheroot's WorkerThread as it sees its server: the server itself, with the lane's queue as `requests`."""

    def __init__(self, server, requests: queue.Queue) -> None:
        self.__dict__["_server"] = server
        self.__dict__["requests"] = requests

    def __getattr__(self, name: str):
        return getattr(self._server, name)

    def __setattr__(self, name: str, value) -> None:     # e.g. `interrupt` on a shutdown request
        setattr(self._server, name, value)


class StopLane:
    """`offer(conn)` queues a Stop for the lane's threads, or returns False when the lane is full."""

    def __init__(self, server, threads: int = THREADS, queue_size: int = QUEUE_SIZE) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        view = _LaneView(server, self._queue)
        self.threads = [WorkerThread(view) for _ in range(threads)]
        for i, t in enumerate(self.threads):
            t.name = f"web-stop-{i + 1}"
            t.daemon = True

    def start(self) -> None:
        for t in self.threads:
            t.start()
            # As the motion threads; refused without LimitNICE= or CAP_SYS_NICE, the lane still skips the queue.
            favour(t)

    def offer(self, conn) -> bool:
        try:
            self._queue.put_nowait(conn)
        except queue.Full:
            return False
        return True

    def stop(self, timeout_s: float) -> None:
        for _ in self.threads:
            with contextlib.suppress(queue.Full):
                self._queue.put(_SHUTDOWNREQUEST, timeout=timeout_s)
        for t in self.threads:
            t.join(timeout_s)
