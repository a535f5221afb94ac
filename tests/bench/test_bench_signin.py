"""`deskpi bench signin` against a real `deskpi sim` subprocess: the JSON has its shape and every
sign-in is answered. The memory and latency numbers are what the benchmark reports, never asserted."""
from __future__ import annotations

import sys

import pytest

NUMBERS = ("idle_rss_mb", "peak_rss_mb", "rss_after_mb", "delta_mb", "target_delta_mb", "elapsed_s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_bench_signin_json_shape(cli):
    doc = cli.json("bench", "signin", "--json", "--requests", "6", timeout=180)
    assert doc["requests"] == 6 and doc["answered"] == 6
    for key in NUMBERS:
        assert isinstance(doc[key], (int, float)), (key, doc)
        assert doc[key] >= 0 or key == "delta_mb", (key, doc)         # memory may shrink under a burst
    assert set(doc["vmhwm_mb"]) == {"before", "after"} and isinstance(doc["within_target"], bool)
    assert doc["status_401"] + doc["status_429"] + sum(doc["status_other"].values()) == 6, doc
    assert doc["status_other"] == {}, "every bogus sign-in is a 401 or a 429"
    assert set(doc["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert all(isinstance(v, (int, float)) for v in doc["latency_ms"].values())
    assert doc["samples"] >= 1


def test_bench_signin_refuses_zero_requests(cli):
    proc = cli("bench", "signin", "--requests", "0")
    assert proc.returncode == 2 and "--requests 0" in proc.stderr
