"""The desk's own API: live state and its event stream, motion, presets, the claim, the simulator.

Stop and release never read the request body and are never refused to a
signed-in user: they must work even when the client is confused. The one
exception is release's `force` that is neither 1/true nor 0/false: guessing
what it meant could take the desk from the person at it. A hold is a
lease the client renews about every 150 ms; a client that goes silent (a
closed tab, a dropped Wi-Fi link) lets the desk stop by itself.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator

from flask import Response, g, jsonify, request, session

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Caller, Direction, Source
from deskpi.people.presets import SLOTS, PresetError
from deskpi.store.records import NAME_MAX
from deskpi.webapp.api_spec import Api, ApiError, show
from deskpi.webapp.claims import ClaimError, ClaimView, concerns
from deskpi.webapp.context import WebContext, context
from deskpi.webapp.live import DETACH_KEY

SIM_KEYS = ("up", "down", "preset-1", "preset-2", "preset-3", "preset-4")
#: What `POST /sim/fault` can do to the simulated desk (deskpi.sim.mockdesk.SimulatedDesk.inject).
SIM_FAULTS = ("obstruction", "stall", "sensor_dead", "sensor_stuck", "echo_stuck_high", "reversed_wiring")
_SLOTS_TEXT = f"{SLOTS[0]}-{SLOTS[-1]}"
#: Path parameters, as the document describes them (the views refuse anything else with 404).
SLOT = {"slot": {"type": "string", "enum": [str(n) for n in SLOTS]}}

api = Api("desk", __name__)


def slot_number(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) not in SLOTS:
        raise ApiError(404, f"preset {show(text)} does not exist; presets are {_SLOTS_TEXT}")
    return int(text)


def height_schema(lo: float, hi: float, example: float, *, nullable: bool = False) -> dict:
    s = {"type": ["number", "null"] if nullable else "number", "minimum": lo, "maximum": hi, "x-unit": "mm",
         "x-range": "the desk's limits", "description": f"height in mm, {lo:g}-{hi:g}", "example": example}
    return s


def state_dict(ctx: WebContext, user) -> dict:
    snap = dict(ctx.service.snapshot())
    snap["claim"] = ctx.claim_view(user)
    active = ctx.active_user()
    snap["active_user"] = None if active is None or user is None else active.name
    moved_by = snap.get("moved_by")
    if user is None and isinstance(moved_by, dict):
        snap["moved_by"] = {**moved_by, "user": None}      # names are for the people signed in
    snap["storage"] = ctx.storage_view()
    return snap


def live_sources(ctx: WebContext) -> dict:
    """What GET /events streams: the desk's state (without the loop timings) and the live reminder."""
    def state():
        snap = dict(ctx.service.snapshot())
        snap.pop("loop_lag_p99_ms", None)
        snap.pop("reading_lag_p99_ms", None)
        view = ctx.claims.view()
        # Who holds and who asks (not the times): a new request, a refusal or a grant is news.
        snap["claim"] = {"holder": view.holder, "pending": view.pending,
                         "requests": [(r.name, r.slot, r.waiting) for r in view.requests],
                         "refused": list(view.refused)}
        active = ctx.active_user()
        snap["active_user"] = None if active is None else active.name
        snap["storage"] = ctx.storage_view()
        return snap

    def state_key(snap: dict):
        h = snap.get("height_mm")
        # Sensor noise at rest must not wake every phone ten times a second.
        return repr({**snap, "height_mm": None if h is None else round(h)})

    sources = {"state": (state, state_key)}
    habits = getattr(ctx.service, "habits", None)
    if habits is not None:
        sources["reminder"] = (habits.snapshot, repr)
    return sources


def _refused(exc: MotionRefused) -> ApiError:
    return ApiError(409, str(exc))


def _who() -> str:
    user = context().user()
    return f"web {user.name}" if user is not None else "web"


def _caller() -> Caller:
    """Who asks, for the audit trail: the signed-in person (or the token's), from which address."""
    user = context().user()
    return Caller("web", user=None if user is None else user.name, remote=request.remote_addr, via=g.get("via"))


#: The same for a reminder's labelled move (deskpi.webapp.api_people).
caller = _caller


@api.op("GET", "/state", auth="public", summary="Live height, state, fault, presets and the claim",
        responses={200: "The desk's state"})
def state():
    ctx = context()
    return jsonify(state_dict(ctx, ctx.user()))


@api.op("GET", "/events", summary="Server-Sent Events: `state` and `reminder` whenever they change",
        responses={200: "text/event-stream", 503: "Too many live pages open"}, produces="text/event-stream")
def events():
    ctx = context()
    feed = ctx.live
    if request.method == "HEAD":            # headers only: no stream, no slot taken
        return Response(mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
    if feed is None or not feed.try_open():
        raise ApiError(503, "live updates are not available right now (too many pages open); "
                            "the page keeps asking for the desk's state every few seconds instead")
    name = ctx.user().name

    def claims_now(now: float) -> ClaimView:
        # One claim view for every stream served in the same moment (its seconds count down).
        return feed.shared("claims", ctx.claims.view, now)

    def audience(kind: str, _value) -> str:
        # Who the claim concerns sees it their own way; everyone else shares one rendering.
        if kind != "state":
            return ""                   # the reminder is the same for every reader
        view = claims_now(time.monotonic())
        return name.casefold() if concerns(view, name) else ""

    def render(kind: str, value):
        if kind == "state":
            data = dict(value)
            required = bool(ctx.policy()["require_claim"])
            data["claim"] = claims_now(time.monotonic()).for_user(name, required=required)
            return data
        return value

    sid, token, via = session.get("sid"), request.headers.get("Authorization", ""), g.get("via")

    def still_allowed() -> bool:
        # Signed out, a PIN changed, a token revoked, the user removed: the stream ends.
        if not ctx.has_store:
            return True
        if via == "token":
            return ctx.reads.user_for_token(token.partition(" ")[2].strip(), touch=False) is not None
        return ctx.session_user(sid) is not None

    detach = request.environ.get(DETACH_KEY)
    if detach is not None:
        # The server writes this stream from its own thread; this worker only sends the head.
        cursor = feed.cursor(render, still_allowed, audience=audience)
        detach(cursor)
        body: Iterator[str] = iter([cursor.preamble])
    else:
        body = feed.stream(render, still_allowed, audience=audience)
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


# -- motion -----------------------------------------------------------------------------
@api.op("POST", "/move", auth="claim", summary="Move to a height",
        body=lambda lo, hi: {"type": "object", "required": ["target_mm"], "additionalProperties": False,
                             "properties": {"target_mm": height_schema(lo, hi, 1100)},
                             "example": {"target_mm": 1100}},
        body_required=True, responses={202: "Accepted: the desk starts moving"})
def move(body):
    try:
        context().service.move_to(float(body["target_mm"]), Source.REMOTE, _who(), by=_caller())
    except MotionRefused as exc:
        raise _refused(exc) from None
    return jsonify(target_mm=body["target_mm"]), 202


@api.op("POST", "/stop", summary="Stop now (never refused to a signed-in user, nor to this desk's own sign-in "
                                 "page in a browser; the body is ignored)",
        responses={200: "Stopped"})
def stop():
    context().service.stop(Source.REMOTE, by=_caller())
    return jsonify(stopped=True), 200


@api.op("POST", "/hold", auth="claim", summary="Move while held: renew about every 150 ms; silence stops",
        body={"type": "object", "required": ["direction"], "additionalProperties": False,
              "properties": {"direction": {"type": "string", "enum": ["up", "down"]}},
              "example": {"direction": "up"}},
        body_required=True, responses={202: "Moving while renewed"})
def hold(body):
    direction = Direction.UP if body["direction"] == "up" else Direction.DOWN
    try:
        context().service.hold(direction, Source.REMOTE, f"{_who()} hold", by=_caller())
    except MotionRefused as exc:
        raise _refused(exc) from None
    return jsonify(direction=body["direction"]), 202


@api.op("POST", "/release", summary="End a hold (the body is ignored)", responses={200: "Released"})
def release():
    context().service.release(Source.REMOTE)
    return jsonify(released=True), 200


@api.op("POST", "/clear-fault", auth="claim", summary="Clear a latched fault after checking the desk",
        responses={200: "Cleared (or still there, with why)"})
def clear_fault():
    desk = context().service
    desk.clear_fault(by=_caller())
    return jsonify(fault=desk.snapshot().get("fault")), 200


# -- presets of the person at the desk ------------------------------------------------------
@api.op("GET", "/presets", summary="The active user's presets (or the desk's own)")
def presets():
    return jsonify(presets=context().service.snapshot()["presets"])


@api.op("POST", "/presets/<slot>/recall", auth="claim", summary="Move to a preset", params=SLOT,
        responses={202: "Moving to the preset", 404: "No such preset, or it is empty"})
def recall(slot: str):
    n = slot_number(slot)
    try:
        height = context().service.recall_preset(n, Source.REMOTE, by=_caller())
    except MotionRefused as exc:
        raise _refused(exc) from None
    except PresetError as exc:
        raise ApiError(404, str(exc)) from None
    return jsonify(slot=n, target_mm=height), 202


@api.op("PUT", "/presets/<slot>", auth="claim", summary="Save a preset ({} saves the current height)", params=SLOT,
        body=lambda lo, hi: {"type": "object", "additionalProperties": False,
                             "properties": {"height_mm": height_schema(lo, hi, 1100, nullable=True)},
                             "example": {"height_mm": 1100}},
        responses={200: "Saved", 404: "No such preset"})
def save(slot: str, body):
    n = slot_number(slot)
    try:
        saved = context().service.save_preset(n, None if body.get("height_mm") is None else float(body["height_mm"]),
                                              by=_caller())
    except MotionRefused as exc:
        raise _refused(exc) from None
    except PresetError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(slot=n, height_mm=saved), 200


# -- the claim --------------------------------------------------------------------------------
NAME = {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "description": "a person's name", "example": "Bob"}


@api.op("GET", "/claim", summary="Who holds the desk's claim, whether a request is waiting, and for the holder "
                                 "who asks for the desk")
def claim_get():
    ctx = context()
    return jsonify(ctx.claim_view(ctx.user()))


@api.op("POST", "/claim", summary="Ask for the desk: press the preset named in `press_preset` on the desk "
                                  "within 30 s (while someone holds it, once they release it)",
        responses={200: "Already yours", 202: "Waiting for a press of preset `press_preset` at the desk",
                   409: "Every preset button is taken by a waiting request, or the desk has none",
                   429: "The holder refused your request a moment ago"})
def claim_post():
    ctx = context()
    user = ctx.user()
    if ctx.claims.holds(user.name):
        ctx.claims.touch(user.name)
        return jsonify(ctx.claim_view(user)), 200
    try:
        ctx.claims.request(user.name)
    except ClaimError as exc:
        raise _claim_error(exc) from None
    return jsonify(ctx.claim_view(user)), 202


FORCE = {"1": True, "true": True, "0": False, "false": False}


@api.op("DELETE", "/claim", summary="Give the desk back (or cancel a waiting request)",
        query={"force": {"type": "string", "enum": list(FORCE),
                         "description": "admins: 1 or true also ends someone else's hold on the desk; "
                                        "0 or false (the default) gives back only your own"}},
        responses={200: "Released", 400: "force is not 1, true, 0 or false"})
def claim_delete():
    ctx = context()
    user = ctx.user()
    raw = request.args.get("force")
    if raw is not None and raw.lower() not in FORCE:
        # Any text once counted as true, force=0 too: a guess here could take the desk from the person at it.
        raise ApiError(400, f"force must be 1, true, 0 or false, got {show(raw)}")
    force = raw is not None and FORCE[raw.lower()]
    released = ctx.claims.release(user.name, force=ctx.is_admin(user) and force)
    return jsonify({**ctx.claim_view(user), "released": released}), 200


@api.op("POST", "/claim/refuse", summary="The holder (or an admin) refuses someone's waiting request for the desk",
        body={"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": NAME}, "example": {"name": "Bob"}},
        body_required=True, responses={200: "Refused", 403: "You do not hold the desk's claim",
                                       404: "That person has no request waiting"})
def claim_refuse(body):
    ctx = context()
    user = ctx.user()
    try:
        refused = ctx.claims.refuse(user.name, body["name"], force=ctx.is_admin(user))
    except ClaimError as exc:          # refuse() raises only "not_holder"
        raise ApiError(403, str(exc)) from None
    if not refused:
        raise ApiError(404, f"{show(body['name'])} has no request for the desk waiting; "
                            f"waiting: {', '.join(r.name for r in ctx.claims.view().requests) or 'nobody'}")
    return jsonify({**ctx.claim_view(user), "refused": body["name"]}), 200


def _claim_error(exc: ClaimError) -> ApiError:
    # Literal statuses, one per kind: the declared responses are checked against them (test_api_contract).
    if exc.kind == "refused":
        err = ApiError(429, str(exc))
    elif exc.kind == "not_holder":
        err = ApiError(403, str(exc))
    else:
        err = ApiError(409, str(exc))
    if exc.retry_after_s is not None:
        err.extra["retry_after_s"] = max(1, math.ceil(exc.retry_after_s))
    return err


# -- simulator ----------------------------------------------------------------------------------
@api.op("POST", "/sim/keys/<key>", summary="Press or release a key of the simulated desk's keypad",
        body={"type": "object", "required": ["pressed"], "additionalProperties": False,
              "properties": {"pressed": {"type": "boolean"}}, "example": {"pressed": True}},
        body_required=True, responses={200: "Done", 404: "Not a simulator, or no such key",
                                       409: "The key is not wired"}, tag="simulator",
        params={"key": {"type": "string", "enum": list(SIM_KEYS)}})
def sim_key(key: str, body):
    desk = context().service
    if getattr(desk, "sim_keypad", None) is None:
        raise ApiError(404, "there is no virtual keypad: this desk is real (sim keys only work in sim mode)")
    if key not in SIM_KEYS:
        raise ApiError(404, f"unknown key {show(key)}; keys are {', '.join(SIM_KEYS)}")
    try:
        desk.press_sim_key(key, body["pressed"])
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except (ValueError, RuntimeError) as exc:      # a key not wired, the panel shutting down
        raise ApiError(409, str(exc)) from None
    return jsonify(key=key, pressed=body["pressed"]), 200


@api.op("POST", "/sim/next-reminder", summary="Simulator: skip the reminder clock to the next reminder",
        responses={200: "The reminder that is now due", 404: "Not a simulator", 409: "Nothing to skip to"},
        tag="simulator")
def sim_next_reminder():
    ctx = context()
    if getattr(ctx.service, "sim_keypad", None) is None:
        raise ApiError(404, "only a simulated desk can skip its clock ahead")
    skip = getattr(ctx.habits, "skip_to_next", None)
    if skip is None:
        raise ApiError(404, "this desk's reminders cannot skip ahead")
    try:
        return jsonify(skip()), 200
    except LookupError as exc:
        raise ApiError(409, str(exc)) from None


def _simulated(ctx: WebContext) -> None:
    if getattr(ctx.service, "sim_desk", None) is None:
        raise ApiError(404, "there is no simulated desk to give a fault to: this desk is real "
                            "(fault injection only works in sim mode)")


@api.op("POST", "/sim/fault", summary="Simulator: give the simulated desk a physical problem for the "
                                      "controller to find (an obstruction, a stalled motor, a dead sensor...)",
        body=lambda lo, hi: {
            "type": "object", "required": ["kind"], "additionalProperties": False,
            "properties": {"kind": {"type": "string", "enum": list(SIM_FAULTS)},
                           "direction": {"type": "string", "enum": ["up", "down"],
                                         "description": "obstruction only: the travel it blocks (default down)"},
                           "height_mm": {**height_schema(lo, hi, 900),
                                         "description": "obstruction only: where it blocks travel "
                                                        "(default: 30 mm from the desk's height)"}},
            "example": {"kind": "obstruction", "direction": "down"}},
        body_required=True, responses={200: "The problem is there now", 404: "Not a simulator",
                                       422: "Obstruction fields for another kind"}, tag="simulator")
def sim_fault(body):
    ctx = context()
    _simulated(ctx)
    kind = body["kind"]
    if kind != "obstruction" and ("direction" in body or "height_mm" in body):
        raise ApiError(422, f"'direction' and 'height_mm' are for an obstruction only, not for {show(kind)}")
    direction = Direction.UP if body.get("direction") == "up" else Direction.DOWN
    height = body.get("height_mm")
    return jsonify(ctx.service.inject_sim_fault(kind, direction, None if height is None else float(height))), 200


@api.op("DELETE", "/sim/fault", summary="Simulator: take every injected problem away (then clear the "
                                        "desk's fault with POST /clear-fault)",
        responses={200: "The simulated desk is healthy again", 404: "Not a simulator"}, tag="simulator")
def sim_fault_clear():
    ctx = context()
    _simulated(ctx)
    ctx.service.clear_sim_faults()
    return jsonify(cleared=True), 200
