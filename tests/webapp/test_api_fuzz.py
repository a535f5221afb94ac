"""Fuzzing every operation in /openapi.json: no 5xx, and a refused request never moves the desk.

The operations come from the served document itself, so a new route is
fuzzed as soon as it is declared. Bodies are drawn both from the declared
schema (with values just outside every bound) and as arbitrary JSON and
bytes; path parameters as plausible and hostile strings. The client is a
signed-in admin holding the claim, so requests get past the sign-in checks
and reach the validation that matters; a second pass without credentials
must only ever see 401 (or the public operations).
"""
from __future__ import annotations

import json
import re

import pytest
from helpers import grant_claim, signed_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_fakes import MOTION, FakeService, app_for, with_store

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])
#: Operations whose whole job is to change things the fuzzer must not wreck for the next example.
SKIP = {("delete", "/api/v1/session")}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10 ** 30, max_value=10 ** 30),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
any_json = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                              st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=12)


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values near and across the schema's bounds, mostly of the declared type."""
    t = schema.get("type", "object")
    alternatives: list[st.SearchStrategy] = [any_json]
    if t == "object":
        props = schema.get("properties", {})
        if props:
            alternatives.append(st.fixed_dictionaries({}, optional={k: from_schema(v) for k, v in props.items()}))
            alternatives.append(st.fixed_dictionaries({k: from_schema(v) for k, v in props.items()}))
    elif t == "number" or t == "integer":
        lo, hi = schema.get("minimum", -1e6), schema.get("maximum", 1e6)
        alternatives += [st.floats(lo - 50, hi + 50, allow_nan=False),
                         st.sampled_from([lo, hi, lo - 0.001, hi + 0.001]), st.integers(int(lo) - 10, int(hi) + 10)]
    elif t == "string":
        alternatives += [st.sampled_from(schema.get("enum", ["x"])), st.text(max_size=schema.get("maxLength", 20) + 5)]
    elif t == "boolean":
        alternatives.append(st.booleans())
    return st.one_of(*alternatives)


PATH_VALUES = st.one_of(st.sampled_from(["1", "2", "4", "0", "5", "ada", "Ada", "up", "preset-1", "confirm", "snooze",
                                         "99999999999999", "-1", "%2e%2e", "<b>"]),
                        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF,
                                                       blacklist_characters="/?#%"), min_size=1, max_size=12))


def _app():
    service = with_store(FakeService(sim=True))
    return service, app_for(service)


def _operations() -> list[tuple[str, str, dict]]:
    _service, app = _app()
    doc = app.test_client().get("/openapi.json").get_json()
    return [(method, path, op) for path, ops in doc["paths"].items() for method, op in ops.items()
            if (method, path) not in SKIP]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def desk():
    service, app = _app()
    client = signed_in(app, name="fuzz", admin=True, claim=True)
    anonymous = app.test_client()
    yield service, app, client, anonymous
    app.extensions["deskpi.web"].live.close()
    service.store.close()


def _url(path: str, values: list[str]) -> str:
    it = iter(values)
    return re.sub(r"\{[a-z_]+\}", lambda _m: next(it), path)


def _check(service, app, resp, method: str, url: str, before: int) -> None:
    assert resp.status_code < 500, f"{method.upper()} {url} -> {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
    if resp.status_code >= 400 and resp.status_code != 409:    # 409: the desk itself said no, and did not move
        moved = [c for c in service.calls[before:] if c[0] in MOTION]
        assert not moved, f"{method.upper()} {url} was refused ({resp.status_code}) but reached the desk: {moved}"
        if resp.is_json:
            assert isinstance(resp.get_json().get("error"), str)
    # Keep the fuzzing client able to go on: it stays signed in and holds the claim.
    claims = app.extensions["deskpi.web"].claims
    if not claims.holds("fuzz"):
        grant_claim(claims, "fuzz")


@pytest.mark.parametrize("method, path, op", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS])
def test_no_request_to_a_documented_operation_makes_a_5xx_or_moves_the_desk_when_refused(desk, method, path, op):
    service, app, client, _anonymous = desk
    n_params = len(re.findall(r"\{[a-z_]+\}", path))
    body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
    bodies = st.one_of(from_schema(body_schema) if body_schema else any_json, st.none())

    @SETTINGS
    @given(values=st.lists(PATH_VALUES, min_size=n_params, max_size=n_params), body=bodies,
           raw=st.one_of(st.none(), st.binary(max_size=64)))
    def run(values, body, raw):
        url = _url(path, values)
        before = len(service.calls)
        if raw is not None:
            resp = client.open(url, method=method.upper(), data=raw, content_type="application/json")
        elif body is None:
            resp = client.open(url, method=method.upper())
        else:
            resp = client.open(url, method=method.upper(), data=json.dumps(body), content_type="application/json")
        _check(service, app, resp, method, url, before)

    run()


@pytest.mark.parametrize("method, path, op", OPERATIONS, ids=[f"{m.upper()} {p}" for m, p, _ in OPERATIONS])
def test_without_credentials_only_public_operations_answer(desk, method, path, op):
    service, app, _client, anonymous = desk
    url = _url(path, ["1"] * len(re.findall(r"\{[a-z_]+\}", path)))
    before = len(service.calls)
    resp = anonymous.open(url, method=method.upper(), data=json.dumps({"target_mm": 900, "direction": "up"}),
                          content_type="application/json")
    public = op.get("security") == []
    assert resp.status_code < 500
    if not public:
        assert resp.status_code == 401, (url, resp.status_code, resp.get_json())
        assert "sign in" in resp.get_json()["error"]
    assert not [c for c in service.calls[before:] if c[0] in MOTION]


def test_every_api_route_is_documented():
    _service, app = _app()
    doc = app.test_client().get("/openapi.json").get_json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for m in rule.methods - {"HEAD", "OPTIONS"}:
            assert (m, path) in documented, f"{m} {path} is served but not in /openapi.json"
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "deskpi"
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for path, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op["responses"] and op["summary"], (m, path)
