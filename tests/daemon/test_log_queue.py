"""The daemon's log never holds up a thread of the desk: a blocked stderr (journald stalled on the
SD card, its pipe full) fills a bounded queue, then drops records and says how many."""
from __future__ import annotations

import io
import logging
import queue
import select
import subprocess
import sys
import textwrap

from deskpi.daemon.log_queue import DroppingQueueHandler, QueuedLog

LINES = 20_000          # 4 MB of log: far beyond a pipe's 64 KB and the queue's 10,000 records

CHILD = textwrap.dedent(f"""
    import logging, sys, threading, time
    from deskpi.daemon import log_queue
    queued = log_queue.install("%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("desk")
    def motion():
        for i in range({LINES}):
            log.info("line %d %s", i, "x" * 180)
    t = threading.Thread(target=motion, name="control-loop")
    t.start()
    t.join()
    print("done", flush=True)          # the thread got through with nobody reading stderr
    sys.stdin.readline()               # the test reads stderr from now on
    while not queued.queue.empty():
        time.sleep(0.01)
    log.warning("after")
""")


def test_a_thread_that_logs_is_not_held_up_by_a_stderr_nobody_reads():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # Nobody reads stderr yet: without the queue the thread blocks once the pipe is full.
        ready = select.select([proc.stdout], [], [], 60.0)[0]
        assert ready, "a thread that logs was held up by a stderr nobody reads"
        assert proc.stdout.readline() == "done\n"
        proc.stdin.write("\n")
        proc.stdin.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = err.splitlines()
    logged = [x for x in lines if x.startswith("INFO desk: line ")]
    notes = [x for x in lines if "log records were dropped" in x]
    assert len(notes) == 1 and lines[-2] == notes[0] and lines[-1] == "WARNING desk: after", lines[-3:]
    dropped = int(notes[0].split("WARNING deskpi.daemon.log_queue: ")[1].split()[0])
    assert dropped > 0 and len(logged) + dropped == LINES
    numbers = [int(x.split()[3]) for x in logged]
    assert numbers == list(range(len(logged))), "records kept come out in order, the first ones first"


def test_every_record_comes_out_in_order_when_the_output_keeps_up():
    out = io.StringIO()
    root = logging.getLogger()
    kept = root.handlers[:]
    try:
        qlog = QueuedLog("%(levelname)s %(message)s", stream=out)
        log = logging.getLogger("desk-test")
        for i in range(500):
            log.info("n=%d", i)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
        qlog.stop()
        qlog.stop()             # a second stop (at exit) does nothing
    finally:
        root.removeHandler(qlog.handler)
        root.handlers[:] = kept
    text = out.getvalue().splitlines()
    assert text[:500] == [f"INFO n={i}" for i in range(500)]
    assert text[500] == "ERROR it failed" and "ValueError: boom" in text[-1]


def test_a_full_queue_drops_and_the_next_record_through_says_how_many():
    q: queue.Queue = queue.Queue(maxsize=3)
    h = DroppingQueueHandler(q)
    rec = [logging.makeLogRecord({"msg": f"r{i}", "levelno": logging.INFO}) for i in range(6)]
    for r in rec:
        h.emit(r)                       # never blocks, never raises
    assert h.dropped == 3 and [q.get_nowait().getMessage() for _ in range(3)] == ["r0", "r1", "r2"]
    h.emit(logging.makeLogRecord({"msg": "r6", "levelno": logging.INFO}))
    note, last = q.get_nowait(), q.get_nowait()
    assert note.levelno == logging.WARNING and note.getMessage().startswith("3 log records were dropped")
    assert last.getMessage() == "r6" and h.dropped == 0
