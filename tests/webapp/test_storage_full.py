"""A full disk through the web app: 503 "the desk's storage is full", said once a minute, shown on the
page and in the state, cleared by the next write that works; motion and Stop carry on.

The store is a real SQLite file made full for real: `PRAGMA max_page_count` caps the file at its
present size, so SQLite answers SQLITE_FULL ("database or disk is full") exactly as it does when
the SD card is full, and each table the test needs is filled through the store until it does.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import fill_file_system, running_sim, signed_in, small_tmpfs
from web_fakes import LIMITS

from deskpi.people.accounts import add_user
from deskpi.people.passwords import hash_secret
from deskpi.store import Store, access, db_path
from deskpi.util.storage import StorageFull, StorageMonitor

API = "/api/v1"
FULL = "the desk's storage is full: "


def _fill(write) -> int:
    n = 0
    with pytest.raises((StorageFull, sqlite3.OperationalError), match="full"):
        while n < 100_000:
            write(n)
            n += 1
    return n


@pytest.fixture
def full(app, service, monkeypatch):
    """The app's store full for new sign-ins, tokens and people (the flag reset, as if nothing had
    tried yet); yields the store, whose cap is lifted again by `room(store)`."""
    store = service.store
    client = signed_in(app)                    # ada: an admin holding the claim, signed in before the disk filled
    _, token = store.create_token("ada", "laptop")
    store.add_user("bob")
    store.db.execute("PRAGMA max_page_count = 1")           # SQLite clamps it to the file's present size
    _fill(lambda n: store.create_session("ada"))
    # The disk, not the per-person cap on tokens, must be what stops these (here and in the tests).
    monkeypatch.setattr(access, "TOKENS_PER_USER", 10**9)
    _fill(lambda n: store.create_token("ada", "laptop"))
    # Rows the size of the one the test adds (three-letter name, stature and heights): no page has room.
    _fill(lambda n: add_user(store, f"{n:03x}", limits=LIMITS, stature_cm=180))
    store.storage = StorageMonitor()            # nothing has tried yet
    yield store, client, token
    room(store)


def room(store) -> None:
    store.db.execute("PRAGMA max_page_count = 1073741823")


def _error(resp) -> str:
    return resp.get_json()["error"]


def test_sign_in_tokens_and_people_get_503_storage_full_not_a_500(app, full, caplog):
    store, client, _ = full
    anon = app.test_client()
    with caplog.at_level(logging.INFO):
        answers = [anon.post(f"{API}/session", json={"name": "ada", "pin": "4711"}),
                   client.post(f"{API}/tokens", json={"label": "laptop"}),
                   client.post(f"{API}/users", json={"name": "Zed", "stature_cm": 180})]
        for resp in answers:
            assert resp.status_code == 503, (resp.status_code, resp.get_json())
            assert _error(resp).startswith(FULL), _error(resp)
            assert "deskpi doctor" in _error(resp) and "still moves and stops" in _error(resp)
            assert resp.headers["Retry-After"] == "60"
            assert "/tmp" not in _error(resp) and "deskpi.db" not in _error(resp), "no server paths to a phone"
    assert "deskpi_session=" not in answers[0].headers.get("Set-Cookie", "")
    assert store.get_user("Zed") is None
    assert not [r for r in caplog.records if r.exc_info], "no traceback per request"
    assert not [r for r in caplog.records if "internal error" in r.getMessage()]


def test_a_hundred_failing_requests_are_logged_once(app, full, caplog):
    anon = app.test_client()
    with caplog.at_level(logging.INFO):
        for _ in range(100):
            assert anon.post(f"{API}/session", json={"name": "ada", "pin": "4711"}).status_code == 503
    said = [r for r in caplog.records if "storage is full" in r.getMessage()]
    assert len(said) == 1, [r.getMessage() for r in caplog.records]
    assert said[0].levelno == logging.ERROR and not said[0].exc_info


def test_the_state_and_the_page_say_so_until_a_write_works_again(app, full):
    store, client, _ = full
    anon = app.test_client()
    state = anon.get(f"{API}/state").get_json()
    assert state["storage"] == {"full": False, "since": None}
    assert anon.post(f"{API}/session", json={"name": "ada", "pin": "4711"}).status_code == 503
    state = anon.get(f"{API}/state").get_json()
    assert state["storage"]["full"] is True and isinstance(state["storage"]["since"], float)
    page = client.get("/").get_data(as_text=True)
    banner = page[page.index('data-testid="storage-full"') - 30:page.index('data-testid="storage-full"') + 120]
    assert "hidden" not in banner, banner
    assert "storage is full" in page

    room(store)
    resp = anon.post(f"{API}/session", json={"name": "ada", "pin": "4711"})
    assert resp.status_code == 200, resp.get_json()
    assert anon.get(f"{API}/state").get_json()["storage"] == {"full": False, "since": None}
    page = client.get("/").get_data(as_text=True)
    banner = page[page.index('data-testid="storage-full"') - 30:page.index('data-testid="storage-full"') + 120]
    assert "hidden" in banner, banner


def test_motion_stop_and_a_bearer_token_still_work_on_a_full_disk(app, full, service):
    _, client, token = full
    assert client.post(f"{API}/move", json={"target_mm": 1000}).status_code == 202
    assert client.post(f"{API}/hold", json={"direction": "up"}).status_code == 202
    assert client.post(f"{API}/release").status_code == 200
    assert client.post(f"{API}/stop").status_code == 200
    assert ("move_to", 1000, service.calls[0][2]) == service.calls[0][:3]
    bearer = app.test_client()
    bearer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    resp = bearer.get(f"{API}/tokens")                 # noting when a token was last used must not cost the request
    assert resp.status_code == 200, resp.get_json()
    assert bearer.post(f"{API}/stop").status_code == 200


def test_an_sqlite_full_error_no_layer_wrapped_is_still_503(app, service, client):
    def broken(*_a, **_k):
        raise sqlite3.OperationalError("database or disk is full")

    service.store.list_tokens = broken          # a read that needs temporary space, say
    resp = client.get(f"{API}/tokens")
    assert resp.status_code == 503 and _error(resp).startswith(FULL)
    assert service.store.storage.view()["full"] is True


# -- a real `deskpi sim` on a file system that fills up ----------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def _deskpi(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(data), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)


def _http(method: str, url: str, body=None, token: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_a_real_sim_on_a_full_file_system(tmp_path):
    """The data directory on a small tmpfs, filled up while `deskpi sim` runs: every write needs new
    blocks (the WAL was truncated first), so SQLite gets ENOSPC and answers SQLITE_FULL for real."""
    with small_tmpfs(tmp_path / "data", "8m") as data:
        with Store.open(db_path(data)) as st:
            add_user(st, "Ada", limits=LIMITS, admin=True, pin_hash=hash_secret("4711"))
        made = _deskpi("token", "create", "Ada", data=data)
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        log_path = tmp_path / "sim.log"
        with running_sim(data, log_path, seed=4) as url:
            base = url + API
            sign_in = {"name": "Ada", "pin": "4711"}
            assert _http("POST", f"{base}/session", sign_in)[0] == 200
            with sqlite3.connect(db_path(data)) as conn:        # from here on every commit must grow the WAL
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            fill_file_system(data)

            status, body = _http("POST", f"{base}/session", sign_in)
            assert status == 503 and body["error"].startswith(FULL), (status, body)
            status, body = _http("POST", f"{base}/tokens", {"label": "laptop"}, token=token)
            assert status == 503 and body["error"].startswith(FULL), (status, body)
            state = _http("GET", f"{base}/state")[1]
            assert state["storage"]["full"] is True, state

            st = json.loads(_deskpi("status", "--json", data=data).stdout)
            assert st["storage"]["full"] is True and "full" in st["storage"]["detail"], st
            assert "storage  FULL since " in _deskpi("status", data=data).stdout
            doctor = _deskpi("doctor", "--json", data=data)
            checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
            assert doctor.returncode == 1 and checks["storage"]["status"] == "fail", checks.get("storage")
            assert checks["disk"]["status"] == "fail", checks["disk"]
            assert checks["database"]["status"] in ("pass", "fail"), checks["database"]
            assert "restore" not in checks["database"].get("hint", ""), checks["database"]

            # The desk still moves and stops.
            here = st["height_mm"]
            target = here + 100 if here < 1000 else here - 100
            moved = _deskpi("move", f"{target:.0f}", "--json", data=data)
            assert moved.returncode == 0, (moved.stdout, moved.stderr)
            now = json.loads(_deskpi("status", "--json", data=data).stdout)
            assert abs(now["height_mm"] - target) < 10, now
            assert _http("POST", f"{base}/stop", token=token)[0] == 200

            (data / "filler").unlink()
            status, body = _http("POST", f"{base}/session", sign_in)
            assert status == 200, body
            assert _http("GET", f"{base}/state")[1]["storage"] == {"full": False, "since": None}
            assert json.loads(_deskpi("status", "--json", data=data).stdout)["storage"]["full"] is False
        text = log_path.read_text()
        assert "Traceback" not in text, text[-3000:]
        assert 1 <= text.count("storage is full") <= 3, text[-3000:]
