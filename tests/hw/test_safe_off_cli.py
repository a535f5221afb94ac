"""`deskpi safe-off` as systemd runs it: from the config, and from what the daemon last used."""
from __future__ import annotations

from deskpi.hw import motor_pins

AS_SYSTEMD = {"GPIOZERO_PIN_FACTORY": None}      # as systemd runs it: no pin factory chosen by the environment


def test_safe_off_with_a_valid_config_exits_0_and_names_the_pins(cli, tmp_path):
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(f'[motor]\nup_pin = 17\ndown_pin = 27\n[daemon]\ndata_dir = "{tmp_path}"\n')
    out = cli("safe-off", "--config", str(cfg), env=AS_SYSTEMD)
    assert out.returncode == 0, out.stderr
    assert "GPIO17" in out.stdout and "GPIO27" in out.stdout


def test_pins_the_daemon_used_are_switched_off_too_after_the_config_changed(cli, tmp_path):
    motor_pins.remember(tmp_path, [(22, True), (23, False)])
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(f'[motor]\nup_pin = 17\ndown_pin = 27\n[sensor]\ntrigger_pin = 5\necho_pin = 6\n'
                   f'[buttons]\nup_pin = false\ndown_pin = false\n[daemon]\ndata_dir = "{tmp_path}"\n')
    out = cli("safe-off", "--config", str(cfg), env=AS_SYSTEMD)
    assert out.returncode == 0, out.stderr
    for pin in (17, 22, 23, 27):
        assert f"GPIO{pin}" in out.stdout


def test_a_broken_config_still_switches_off_the_remembered_pins_but_fails(cli, tmp_path):
    motor_pins.remember(tmp_path, [(17, True), (27, True)])
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text("[motor]\nup_pin = 'seventeen'\n")
    out = cli("--data-dir", str(tmp_path), "safe-off", "--config", str(cfg), env=AS_SYSTEMD)
    assert out.returncode == 1
    assert "GPIO17" in out.stdout and "GPIO27" in out.stdout
    assert "up_pin" in out.stderr and "'seventeen'" in out.stderr


def test_a_broken_config_and_no_record_is_a_clear_failure(cli, tmp_path):
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text("not = [valid toml")
    out = cli("--data-dir", str(tmp_path / "empty"), "safe-off", "--config", str(cfg), env=AS_SYSTEMD)
    assert out.returncode == 1
    assert "nothing switched off" in out.stderr


def test_merge_prefers_the_polarity_the_daemon_used():
    assert motor_pins.merge([(17, False)], [(17, True), (27, True)]) == [(17, False), (27, True)]
