"""deskpi.example.toml: it loads cleanly, documents every option with its default, and
bad configs are rejected with messages that name the section, key and value."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from deskpi.config import SCHEMA, ConfigError, defaults, from_mapping, load
from deskpi.hw.pinmap import DEFAULT_PINS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deskpi.example.toml"

HEADER = re.compile(r"^\[(\w+)\]\s*(#.*)?$")
# `key = value` or a commented example `# key = value`
KEY = re.compile(r"^(#\s*)?(\w+)\s*=")


def _documented_keys(text: str) -> dict[str, set[str]]:
    """Section -> keys that appear in it, set or as a commented example."""
    found: dict[str, set[str]] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if m := HEADER.match(line):
            section = m.group(1)
            found.setdefault(section, set())
        elif section is not None and (m := KEY.match(line)):
            found[section].add(m.group(2))
    return found


@pytest.fixture(scope="module")
def example():
    return load(EXAMPLE)


def test_example_loads_without_warnings(example):
    assert example.warnings == ()
    assert example.source == str(EXAMPLE)


def test_example_documents_every_section_and_key():
    found = _documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    missing = {f"[{s}] {k}" for s, opts in SCHEMA.items() for k in opts if k not in found.get(s, set())}
    assert not missing, f"deskpi.example.toml does not mention: {sorted(missing)}"
    extra = {f"[{s}] {k}" for s, keys in found.items() for k in keys if k not in SCHEMA.get(s, {})}
    assert not extra, f"deskpi.example.toml mentions keys that do not exist: {sorted(extra)}"


def test_example_sets_the_defaults(example):
    """Every value in the example is the built-in default, so deleting a line changes nothing."""
    assert example.as_dict() == defaults().as_dict()


def test_example_pins_are_the_default_pin_map(example):
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, pins in DEFAULT_PINS.items():
        for key, pin in pins.items():
            # written out explicitly (not left to the default), and equal to pinmap.py
            assert raw[section][key] == pin, f"[{section}] {key}"
            value = getattr(getattr(example, section), key)
            assert value == (tuple(pin) if isinstance(pin, list) else pin), f"[{section}] {key}"


def test_example_explains_false_for_an_unconnected_pin():
    text = EXAMPLE.read_text(encoding="utf-8")
    assert re.search(r"`false`.*not connected|not connected.*`false`", text, re.S)
    # and what it says holds: an optional pin set to false is None (not connected)
    s = from_mapping({"indicators": {"buzzer_pin": False}, "buttons": {"up_pin": False}})
    assert s.indicators.buzzer_pin is None and s.buttons.up_pin is None


def test_example_every_key_has_a_comment():
    """Each set key is preceded by at least one comment line (its explanation)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\w+)\s*=", line)
        if not m:
            continue
        j = i - 1
        while j >= 0 and re.match(r"^\w+\s*=", lines[j]):  # a group of keys under one comment
            j -= 1
        if j < 0 or not lines[j].lstrip().startswith("#"):
            uncommented.append(m.group(1))
    assert not uncommented


RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:-|\.\.)\s*(-?\d+(?:\.\d+)?)")


def test_example_states_the_allowed_ranges():
    """The range given in a key's comment is the one config.py enforces (they drift otherwise)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    section, comment, wrong, after_key = None, [], [], False
    for line in lines:
        if m := HEADER.match(line):
            section, comment, after_key = m.group(1), [], False
        elif line.startswith("#"):
            comment = [line] if after_key else comment + [line]
            after_key = False
        elif m := re.match(r"^(\w+)\s*=", line):
            after_key = True
            opt = SCHEMA[section][m.group(1)]
            if opt.lo is not None and not m.group(1).endswith("_pin"):
                stated = {(float(a), float(b)) for a, b in RANGE.findall(" ".join(comment))}
                if (float(opt.lo), float(opt.hi)) not in stated:
                    wrong.append(f"[{section}] {m.group(1)}: allowed {opt.lo:g}-{opt.hi:g}, comment says {stated}")
            # keys written right under another key share its comment
        else:
            comment = []
    assert not wrong, "\n".join(wrong)


def test_hbridge_with_an_enable_pin_from_the_docs_is_clean():
    """hardware/README.md suggests GPIO22 for the H-bridge enable: it must not clash."""
    s = from_mapping({"motor": {"driver": "hbridge", "enable_pin": 22}})
    assert s.warnings == ()
    assert (22, True) in s.motor_pins()


BAD = [
    pytest.param("[desk]\nmin_hight_mm = 700\n", ["[desk]", "min_hight_mm", "unknown key"], id="unknown-key"),
    pytest.param("[moter]\nup_pin = 17\n", ["[moter]", "unknown section"], id="unknown-section"),
    pytest.param('[web]\nport = "8080"\n', ["[web] port", "'8080'", "whole number"], id="wrong-type-int"),
    pytest.param('[desk]\ncorrections = "yes"\n', ["[desk] corrections", "'yes'", "true or false"],
                 id="wrong-type-bool"),
    pytest.param("[desk]\ntolerance_mm = 0.1\n", ["[desk] tolerance_mm", "0.1", "0.5..20"], id="out-of-range"),
    pytest.param("[sensor]\necho_pin = 40\n", ["[sensor] echo_pin", "40", "0..27"], id="pin-out-of-range"),
    pytest.param('[motor]\ndriver = "l298n"\n', ["[motor] driver", "'l298n'", "'relay'", "'hbridge'"],
                 id="bad-choice"),
    pytest.param("[motor]\nup_pin = false\n", ["[motor] up_pin", "False", "GPIO"], id="required-pin-false"),
    pytest.param("[indicators]\nled_pin = 17\n",
                 ["GPIO17", "twice", "[motor] up_pin", "[indicators] led_pin"], id="pin-used-twice"),
    pytest.param("[buttons]\npreset_pins = [13, 13]\n", ["GPIO13", "twice", "preset_pins"],
                 id="preset-pin-twice"),
    pytest.param("[buttons]\npreset_pins = [13, 99]\n", ["[buttons] preset_pins", "99"], id="preset-pin-bad"),
    pytest.param("[motor]\ndown_pin = 2\n", ["[motor] down_pin", "2", "GPIO2", "pull-up"], id="motor-on-gpio2"),
    pytest.param("[motor]\nup_pin = 3\n", ["[motor] up_pin", "3", "GPIO3", "pull-up"], id="motor-on-gpio3"),
    pytest.param("[desk]\nmin_mm = 1000\nmax_mm = 900\n", ["[desk] min_mm", "1000", "max_mm", "900"],
                 id="min-above-max"),
    pytest.param("[desk]\nmin_mm = 900\nmax_mm = 900\n", ["[desk] min_mm", "900", "max_mm"], id="min-equals-max"),
    pytest.param("[desk\nmin_mm = 700\n", ["not valid TOML", "line 1"], id="bad-toml"),
    pytest.param("[desk]\nmin_mm = \n", ["not valid TOML", "line 2"], id="bad-toml-value"),
]


@pytest.mark.parametrize("text, fragments", BAD)
def test_bad_config_is_named(tmp_path, text, fragments):
    path = tmp_path / "deskpi.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "deskpi.toml"
    path.write_text('[desk]\ntolerance_mm = 99\n[web]\nport = 0\nhost = 5\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert len(info.value.problems) == 3
    for fragment in ("[desk] tolerance_mm = 99", "[web] port = 0", "[web] host = 5"):
        assert fragment in str(info.value)


def test_missing_file_names_the_path_and_the_example(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(path) in str(info.value)
    assert "deskpi.example.toml" in str(info.value)
