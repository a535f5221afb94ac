"""The motor pins the running daemon actually drives, remembered for `safe-off`.

systemd runs `deskpi safe-off` after the daemon exits. If someone edited the
config while it ran, the config may now name other pins (or be broken); the
pins that may still be energised are the ones the daemon used. So the daemon
writes them down at start, and safe-off switches off both sets.
"""
from __future__ import annotations

import json
from pathlib import Path

from deskpi.util.files import atomic_write

FILE = "motor-pins.json"


def remember(data_dir: Path, pins: list[tuple[int, bool]]) -> None:
    atomic_write(data_dir / FILE, json.dumps([{"pin": p, "active_high": a} for p, a in pins]))


def recall(data_dir: Path) -> list[tuple[int, bool]]:
    """The pins last used, or [] when unknown or unreadable."""
    try:
        raw = json.loads((data_dir / FILE).read_text(encoding="utf-8"))
        return [(int(e["pin"]), bool(e["active_high"])) for e in raw
                if isinstance(e.get("pin"), int) and 0 <= e["pin"] <= 27 and isinstance(e.get("active_high"), bool)]
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return []


def merge(used: list[tuple[int, bool]], configured: list[tuple[int, bool]]) -> list[tuple[int, bool]]:
    """Every pin from both lists; where they disagree on polarity, the one the daemon used wins."""
    out = dict(configured)
    out.update(dict(used))
    return sorted(out.items())
