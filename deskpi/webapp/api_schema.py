"""The JSON Schema subset the API's bodies are declared in: checking a declaration, validating a value
against it with a message for a person, and writing it out as an OpenAPI 3.0 schema.

The semantics are JSON Schema's, as the jsonschema library's Draft 4 validator applies them (OpenAPI
3.0's schema object is that draft's, with ``nullable``): a keyword only constrains the types it is
about (``minimum`` numbers, ``pattern`` strings, ``items`` arrays, ``required`` objects), ``enum``
any value, ``pattern`` searches (anchor it: ``^...$``), and ``integer`` is a number written
without a fraction (1, not 1.0). tests/webapp/test_api_schema.py holds this validator to the
jsonschema library on every declared schema. One deliberate difference: NaN and the infinities,
which JSON cannot carry (the body parser refuses them), are refused here too.

Supported keywords: type (required: a name or a list of names, "null" for nullable), properties,
required, additionalProperties (true or false), minProperties, minimum, maximum, minLength,
maxLength, pattern, format (a note only, as in JSON Schema), enum, items, minItems, maxItems, and the
annotations description, example, x-unit, x-range. Anything else is refused at declaration.
"""
from __future__ import annotations

import json
import math
import re

_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
#: The keywords that constrain each type; the rest are annotations or apply to any value (enum).
_KEYWORDS = {"string": ("minLength", "maxLength", "pattern", "format"), "number": ("minimum", "maximum"),
             "integer": ("minimum", "maximum"), "array": ("items", "minItems", "maxItems"),
             "object": ("properties", "required", "additionalProperties", "minProperties"),
             "boolean": (), "null": ()}
_ANNOTATIONS = ("type", "enum", "description", "example", "x-unit", "x-range")
_KNOWN_KEYS = {k for keys in _KEYWORDS.values() for k in keys} | set(_ANNOTATIONS)
_TYPE_TEXT = {"null": "null", "boolean": "true or false", "integer": "a whole number", "number": "a number",
              "string": "a string", "array": "a list", "object": "an object"}


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


def check_schema(schema: object, where: str) -> None:
    """Refuse a declaration outside the subset (at import, so a typo never reaches a request)."""
    if not isinstance(schema, dict):
        raise TypeError(f"{where}: a schema is an object, got {schema!r}")
    unknown = set(schema) - _KNOWN_KEYS
    if unknown:
        raise ValueError(f"{where}: unsupported schema keys {sorted(unknown)}")
    types = _types(schema) if "type" in schema else ()
    if not types or any(t not in _TYPES for t in types):
        raise ValueError(f"{where}: 'type' must name one or more of {', '.join(_TYPES)}, got {schema.get('type')!r}")
    if not isinstance(schema.get("additionalProperties", True), bool):
        raise TypeError(f"{where}: additionalProperties must be true or false")
    if "pattern" in schema:
        re.compile(schema["pattern"])
    for name, sub in schema.get("properties", {}).items():
        check_schema(sub, f"{where}.{name}")
    if "items" in schema:
        check_schema(schema["items"], f"{where}[]")


def _types(schema: dict) -> tuple[str, ...]:
    t = schema["type"]
    return (t,) if isinstance(t, str) else tuple(t)


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
    return isinstance(value, dict)


def _same(a: object, b: object) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


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
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        raise ApiError(400, f"{name!r} must be {' or '.join(map(json.dumps, schema['enum']))}, "
                            f"got {type_name(value)} {show(value)}")
    if isinstance(value, dict):
        _validate_object(value, schema, name)
    elif isinstance(value, list):
        n = len(value)
        if n > schema.get("maxItems", n) or n < schema.get("minItems", 0):
            raise ApiError(422, f"{name!r} has {n} items; allowed {schema.get('minItems', 0)}-"
                                f"{schema.get('maxItems', 'any')}")
        for i, item in enumerate(value):
            if "items" in schema:
                validate(item, schema["items"], f"{name}[{i}]")
    elif isinstance(value, str):
        n = len(value)
        if n < schema.get("minLength", 0) or n > schema.get("maxLength", n):
            raise ApiError(422, f"{name!r} {show(value)} has {n} characters; allowed "
                                f"{schema.get('minLength', 0)}-{schema.get('maxLength', 'any')}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
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


def _validate_object(value: dict, schema: dict, name: str) -> None:
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
    if len(value) < schema.get("minProperties", 0):
        raise ApiError(400, f"{'the body' if name == 'body' else repr(name)} names no field; send one or more of "
                            f"{', '.join(props)}")
    for key, sub in props.items():
        if key in value:
            validate(value[key], sub, key)


def to_openapi(schema: dict) -> dict:
    """The declaration as an OpenAPI 3.0 schema: "null" in a type list becomes nullable, several other
    types an anyOf with each type's own keywords; the x- annotations stay behind."""
    types = [t for t in _types(schema) if t != "null"]
    out: dict = {k: schema[k] for k in ("description", "example", "enum") if k in schema}
    if "null" in _types(schema):
        out["nullable"] = True
    if len(types) == 1:
        out.update(_typed(schema, types[0]))
    else:
        out["anyOf"] = [_typed(schema, t) for t in types]
    return out


def _typed(schema: dict, t: str) -> dict:
    out: dict = {"type": t}
    for key in _KEYWORDS[t]:
        if key == "properties" and key in schema:
            out[key] = {k: to_openapi(v) for k, v in schema[key].items()}
        elif key == "items" and key in schema:
            out[key] = to_openapi(schema[key])
        elif key in schema:
            out[key] = schema[key]
    if t == "object":
        out.setdefault("additionalProperties", True)
    return out
