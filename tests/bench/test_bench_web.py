"""`deskpi bench web` against a real `deskpi sim` subprocess: the numbers exist and the page budget holds.

Timings are reported by the benchmark, never asserted here (shared, noisy machines); what is
asserted is what does not depend on load: bytes on the wire, every request answered, live
streams delivering events.
"""
from __future__ import annotations

import pytest

from deskpi.bench.web import SimServer, api_under_load, page_weight

PAGE_BUDGET_BYTES = 100 * 1024


@pytest.fixture(scope="module")
def server():
    s = SimServer()
    yield s
    s.close()


def test_the_home_page_and_everything_it_loads_fit_the_budget(server):
    signed_in = page_weight(server, server.session_cookie())
    sign_in = page_weight(server, None)
    for page in (signed_in, sign_in):
        assert page["total_bytes"] <= PAGE_BUDGET_BYTES, page
        assert any(name.endswith(".js") for name in page["files"]) and any(
            name.endswith(".css") for name in page["files"]), page


def test_the_api_answers_every_request_while_live_streams_are_open(server):
    result = api_under_load(server, sse_clients=5, rps=20, seconds=2.0)
    assert result["errors"] == 0 and result["requests"] >= 30, result
    assert result["sse_events_per_client"]["min"] >= 1, result
    assert result["state_latency_ms"]["p99"] is not None


def test_the_latency_bench_really_stops_the_desk_through_the_signed_in_api():
    from deskpi.bench.latency import bench_api_stop

    result = bench_api_stop(stops=2, load_rps=10)
    assert result["stops"] == 2, result          # every move was accepted (token + claim) and stopped
    assert result["stop_to_motor_off_ms"]["max"] is not None
