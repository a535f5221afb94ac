"""deskpi's own body validator (deskpi.webapp.api_spec.validate) agrees with the jsonschema library on
every schema the API declares, as /openapi.json publishes it.

OpenAPI 3.0's schema object is JSON Schema draft 4 with ``nullable``; the published schema is turned
back into plain draft 4 (nullable -> "null" in the type) and judged by jsonschema's Draft4Validator.
Instances are drawn with hypothesis: valid ones built from the published schema (`from_schema` below:
hypothesis-jsonschema does not work with the hypothesis this project uses), any JSON, and objects
of the declared fields with values of any kind; plus a hand-picked list: booleans for numbers, 1.0
for integers, extra keys, huge strings and numbers, control characters, nulls everywhere.
NaN and the infinities are not JSON (the body parser refuses them before validation); for them the
test only asks that deskpi refuses them, which jsonschema, following Python's comparisons, may not.

A dev-only test: jsonschema and hypothesis are dev dependencies; without them it is skipped, and
under CI=true that is a failure.
"""
from __future__ import annotations

import copy
import math
import os

import pytest
from web_fakes import FakeService, app_for, with_store

from deskpi.webapp.api_spec import ApiError, validate


def _require(module: str):
    try:
        return __import__(module)
    except ImportError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{module} is a dev dependency and must be installed under CI: {exc}", pytrace=False)
        pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")


jsonschema = _require("jsonschema")
hypothesis = _require("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402 - only once the dev dependencies are known
from hypothesis import strategies as st  # noqa: E402


def _app():
    return app_for(with_store(FakeService(sim=True)))


APP = _app()
SERVED = APP.extensions["deskpi.api"]
DOC = APP.test_client().get("/openapi.json").get_json()


def _published(op) -> dict:
    import re

    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", "/api/v1" + op.path)
    return DOC["paths"][path][op.method.lower()]["requestBody"]["content"]["application/json"]["schema"]


def draft4(schema: dict) -> dict:
    """An OpenAPI 3.0 schema as plain JSON Schema draft 4."""
    out = copy.deepcopy(schema)
    for key in ("example", "nullable"):
        out.pop(key, None)
    if "properties" in out:
        out["properties"] = {k: draft4(v) for k, v in out["properties"].items()}
    if "items" in out:
        out["items"] = draft4(out["items"])
    if "anyOf" in out:
        out["anyOf"] = [draft4(s) for s in out["anyOf"]]
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "anyOf" in out:
            out["anyOf"].append({"type": "null"})
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


BODIES = [(f"{op.method} {op.path}", SERVED.body(op), draft4(_published(op)))
          for op in SERVED.ops if SERVED.body(op) is not None]
IDS = [name for name, _, _ in BODIES]


def deskpi_ok(value, schema) -> bool:
    try:
        validate(value, schema)
        return True
    except ApiError as exc:
        assert exc.status in (400, 422), exc.status
        return False


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def agree(value, declared: dict, published: dict) -> None:
    ours = deskpi_ok(value, declared)
    if not _finite(value):
        assert not ours, f"deskpi accepted a non-finite number: {value!r}"
        return
    theirs = jsonschema.Draft4Validator(published).is_valid(value)
    assert ours == theirs, f"deskpi says {ours}, jsonschema says {theirs} for {value!r}"


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values valid under a draft 4 schema of the kinds the API declares (type, anyOf, enum and the
    keywords of each type), small enough to draw quickly."""
    if "anyOf" in schema:
        branches = [from_schema({**{k: v for k, v in schema.items() if k != "anyOf"}, **b}) for b in schema["anyOf"]]
        return st.one_of(*branches)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return st.one_of(*[_typed(schema, t) for t in types])


def _typed(schema: dict, t: str) -> st.SearchStrategy:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if t == "null":
        return st.none()
    if t == "boolean":
        return st.booleans()
    if t == "integer":
        return st.integers(None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi))
    if t == "number":
        return st.one_of(st.floats(lo, hi, allow_nan=False, allow_infinity=False),
                         st.integers(None if lo is None else math.ceil(lo), None if hi is None else math.floor(hi)))
    if t == "string":
        n_lo, n_hi = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"]).filter(lambda x: n_lo <= len(x) <= schema.get("maxLength", 10 ** 9))
        return st.text(min_size=n_lo, max_size=n_hi)
    if t == "array":
        items = from_schema(schema["items"]) if "items" in schema else ANY_JSON
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    props = {k: from_schema(v) for k, v in schema.get("properties", {}).items()}
    required = {k: props[k] for k in schema.get("required", ())}
    optional = {k: v for k, v in props.items() if k not in required}
    objects = st.fixed_dictionaries(required, optional=optional)
    if schema.get("additionalProperties", True) is not False:
        objects = st.builds(lambda d, extra: {**extra, **d}, objects,
                            st.dictionaries(st.text(max_size=6).filter(lambda k: k not in props), ANY_JSON, max_size=2))
    return objects.filter(lambda d: len(d) >= schema.get("minProperties", 0))


def test_there_are_bodies_to_compare_and_each_is_a_valid_draft4_schema():
    assert len(BODIES) >= 14
    for _name, _, published in BODIES:
        jsonschema.Draft4Validator.check_schema(published)


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 20), max_value=10 ** 20),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("name, declared, published", BODIES, ids=IDS)
def test_valid_instances_from_the_schema_are_accepted_by_both(name, declared, published):
    @SETTINGS
    @given(from_schema(published))
    def check(value):
        agree(value, declared, published)

    check()


@pytest.mark.parametrize("name, declared, published", BODIES, ids=IDS)
def test_any_json_and_any_field_values_get_the_same_verdict(name, declared, published):
    fields = {k: st.one_of(ANY_JSON, from_schema(v))
              for k, v in published.get("properties", {}).items()}

    @SETTINGS
    @given(st.one_of(ANY_JSON, st.fixed_dictionaries({}, optional=fields),
                     st.fixed_dictionaries({}, optional={k: ANY_JSON for k in fields})))
    def check(value):
        agree(value, declared, published)

    check()


def _edge_values() -> list:
    return [True, False, 0, 1, -1, 1.0, 0.5, -0.0, 10 ** 400, -(10 ** 400), 1e308, 5e-324,
            float("nan"), float("inf"), float("-inf"), "", " ", "x" * 100_000, "\x00", "a\nb", "\u2028", "\u202e",
            "09:00", "mon", "2026-12-24", "standard", "up", None, [], [None], [1, 2], [[1, 60]], {}, {"x": 1}]


@pytest.mark.parametrize("name, declared, published", BODIES, ids=IDS)
def test_hand_picked_edge_cases_get_the_same_verdict(name, declared, published):
    agree({}, declared, published)
    agree({"unknown": 1}, declared, published)                  # an extra key
    for value in _edge_values():
        agree(value, declared, published)                       # the body itself
    props = declared.get("properties", {})
    required = {k: _valid_example(declared, k) for k in declared.get("required", ())}
    for key in props:
        for value in _edge_values():
            agree({**required, key: value}, declared, published)
            agree({**required, key: value, "extra": value}, declared, published)


def _valid_example(schema: dict, key: str):
    return schema["example"][key]            # every required field has its example (the error hint shows it)
