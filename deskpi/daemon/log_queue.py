"""The daemon's log: no thread of the desk ever waits for the log's output.

The motion threads log while holding the control loop's lock (a suspicion, a fault, a listener's
note), and a button press takes that lock before the motor pin. Written straight to stderr, a log
line waits whenever stderr does: journald stalled on the SD card's fsync and the pipe's 64 KB
full, or a page-cache write throttled under the card's writeback. Then every thread that logs,
and every thread behind the lock it holds, waits too, a button press among them.

So a log call only formats its record and puts it on a bounded queue; one `log-writer` thread
does the writing. If the output stays blocked until the queue is full, new records are dropped
(the desk goes on) and counted, and the first record that gets through afterwards is preceded by
a warning saying how many were lost.
"""
from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
import threading
from typing import TextIO

#: Records held while the output is blocked (a few minutes of a busy desk's log).
QUEUE_RECORDS = 10_000


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that never blocks and never raises: a full queue drops the record and counts it.
    (`Handler.handle` holds the handler's lock around `emit`, so the count needs no lock of its own.)"""

    def __init__(self, q: queue.Queue) -> None:
        super().__init__(q)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            if self.dropped:
                note = logging.makeLogRecord({
                    "name": __name__, "levelno": logging.WARNING, "levelname": "WARNING",
                    "msg": f"{self.dropped} log records were dropped: the log's output was blocked"})
                self.queue.put_nowait(note)
                self.dropped = 0
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class QueuedLog:
    """The root logger hands its records to the queue, written out by the `log-writer` thread; `stop()`
    writes out what is left (also at exit), waiting a moment at most for a blocked output."""

    def __init__(self, fmt: str, *, level: int = logging.INFO, stream: TextIO | None = None,
                 records: int = QUEUE_RECORDS) -> None:
        self.out = logging.StreamHandler(stream if stream is not None else sys.stderr)
        self.out.setFormatter(logging.Formatter(fmt))
        self.queue: queue.Queue = queue.Queue(maxsize=records)
        self.handler = DroppingQueueHandler(self.queue)
        root = logging.getLogger()
        root.addHandler(self.handler)
        root.setLevel(level)
        self._thread: threading.Thread | None = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.stop)

    def _write(self) -> None:
        while (record := self.queue.get()) is not _END:
            self.out.handle(record)

    def stop(self, wait_s: float = 2.0) -> None:
        """Write out what is queued and end the writer; with the output still blocked after `wait_s`,
        leave it (what is queued goes with the process). A second call does nothing."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self.queue.put(_END, timeout=wait_s)
        except queue.Full:
            return
        thread.join(wait_s)


_END = object()


def install(fmt: str, *, level: int = logging.INFO) -> QueuedLog | None:
    """The daemon's logging, as `logging.basicConfig` would set it up but queued: only where the root
    logger has no handler yet (a test's log capture, or a second call, is left as it is)."""
    if logging.getLogger().handlers:
        return None
    return QueuedLog(fmt, level=level)
