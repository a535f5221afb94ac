"""[sensor] temperature_source, scale and re-zero keys: what is allowed, and errors that say so."""
from __future__ import annotations

import pytest

from deskpi.config import ConfigError, defaults, from_mapping


def test_defaults_change_nothing():
    s = defaults().sensor
    assert (s.temperature_source, s.calibration_temperature_c, s.scale, s.rezero_at_bottom) == ("none", None, 1.0,
                                                                                               False)


@pytest.mark.parametrize("source", ["none", "fixed", "w1:28-0316a279d3ff", "w1:10-000802b4f0a1"])
def test_good_sources(source):
    assert from_mapping({"sensor": {"temperature_source": source}}).sensor.temperature_source == source


@pytest.mark.parametrize(("sensor", "words"), [
    ({"temperature_source": "w1:28-XYZ"}, ("[sensor] temperature_source = 'w1:28-XYZ'", '"none", "fixed"',
                                           "/sys/bus/w1/devices")),
    ({"temperature_source": "ds18b20"}, ("'ds18b20'", '"w1:28-xxxxxxxxxxxx"')),
    ({"temperature_source": 21}, ("[sensor] temperature_source = 21", "must be a string")),
    ({"scale": 1.3}, ("[sensor] scale = 1.3", "0.9..1.1")),
    ({"calibration_temperature_c": 90}, ("[sensor] calibration_temperature_c = 90", "-30..60")),
    ({"rezero_at_bottom": "yes"}, ("[sensor] rezero_at_bottom = 'yes'", "true or false")),
    ({"rezero_max_mm": 100}, ("[sensor] rezero_max_mm = 100", "2..50")),
])
def test_bad_values_say_what_was_wrong_and_what_is_allowed(sensor, words):
    with pytest.raises(ConfigError) as err:
        from_mapping({"sensor": sensor})
    for w in words:
        assert w in str(err.value)


def test_a_pin_on_the_1_wire_bus_is_a_warning():
    s = from_mapping({"sensor": {"temperature_source": "w1:28-0316a279d3ff"}, "habits": {"pir_pin": 4}})
    assert any(w.startswith("[habits] pir_pin = 4: GPIO4 is the 1-wire bus's default pin") for w in s.warnings)
    assert not from_mapping({"habits": {"pir_pin": 4}}).warnings or all(
        "1-wire" not in w for w in from_mapping({"habits": {"pir_pin": 4}}).warnings)
