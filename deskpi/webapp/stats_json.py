"""A statistics report as the API sends it."""
from __future__ import annotations

import json
from typing import Any


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(report, separators=(",", ":")) + "\n"
