"""The real simulated daemon with `[current] enabled = true`: the real INA226 driver reads the simulated desk's
I2C bus, its samples reach the controller, the heartbeat paces it, doctor and status see it; a sensor that
cannot be opened is a warning, and the daemon runs on the ultrasonic sensor alone."""
from __future__ import annotations

import logging

from helpers import running_sim_daemon, wait_until

from deskpi.config import from_mapping
from deskpi.core.types import Source
from deskpi.daemon.client import ControlClient
from deskpi.sim.ina_bus import InaBus
from deskpi.sim.mockdesk import SimulatedDesk

CURRENT = {"enabled": True, "chip": "ina226", "shunt_ohms": 0.005, "max_amps": 12.0}


def settings():
    return from_mapping({"current": CURRENT})


def at_rest(d) -> bool:
    return not d.parts.controller.busy and d.parts.drive.direction is None


def test_the_current_reader_runs_in_the_sim_and_learns_the_running_current(tmp_path, monkeypatch, cli):
    buses: list[InaBus] = []
    original = SimulatedDesk.i2c_bus

    def kept(self, *a, **kw):
        buses.append(original(self, *a, **kw))
        return buses[-1]
    monkeypatch.setattr(SimulatedDesk, "i2c_bus", kept)
    with running_sim_daemon(tmp_path / "data", seed=5, settings=settings()) as d:
        reader = d.parts.current
        assert reader is not None and d.parts.controller.cfg.current_sensing
        wait_until(lambda: reader.samples >= 3, what="current samples at rest")
        with ControlClient(d.data_dir) as c:
            seen = c.request("current", samples=5)
        assert seen["running"] and seen["identity"]["manufacturer_id"] == 0x5449
        assert all(abs(a) < 0.2 for a in seen["amps"])                # motor off
        home = d.parts.sim_desk.true_height()
        for target in (home + 120, home):
            wait_until(lambda: at_rest(d), 30, "the desk at rest")
            d.parts.service.move_to(target, Source.REMOTE, "test")
            wait_until(lambda: d.parts.controller.busy, what="the move to start")
            assert reader.interval_now_s == reader.interval_s          # the heartbeat woke it for the move
            wait_until(lambda: at_rest(d), 60, "the move to end")
            assert d.parts.controller.fault is None, d.parts.controller.fault
        with ControlClient(d.data_dir) as c:
            st = c.request("status")
        assert st["current"] == {"enabled": True, "running": True, "problem": None}
        spec = d.parts.sim_desk.physics.spec
        up = st["learned"]["up"]
        assert up["current_moves"] >= 1
        assert 0.7 * spec.current_up_a < up["current_a"] < 1.3 * spec.current_up_a      # load varies +-15 %
        assert 0.0 < up["current_peak"] < 1.0          # how near the checks came to cutting it: they did not
        assert reader.errors == 0
        p = cli("--data-dir", str(d.data_dir), "status")
        assert f"  current  up {up['current_a']:g} A, down " in p.stdout, p.stdout
        wait_until(lambda: reader.interval_now_s == reader.idle_interval_s, 20, "the reader back at its rest pace")
    assert len(buses) == 1 and buses[0].closed                        # closed at shutdown


def test_a_stall_is_stopped(tmp_path):
    with running_sim_daemon(tmp_path / "data", seed=6, settings=settings()) as d:
        wait_until(lambda: at_rest(d), 30, "the desk at rest")
        d.parts.service.move_to(d.parts.sim_desk.true_height() + 150, Source.REMOTE, "test")
        wait_until(lambda: d.parts.controller.busy and d.parts.current.latest.amps > 1.0, what="the motor running")
        d.parts.sim_desk.inject("stall")
        wait_until(lambda: d.parts.controller.fault is not None, 20, "the stall to be found")
        assert d.parts.controller.fault.kind.value in ("stall", "obstruction")
        wait_until(lambda: d.parts.drive.direction is None, what="the motor off")


def test_a_sensor_that_cannot_be_opened_is_a_warning_not_a_dead_desk(tmp_path, monkeypatch, caplog, cli):
    monkeypatch.setattr(SimulatedDesk, "i2c_bus", lambda self, chip, address, shunt_ohms: InaBus({}))
    with caplog.at_level(logging.WARNING, logger="deskpi.daemon.root"), \
            running_sim_daemon(tmp_path / "data", seed=7, settings=settings()) as d:
        assert d.parts.current is None
        assert not d.parts.controller.cfg.current_sensing        # no samples will come: none are waited for
        assert "no answer from the INA226 at 0x40" in d.current_problem
        with ControlClient(d.data_dir) as c:
            st = c.request("status")
            seen = c.request("current")
        assert st["current"]["running"] is False and "no answer" in st["current"]["problem"]
        assert {k: v for k, v in seen.items() if k != "ok"} == st["current"]
        p = cli("--data-dir", str(d.data_dir), "status")
        assert "  current  NOT READING: no answer from the INA226" in p.stdout, p.stdout
        wait_until(lambda: at_rest(d), 30, "the desk at rest")
        d.parts.service.move_to(d.parts.sim_desk.true_height() + 40, Source.REMOTE, "test")
        wait_until(lambda: d.parts.controller.busy, what="the move to start")
        wait_until(lambda: at_rest(d), 60, "the move to end")
        assert d.parts.controller.fault is None
    assert any("current sensor unavailable" in r.getMessage() and "ultrasonic sensor alone" in r.getMessage()
               for r in caplog.records)


def test_off_builds_no_reader(tmp_path):
    with running_sim_daemon(tmp_path / "data", seed=8) as d:
        assert d.parts.current is None and not d.parts.controller.cfg.current_sensing
        assert d.current_problem is None
        with ControlClient(d.data_dir) as c:
            assert c.request("current") == {"ok": True, "enabled": False, "running": False, "problem": None}
