"""A statistics report (`stats_report`) as the API sends it: the bytes `jsonify` would send, made quicker.

Everyone's statistics over a quarter of a shared desk are hundreds of KB of day and week records, most of them
the same record for everyone who was not at the desk that day (`daily` hands such a record to each of them as
one shared dict): each record is encoded once however often it appears, and the rest joined as `json.dumps`
with compact separators joins it (tests/people/test_stats_desk_pinned.py compares them).
"""
from __future__ import annotations

import json
from typing import Any

_encode = json.JSONEncoder(separators=(",", ":")).encode      # what Flask's compact jsonify writes (ASCII)
_RECORDS = ("days", "weeks")


def report_json(report: dict[str, Any]) -> str:
    """The report's JSON text with a trailing newline, as `flask.jsonify` makes it (keys in their order)."""
    known: dict[int, str] = {}        # id of a record -> its JSON; every record is alive until this returns

    def record(rec: Any) -> str:
        text = known.get(id(rec))
        if text is None:
            text = known[id(rec)] = _encode(rec)
        return text

    def bucket(b: dict[str, Any]) -> str:
        return _obj((k, "[" + ",".join(map(record, v)) + "]" if k in _RECORDS and isinstance(v, list) else _encode(v))
                    for k, v in b.items())

    def part(k: str, v: Any) -> str:
        if k == "users" and isinstance(v, dict):
            return _obj((name, bucket(b)) for name, b in v.items())
        if k == "unassigned" and isinstance(v, dict):
            return bucket(v)
        return _encode(v)

    return _obj((k, part(k, v)) for k, v in report.items()) + "\n"


def _obj(items: Any) -> str:
    return "{" + ",".join(f"{_encode(k)}:{text}" for k, text in items) + "}"
