"""`deskpi doctor`'s current sensor check: off is not a failure; on, the chip must answer and read ~0 A at rest,
and every other finding says what to do. In-process, against a fake control client and a fake I2C bus."""
from __future__ import annotations

import pytest
from helpers import running_sim_daemon

from deskpi.config import defaults, from_mapping
from deskpi.fleet.doctor import Doctor
from deskpi.hw import current_sensor
from deskpi.sim.ina_bus import InaBus, InaChip

ON = {"enabled": True}


class FakeClient:
    def __init__(self, answer: dict) -> None:
        self.answer = answer
        self.asked: list[tuple] = []

    def request(self, cmd, **fields):
        self.asked.append((cmd, fields))
        return self.answer

    def close(self):
        pass


def doctor(settings, *, daemon: dict | None = None) -> Doctor:
    d = Doctor(None, "/nonexistent", move=False)
    d.settings = settings
    if daemon is not None:
        d.client = FakeClient(daemon)
        d.status = {}
    else:
        from deskpi import exit_codes
        from deskpi.daemon.client import ControlError
        d.daemon_error = ControlError("the deskpi daemon is not running", exit_codes.DAEMON_NOT_RUNNING)
    return d


def running(**kw) -> dict:
    return {"enabled": True, "running": True, "problem": None, "at_rest": True,
            "identity": {"chip": "ina219", "config": 0x31CD}, "amps": [0.004, -0.003, 0.001],
            "stats": {"errors": 0, "last_error": None}, **kw}


def test_off_is_reported_as_off_not_as_a_failure():
    c = doctor(defaults()).check_current()
    assert c.status == "pass" and c.detail.startswith("off ([current] enabled = false)")


def test_an_invalid_config_cannot_be_checked():
    c = doctor(None).check_current()
    assert c.status == "fail" and c.hint


def test_a_chip_that_answers_and_reads_nothing_at_rest_passes():
    d = doctor(from_mapping({"current": ON}), daemon=running())
    c = d.check_current()
    assert c.status == "pass", c
    assert "INA219 at 0x40 on I2C bus 1 answers" in c.detail and "+0.001 A" in c.detail
    assert d.client.asked[0][0] == "current"


@pytest.mark.parametrize(("answer", "status", "words", "hint"), [
    ({"running": False, "problem": "cannot open I2C bus 1 ([Errno 2] No such file or directory)"}, "fail",
     "cannot open I2C bus 1", "raspi-config nonint do_i2c 0"),
    ({"running": False, "problem": "no answer from the INA219 at 0x40 on I2C bus 1 (Remote I/O error)"}, "fail",
     "no answer", "i2cdetect -y 1"),
    ({"running": False, "problem": "the smbus2 package is not installed"}, "fail", "smbus2", "deskpi[current]"),
    ({"error": "the chip at 0x40 on I2C bus 1 is not an INA226 (manufacturer ID 0x1234)"}, "fail",
     "not an INA226", "[current] chip"),
    ({"amps": [-0.8, -0.82, -0.79]}, "warn", "wired backwards", "IN+ and IN-"),
    ({"amps": [0.6, 0.61, 0.6]}, "warn", "draws current through the shunt", "shunt_ohms"),
    ({"at_rest": False}, "warn", "the desk was moving", "at rest"),
    ({"stats": {"errors": 7, "last_error": "OSError: [Errno 5] Input/output error"}}, "warn", "7 bus errors",
     "I2C wires"),
])
def test_every_finding_says_what_to_do(answer, status, words, hint):
    c = doctor(from_mapping({"current": ON}), daemon=running(**answer)).check_current()
    assert c.status == status, c
    assert words in c.detail and hint in c.hint, c


def test_a_simulated_desk_without_its_daemon_cannot_be_checked():
    c = doctor(from_mapping({"current": ON, "daemon": {"pin_factory": "mock"}})).check_current()
    assert c.status == "warn" and "not running" in c.detail and "deskpi sim" in c.hint


def test_without_a_daemon_the_chip_is_read_directly(monkeypatch):
    chip = InaChip("ina226", 0.002, lambda: 0.0)
    buses: list[InaBus] = []

    def bus(number):
        assert number == 3
        buses.append(InaBus({0x44: chip}))
        return buses[-1]
    monkeypatch.setattr(current_sensor, "smbus2_bus", bus)
    s = from_mapping({"current": {"enabled": True, "chip": "ina226", "bus": 3, "address": 0x44,
                                  "shunt_ohms": 0.002, "max_amps": 20.0}})
    c = doctor(s).check_current()
    assert c.status == "pass" and "INA226 at 0x44 on I2C bus 3 answers" in c.detail
    assert buses and buses[0].closed                  # and let go of the bus afterwards


def test_without_a_daemon_a_missing_chip_fails_naming_the_address(monkeypatch):
    monkeypatch.setattr(current_sensor, "smbus2_bus", lambda number: InaBus({}))
    c = doctor(from_mapping({"current": ON})).check_current()
    assert c.status == "fail" and "no answer from the INA219 at 0x40" in c.detail
    assert "A0/A1 jumpers" in c.hint and "GPIO2" in c.hint


def test_against_a_simulated_desk_with_the_sensor_on(cli, tmp_path):
    config = tmp_path / "deskpi.toml"
    config.write_text('[current]\nenabled = true\nchip = "ina226"\nshunt_ohms = 0.005\nmax_amps = 12.0\n'
                      '[daemon]\npin_factory = "mock"\n')
    from deskpi.config import load

    with running_sim_daemon(tmp_path / "data", seed=2, settings=load(config)):
        p = cli("--data-dir", str(tmp_path / "data"), "--config", str(config), "doctor", "--json")
        checks = {c["name"]: c for c in cli.parse(p, p.returncode)["checks"]}
    c = checks["current sensor"]
    assert c["status"] == "pass", c
    assert "INA226 at 0x40 on I2C bus 1 answers" in c["detail"]
