"""A full disk under a running simulated daemon: the desk still moves and stops, the recorder drops
the rows it cannot write without a traceback each and without holding up the control loop, and
`deskpi status --json` (the control socket's status reply) and `deskpi doctor` say so until a write
works again.

The daemon's own SQLite file is made full for real: `PRAGMA max_page_count` caps it at its size
and the height log and audit trail are filled through the store until SQLite answers SQLITE_FULL.
"""
from __future__ import annotations

import logging
import threading
import time

import pytest
from helpers import calm, desk_at_rest, running_sim_daemon, wait_until

from deskpi.daemon.client import ControlClient
from deskpi.fleet.doctor import run_checks
from deskpi.util.storage import StorageFull


def _fill(write) -> None:
    with pytest.raises(StorageFull):
        for n in range(100_000):
            write(n)


def make_full(store) -> None:
    store.db.execute("PRAGMA max_page_count = 1")               # clamped to the file's present size
    now = time.time()
    # Each sample a step back in time: the log re-anchors and writes every one (what the sensor would log).
    _fill(lambda n: store.log_heights([(now - 10_000 + 0.001 * -n, 700.0 + n % 2 * 100, "sensor")]))
    _fill(lambda n: store.append_audit("cli", "stop", t=now))      # the smallest rows: no page keeps room for one


def recorder_alive() -> bool:
    return any(t.name == "recorder" and t.is_alive() for t in threading.enumerate())


def room(store) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


@pytest.fixture
def daemon(tmp_path):
    with running_sim_daemon(tmp_path / "data", seed=11) as d:
        yield d


def test_a_full_disk_costs_the_height_log_never_the_desk(daemon, caplog):
    d = daemon
    store = d.parts.store
    calm(d)
    with caplog.at_level(logging.INFO), ControlClient(d.data_dir) as client:
        assert client.request("status")["storage"] == {"full": False, "since": None}
        make_full(store)
        ticks = d.parts.loop.ticks
        here = d.parts.sim_desk.true_height()
        target = here + 150 if here < 1000 else here - 150
        client.request("move", target_mm=target)            # audited (which fails) and logged (which fails)
        wait_until(lambda: store.storage.full, 30, "a failed write by the recorder")
        wait_until(lambda: d.parts.controller.state.value == "idle" and desk_at_rest(d), 30, "the move to end")
        assert abs(d.parts.sim_desk.true_height() - target) < 8, "the desk moved as asked"
        assert d.parts.loop.ticks > ticks and recorder_alive()

        st = client.request("status")
        assert st["storage"]["full"] is True and st["storage"]["since"] <= time.time()
        assert "database or disk is full" in st["storage"]["detail"]
        assert st["storage"]["message"].startswith("the desk's storage is full: ")

        report = {c["name"]: c for c in run_checks(data_dir=str(d.data_dir))["checks"]}
        assert report["storage"]["status"] == "fail", report["storage"]
        assert "storage is full" in report["storage"]["detail"] and "free some space" in report["storage"]["hint"]

        # Stop always works; a second move too.
        client.request("move", target_mm=here)
        client.request("stop")
        wait_until(lambda: not d.parts.controller.busy, 30, "the stop")

        room(store)
        client.request("stop")                               # an audit entry that can be written now
        wait_until(lambda: not store.storage.full, 30, "a write that works to clear the flag")
        assert client.request("status")["storage"] == {"full": False, "since": None}
        report = {c["name"]: c for c in run_checks(data_dir=str(d.data_dir))["checks"]}
        assert report["storage"]["status"] == "pass"
    said = [r for r in caplog.records if "storage" in r.getMessage()]
    assert 1 <= len(said) <= 2, [r.getMessage() for r in said]        # "full", maybe "accepts writes again"
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def test_the_recorder_never_makes_the_control_loop_wait_on_a_full_disk(daemon):
    """A burst of heights and audit entries from one thread, as the control loop and the buttons give
    them: every call returns (the queue drops heights, writes fail and are counted), and the recorder
    thread carries on to write again once there is room."""
    store, recorder = daemon.parts.store, daemon.parts.recorder
    make_full(store)
    done = threading.Event()

    def burst():
        for i in range(30_000):
            recorder.height(700.0 + i % 400)
            if i % 1000 == 0:
                recorder.audit("button", "stop")
        done.set()

    threading.Thread(target=burst, name="fake-control-loop", daemon=True).start()
    assert done.wait(30), "a call into the recorder blocked"
    wait_until(lambda: store.storage.full, 10, "the recorder's failed writes to be counted")
    assert recorder_alive()
    room(store)
    before = len(store.list_audit(limit=100_000))
    recorder.audit("button", "stop")
    wait_until(lambda: len(store.list_audit(limit=100_000)) > before, 30, "the recorder writing again")
    assert not store.storage.full
