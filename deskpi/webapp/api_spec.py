"""Declared API operations: one declaration per route gives the Flask rule (on its area's
blueprint), the checks on who may call it, the request-body validation and its entry in /openapi.json.

Because the same declaration drives the validator and the document, the
OpenAPI description cannot drift from what the server accepts. Body schemas
are a JSON Schema subset (deskpi.webapp.api_schema, which also validates);
anything outside it is rejected at declaration. A required body
(``body_required=True``) that is missing or empty is refused with 400.

Every status an operation can answer is in its entry: what its declaration
names (``responses``, the view's own refusals) and what the machinery adds
from the rest of the declaration: 401 (not signed in, or a bad Authorization
header, which any operation may get), 403 for admin operations and for every
change (another site, a missing CSRF token), 409 for those that need the
claim, 400/413/415/422 for those with a body, 404 for those with a path
parameter (nothing by that name), 503 for every change (the desk's storage is
full). tests/webapp/test_api_contract.py reads each view's refusals and fails
on one its declaration leaves out.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, request

from deskpi.webapp.api_schema import ApiError, check_schema, show, to_openapi, type_name, validate

__all__ = ["API", "AUTH_LEVELS", "Api", "ApiError", "Operation", "ServedApi", "parse_json_body", "serve",
           "served_api", "show", "type_name", "validate"]

#: Where the API is served.
API = "/api/v1"
#: Who may call an operation. "claim": signed in and holding the desk's claim.
AUTH_LEVELS = ("public", "user", "claim", "admin")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def parse_json_body(*, example: str, required: bool = False) -> dict:
    """The request's JSON object; an empty body counts as {} unless `required`. Raises ApiError."""
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
        if required:
            raise ApiError(400, f"this request needs a JSON body and got none; send a JSON object like {example}")
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
    _refuse_surrogates(body)
    return body


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(body: dict) -> None:
    """JSON's \\ud800 escapes let a string hold half a UTF-16 pair, which no UTF-8 text can: stored, it broke
    every answer that showed it (500s for good) and made sign-in crash. Refused once here, keys and nested
    values too, so no view and no store ever sees one. A loop, not recursion: the body may be deeply nested."""
    todo: list[tuple[str, object]] = [("body", body)]
    while todo:
        where, value = todo.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                path = key if where == "body" else f"{where}.{key}"
                if _SURROGATE.search(key):
                    inside = "" if where == "body" else f" in {where!r}"
                    raise ApiError(400, f"the field name {show(key)}{inside} holds a lone surrogate (half of a UTF-16 "
                                        f"pair, not a character); names and text must be whole Unicode characters")
                todo.append((path, item))
        elif isinstance(value, list):
            todo.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise ApiError(400, f"{where!r} {show(value)} holds a lone surrogate (half of a UTF-16 pair, not a "
                                f"character); text must be whole Unicode characters")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON; send a finite number")


_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted: the desk starts moving",
                400: "Malformed request, or a required body missing",
                401: "Not signed in (or an Authorization header that is not a valid token)",
                403: "Not allowed (an admin operation, another site, or a change without the CSRF token)",
                404: "Nothing by that name", 409: "Refused in the desk's current state (the claim)",
                413: "Body too large", 415: "Not JSON", 422: "A value outside what is allowed",
                429: "Too many attempts", 503: "The desk's storage is full: nothing could be saved"}
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
    #: The media type of a success ("text/event-stream" for a stream; JSON otherwise).
    produces: str = "application/json"
    #: The view function, for tests that read what it can answer.
    view: Callable | None = None
    #: Schemas of path parameters (a string of any kind otherwise); the view still checks them (404).
    params: dict[str, dict] = field(default_factory=dict)

    def implied_responses(self, has_body: bool) -> tuple[int, ...]:
        """The statuses the machinery adds to the declared ones (see the module docstring)."""
        codes = [401]
        change = self.method not in _SAFE_METHODS
        if self.auth == "admin" or change:
            codes.append(403)
        if "<" in self.path:
            codes.append(404)
        if self.auth == "claim":
            codes.append(409)
        if has_body:
            codes += [400, 413, 415, 422]
        if change:
            codes.append(503)
        return tuple(codes)


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
           query: dict[str, dict] | None = None, tag: str = "desk",
           produces: str = "application/json", params: dict[str, dict] | None = None) -> Callable:
        if auth not in AUTH_LEVELS:
            raise ValueError(f"auth {auth!r} not in {AUTH_LEVELS}")
        if isinstance(body, dict):
            check_schema(body, f"{method} {path}")
        op = Operation(method.upper(), path, summary, auth, body, dict(responses or {200: "OK"}),
                       dict(query or {}), tag, body_required, produces, params=dict(params or {}))
        unknown = set(op.params) - set(re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", path))
        if unknown:
            raise ValueError(f"{method} {path}: params {sorted(unknown)} are not in the path")
        self.ops.append(op)

        def deco(fn: Callable) -> Callable:
            @functools.wraps(fn)
            def wrapper(**kwargs):
                served = served_api()
                served.guard(op, "before")
                schema = served.body(op)
                if schema is not None:
                    # A body with required fields names the first one missing; one without needs to be there.
                    data = parse_json_body(example=served.example(op),
                                           required=op.body_required and not schema.get("required"))
                    validate(data, schema)
                    kwargs["body"] = data
                served.guard(op, "after")       # bad input is named before a refusal for the desk's state
                return fn(**kwargs)
            endpoint = f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}"
            self.blueprint.add_url_rule(path, endpoint, wrapper, methods=[op.method])
            op.view = fn
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
                check_schema(schema, f"{op.method} {op.path}")
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
            params = [{"name": n, "in": "path", "required": True, "schema": op.params.get(n, {"type": "string"})}
                      for n in re.findall(r"\{([a-z_]+)\}", oa_path)]
            params += [{"name": n, "in": "query", "required": bool(s.get("x-required", False)),
                        "schema": {k: v for k, v in s.items() if k != "x-required"}}
                       for n, s in op.query.items()]
            declared = dict(op.responses)
            for code in op.implied_responses(self.body(op) is not None):
                declared.setdefault(code, _STATUS_TEXT[code])
            responses = {}
            for code, text in sorted(declared.items()):
                # Errors are {"error": ...}; a success is JSON (any shape) or the event stream.
                schema = {"$ref": "#/components/schemas/Error"} if code >= 400 else {}
                media = op.produces if code < 400 else "application/json"
                responses[str(code)] = {"description": text, "content": {media: {"schema": schema}}}
            entry = {"summary": op.summary, "operationId": f"{op.method.lower()}{_camel(op.path)}",
                     "tags": [op.tag], "responses": responses}
            if params:
                entry["parameters"] = params
            body = self.body(op)
            if body is not None:
                entry["requestBody"] = {"required": op.body_required,
                                        "content": {"application/json": {"schema": to_openapi(body)}}}
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
