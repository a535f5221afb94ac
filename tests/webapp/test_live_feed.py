"""The live feed (deskpi.webapp.live.LiveFeed) and GET /api/v1/events.

The feed is driven by hand (feed.sample() after changing a fake source) and
streams are read with next(), so no test depends on the sampler thread's
timing; where a thread is needed (close() waking a waiting stream) the test
synchronises on Events and joins with a timeout, never on bare sleeps.
"""
from __future__ import annotations

import json
import threading

import pytest

from deskpi.webapp.live import RETRY_MS, LiveFeed


class Box:
    """A source whose value the test sets."""

    def __init__(self, value) -> None:
        self.value = value
        self.reads = 0

    def __call__(self):
        self.reads += 1
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def events_in(chunk: str) -> list[tuple[str, object]]:
    """(event name, data) for every event in an SSE chunk (comments and retry lines skipped)."""
    out = []
    for block in chunk.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith(":") and not ln.startswith("retry:")]
        if not lines:
            continue
        fields = dict(ln.split(": ", 1) for ln in lines)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def same(_name, value):
    return value


@pytest.fixture
def state():
    return Box({"height_mm": 700})


@pytest.fixture
def feed(state):
    f = LiveFeed({"state": (state, repr)})
    yield f
    f.close()


def test_a_stream_starts_with_retry_then_the_latest_state(feed, state):
    feed.sample()
    state.value = {"height_mm": 710}
    feed.sample()
    gen = feed.stream(same, lambda: True)
    assert next(gen) == f"retry: {RETRY_MS}\n\n"
    assert events_in(next(gen)) == [("state", {"height_mm": 710})]
    gen.close()


def test_a_change_is_delivered_and_an_unchanged_value_is_not(feed, state):
    feed.sample()
    gen = feed.stream(same, lambda: True, keepalive_s=0.05)
    next(gen)
    assert events_in(next(gen)) == [("state", {"height_mm": 700})]
    state.value = {"height_mm": 730}
    feed.sample()
    assert events_in(next(gen)) == [("state", {"height_mm": 730})]
    feed.sample()                                  # same value again: nothing new to send
    assert next(gen) == "event: ping\ndata: {}\n\n"          # after keepalive_s without news
    gen.close()


def test_a_slow_client_gets_only_the_newest_value_of_each_kind():
    state, reminder = Box({"h": 1}), Box({"r": "a"})
    feed = LiveFeed({"state": (state, repr), "reminder": (reminder, repr)})
    try:
        feed.sample()
        gen = feed.stream(same, lambda: True)
        next(gen)
        assert sorted(events_in(next(gen))) == [("reminder", {"r": "a"}), ("state", {"h": 1})]
        for h in range(2, 12):                     # ten heights while the phone was busy
            state.value = {"h": h}
            feed.sample()
        reminder.value = {"r": "b"}
        feed.sample()
        assert sorted(events_in(next(gen))) == [("reminder", {"r": "b"}), ("state", {"h": 11})]
        gen.close()
    finally:
        feed.close()


def test_the_key_decides_what_counts_as_a_change(state):
    feed = LiveFeed({"state": (state, lambda v: round(v["height_mm"]))})
    feed.sample()
    gen = feed.stream(same, lambda: True, keepalive_s=0.05)
    next(gen)
    next(gen)
    state.value = {"height_mm": 700.2}             # sensor noise: same key
    feed.sample()
    assert next(gen) == "event: ping\ndata: {}\n\n"
    gen.close()


def test_render_may_skip_or_rewrite_per_client(feed, state):
    feed.sample()
    gen = feed.stream(lambda name, v: None, lambda: True, keepalive_s=0.05)
    next(gen)
    assert next(gen) == "event: ping\ndata: {}\n\n"          # skipped value: only a keepalive comes out
    gen.close()
    gen = feed.stream(lambda name, v: {**v, "mine": True}, lambda: True)
    next(gen)
    assert events_in(next(gen)) == [("state", {"height_mm": 700, "mine": True})]
    gen.close()


def test_a_broken_source_does_not_stop_the_others(state):
    broken = Box(RuntimeError("sensor gone"))
    feed = LiveFeed({"reminder": (broken, repr), "state": (state, repr)})
    feed.sample()
    gen = feed.stream(same, lambda: True)
    next(gen)
    assert events_in(next(gen)) == [("state", {"height_mm": 700})]
    gen.close()
    feed.close()


def test_streams_are_limited_and_counted(state):
    feed = LiveFeed({"state": (state, repr)}, max_streams=2)
    try:
        assert feed.try_open() and feed.try_open()
        assert feed.try_open() is False
        assert feed.streams == 2
        gen = feed.stream(same, lambda: True)      # one of the two open streams
        next(gen)
        gen.close()                                # the client went away
        assert feed.streams == 1
        assert feed.try_open() is True
    finally:
        feed.close()
    assert feed.try_open() is False, "a closed feed opens no streams"


def test_close_ends_a_waiting_stream(feed, state):
    feed.sample()
    chunks: list[str] = []
    got_state = threading.Event()

    def reader():
        for chunk in feed.stream(same, lambda: True, keepalive_s=30):
            chunks.append(chunk)
            if "event: state" in chunk:
                got_state.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    assert got_state.wait(5)
    feed.close()                                   # the reader is waiting for news: close wakes it
    t.join(5)
    assert not t.is_alive(), "close() did not end the stream"
    assert chunks[0].startswith("retry:") and len(chunks) == 2


def test_a_signed_out_client_gets_a_session_event_and_the_stream_ends(feed, state):
    feed.sample()
    allowed = {"yes": True}
    gen = feed.stream(same, lambda: allowed["yes"], keepalive_s=0.05)
    next(gen)
    assert events_in(next(gen))[0][0] == "state"
    allowed["yes"] = False
    assert events_in(next(gen)) == [("session", {"signed_in": False})]
    with pytest.raises(StopIteration):
        next(gen)


# -- through the app (conftest.py) -------------------------------------------------------------------------
def test_events_need_sign_in(app):
    resp = app.test_client().get("/api/v1/events")
    assert resp.status_code == 401 and "sign in" in resp.get_json()["error"]
    assert app.extensions["deskpi.web"].live.streams == 0


def test_events_stream_the_state_to_a_signed_in_user(app, sign_in):
    client = sign_in(claim=False)
    resp = client.get("/api/v1/events", buffered=False)
    try:
        assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
        assert resp.headers["Cache-Control"] == "no-store"
        chunks = iter(resp.response)
        first = next(chunks)
        first = first.decode() if isinstance(first, bytes) else first
        assert first.startswith("retry:")
        second = next(chunks)
        second = second.decode() if isinstance(second, bytes) else second
        events = dict(events_in(second))
        assert "state" in events
        assert events["state"]["height_mm"] == 740.0
        assert events["state"]["claim"]["state"] == "none" and events["state"]["claim"]["mine"] is False
        assert "loop_lag_p99_ms" not in events["state"]
        assert app.extensions["deskpi.web"].live.streams == 1
    finally:
        resp.close()
    assert app.extensions["deskpi.web"].live.streams == 0


def test_head_requests_do_not_use_up_the_live_streams(app, sign_in):
    live = app.extensions["deskpi.web"].live
    live.max_streams = 2
    client = sign_in(claim=False)
    for _ in range(3):
        resp = client.head("/api/v1/events")
        assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
        assert resp.headers["Cache-Control"] == "no-store" and resp.data == b""
        resp.close()
    assert live.streams == 0, "a HEAD took a stream slot"
    assert app.test_client().head("/api/v1/events").status_code == 401, "HEAD still needs sign-in"
    resp = client.get("/api/v1/events", buffered=False)
    try:
        assert resp.status_code == 200, resp.get_json()
    finally:
        resp.close()


def test_a_change_is_rendered_once_for_every_stream_with_the_same_audience(feed, state):
    feed.sample()
    rendered: list[tuple[str, object]] = []

    def render(name, value):
        rendered.append((name, value))
        return value

    def audience(name, value):
        return "mine" if value.get("owner") == "ann" else ""

    gens = [feed.stream(render, lambda: True, audience=audience) for _ in range(5)]
    for gen in gens:
        next(gen)
    assert all(events_in(next(gen)) == [("state", {"height_mm": 700})] for gen in gens)
    assert len(rendered) == 1, "five streams of one audience rendered the same state five times"
    state.value = {"height_mm": 720, "owner": "ann"}
    feed.sample()
    assert all(events_in(next(gen)) == [("state", {"height_mm": 720, "owner": "ann"})] for gen in gens)
    assert len(rendered) == 2, "a new version is rendered once more, not once per stream"
    for gen in gens:
        gen.close()


def test_a_cursor_gives_what_is_new_a_ping_when_due_and_its_slot_back_once(feed, state):
    feed.sample()
    assert feed.try_open()
    cursor = feed.cursor(same, lambda: True, keepalive_s=5.0)
    start = cursor.next_check - 5.0
    assert events_in(cursor.pull(start)) == [("state", {"height_mm": 700})]
    assert cursor.pull(start + 1.0) == "", "nothing new and no ping due yet"
    assert cursor.pull(start + 5.0) == "event: ping\ndata: {}\n\n"
    state.value = {"height_mm": 705}
    feed.sample()
    assert events_in(cursor.pull(start + 6.0)) == [("state", {"height_mm": 705})]
    cursor.close()
    cursor.close()
    assert feed.streams == 0
    feed.close()
    assert cursor.pull(start + 7.0) == "" and cursor.ended
