"""Declared API operations: one declaration per route gives the Flask rule (on its area's
blueprint), the checks on who may call it, the request-body validation and its entry in /openapi.json.

Because the same declaration drives the validator and the document, the
OpenAPI description cannot drift from what the server accepts. Schemas are
a small JSON Schema subset (object/number/integer/string/boolean/array/null,
required, additionalProperties, minimum/maximum, minLength/maxLength, enum,
pattern, maxItems); anything outside that subset is rejected at declaration.
"""
from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, request

#: Where the API is served.
API = "/api/v1"
#: Who may call an operation. "claim": signed in and holding the desk's claim.
AUTH_LEVELS = ("public", "user", "claim", "admin")
_KNOWN_KEYS = {"type", "properties", "required", "additionalProperties", "minimum", "maximum", "minLength",
               "maxLength", "enum", "pattern", "maxItems", "items", "description", "example", "x-unit",
               "x-range", "nullable", "format"}


class ApiError(Exception):
    """A request the API refuses: HTTP status and a message for a person."""

    def __init__(self, status: int, message: str, **extra) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def show(value: object, limit: int = 60) -> str:
    """A client's value, quoted and shortened for an error message."""
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _check_schema(schema: dict, where: str) -> None:
    unknown = set(schema) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"{where}: unsupported schema keys {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        _check_schema(sub, f"{where}.{name}")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}[]")


def _types(schema: dict) -> tuple[str, ...]:
    t = schema.get("type", "object")
    types = (t,) if isinstance(t, str) else tuple(t)
    return types + (("null",) if schema.get("nullable") else ())


def _matches_type(value: object, t: str) -> bool:
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":       # 1e999 parses as inf: a number, refused below as out of range
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    return False


_TYPE_TEXT = {"null": "null", "boolean": "true or false", "integer": "a whole number", "number": "a number",
              "string": "a string", "array": "a list", "object": "an object"}


def validate(value: object, schema: dict, name: str = "body") -> None:
    """Raise ApiError(400) for a wrong shape, ApiError(422) for a value out of range."""
    types = _types(schema)
    if not any(_matches_type(value, t) for t in types):
        wanted = " or ".join(_TYPE_TEXT[t] for t in types if t != "null" or len(types) == 1)
        unit = f" of {schema['x-unit']}" if "x-unit" in schema and "number" in types else ""
        if "minimum" in schema and "maximum" in schema:
            unit += f" within {schema['minimum']:g}-{schema['maximum']:g}{' ' + schema.get('x-unit', '')}".rstrip()
        if "enum" in schema:
            wanted = " or ".join(map(json.dumps, schema["enum"]))
        given = "null" if value is None else f"{type_name(value)} {show(value)}"
        raise ApiError(400, f"{name!r} must be {wanted}{unit}, got {given}")
    if value is None:
        return
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                example = schema.get("example")
                hint = f"; send something like {json.dumps(example)}" if example is not None else ""
                raise ApiError(400, f"missing {key!r}{hint}")
        if schema.get("additionalProperties", True) is False:
            extra = sorted(set(value) - set(props))
            if extra:
                raise ApiError(400, f"unknown field {show(extra[0])}; fields are {', '.join(props) or 'none'}")
        for key, sub in props.items():
            if key in value:
                validate(value[key], sub, key)
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise ApiError(422, f"{name!r} has {len(value)} items; at most {schema['maxItems']} allowed")
        for i, item in enumerate(value):
            validate(item, schema.get("items", {}), f"{name}[{i}]")
    elif isinstance(value, str):
        n = len(value)
        if n < schema.get("minLength", 0) or n > schema.get("maxLength", 10 ** 9):
            raise ApiError(422, f"{name!r} {show(value)} has {n} characters; allowed "
                                f"{schema.get('minLength', 0)}-{schema.get('maxLength', 'any')}")
        if "enum" in schema and value not in schema["enum"]:
            raise ApiError(400, f"{name!r} must be {' or '.join(map(json.dumps, schema['enum']))}, "
                                f"got {type_name(value)} {show(value)}")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            raise ApiError(422, f"{name!r} {show(value)} is not valid: {schema.get('description', schema['pattern'])}")
    elif not isinstance(value, bool) and isinstance(value, (int, float)):
        lo, hi = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
        try:
            number = float(value)
        except OverflowError:          # a 400-digit integer
            number = math.inf
        if not (math.isfinite(number) and lo <= number <= hi):
            unit = schema.get("x-unit", "")
            what = schema.get("x-range", "the allowed range")
            raise ApiError(422, f"{name!r} {show(value)}{' ' + unit if unit else ''} is outside {what} "
                                f"{lo:g}-{hi:g}{' ' + unit if unit else ''}")


def parse_json_body(*, example: str) -> dict:
    """The request's JSON object; an empty body counts as {}. Raises ApiError."""
    raw = request.get_data(cache=True)          # 413 if Content-Length is over MAX_CONTENT_LENGTH
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body is cut off at the limit rather than refused: refuse it here.
        raise ApiError(413, f"request body too large: {limit} bytes or more given (chunked), "
                            f"at most {limit} bytes allowed")
    ctype = request.headers.get("Content-Type")
    if ctype is not None and not request.is_json:
        raise ApiError(415, f"Content-Type must be application/json, got {show(ctype)}; "
                            f"send a JSON object like {example}")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiError(400, f"malformed JSON: the body is not UTF-8; send a JSON object like {example}") from None
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON ({exc}); send a JSON object like {example}") from None
    except RecursionError:
        raise ApiError(400, f"malformed JSON: nested too deeply; send a JSON object like {example}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object like {example}, got {type_name(body)} {show(body)}")
    return body


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON; send a finite number")


_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted: the desk starts moving", 400: "Malformed request",
                401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Refused in the desk's current state",
                413: "Body too large", 415: "Not JSON", 422: "A value outside what is allowed",
                429: "Too many attempts"}
_AUTH_RESPONSES = {"public": (), "user": (401,), "claim": (401, 409), "admin": (401, 403)}
_EXTENSION = "deskpi.api"


#: A body schema, or a function of the desk's limits (lo, hi) giving one.
Body = dict | Callable[[float, float], dict] | None


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    auth: str
    body: Body
    responses: dict[int, str]
    query: dict[str, dict] = field(default_factory=dict)
    tag: str = "desk"
    body_required: bool = False


#: guard(op, phase) refuses a caller by raising ApiError; see ServedApi.
Guard = Callable[[Operation, str], None]


class Api:
    """One area's operations, declared once at import on a Flask blueprint (`api.blueprint`).

    A body schema that names the desk's limits is given as a function of them, ``(lo, hi) -> schema``;
    it is resolved when an app serves the API (:func:`serve`), since each desk has its own limits.
    """

    def __init__(self, name: str, import_name: str) -> None:
        self.blueprint = Blueprint(name, import_name)
        self.ops: list[Operation] = []

    def op(self, method: str, path: str, *, summary: str, auth: str = "user", body: Body = None,
           body_required: bool = False, responses: dict[int, str] | None = None,
           query: dict[str, dict] | None = None, tag: str = "desk") -> Callable:
        if auth not in AUTH_LEVELS:
            raise ValueError(f"auth {auth!r} not in {AUTH_LEVELS}")
        if isinstance(body, dict):
            _check_schema(body, f"{method} {path}")
        op = Operation(method.upper(), path, summary, auth, body, dict(responses or {200: "OK"}),
                       dict(query or {}), tag, body_required)
        self.ops.append(op)

        def deco(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def wrapper(**kwargs):
                served = served_api()
                served.guard(op, "before")
                schema = served.body(op)
                if schema is not None:
                    data = parse_json_body(example=served.example(op))
                    validate(data, schema)
                    kwargs["body"] = data
                served.guard(op, "after")       # bad input is named before a refusal for the desk's state
                return fn(**kwargs)
            endpoint = f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}"
            self.blueprint.add_url_rule(path, endpoint, wrapper, methods=[op.method])
            return wrapper
        return deco


def serve(app: Flask, apis: list[Api], *, prefix: str, guard: Guard, limits: tuple[float, float]) -> ServedApi:
    """Serve the areas' operations on `app` under `prefix`, in this order (also the order of /openapi.json)."""
    served = ServedApi(prefix, guard, [op for api in apis for op in api.ops], limits)
    for api in apis:
        app.register_blueprint(api.blueprint, url_prefix=prefix)
    app.extensions[_EXTENSION] = served
    return served


def served_api() -> ServedApi:
    """The API as the app handling this request serves it."""
    return current_app.extensions[_EXTENSION]


class ServedApi:
    """The API of one app: its operations with their bodies resolved for this desk's limits, and the
    guard that runs before the body is read ("before") and after it was validated ("after"), raising
    ApiError to refuse the caller."""

    def __init__(self, prefix: str, guard: Guard, ops: list[Operation], limits: tuple[float, float]) -> None:
        self.prefix = prefix
        self.guard = guard
        self.ops = ops
        self._bodies: dict[tuple[str, str], tuple[dict | None, str]] = {}
        for op in ops:
            schema = op.body(*limits) if callable(op.body) else op.body
            if schema is not None:
                _check_schema(schema, f"{op.method} {op.path}")
            self._bodies[(op.method, op.path)] = (schema, json.dumps(schema.get("example", {})) if schema else "{}")
        self._doc: dict | None = None

    def body(self, op: Operation) -> dict | None:
        """The schema of `op`'s request body on this desk, or None when it takes none."""
        return self._bodies[(op.method, op.path)][0]

    def example(self, op: Operation) -> str:
        """A body `op` accepts, as JSON for error messages."""
        return self._bodies[(op.method, op.path)][1]

    def openapi(self, *, title: str, version: str) -> dict:
        if self._doc is None:
            self._doc = self._openapi(title=title, version=version)
        return self._doc

    def _openapi(self, *, title: str, version: str) -> dict:
        paths: dict[str, dict] = {}
        for op in self.ops:
            oa_path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.prefix + op.path)
            params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                      for n in re.findall(r"\{([a-z_]+)\}", oa_path)]
            params += [{"name": n, "in": "query", "required": bool(s.get("x-required", False)),
                        "schema": {k: v for k, v in s.items() if k != "x-required"}}
                       for n, s in op.query.items()]
            responses = {str(code): {"description": text} for code, text in sorted(op.responses.items())}
            for code in _AUTH_RESPONSES[op.auth] + ((400, 413, 415, 422) if self.body(op) is not None else ()):
                responses.setdefault(str(code), {"description": _STATUS_TEXT[code]})
            for code, entry in responses.items():
                if int(code) >= 400:
                    entry["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            entry = {"summary": op.summary, "operationId": f"{op.method.lower()}{_camel(op.path)}",
                     "tags": [op.tag], "responses": responses}
            if params:
                entry["parameters"] = params
            body = self.body(op)
            if body is not None:
                entry["requestBody"] = {"required": op.body_required,
                                        "content": {"application/json": {"schema": _oa_schema(body)}}}
            if op.auth == "public":
                entry["security"] = []
            else:
                entry["x-deskpi-requires"] = op.auth
            paths.setdefault(oa_path, {})[op.method.lower()] = entry
        return {
            "openapi": "3.0.3",
            "info": {"title": title, "version": version,
                     "description": "The deskpi desk's JSON API. Sign in with POST /api/v1/session (cookie; "
                                    "send X-CSRF-Token on every change) or send Authorization: Bearer <token> "
                                    "(`deskpi token create NAME`). Remote motion needs the desk's claim."},
            "paths": paths,
            "components": {
                "schemas": {"Error": {"type": "object", "required": ["error"],
                                      "properties": {"error": {"type": "string"}}}},
                "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "deskpi_session"},
                                    "bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"session": []}, {"bearer": []}],
        }


def _camel(path: str) -> str:
    parts = re.findall(r"[a-z0-9]+", re.sub(r"<[^>]+>", "by", path.lower()))
    return "".join(p.capitalize() for p in parts)


def _oa_schema(schema: dict) -> dict:
    """JSON Schema subset -> OpenAPI 3.0 schema (type lists become nullable)."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-") and k not in ("properties", "items", "type")}
    types = [t for t in _types(schema) if t != "null"]
    if len(types) == 1:
        out["type"] = types[0]
    if "null" in _types(schema):
        out["nullable"] = True
    if "properties" in schema:
        out["properties"] = {k: _oa_schema(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = _oa_schema(schema["items"])
    if schema.get("type", "object") == "object" and "additionalProperties" not in out:
        out["additionalProperties"] = True
    return out
