"""hw.safe_off and hw.pin_factory in-process: which pins are switched off, on which factory."""
from __future__ import annotations

from gpiozero.pins.mock import MockFactory

from deskpi.hw import motor_pins, pin_factory
from deskpi.hw.pin_factory import pin_factory_for
from deskpi.hw.safe_off import switch_off_motor_pins


def test_the_configured_and_the_remembered_pins_are_switched_off(tmp_path) -> None:
    motor_pins.remember(tmp_path, [(22, False)])
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(f'[motor]\nup_pin = 17\ndown_pin = 27\n[daemon]\npin_factory = "mock"\ndata_dir = "{tmp_path}"\n')
    result = switch_off_motor_pins(cfg)
    assert result.ok and result.problems == []
    assert sorted(result.switched_off) == [17, 22, 27]


def test_a_broken_config_and_no_record_switch_nothing_off_and_say_so(tmp_path) -> None:
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text("not = [valid toml")
    result = switch_off_motor_pins(cfg, tmp_path / "empty")
    assert not result.ok and result.switched_off == []
    assert len(result.problems) == 2 and "nothing switched off" in result.problems[-1]


def test_auto_off_a_raspberry_pi_gives_a_mock_factory_only_to_those_who_ask(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(pin_factory, "MODEL_FILE", tmp_path / "no-such-model")
    assert isinstance(pin_factory_for("auto", allow_mock_off_pi=True), MockFactory)
    assert pin_factory_for("auto") is None                     # gpiozero chooses (and finds no pins)


def test_auto_on_a_raspberry_pi_lets_gpiozero_choose(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    model = tmp_path / "model"
    model.write_text("Raspberry Pi 4 Model B Rev 1.4\x00")
    monkeypatch.setattr(pin_factory, "MODEL_FILE", model)
    assert pin_factory.is_raspberry_pi()
    assert pin_factory_for("auto", allow_mock_off_pi=True) is None
