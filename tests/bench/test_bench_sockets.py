"""`deskpi bench sockets` against a real `deskpi sim`: the JSON has every number, and the thread
count stays bounded (a fixed worker pool: not a timing). Latencies are reported, never asserted."""
from __future__ import annotations


def test_bench_sockets_reports_threads_and_stop_latency_with_and_without_the_attack(cli):
    r = cli.json("bench", "sockets", "--json", "--idle", "40", "--slowloris", "4", "--stops", "10")
    assert r["attack"]["idle_sockets"] == 40 and r["attack"]["slowloris_sockets"] == 4
    assert r["attack"]["open_when_measured"] >= 40 and r["attack"]["failed_connects"] == 0
    for phase in ("stop_without_attack", "stop_during_attack"):
        assert r[phase]["errors"] == 0, r[phase]
        for kind in ("new_connection_ms", "keep_alive_ms"):
            stats = r[phase][kind]
            assert stats["n"] == 10 and 0 < stats["p50"] <= stats["p99"] <= stats["max"], stats
    threads = r["threads"]
    assert 0 < threads["before"] <= threads["during_max"], threads
    # 44 sockets hold no thread: werkzeug's server had one per socket.
    assert threads["during_max"] < threads["before"] + 5 and threads["during_max"] <= r["targets"]["threads_max"]
    assert r["fds"]["during_max"] >= r["fds"]["before"] + 40
    assert r["met"]["threads"] is True and isinstance(r["met"]["stop_p99"], bool)


def test_bench_sockets_refuses_a_negative_count(cli):
    cp = cli("bench", "sockets", "--json", "--idle", "-1")
    assert cp.returncode == 2 and "--idle -1" in cp.stderr
