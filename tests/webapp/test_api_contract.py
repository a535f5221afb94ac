"""The OpenAPI document tells the truth: every status a view can answer is declared on its operation,
a body declared required is required, and the rules the server applies to a token label and to a
plan are in the declared schemas.

Which statuses a view can answer is read from its code: every ``ApiError(<status>, ...)`` in the
view and in the deskpi.webapp functions and WebContext members it reaches. What every operation
may answer because of its declaration (401, 403 for changes and admins, 404 for path parameters,
409 for the claim, 400/413/415/422 for a body, 503 for a full disk) the machinery adds
(Operation.implied_responses); this test holds the declarations to the code.
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap

import pytest
from web_fakes import FakeService, app_for, with_store

from deskpi.core.habits.plans import DEFAULT_PLAN, KINDS, MODES, RANGES, Plan, PlanError
from deskpi.webapp import api_desk, api_people, api_session
from deskpi.webapp.api_spec import ApiError, validate
from deskpi.webapp.context import WebContext

OPS = [op for api in (api_desk.api, api_people.api, api_session.api) for op in api.ops]
#: WebContext members whose refusals are not the operation's: every daemon has a store (an app built
#: without one, in tests and benchmarks, answers 404 "keeps no user data" to the people operations).
NOT_COUNTED = {"store", "reads"}


def _source_tree(fn) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(fn)))


def _statuses(fn, seen: set) -> set[int]:
    """Every status an ApiError raised by `fn`, or by what it calls in deskpi.webapp, can carry."""
    if fn in seen:
        return set()
    seen.add(fn)
    found: set[int] = set()
    scope = getattr(fn, "__globals__", {})
    for node in ast.walk(_source_tree(fn)):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "ApiError":
                status = node.args[0]
                assert isinstance(status, ast.Constant) and isinstance(status.value, int), (
                    f"{fn.__qualname__}: ApiError with a status the test cannot read: {ast.unparse(status)}")
                found.add(status.value)
                continue
            target = scope.get(node.func.id)
        elif isinstance(node, ast.Attribute) and node.attr not in NOT_COUNTED:
            member = inspect.getattr_static(WebContext, node.attr, None)
            target = member.fget if isinstance(member, property) else member
            if isinstance(target, staticmethod):
                target = target.__func__
        if inspect.isfunction(target) and target.__module__.startswith("deskpi.webapp"):
            found |= _statuses(target, seen)
    return found


def _declared(app, op) -> set[int]:
    doc = app.test_client().get("/openapi.json").get_json()
    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", "/api/v1" + op.path)
    return {int(code) for code in doc["paths"][path][op.method.lower()]["responses"]}


@pytest.fixture(scope="module")
def app():
    service = with_store(FakeService(sim=True))
    yield app_for(service)
    service.store.close()


@pytest.mark.parametrize("op", OPS, ids=[f"{op.method} {op.path}" for op in OPS])
def test_every_status_a_view_can_answer_is_declared(app, op):
    assert op.view is not None
    raised = _statuses(op.view, set())
    missing = raised - _declared(app, op)
    assert not missing, f"{op.method} {op.path} can answer {sorted(missing)} but does not declare it"


def test_the_reader_finds_refusals_in_helpers_and_context_members():
    by_path = {(op.method, op.path): op for op in OPS}
    assert {403, 404} <= _statuses(by_path[("GET", "/users/<name>/plan")].view, set())      # _user_or_404
    assert 409 in _statuses(by_path[("POST", "/reminders/pause-today")].view, set())         # _answering_allowed
    assert 404 in _statuses(by_path[("GET", "/reminder")].view, set())                       # ctx.habits
    assert 422 in _statuses(by_path[("PATCH", "/admin/settings")].view, set())               # ctx.set_policy


# -- required bodies ---------------------------------------------------------------------------
REQUIRED = [op for op in OPS if op.body_required]


@pytest.mark.parametrize("op", REQUIRED, ids=[f"{op.method} {op.path}" for op in REQUIRED])
@pytest.mark.parametrize("raw", ["", "  ", None], ids=["empty", "blank", "absent"])
def test_a_missing_required_body_is_refused_before_the_view(sign_in, service, op, raw):
    client = sign_in()
    path = "/api/v1" + op.path.replace("<name>", "ada").replace("<slot>", "1").replace("<key>", "up")
    headers = {"Content-Type": "application/json"} if raw is not None else {}
    before = list(service.calls)
    resp = client.open(path, method=op.method, data=raw if raw is not None else None, headers=headers)
    assert resp.status_code == 400, (resp.status_code, resp.get_json())
    error = resp.get_json()["error"]
    assert "missing" in error or "needs a JSON body" in error, error
    assert "send" in error, error
    assert service.calls == before


@pytest.mark.parametrize("path", ["/api/v1/admin/settings", "/api/v1/users/ada"])
def test_a_patch_naming_nothing_is_refused(sign_in, path):
    resp = sign_in().patch(path, json={})
    assert resp.status_code == 400, resp.get_json()
    assert "send one or more of" in resp.get_json()["error"]


def test_a_body_is_still_optional_where_it_is_not_required(client):
    assert client.post("/api/v1/tokens").status_code == 201                  # label optional
    assert client.put("/api/v1/presets/1").status_code == 200                 # the current height


# -- token labels and plans: the rules in the schema -----------------------------------------------
def _schema(app, method: str, path: str) -> dict:
    doc = app.test_client().get("/openapi.json").get_json()
    return doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def _body(app, method: str, path: str) -> dict:
    served = app.extensions["deskpi.api"]
    op = next(o for o in served.ops if o.method == method and o.path == path)
    return served.body(op)


@pytest.mark.parametrize("label, ok", [("", True), ("laptop", True), ("x" * 64, True), ("x" * 65, False),
                                       ("a\nb", False), ("tab\there", False), ("\x7f", False), ("\u2028", False),
                                       ("café ☕", True), ("\x85", False)])
def test_the_token_label_rules_are_in_the_schema(app, client, label, ok):
    schema = _body(app, "POST", "/tokens")["properties"]["label"]
    assert schema["maxLength"] == 64 and "pattern" in schema
    doc = _schema(app, "post", "/api/v1/tokens")["properties"]["label"]
    assert doc["maxLength"] == 64 and doc["pattern"] == schema["pattern"]
    resp = client.post("/api/v1/tokens", json={"label": label})
    assert (resp.status_code == 201) == ok, (label, resp.get_json())
    if not ok:
        with pytest.raises(ApiError):
            validate({"label": label}, _body(app, "POST", "/tokens"))


def test_the_plan_schema_names_every_field_and_its_rules(app):
    schema = _body(app, "PUT", "/users/<name>/plan")
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(DEFAULT_PLAN.to_dict())
    props = schema["properties"]
    assert props["kind"]["enum"] == list(KINDS) and props["mode"]["enum"] == list(MODES)
    for key, (lo, hi, _unit) in RANGES.items():
        assert (props[key]["minimum"], props[key]["maximum"]) == (lo, hi), key
        want_int = isinstance(getattr(DEFAULT_PLAN, key), int)
        assert ("integer" if want_int else "number") in props[key]["type"], key
    assert props["name"]["maxLength"] == 80
    doc = _schema(app, "put", "/api/v1/users/{name}/plan")
    assert doc["additionalProperties"] is False and set(doc["properties"]) == set(props)


PLAN_FIELD_VALUES = {
    "kind": ["default", "cornell", "custom", "other", 1, None],
    "mode": ["confirm", "auto", "manual", None],
    "name": ["", "Mine", "x" * 80, "x" * 81, 3, None],
    "sit_min": [5, 180, 4, 181, 30.5, "30", True, None],
    "nag_stop_h": [0.5, 12, 0.4, 12.5, 4.25, "4"],
    "days": [["mon"], ["Monday", "tue"], [0, 6], [7], [], "mon", ["xyz"], [True]],
    "start": ["09:00", "9:00", "23:59", "24:00", "09:60", "0900", "", 900],
    "quiet": [[], [["12:00", "13:00"]], [["12:00"]], [["12:00", "13:00", "14:00"]], [["noon", "13:00"]], "12-13"],
    "holidays": [[], ["2026-12-24"], "2026-12-24", [20261224]],
    "ramp": ["standard", "slow", "none", "fast", [[1, 60], [4, 120]], [[1, 60, 3]], [["1", 60]], 5],
}


@pytest.mark.parametrize("key", sorted(PLAN_FIELD_VALUES))
def test_what_the_plan_schema_refuses_plan_from_dict_refuses_too(app, key):
    """The schema is checked first, so it must never refuse a field the plan itself accepts; and it
    refuses what the plan refuses for that field (how fields fit together is the plan's alone)."""
    schema = _body(app, "PUT", "/users/<name>/plan")
    for value in PLAN_FIELD_VALUES[key]:
        doc = {"kind": "custom", key: value} if key != "kind" else {key: value}
        try:
            validate(doc, schema)
            schema_ok = True
        except ApiError:
            schema_ok = False
        try:
            Plan.from_dict(doc)
            plan_ok = True
        except PlanError as exc:
            plan_ok = key not in exc.fields          # refused, but for another field's sake (a cross-field rule)
        assert schema_ok == plan_ok, (key, value, schema_ok, plan_ok)
