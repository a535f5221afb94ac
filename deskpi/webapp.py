"""The web app: a JSON API under /api/v1 and one live page for a phone.

Built by :func:`create_app` around a :class:`~deskpi.service.DeskService`
(anything with the same methods will do); no module-level state. Every
request is validated here before the service hears of it, so bad input never
moves the desk, and every error is ``{"error": "..."}`` with a 4xx that says
what was wrong, the value given and what is allowed.

Stop and release never look at the request body: they must work even when
the client is confused. A hold is a lease the client renews about every
150 ms; a client that goes silent lets the desk stop by itself.
"""
from __future__ import annotations

import importlib.resources
import json
import math
import re
from pathlib import Path

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from deskpi.arbiter import Source
from deskpi.core.faults import MotionRefused
from deskpi.core.types import Direction
from deskpi.core.schedule_policy import PolicyError
from deskpi.people import add_user, desk_notes, heights_for, plan_for, set_plan, stats_report, user_dict
from deskpi.presets import SLOTS, PresetError

API = "/api/v1"
SIM_KEYS = ("up", "down", "preset-1", "preset-2", "preset-3", "preset-4")
_SLOTS_TEXT = f"{SLOTS[0]}-{SLOTS[-1]}"

#: No inline script or style anywhere, nothing from another origin, never framed.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

#: Requests that only ever make the desk safer are never refused for where they came from.
_ALWAYS_ALLOWED = {f"{API}/stop", f"{API}/release"}


class ApiError(Exception):
    """A request the API refuses: HTTP status and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _assets() -> Path:
    """Where templates/ and static/ live: the deskpi.web_assets package (web/ in a checkout)."""
    try:
        return Path(str(importlib.resources.files("deskpi.web_assets")))
    except ModuleNotFoundError:        # a plain source tree that was never installed
        return Path(__file__).resolve().parent.parent / "web"


def _show(value: object, limit: int = 60) -> str:
    """A client's value, quoted and shortened for an error message."""
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON; send a finite number")


def _json_body(*, example: str) -> dict:
    """The request's JSON object; an empty body counts as {}. Raises ApiError."""
    raw = request.get_data(cache=True)          # 413 if Content-Length is over MAX_CONTENT_LENGTH
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body is cut off at the limit rather than refused: refuse it here.
        raise ApiError(413, f"request body too large: {limit} bytes or more given (chunked), "
                            f"at most {limit} bytes allowed")
    ctype = request.headers.get("Content-Type")
    if ctype is not None and not request.is_json:
        raise ApiError(415, f"Content-Type must be application/json, got {_show(ctype)}; "
                            f"send a JSON object like {example}")
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiError(400, f"malformed JSON: the body is not UTF-8; send a JSON object like {example}") from None
    except ValueError as exc:
        raise ApiError(400, f"malformed JSON ({exc}); send a JSON object like {example}") from None
    except RecursionError:
        raise ApiError(400, f"malformed JSON: nested too deeply; send a JSON object like {example}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object like {example}, got {_type_name(body)} {_show(body)}")
    return body


def _limits(service) -> tuple[float, float]:
    lo, hi = service.limits
    return float(lo), float(hi)


def _height(body: dict, field: str, service, *, example: str, optional: bool = False) -> float | None:
    """A height in mm from body[field]: 400 if missing or not a number, 422 if outside the limits."""
    if field not in body or body[field] is None:
        if optional:
            return None
        raise ApiError(400, f"missing {field!r}: send a number of millimetres like {example}"
                       if field not in body else
                       f"{field!r} must be a number of millimetres like {example}, got null")
    value = body[field]
    lo, hi = _limits(service)
    if not _is_number(value):
        raise ApiError(400, f"{field!r} must be a number of millimetres within {lo:.0f}-{hi:.0f} mm, "
                            f"got {_type_name(value)} {_show(value)}")
    try:
        mm = float(value)
    except OverflowError:
        mm = math.inf
    if not (math.isfinite(mm) and lo <= mm <= hi):
        raise ApiError(422, f"{field!r} {_show(value)} mm is outside the desk's limits {lo:.0f}-{hi:.0f} mm")
    return mm


def _slot(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) not in SLOTS:
        raise ApiError(404, f"preset {_show(text)} does not exist; presets are {_SLOTS_TEXT}")
    return int(text)


def _refused(exc: MotionRefused) -> ApiError:
    return ApiError(409, str(exc))


def create_app(service, *, max_body_bytes: int = 4096) -> Flask:
    """The Flask app around `service` (kept on app.extensions['deskpi'])."""
    if not isinstance(max_body_bytes, int) or isinstance(max_body_bytes, bool) or max_body_bytes < 64:
        raise ValueError(f"max_body_bytes must be an integer of at least 64, got {max_body_bytes!r}")
    assets = _assets()
    app = Flask(__name__, template_folder=str(assets / "templates"), static_folder=str(assets / "static"),
                static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes)
    app.json.sort_keys = False
    app.extensions["deskpi"] = service

    def desk():
        return app.extensions["deskpi"]

    # -- cross-cutting ----------------------------------------------------------
    @app.before_request
    def refuse_cross_site():
        # A page on another site may not make this desk move (CSRF). Browsers label
        # every request; curl and scripts send no label and are let through.
        if request.method in ("GET", "HEAD", "OPTIONS") or request.path in _ALWAYS_ALLOWED:
            return None
        site = request.headers.get("Sec-Fetch-Site")
        if site in ("cross-site", "same-site"):
            raise ApiError(403, f"requests from another site may not control the desk "
                                f"(Sec-Fetch-Site: {site}); use this desk's own page")
        return None

    @app.after_request
    def security_headers(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(error=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            given = (f"{request.content_length} bytes" if request.content_length is not None
                     else f"more than {max_body_bytes} bytes")
            message = f"request body too large: {given} given, at most {max_body_bytes} bytes allowed"
        elif exc.code == 404:
            message = f"no such URL: {request.method} {_show(request.path)}; the API is under {API}/"
        elif exc.code == 405:
            allowed = ", ".join(sorted(m for m in (exc.valid_methods or []) if m not in ("HEAD", "OPTIONS")))
            message = f"method {request.method} is not allowed for {_show(request.path)}; allowed: {allowed}"
        else:
            message = exc.description or exc.name
        resp = jsonify(error=message)
        resp.status_code = exc.code or 500
        if exc.code == 405 and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        # Fail safe: whatever broke, a request that could have moved the desk stops it first.
        app.logger.exception("internal error in %s %s", request.method, request.path)
        stopped = ""
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                desk().stop("web error")
                stopped = "the desk was stopped; "
            except Exception:  # noqa: BLE001
                app.logger.exception("stop after an internal error failed")
        return jsonify(error=f"internal error while handling {request.method} {_show(request.path)}; "
                             f"{stopped}see the log"), 500

    # -- state --------------------------------------------------------------------
    @app.get(f"{API}/state")
    def state():
        return jsonify(desk().snapshot())

    # -- motion -------------------------------------------------------------------
    @app.post(f"{API}/move")
    def move():
        example = '{"target_mm": 900}'
        body = _json_body(example=example)
        target = _height(body, "target_mm", desk(), example=example)
        try:
            desk().move_to(target, Source.REMOTE, "web")
        except MotionRefused as exc:
            raise _refused(exc) from None
        return jsonify(target_mm=body["target_mm"]), 202

    @app.post(f"{API}/stop")
    def stop():
        desk().stop(Source.REMOTE)          # the body is never read: stop always works
        return jsonify(stopped=True), 200

    @app.post(f"{API}/hold")
    def hold():
        example = '{"direction": "up"}'
        body = _json_body(example=example)
        if "direction" not in body:
            raise ApiError(400, f"missing 'direction': send {example} or {{\"direction\": \"down\"}}")
        value = body["direction"]
        if not isinstance(value, str) or value not in ("up", "down"):
            raise ApiError(400, f"'direction' must be \"up\" or \"down\", got {_type_name(value)} {_show(value)}")
        direction = Direction.UP if value == "up" else Direction.DOWN
        try:
            desk().hold(direction, Source.REMOTE, "web hold")
        except MotionRefused as exc:
            raise _refused(exc) from None
        return jsonify(direction=value), 202

    @app.post(f"{API}/release")
    def release():
        desk().release(Source.REMOTE)       # like stop, the body is never read
        return jsonify(released=True), 200

    @app.post(f"{API}/clear-fault")
    def clear_fault():
        desk().clear_fault()
        return jsonify(fault=desk().snapshot().get("fault")), 200

    # -- presets ----------------------------------------------------------------
    @app.get(f"{API}/presets")
    def presets():
        return jsonify(presets=desk().snapshot()["presets"])

    @app.post(f"{API}/presets/<slot>/recall")
    def recall(slot: str):
        n = _slot(slot)
        try:
            height = desk().recall_preset(n, Source.REMOTE)
        except MotionRefused as exc:
            raise _refused(exc) from None
        except PresetError as exc:
            raise ApiError(404, str(exc)) from None
        return jsonify(slot=n, target_mm=height), 202

    @app.put(f"{API}/presets/<slot>")
    def save(slot: str):
        n = _slot(slot)
        example = '{"height_mm": 1100} (or {} to save the current height)'
        body = _json_body(example=example)
        height = _height(body, "height_mm", desk(), example=example, optional=True)
        try:
            saved = desk().save_preset(n, height)
        except MotionRefused as exc:
            raise _refused(exc) from None
        except PresetError as exc:
            raise ApiError(422, str(exc)) from None
        return jsonify(slot=n, height_mm=saved), 200

    # -- simulator ----------------------------------------------------------------
    @app.post(f"{API}/sim/keys/<key>")
    def sim_key(key: str):
        if getattr(desk(), "sim_keypad", None) is None:
            raise ApiError(404, "there is no virtual keypad: this desk is real (sim keys only work in sim mode)")
        if key not in SIM_KEYS:
            raise ApiError(404, f"unknown key {_show(key)}; keys are {', '.join(SIM_KEYS)}")
        example = '{"pressed": true}'
        body = _json_body(example=example)
        if "pressed" not in body:
            raise ApiError(400, f"missing 'pressed': send {example} or {{\"pressed\": false}}")
        pressed = body["pressed"]
        if not isinstance(pressed, bool):
            raise ApiError(400, f"'pressed' must be true or false, got {_type_name(pressed)} {_show(pressed)}")
        try:
            desk().press_sim_key(key, pressed)
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None
        except (ValueError, RuntimeError) as exc:      # a key not wired, the panel shutting down
            raise ApiError(409, str(exc)) from None
        return jsonify(key=key, pressed=pressed), 200

    # -- people: users, recommended heights, statistics ------------------------------------
    def store():
        st = getattr(desk(), "store", None)
        if st is None:
            raise ApiError(404, "this desk keeps no user data")
        return st

    def user_or_404(name: str):
        user = store().get_user(name)
        if user is None:
            known = ", ".join(u.name for u in store().list_users()) or "none yet"
            raise ApiError(404, f"no user {_show(name)} (users: {known})")
        return user

    @app.get(f"{API}/users")
    def users():
        st = store()
        active, owner = st.get_active_user(), st.get_owner()
        return jsonify([user_dict(u, active, owner) for u in st.list_users()])

    @app.get(f"{API}/users/<name>")
    def user(name: str):
        st = store()
        u = user_or_404(name)
        d = user_dict(u, st.get_active_user(), st.get_owner())
        d["presets"] = [{"slot": k, "height_mm": v} for k, v in sorted(st.get_presets(u.name).items())]
        return jsonify(d)

    @app.post(f"{API}/users")
    def add_user_route():
        example = '{"name": "Ada", "stature_cm": 170, "pin": "4711"}'
        body = _json_body(example=example)
        allowed = {"name", "stature_cm", "shoe_mm", "seated_mm", "standing_mm", "units", "admin", "pin"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ApiError(400, f"unknown field {_show(unknown[0])}; fields are {', '.join(sorted(allowed))}")
        if not isinstance(body.get("name"), str):
            raise ApiError(400, f"'name' must be a string, got {_show(body.get('name'))}; send {example}")
        pin_hash = None
        if body.get("pin") is not None:
            from deskpi.passwords import hash_secret, validate_secret
            try:
                validate_secret(body["pin"] if isinstance(body["pin"], str) else "")
            except ValueError as exc:
                raise ApiError(422, f"pin: {exc}") from None
            pin_hash = hash_secret(body["pin"])
        admin = body.get("admin", False)
        if not isinstance(admin, bool):
            raise ApiError(400, f"'admin' must be true or false, got {_show(admin)}")
        numbers = {}
        for key in ("stature_cm", "shoe_mm", "seated_mm", "standing_mm"):
            v = body.get(key)
            if v is not None and not _is_number(v):
                raise ApiError(400, f"'{key}' must be a number, got {_type_name(v)} {_show(v)}")
            numbers[key] = v
        try:
            user, notes = add_user(store(), body["name"], limits=_limits(desk()), units=body.get("units", "cm"),
                                   admin=admin, pin_hash=pin_hash, **numbers)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        st = store()
        return jsonify({**user_dict(user, st.get_active_user(), st.get_owner()), "notes": notes}), 201

    @app.patch(f"{API}/users/<name>")
    def update_user_route(name: str):
        u = user_or_404(name)
        example = '{"stature_cm": 182} or {"seated_mm": 690, "standing_mm": 1110, "units": "in"}'
        body = _json_body(example=example)
        allowed = {"stature_cm", "shoe_mm", "seated_mm", "standing_mm", "units"}
        unknown = sorted(set(body) - allowed)
        if unknown or not body:
            raise ApiError(400, f"send one or more of {', '.join(sorted(allowed))}, like {example}")
        for key in allowed - {"units"}:
            if key in body and body[key] is not None and not _is_number(body[key]):
                raise ApiError(400, f"'{key}' must be a number, got {_type_name(body[key])} {_show(body[key])}")
        fields = dict(body)
        notes: list[str] = []
        try:
            if body.get("stature_cm") is not None and ("seated_mm" not in body or "standing_mm" not in body):
                seated, standing, notes = heights_for(
                    body["stature_cm"], limits=_limits(desk()), shoe_mm=body.get("shoe_mm", u.shoe_mm),
                    seated_mm=body.get("seated_mm"), standing_mm=body.get("standing_mm"))
                fields.update(seated_mm=seated, standing_mm=standing)
            notes += desk_notes(fields.get("seated_mm"), fields.get("standing_mm"), _limits(desk()))
            user = store().update_user(u.name, **fields)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        st = store()
        return jsonify({**user_dict(user, st.get_active_user(), st.get_owner()), "notes": notes}), 200

    @app.post(f"{API}/users/<name>/activate")
    def activate(name: str):
        u = user_or_404(name)
        store().set_active_user(u.name)
        return jsonify(active=u.name), 200

    @app.get(f"{API}/users/<name>/plan")
    def get_plan(name: str):
        u = user_or_404(name)
        plan, source = plan_for(store(), u.name)
        return jsonify(user=u.name, source=source, plan=plan.to_dict())

    @app.put(f"{API}/users/<name>/plan")
    def put_plan(name: str):
        u = user_or_404(name)
        body = _json_body(example='{"kind": "cornell"} or {"kind": "custom", "sit_min": 40, "stand_min": 20}')
        try:
            full = set_plan(store(), u.name, body)
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        return jsonify(user=u.name, plan=full), 200

    @app.get(f"{API}/ergonomics")
    def ergonomics():
        from deskpi.core.ergonomics import ErgonomicsError, recommend
        args = request.args
        try:
            stature = float(args["stature_cm"])
            shoe = float(args["shoe_mm"]) if "shoe_mm" in args else None
        except KeyError:
            raise ApiError(400, "missing stature_cm: ask like /api/v1/ergonomics?stature_cm=175") from None
        except ValueError:
            raise ApiError(400, f"stature_cm and shoe_mm must be numbers, got {_show(dict(args))}") from None
        try:
            rec = recommend(stature, shoe, limits=_limits(desk()))
        except ErgonomicsError as exc:
            raise ApiError(422, str(exc)) from None
        return jsonify(rec.to_dict())

    @app.get(f"{API}/stats")
    def stats():
        args = request.args
        try:
            days = int(args.get("days", "7"))
        except ValueError:
            raise ApiError(400, f"days must be a whole number of days, got {_show(args.get('days'))}") from None
        try:
            return jsonify(stats_report(store(), user=args.get("user"), days=days))
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None

    # -- habits: the live reminder ----------------------------------------------------
    def habits():
        h = getattr(desk(), "habits", None)
        if h is None:
            raise ApiError(404, "reminders are not enabled on this desk")
        return h

    @app.get(f"{API}/reminder")
    def reminder():
        return jsonify(habits().snapshot())

    @app.post(f"{API}/reminder/<outcome>")
    def reminder_outcome(outcome: str):
        allowed = ("confirm", "acknowledge", "snooze", "skip")
        if outcome not in allowed:
            raise ApiError(404, f"unknown reminder action {_show(outcome)}; actions are {', '.join(allowed)}")
        example = '{"id": "20261127-3"} (or {} for the live reminder)'
        body = _json_body(example=example)
        rid = body.get("id")
        if rid is not None and not isinstance(rid, str):
            raise ApiError(400, f"'id' must be a reminder id string, got {_type_name(rid)} {_show(rid)}")
        try:
            return jsonify(habits().outcome(outcome, rid)), 200
        except PolicyError as exc:
            raise ApiError(409, str(exc)) from None

    @app.post(f"{API}/reminders/pause-today")
    def pause_today():
        example = '{"paused": true}'
        body = _json_body(example=example)
        paused = body.get("paused", True)
        if not isinstance(paused, bool):
            raise ApiError(400, f"'paused' must be true or false, got {_type_name(paused)} {_show(paused)}")
        habits().pause_today(paused)
        return jsonify(paused=paused), 200

    # -- the page -----------------------------------------------------------------
    @app.get("/")
    def index():
        snap = desk().snapshot()
        return render_template("index.html", snap=snap, sim=bool(snap.get("sim")), sim_keys=SIM_KEYS,
                               slots=SLOTS)

    return app
