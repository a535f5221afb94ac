"""The daemon on a simulated desk: readiness, watchdog, status, shutdown order, signals."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_until

from deskpi.config import defaults
from deskpi.core.faults import MotionRefused
from deskpi.core.types import Direction, Source
from deskpi.daemon.root import Daemon
from deskpi.daemon.sdnotify import Notifier

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def daemon(tmp_path, notify_socket):
    path, messages = notify_socket
    notifier = Notifier(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000"})
    d = Daemon(defaults(), sim=True, data_dir=tmp_path / "data", seed=11, notifier=notifier)
    d.start()
    yield d, messages
    d.shutdown()


def test_ready_is_sent_once_the_sensor_is_fresh_with_a_status(daemon):
    d, messages = daemon
    wait_until(lambda: any("READY=1" in m for m in messages), what="READY=1")
    ready = next(m for m in messages if "READY=1" in m)
    assert "STATUS=" in ready and " mm, idle" in ready
    assert d.ready_at is not None and d.parts.controller.estimator.is_fresh(time.monotonic())


def test_watchdog_is_fed_only_while_the_sensor_is_fresh(daemon):
    d, messages = daemon
    wait_until(lambda: messages.count("WATCHDOG=1") >= 2, what="watchdog pings")
    d.parts.sim_desk.inject("sensor_dead")
    wait_until(lambda: not d.parts.controller.estimator.is_fresh(time.monotonic()), what="sensor to go stale")
    before = messages.count("WATCHDOG=1")
    # Three watchdog periods (0.2 s each at WATCHDOG_USEC=0.6 s) without a single ping.
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        time.sleep(0.05)
    assert messages.count("WATCHDOG=1") == before
    assert d.parts.controller.fault is not None and d.parts.controller.fault.kind.value == "sensor_dead"


def test_status_reports_height_and_fault(daemon):
    d, messages = daemon
    wait_until(lambda: d.ready_at is not None, what="ready")
    d.parts.sim_desk.inject("sensor_dead")
    wait_until(lambda: any("fault: sensor_dead" in m for m in messages), what="a STATUS naming the fault")


def test_shutdown_turns_the_motor_off_first_and_runs_every_step(tmp_path):
    d = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=2)
    d.start()
    wait_until(lambda: d.ready_at is not None, what="ready")
    order: list[str] = []
    drive_off = d.parts.drive.off
    d.parts.drive.off = lambda: (order.append("drive.off"), drive_off())[1]

    def broken_close():
        order.append("sensor.close")
        raise RuntimeError("pin library exploded")

    d.parts.sensor.close = broken_close
    d.parts.service.move_to(d.parts.controller.height_mm() + 150)
    wait_until(lambda: d.parts.drive.direction is not None, what="motor on")
    d.shutdown()
    assert order[0] == "drive.off"
    assert "sensor.close" in order
    assert d.parts.drive.direction is None
    assert (tmp_path / "stop_model.json").exists(), "the learned model is saved even after a failing step"


def test_learned_model_survives_a_restart(tmp_path):
    d = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=4)
    d.start()
    wait_until(lambda: d.ready_at is not None, what="ready")
    done = threading.Event()
    d.parts.loop.listeners.append(lambda k, e: done.set() if k == "move_done" else None)
    d.parts.service.move_to(d.parts.controller.height_mm() + 100)
    assert done.wait(30)
    learned = d.parts.controller.model.to_dict()
    d.shutdown()
    d2 = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=4)
    d2.build()
    try:
        assert d2.parts.controller.model.to_dict() == learned
    finally:
        d2.shutdown()


def test_arbiter_priorities_and_child_lock(tmp_path):
    d = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=6)
    d.start()
    try:
        wait_until(lambda: d.ready_at is not None, what="ready")
        svc = d.parts.service
        here = d.parts.controller.height_mm()
        svc.move_to(here + 200, Source.BUTTON)
        wait_until(lambda: d.parts.drive.direction is not None, what="motor on")
        with pytest.raises(MotionRefused, match="desk's buttons"):
            svc.move_to(here + 50, Source.REMOTE)
        with pytest.raises(MotionRefused, match="desk's buttons"):
            svc.move_to(here + 50, Source.SCHEDULE)
        svc.stop(Source.SCHEDULE)            # stop beats everything, whoever sends it
        assert d.parts.drive.direction is None
        wait_until(lambda: d.parts.controller.state.value == "idle", what="idle")
        svc.move_to(here + 200, Source.SCHEDULE)
        wait_until(lambda: d.parts.drive.direction is not None, what="motor on")
        svc.move_to(here + 100, Source.REMOTE)      # a person's request beats the schedule
        assert d.parts.arbiter.owner is Source.REMOTE
        d.parts.arbiter.set_locked(True)
        assert d.parts.drive.direction is None
        for call in (lambda: svc.move_to(here, Source.BUTTON), lambda: svc.hold(Direction.UP, Source.BUTTON)):
            with pytest.raises(MotionRefused, match="child-locked"):
                call()
        svc.stop(Source.REMOTE)
    finally:
        d.shutdown()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sim_process_exits_cleanly_on_signal(tmp_path, notify_socket, sig):
    path, messages = notify_socket
    env = dict(os.environ, NOTIFY_SOCKET=path, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--port", "0", "--data-dir",
                             str(tmp_path / "d")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until(lambda: any("READY=1" in m for m in messages), timeout=30, what="READY=1 from deskpi sim")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "open http://127.0.0.1:" in out
    assert any("STOPPING=1" in m for m in messages)


def test_moves_are_audited_heights_logged_and_presets_follow_the_active_user(tmp_path):
    d = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=9)
    d.start()
    try:
        wait_until(lambda: d.ready_at is not None, what="ready")
        store = d.parts.store
        store.add_user("Ada", seated_mm=700, standing_mm=1120)
        svc = d.parts.service
        assert svc.snapshot()["presets"][0]["height_mm"] == 720.0     # nobody active: the desk's own
        store.set_active_user("Ada")
        assert [p["height_mm"] for p in svc.snapshot()["presets"]][:2] == [700, 1120]
        done = threading.Event()
        d.parts.loop.listeners.append(lambda k, e: done.set() if k == "move_done" else None)
        svc.recall_preset(2, Source.REMOTE)
        assert done.wait(40)
        svc.save_preset(3)
        assert store.get_presets("Ada")[3] is not None
        wait_until(lambda: len(store.list_audit(user="Ada")) >= 3, what="audit rows")
        actions = {(e.source, e.action) for e in store.list_audit(user="Ada")}
        assert {("web", "move"), ("web", "recall"), ("web", "save")} <= actions
    finally:
        d.shutdown()
    from deskpi.store import Store, db_path
    with Store.open(db_path(tmp_path)) as store:
        heights = [h.height_mm for h in store.heights_between(0, time.time() + 1)]
    assert heights and min(heights) < 800 and max(heights) > 1100, "the move is in the height log"


def test_a_pause_mid_move_and_its_verdict_are_in_the_log(tmp_path, caplog):
    # A desk that "stutters" now and then: facilities reading `deskpi logs` see why it paused.
    d = Daemon(defaults(), sim=True, data_dir=tmp_path, seed=5)
    with caplog.at_level(logging.INFO, logger="deskpi.daemon.root"):
        d._on_event("suspicion", {"kind": "obstruction", "detail": "the desk slowed to a stop while the motor was on",
                                  "t": 1.0, "direct": False})
        d._on_event("suspicion_dismissed", {"kind": "obstruction", "t": 1.5})
    said = [r.getMessage() for r in caplog.records]
    assert said == ["motor off on a suspected obstruction (the desk slowed to a stop while the motor was on); "
                    "judging once the desk has settled",
                    "the suspected obstruction was a false alarm: the move goes on"], said
