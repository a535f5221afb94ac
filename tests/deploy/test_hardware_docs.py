"""hardware/: the documented wiring agrees with deskpi/hw/pinmap.py, the diagram is valid SVG,
and SAFETY.md covers the layers of defence."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deskpi.config import SCHEMA
from deskpi.hw.pinmap import DEFAULT_PINS, PULLED_UP_AT_BOOT

HW = Path(__file__).resolve().parents[2] / "hardware"
SVG_NS = "{http://www.w3.org/2000/svg}"

# BCM GPIO number -> physical pin on the 40-pin header (every Pi since the B+).
HEADER_PIN = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18, 10: 19, 9: 21,
    25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32, 13: 33, 19: 35, 16: 36, 26: 37,
    20: 38, 21: 40,
}


def _default_pins() -> dict[str, int]:
    """'[section] key' (or '[buttons] preset_pins[i]', 1-based) -> GPIO, from pinmap.py."""
    out = {}
    for section, pins in DEFAULT_PINS.items():
        for key, value in pins.items():
            if isinstance(value, list):
                for i, pin in enumerate(value, 1):
                    out[f"[{section}] {key}[{i}]"] = pin
            else:
                out[f"[{section}] {key}"] = value
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _pin_table(text: str) -> list[dict[str, str]]:
    """The markdown table whose header has 'Config key' and 'GPIO' columns, as dicts."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|") and "Config key" in line and "GPIO" in line:
            header = _cells(line)
            assert set(_cells(lines[i + 1])[0]) <= set("-: "), "no separator row under the header"
            rows = []
            for row in lines[i + 2:]:
                if not row.lstrip().startswith("|"):
                    break
                rows.append(dict(zip(header, _cells(row), strict=True)))
            return rows
    raise AssertionError("hardware/README.md has no pin table with 'Config key' and 'GPIO' columns")


@pytest.fixture(scope="module")
def readme() -> str:
    return (HW / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pin_rows(readme) -> dict[str, dict[str, str]]:
    rows = {}
    for row in _pin_table(readme):
        key = row["Config key"].strip("`")
        assert key not in rows, f"{key} appears twice in the pin table"
        rows[key] = row
    return rows


def _gpio(cell: str) -> int:
    m = re.fullmatch(r"(?:GPIO)?(\d+)", cell.strip("` "))
    assert m, f"not a GPIO number: {cell!r}"
    return int(m.group(1))


def test_pin_table_matches_default_pins(pin_rows):
    documented = {key: _gpio(row["GPIO (BCM)"]) for key, row in pin_rows.items()}
    assert documented == _default_pins()


def test_pin_table_header_pins_and_boot_pulls(pin_rows):
    for key, row in pin_rows.items():
        gpio = _gpio(row["GPIO (BCM)"])
        assert int(row["Header pin"]) == HEADER_PIN[gpio], f"{key}: GPIO{gpio} is header pin {HEADER_PIN[gpio]}"
        expected = "up" if gpio in PULLED_UP_AT_BOOT else "down"
        assert row["Pull at boot"] == expected, key


def test_readme_covers_the_wiring(readme):
    for needle in ("330", "470", "HC-SR04P", "pull-up", "GND", "NPN", "SPDT", "H-bridge",
                   "enable_pin", "offset_mm"):
        assert needle in readme, needle
    for orientation in SCHEMA["sensor"]["orientation"].choices:
        assert f"`{orientation}`" in readme, orientation


def test_parts_list_has_quantities():
    text = (HW / "parts.md").read_text(encoding="utf-8")
    rows = [_cells(line) for line in text.splitlines() if re.match(r"^\|\s*[\d]", line)]
    assert len(rows) >= 15
    for needle in ("HC-SR04", "330 Ω", "470 Ω", "10 kΩ", "relay", "H-bridge", "LED", "buzzer"):
        assert needle.lower() in text.lower(), needle


@pytest.fixture(scope="module")
def svg():
    return ET.parse(HW / "wiring.svg").getroot()


def test_wiring_svg_is_svg(svg):
    assert svg.tag == SVG_NS + "svg"
    assert svg.get("viewBox")


def test_wiring_svg_labels_every_default_gpio(svg):
    text = " ".join("".join(t.itertext()) for t in svg.iter(SVG_NS + "text"))
    for key, pin in _default_pins().items():
        assert re.search(rf"\bGPIO{pin}\b", text), f"wiring.svg has no GPIO{pin} label ({key})"
    for needle in ("HC-SR04", "330 Ω", "470 Ω", "relay", "motor", "LED", "buzzer", "NC1", "NO1", "COM1"):
        assert needle in text, needle


def test_wiring_svg_is_self_contained(svg):
    for el in svg.iter():
        assert el.tag not in (SVG_NS + "image", SVG_NS + "script", SVG_NS + "foreignObject"), el.tag
        for name, value in el.attrib.items():
            if name.endswith("href"):
                assert value.startswith("#"), f"external reference {value!r}"
            assert "url(" not in value or "url(#" in value, f"external url in {name}={value!r}"
    style = " ".join(s.text or "" for s in svg.iter(SVG_NS + "style"))
    assert "@import" not in style and "url(" not in style


SAFETY_TERMS = ["safe-off", "pull-down", "brake", "lgpio", "duty cycle", "ExecStopPost", "ExecStartPre",
                "WatchdogSec", "active-low", "GPIO0-8", "GPIO9-27", "SPDT", "charge pump", "RPi.GPIO"]


@pytest.mark.parametrize("term", SAFETY_TERMS)
def test_safety_mentions(term):
    text = (HW / "SAFETY.md").read_text(encoding="utf-8")
    assert term.lower() in text.lower()


def test_safety_states_the_configured_duty_cycle():
    text = (HW / "SAFETY.md").read_text(encoding="utf-8")
    desk = SCHEMA["desk"]
    assert f"duty_max_on_s = {desk['duty_max_on_s'].default:g}" in text
    assert f"duty_window_s = {desk['duty_window_s'].default:g}" in text


def test_docs_link_to_each_other():
    for name in ("README.md", "parts.md", "SAFETY.md"):
        text = (HW / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (HW / target).resolve().exists(), f"{name} links to missing {target}"
