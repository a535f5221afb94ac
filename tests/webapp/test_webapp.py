"""The web app (deskpi.webapp.app.create_app) against a fake desk service (web_fakes.FakeService).

Bad input is answered with a 4xx JSON error naming the value and what is
allowed, and it never reaches the service (above all: never moves the desk).
The `client` (conftest.py) is signed in as an admin holding the desk's claim.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from helpers import module_graph
from hypothesis import given, settings
from hypothesis import strategies as st
from web_fakes import LIMITS, MOTION, RANGE_TEXT, FakeService, make_client

from deskpi.core.types import Direction, Source
from deskpi.webapp.app import create_app

MAX_BODY = 4096          # create_app's default: the `client` fixture's app has it
REQUIRED_TESTIDS = ("height", "state", "fault", "btn-up", "btn-down", "btn-stop",
                    "preset-1", "preset-2", "preset-3", "preset-4")
SIM_TESTIDS = ("sim-key-up", "sim-key-down", "sim-key-preset-1", "sim-key-preset-2",
               "sim-key-preset-3", "sim-key-preset-4")
SIM_KEYS = ("up", "down", "preset-1", "preset-2", "preset-3", "preset-4")


def send(client, method: str, url: str, body=None, *, raw: bytes | str | None = None,
         content_type: str | None = "application/json", headers: dict | None = None):
    """One request: `body` is JSON-encoded; `raw` is sent as is (with `content_type`, None for no header)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body))
    kwargs = {"headers": headers or {}}
    if data is not None:
        kwargs["data"] = data
    if content_type is not None and data is not None:
        kwargs["content_type"] = content_type
    return client.open(url, method=method, **kwargs)


def error_of(resp) -> str:
    assert resp.is_json, f"error responses are JSON, got {resp.content_type}: {resp.get_data(as_text=True)[:200]}"
    body = resp.get_json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"], body
    return body["error"]


# -- state -----------------------------------------------------------------------------
def test_state_is_the_service_snapshot(client, service):
    resp = client.get("/api/v1/state")
    assert resp.status_code == 200 and resp.is_json
    body = resp.get_json()
    assert {k: v for k, v in body.items() if k not in ("claim", "active_user", "storage")} == service.snapshot()
    assert body["claim"]["state"] == "claimed" and body["claim"]["mine"] and body["active_user"] == "ada"
    assert body["storage"] == {"full": False, "since": None}
    assert isinstance(body["height_mm"], (int, float))
    assert body["state"] in ("idle", "moving", "settling", "fault")
    assert body["target_mm"] is None and body["fault"] is None
    assert resp.headers["Cache-Control"] == "no-store"


def test_the_service_lives_on_the_app_and_apps_do_not_share_it():
    a, b = FakeService(), FakeService(sim=True)
    app_a, app_b = create_app(a), create_app(b)
    assert app_a.extensions["deskpi"] is a and app_b.extensions["deskpi"] is b
    assert app_a.test_client().get("/api/v1/state").get_json()["sim"] is False
    assert app_b.test_client().get("/api/v1/state").get_json()["sim"] is True


# -- move -------------------------------------------------------------------------------
OVERSIZED = json.dumps({"target_mm": 900, "pad": "x" * MAX_BODY})

BAD_MOVES = [
    # (id, kwargs for send(), expected status, fragment of the error message)
    ("malformed-json", dict(raw='{"target_mm": '), 400, "malformed JSON"),
    ("malformed-json-trailing", dict(raw='{"target_mm": 900}}'), 400, "malformed JSON"),
    ("not-utf8", dict(raw=b'{"target_mm": "\xff"}'), 400, "UTF-8"),
    ("deeply-nested", dict(raw='{"target_mm": ' + "[" * 2000 + "]" * 2000 + "}"), 400, "nested too deeply"),
    ("empty-object", dict(body={}), 400, "missing 'target_mm'"),
    ("empty-body", dict(raw=""), 400, "missing 'target_mm'"),
    ("wrong-field", dict(body={"height_mm": 900}), 400, "missing 'target_mm'"),
    ("list-body", dict(body=[900]), 400, "JSON object"),
    ("number-body", dict(raw="900"), 400, "JSON object"),
    ("string-target", dict(body={"target_mm": "900"}), 400, 'got a string "900"'),
    ("bool-target", dict(body={"target_mm": True}), 400, "got a boolean true"),
    ("null-target", dict(body={"target_mm": None}), 400, "got null"),
    ("list-target", dict(body={"target_mm": [900]}), 400, "got a list [900]"),
    ("object-target", dict(body={"target_mm": {"mm": 900}}), 400, "got an object"),
    ("nan-target", dict(raw='{"target_mm": NaN}'), 400, "NaN"),
    ("infinity-target", dict(raw='{"target_mm": Infinity}'), 400, "Infinity"),
    ("minus-infinity-target", dict(raw='{"target_mm": -Infinity}'), 400, "Infinity"),
    ("huge-target", dict(body={"target_mm": 1e9}), 422, RANGE_TEXT),
    ("overflowing-target", dict(raw='{"target_mm": 1e400}'), 422, RANGE_TEXT),
    ("huge-int-target", dict(raw='{"target_mm": ' + "9" * 400 + "}"), 422, RANGE_TEXT),
    ("negative-target", dict(body={"target_mm": -5}), 422, "-5"),
    ("below-min", dict(body={"target_mm": 639.9}), 422, "639.9"),
    ("above-max", dict(body={"target_mm": 1260.1}), 422, "limits 640-1260 mm"),
    ("oversized-body", dict(raw=OVERSIZED), 413, f"at most {MAX_BODY} bytes"),
    ("text-plain", dict(raw='{"target_mm": 900}', content_type="text/plain"), 415, "application/json"),
    ("form-post", dict(raw="target_mm=900", content_type="application/x-www-form-urlencoded"), 415,
     "application/x-www-form-urlencoded"),
    ("cross-site", dict(body={"target_mm": 900}, headers={"Sec-Fetch-Site": "cross-site"}), 403, "another site"),
]


@pytest.mark.parametrize("kwargs, status, fragment", [c[1:] for c in BAD_MOVES], ids=[c[0] for c in BAD_MOVES])
def test_bad_move_requests_are_refused_with_a_message_and_never_move(client, service, kwargs, status, fragment):
    resp = send(client, "POST", "/api/v1/move", **kwargs)
    assert resp.status_code == status, resp.get_data(as_text=True)
    message = error_of(resp)
    assert fragment in message, message
    assert not any(name in MOTION for name in service.names()), service.calls


def test_range_errors_name_the_value_and_the_limits(client, service):
    message = error_of(send(client, "POST", "/api/v1/move", {"target_mm": 2000}))
    assert "2000" in message and "640" in message and "1260" in message
    message = error_of(send(client, "POST", "/api/v1/move", {"target_mm": "tall"}))
    assert '"tall"' in message and RANGE_TEXT in message
    assert service.calls == []


@pytest.mark.parametrize("target", [640, 640.0, 900, 901.5, 1260])
def test_a_valid_move_is_accepted_and_passed_on_as_a_remote_request(client, service, target):
    resp = send(client, "POST", "/api/v1/move", {"target_mm": target})
    assert resp.status_code == 202
    assert resp.get_json() == {"target_mm": target}
    assert service.calls == [("move_to", float(target), Source.REMOTE)]


def test_a_json_content_type_with_charset_is_fine(client, service):
    resp = send(client, "POST", "/api/v1/move", raw='{"target_mm": 900}',
                content_type="application/json; charset=utf-8")
    assert resp.status_code == 202
    assert service.names() == ["move_to"]


SURROGATES = [
    # (id, method, path, raw body with a JSON \\u escape for half a UTF-16 pair, the place the error names)
    ("sign-in-name", "POST", "/api/v1/session", r'{"name":"c\ud800","pin":"1234"}', "'name'"),
    ("plan-name", "PUT", "/api/v1/users/ada/plan", r'{"name":"\ud800"}', "'name'"),
    ("token-label", "POST", "/api/v1/tokens", r'{"label":"x\udfff"}', "'label'"),
    ("nested", "PUT", "/api/v1/users/ada/plan", r'{"quiet":[["12:00","1\udc00"]]}', "'quiet[0][1]'"),
    ("key", "PATCH", "/api/v1/users/ada", r'{"stature_cm\ud83d":170}', 'field name "stature_cm\\ud83d"'),
]


@pytest.mark.parametrize(("method", "path", "raw", "named"), [c[1:] for c in SURROGATES],
                         ids=[c[0] for c in SURROGATES])
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_where(client, service, method, path, raw, named):
    """A lone surrogate used to be a 500 that stopped the desk (sign-in), or a stored plan name that made
    every later look at the plan a 500."""
    resp = send(client, method, path, raw=raw)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    message = error_of(resp)
    assert named in message and "lone surrogate" in message and "whole Unicode characters" in message, message
    assert service.calls == []
    plan = client.get("/api/v1/users/ada/plan")
    assert plan.status_code == 200 and plan.get_json()["source"] == "default"
    assert client.get("/api/v1/tokens").get_json()["tokens"] == []


@pytest.mark.parametrize("name", ["Two\nlines", "bell\u0007", "line\u2028break", "trailing\n"])
def test_a_plan_name_with_control_characters_is_refused_and_a_plain_one_kept(client, name):
    resp = send(client, "PUT", "/api/v1/users/ada/plan", {"name": name})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert "without control characters or line breaks" in error_of(resp)
    assert client.get("/api/v1/users/ada/plan").get_json()["source"] == "default"
    resp = send(client, "PUT", "/api/v1/users/ada/plan", {"name": "Ma semaine – été"})
    assert resp.status_code == 200 and resp.get_json()["plan"]["name"] == "Ma semaine – été"


def test_shoe_stature_and_name_limits_are_the_stores_in_the_document_and_in_every_answer(client):
    """The document said shoe_mm 0-80 and names of up to 64 characters; the store (and a recommendation)
    allowed 0-100 mm and refused names over 40."""
    from deskpi.core.ergonomics import SHOE_RANGE_MM, STATURE_RANGE_CM
    from deskpi.store.records import NAME_MAX, SHOE_MM, STATURE_CM

    assert SHOE_RANGE_MM == SHOE_MM and STATURE_RANGE_CM == STATURE_CM      # layers that may not share one
    paths = client.get("/openapi.json").get_json()["paths"]

    def body(path: str, method: str) -> dict:
        return paths[f"/api/v1{path}"][method]["requestBody"]["content"]["application/json"]["schema"]

    query = {p["name"]: p["schema"] for p in paths["/api/v1/ergonomics"]["get"]["parameters"]}
    for shoe in (query["shoe_mm"], body("/users", "post")["properties"]["shoe_mm"],
                 body("/users/{name}", "patch")["properties"]["shoe_mm"]):
        assert (shoe["minimum"], shoe["maximum"]) == SHOE_MM
    assert (query["stature_cm"]["minimum"], query["stature_cm"]["maximum"]) == STATURE_CM
    for path in ("/users", "/users/{name}/rename", "/register", "/claim/refuse"):
        assert body(path, "post")["properties"]["name"]["maxLength"] == NAME_MAX, path

    top = SHOE_MM[1]
    assert client.get(f"/api/v1/ergonomics?stature_cm=175&shoe_mm={top}").status_code == 200
    resp = client.get(f"/api/v1/ergonomics?stature_cm=175&shoe_mm={top + 1}")
    assert resp.status_code == 422 and f"{top:g}" in error_of(resp)
    assert client.patch("/api/v1/users/ada", json={"shoe_mm": top}).status_code == 200
    resp = client.patch("/api/v1/users/ada", json={"shoe_mm": top + 1})
    assert resp.status_code == 422 and f"0-{top:g} mm" in error_of(resp)
    resp = client.post("/api/v1/users", json={"name": "x" * (NAME_MAX + 1)})
    assert resp.status_code == 422 and f"allowed 1-{NAME_MAX}" in error_of(resp)
    assert client.post("/api/v1/users", json={"name": "x" * NAME_MAX}).status_code == 201


@pytest.mark.parametrize("reason", [
    "the desk has a fault and will not move until it is cleared: stall: the desk did not move",
    "the desk is child-locked; only stop works until it is unlocked",
    "the desk is being moved by the desk's buttons; a remote request cannot take over (stop always works)",
])
def test_a_move_the_desk_refuses_is_a_409_with_the_desks_reason(reason):
    service = FakeService(refuse=reason)
    resp = send(make_client(service), "POST", "/api/v1/move", {"target_mm": 900})
    assert resp.status_code == 409
    assert error_of(resp) == reason


def test_an_internal_error_stops_the_desk_and_answers_json():
    service = FakeService()
    service.crash = RuntimeError("boom")
    resp = send(make_client(service), "POST", "/api/v1/move", {"target_mm": 900})
    assert resp.status_code == 500
    assert "stopped" in error_of(resp)
    assert service.names() == ["move_to", "stop"]


def test_max_body_bytes_is_configurable():
    service = FakeService()
    client = make_client(service, max_body_bytes=256)
    body = json.dumps({"target_mm": 900, "note": "y" * 300})
    resp = send(client, "POST", "/api/v1/move", raw=body)
    assert resp.status_code == 413
    assert "at most 256 bytes" in error_of(resp)
    assert service.calls == []
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(service, max_body_bytes=0)


# -- stop, hold, release, clear fault ---------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    dict(), dict(body={}), dict(raw="{not json"), dict(raw="stop!", content_type="text/plain"),
    dict(raw="x" * (MAX_BODY * 3)), dict(body={"target_mm": 900}),
    dict(headers={"Sec-Fetch-Site": "cross-site"}),
], ids=["no-body", "empty-object", "malformed", "text", "oversized", "move-body", "cross-site"])
def test_stop_always_works_whatever_the_body(client, service, kwargs):
    resp = send(client, "POST", "/api/v1/stop", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert service.calls == [("stop", Source.REMOTE)]


@pytest.mark.parametrize("word, direction", [("up", Direction.UP), ("down", Direction.DOWN)])
def test_hold_passes_the_direction_on(client, service, word, direction):
    resp = send(client, "POST", "/api/v1/hold", {"direction": word})
    assert resp.status_code == 202
    assert resp.get_json() == {"direction": word}
    assert service.calls == [("hold", direction, Source.REMOTE)]


BAD_HOLDS = [
    ("missing", dict(body={}), 400, "missing 'direction'"),
    ("empty-body", dict(raw=""), 400, "missing 'direction'"),
    ("sideways", dict(body={"direction": "left"}), 400, 'got a string "left"'),
    ("upper-case", dict(body={"direction": "UP"}), 400, '"up" or "down"'),
    ("number", dict(body={"direction": 1}), 400, "got int 1"),
    ("null", dict(body={"direction": None}), 400, "got null"),
    ("malformed", dict(raw='{"direction": up}'), 400, "malformed JSON"),
    ("text-plain", dict(raw='{"direction": "up"}', content_type="text/plain"), 415, "application/json"),
    ("oversized", dict(raw=json.dumps({"direction": "up", "pad": "x" * MAX_BODY})), 413, "too large"),
]


@pytest.mark.parametrize("kwargs, status, fragment", [c[1:] for c in BAD_HOLDS], ids=[c[0] for c in BAD_HOLDS])
def test_bad_hold_requests_never_move(client, service, kwargs, status, fragment):
    resp = send(client, "POST", "/api/v1/hold", **kwargs)
    assert resp.status_code == status
    assert fragment in error_of(resp)
    assert service.calls == []


def test_a_refused_hold_is_a_409():
    reason = "the desk is already at its upper limit (1260 mm; limits are 640-1260 mm)"
    resp = send(make_client(FakeService(refuse=reason)), "POST", "/api/v1/hold", {"direction": "up"})
    assert resp.status_code == 409 and error_of(resp) == reason


@pytest.mark.parametrize("kwargs", [dict(), dict(raw="junk", content_type="text/plain"),
                                    dict(raw="x" * (MAX_BODY * 2))], ids=["no-body", "junk", "oversized"])
def test_release_always_works(client, service, kwargs):
    resp = send(client, "POST", "/api/v1/release", **kwargs)
    assert resp.status_code == 200
    assert service.calls == [("release", Source.REMOTE)]


def test_clear_fault():
    service = FakeService(fault="stall: the desk did not move")
    resp = make_client(service).post("/api/v1/clear-fault")
    assert resp.status_code == 200
    assert service.calls == [("clear_fault",)]
    assert resp.get_json() == {"fault": None}


def test_clear_fault_from_another_site_is_refused():
    service = FakeService(fault="stall: the desk did not move")
    resp = make_client(service).post("/api/v1/clear-fault", headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403 and "another site" in error_of(resp)
    assert service.calls == []


# -- presets ----------------------------------------------------------------------------------
def test_presets_are_listed(client):
    resp = client.get("/api/v1/presets")
    assert resp.status_code == 200
    assert resp.get_json() == {"presets": [{"slot": 1, "height_mm": 720.0}, {"slot": 2, "height_mm": 1100.0},
                                           {"slot": 3, "height_mm": None}, {"slot": 4, "height_mm": None}]}


def test_recall_moves_to_the_preset(client, service):
    resp = client.post("/api/v1/presets/2/recall")
    assert resp.status_code == 202
    assert resp.get_json() == {"slot": 2, "target_mm": 1100.0}
    assert service.calls == [("recall_preset", 2, Source.REMOTE)]


def test_recalling_an_empty_preset_is_a_409_that_says_so(client):
    resp = client.post("/api/v1/presets/3/recall")
    assert resp.status_code == 409
    assert "preset 3 is empty" in error_of(resp)


@pytest.mark.parametrize("slot", ["0", "5", "99", "-1", "one", "1.5", "1e0", "%20"])
@pytest.mark.parametrize("method, suffix", [("POST", "/recall"), ("PUT", "")])
def test_unknown_preset_slots_are_404_with_a_message(client, service, slot, method, suffix):
    resp = send(client, method, f"/api/v1/presets/{slot}{suffix}", {"height_mm": 900} if method == "PUT" else None)
    assert resp.status_code == 404
    message = error_of(resp)
    assert "presets are 1-4" in message and "does not exist" in message
    assert service.calls == []


@pytest.mark.parametrize("kwargs, expected_height", [
    (dict(body={"height_mm": 1000}), 1000.0),
    (dict(body={"height_mm": 1000.25}), 1000.25),
    (dict(body={}), None),
    (dict(body={"height_mm": None}), None),
    (dict(raw=""), None),
], ids=["int", "float", "empty-object", "null", "empty-body"])
def test_saving_a_preset(client, service, kwargs, expected_height):
    resp = send(client, "PUT", "/api/v1/presets/3", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert service.calls == [("save_preset", 3, expected_height)]
    saved = 740.0 if expected_height is None else round(expected_height, 1)
    assert resp.get_json() == {"slot": 3, "height_mm": saved}


BAD_SAVES = [
    ("string", dict(body={"height_mm": "1000"}), 400, 'got a string "1000"'),
    ("bool", dict(body={"height_mm": False}), 400, "got a boolean false"),
    ("nan", dict(raw='{"height_mm": NaN}'), 400, "NaN"),
    ("too-high", dict(body={"height_mm": 5000}), 422, RANGE_TEXT),
    ("negative", dict(body={"height_mm": -1}), 422, RANGE_TEXT),
    ("list-body", dict(body=[1000]), 400, "JSON object"),
    ("malformed", dict(raw="{"), 400, "malformed JSON"),
    ("text-plain", dict(raw="1000", content_type="text/plain"), 415, "application/json"),
    ("oversized", dict(raw=json.dumps({"height_mm": 1000, "pad": "x" * MAX_BODY})), 413, "too large"),
]


@pytest.mark.parametrize("kwargs, status, fragment", [c[1:] for c in BAD_SAVES], ids=[c[0] for c in BAD_SAVES])
def test_bad_preset_saves_are_refused(client, service, kwargs, status, fragment):
    resp = send(client, "PUT", "/api/v1/presets/1", **kwargs)
    assert resp.status_code == status
    assert fragment in error_of(resp)
    assert service.calls == []


def test_saving_the_current_height_without_a_reading_is_a_409():
    service = FakeService(height=None)
    resp = send(make_client(service), "PUT", "/api/v1/presets/1", {})
    assert resp.status_code == 409 and "no height reading" in error_of(resp)


# -- the simulator's keypad ----------------------------------------------------------------------
@pytest.mark.parametrize("key", SIM_KEYS)
def test_sim_keys_press_and_release(key):
    service = FakeService(sim=True)
    client = make_client(service)
    for pressed in (True, False):
        resp = send(client, "POST", f"/api/v1/sim/keys/{key}", {"pressed": pressed})
        assert resp.status_code == 200
        assert resp.get_json() == {"key": key, "pressed": pressed}
    assert service.calls == [("press_sim_key", key, True), ("press_sim_key", key, False)]


BAD_KEYS = [
    ("unknown-key", True, "/api/v1/sim/keys/sideways", {"pressed": True}, 404, 'unknown key "sideways"'),
    ("preset-5", True, "/api/v1/sim/keys/preset-5", {"pressed": True}, 404, "preset-1"),
    ("upper-case", True, "/api/v1/sim/keys/UP", {"pressed": True}, 404, "keys are up, down"),
    ("not-a-simulator", False, "/api/v1/sim/keys/up", {"pressed": True}, 404, "this desk is real"),
    ("not-a-simulator-unknown-key", False, "/api/v1/sim/keys/zz", {"pressed": True}, 404, "this desk is real"),
    ("pressed-missing", True, "/api/v1/sim/keys/up", {}, 400, "missing 'pressed'"),
    ("pressed-string", True, "/api/v1/sim/keys/up", {"pressed": "yes"}, 400, 'got a string "yes"'),
    ("pressed-number", True, "/api/v1/sim/keys/up", {"pressed": 1}, 400, "true or false"),
]


@pytest.mark.parametrize("sim, url, body, status, fragment", [c[1:] for c in BAD_KEYS], ids=[c[0] for c in BAD_KEYS])
def test_bad_sim_key_requests(sim, url, body, status, fragment):
    service = FakeService(sim=sim)
    resp = send(make_client(service), "POST", url, body)
    assert resp.status_code == status
    assert fragment in error_of(resp)
    assert service.calls == []


# -- the simulator's fault injection -------------------------------------------------------------
def test_sim_fault_injects_and_clears_through_the_service():
    service = FakeService(sim=True)
    client = make_client(service)
    resp = send(client, "POST", "/api/v1/sim/fault", {"kind": "stall"})
    assert resp.status_code == 200 and resp.get_json() == {"kind": "stall"}
    resp = send(client, "POST", "/api/v1/sim/fault", {"kind": "obstruction", "direction": "up", "height_mm": 900})
    assert resp.status_code == 200
    resp = send(client, "DELETE", "/api/v1/sim/fault")
    assert resp.status_code == 200 and resp.get_json() == {"cleared": True}
    assert service.calls == [("inject_sim_fault", "stall", Direction.DOWN, None),
                             ("inject_sim_fault", "obstruction", Direction.UP, 900.0), ("clear_sim_faults",)]


BAD_FAULTS = [
    ("not-a-simulator", False, "POST", {"kind": "stall"}, 404, "this desk is real"),
    ("not-a-simulator-clear", False, "DELETE", None, 404, "this desk is real"),
    ("unknown-kind", True, "POST", {"kind": "gremlins"}, 400, '"obstruction" or "stall"'),
    ("kind-missing", True, "POST", {}, 400, "missing 'kind'"),
    ("body-missing", True, "POST", None, 400, "kind"),
    ("extra-field", True, "POST", {"kind": "stall", "why": 1}, 400, 'unknown field "why"'),
    ("direction-for-a-stall", True, "POST", {"kind": "stall", "direction": "up"}, 422, "obstruction only"),
    ("bad-direction", True, "POST", {"kind": "obstruction", "direction": "sideways"}, 400, '"up" or "down"'),
    ("height-outside-limits", True, "POST", {"kind": "obstruction", "height_mm": 5000}, 422, RANGE_TEXT),
]


@pytest.mark.parametrize("sim, method, body, status, fragment", [c[1:] for c in BAD_FAULTS],
                         ids=[c[0] for c in BAD_FAULTS])
def test_bad_sim_fault_requests(sim, method, body, status, fragment):
    service = FakeService(sim=sim)
    resp = send(make_client(service), method, "/api/v1/sim/fault", body)
    assert resp.status_code == status, resp.get_json()
    assert fragment in error_of(resp)
    assert service.calls == []


# -- errors are JSON everywhere under /api ----------------------------------------------------------
@pytest.mark.parametrize("method, url, status, fragment, allowed", [
    ("GET", "/api/v1/nope", 404, "no such address", None),
    ("GET", "/api/v2/state", 404, "/openapi.json", None),
    ("POST", "/api/v1/state", 405, "/openapi.json", ["GET"]),
    ("GET", "/api/v1/move", 405, "/openapi.json", ["POST"]),
    ("DELETE", "/api/v1/presets/1", 405, "/openapi.json", ["PUT"]),
])
def test_unknown_routes_and_methods_answer_json(client, service, method, url, status, fragment, allowed):
    resp = send(client, method, url)
    assert resp.status_code == status
    assert fragment in error_of(resp)
    if allowed is not None:      # the methods allowed are in the Allow header, not in the message
        assert set(allowed) <= set(resp.headers["Allow"].replace(" ", "").split(","))
    assert service.calls == []


# -- security headers ---------------------------------------------------------------------------------
def csp_directives(resp) -> dict[str, list[str]]:
    policy = resp.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("method, url, kwargs", [
    ("GET", "/", {}),
    ("GET", "/api/v1/state", {}),
    ("GET", "/static/app.js", {}),
    ("GET", "/static/app.css", {}),
    ("GET", "/api/v1/nope", {}),
    ("POST", "/api/v1/move", dict(raw="{")),
    ("POST", "/api/v1/move", dict(raw="x" * (MAX_BODY + 1))),
    ("POST", "/api/v1/stop", {}),
])
def test_security_headers_on_every_response(client, method, url, kwargs):
    resp = send(client, method, url, **kwargs)
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    csp = csp_directives(resp)
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in resp.headers["Content-Security-Policy"]


# -- the page ------------------------------------------------------------------------------------------
class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.testids: list[str] = []
        self.scripts: list[dict] = []
        self.links: list[dict] = []
        self.buttons: list[dict] = []
        self.inline_handlers: list[tuple[str, str]] = []
        self.style_attrs: list[str] = []
        self.style_tags = 0
        self._in_script: dict | None = None
        self._in_button: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-testid" in a:
            self.testids.append(a["data-testid"])
        for name, _ in attrs:
            if name.startswith("on"):
                self.inline_handlers.append((tag, name))
            if name == "style":
                self.style_attrs.append(tag)
        if tag == "script":
            self._in_script = {"attrs": a, "body": ""}
            self.scripts.append(self._in_script)
        elif tag == "link":
            self.links.append(a)
        elif tag == "style":
            self.style_tags += 1
        elif tag == "button":
            self._in_button = {"attrs": a, "text": ""}
            self.buttons.append(self._in_button)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None
        elif tag == "button":
            self._in_button = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["body"] += data
        if self._in_button is not None:
            self._in_button["text"] += data


def parse_page(service: FakeService) -> tuple[PageParser, str]:
    resp = make_client(service).get("/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    parser = PageParser()
    parser.feed(html)
    return parser, html


@pytest.mark.parametrize("sim", [False, True], ids=["real", "sim"])
def test_the_page_has_every_required_testid_exactly_once(sim):
    page, _ = parse_page(FakeService(sim=sim))
    for testid in REQUIRED_TESTIDS:
        assert page.testids.count(testid) == 1, testid
    for testid in SIM_TESTIDS:
        assert page.testids.count(testid) == (1 if sim else 0), testid


@pytest.mark.parametrize("sim", [False, True], ids=["real", "sim"])
def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere(sim):
    page, html = parse_page(FakeService(sim=sim))
    assert page.scripts, "the page loads its script"
    for script in page.scripts:
        assert script["attrs"].get("src", "").startswith("/static/"), script
        assert script["body"].strip() == "", "inline script body"
    assert page.inline_handlers == []
    assert page.style_attrs == [] and page.style_tags == 0
    for link in page.links:
        assert link["href"].startswith("/static/") or link["href"] == "/manifest.webmanifest", link
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "nothing from another origin"


def test_controls_are_labelled_buttons():
    page, _ = parse_page(FakeService(sim=True))
    by_testid = {b["attrs"].get("data-testid"): b for b in page.buttons}
    for testid in ("btn-up", "btn-down", "btn-stop", *(f"preset-{n}" for n in range(1, 5)), *SIM_TESTIDS):
        button = by_testid[testid]
        assert button["attrs"].get("type") == "button"
        assert button["attrs"].get("aria-label") or button["text"].strip(), testid


def test_the_page_shows_the_state_and_escapes_what_it_shows():
    service = FakeService(fault='stall: <script>alert("x")</script> & more', height=812.4)
    _, html = parse_page(service)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(" in html and "&amp; more" in html
    assert re.search(r'data-testid="height"[^>]*>81\.2<', html)   # ada's units: cm
    assert re.search(r'data-testid="state"[^>]*>fault<', html)


def test_the_page_without_a_height_reading_shows_a_dash():
    _, html = parse_page(FakeService(height=None))
    assert re.search(r'data-testid="height"[^>]*>–<', html)


def test_the_static_assets_are_served_locally(client):
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.mimetype
    source = "\n".join(module_graph(client, "/static/app.js").values())      # app.js and the modules it imports
    # The dead-man rules the page promises: renew every 150 ms and let go on every way out.
    for needle in ("/hold", "/release", "/stop", "/sim/keys/", "HOLD_MS = 150", "POLL_MS = 200",
                   "pointerup", "pointercancel", "pointerleave", "blur", "visibilitychange", "pagehide"):
        assert needle in source, needle
    assert "innerHTML" not in source and "eval(" not in source
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "prefers-color-scheme: dark" in css.get_data(as_text=True)
    assert client.get("/static/icon.svg").status_code == 200


# -- anything at all: never a 500, never a move unless the target is a number within the limits --------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                      JSON_VALUES.map(lambda v: json.dumps({"target_mm": v}).encode())))
def test_arbitrary_move_bodies_never_500_and_move_only_when_valid(body):
    service = FakeService()
    resp = send(make_client(service), "POST", "/api/v1/move", raw=body)
    assert resp.status_code < 500, resp.get_data(as_text=True)
    try:
        target = json.loads(body)["target_mm"]
    except (ValueError, TypeError, KeyError, RecursionError):
        target = None
    valid = (isinstance(target, (int, float)) and not isinstance(target, bool)
             and LIMITS[0] <= target <= LIMITS[1])
    assert (resp.status_code == 202) == valid, (body, resp.status_code)
    assert service.names() == (["move_to"] if valid else [])
    if not valid:
        error_of(resp)
