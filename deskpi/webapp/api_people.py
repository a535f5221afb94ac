"""People on the API: users and their profiles, presets, plans, recommended heights, statistics, reminders.

A user sees and edits their own profile; an admin (or the desk's owner) sees
and edits everyone's. Names and notes go out as JSON strings only; the page
puts them in with textContent, never as HTML.
"""
from __future__ import annotations

from flask import Response, g, jsonify, request, session

from deskpi.core.ergonomics import ErgonomicsError, recommend
from deskpi.core.faults import MotionRefused
from deskpi.core.habits.habit_state import PolicyError
from deskpi.core.habits.plan_names import plan_label
from deskpi.core.habits.plans import (
    DEFAULT_PLAN,
    KINDS,
    MODES,
    NO_RAMP,
    PLAN_NAME_MAX,
    PLAN_NAME_PATTERN,
    PLAN_NAME_RULE,
    RAMPS,
    RANGES,
    Plan,
)
from deskpi.people.accounts import (
    add_user,
    desk_notes,
    heights_for,
    last_admin_refusal,
    last_desk_use,
    plan_for,
    rename_person,
    reset_pin,
    set_plan,
    stats_report,
    user_dict,
)
from deskpi.people.passwords import hash_secret, validate_secret
from deskpi.store.records import NAME_MAX, SHOE_MM, STATURE_CM
from deskpi.webapp.api_desk import SLOT, caller, height_schema, slot_number
from deskpi.webapp.api_spec import Api, ApiError, show
from deskpi.webapp.auth import LockedOut
from deskpi.webapp.context import WebContext, context
from deskpi.webapp.security import claim_first
from deskpi.webapp.sessions import sign_in
from deskpi.webapp.stats_json import report_json

NAME = {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "description": "a person's name", "example": "Ada"}
PIN = {"type": "string", "minLength": 4, "maxLength": 128,
       "description": "a PIN of 4-12 digits or a password of 8-128 characters"}
# The store's ranges (which the ergonomics core shares, tests/webapp/test_webapp.py holds them together),
# so the document, a profile and a recommendation all allow the same.
STATURE = {"type": ["number", "null"], "minimum": STATURE_CM[0], "maximum": STATURE_CM[1], "x-unit": "cm",
           "example": 170}
SHOE = {"type": ["number", "null"], "minimum": SHOE_MM[0], "maximum": SHOE_MM[1], "x-unit": "mm"}
UNITS = {"type": "string", "enum": ["cm", "in"]}
BODY_HEIGHT = {"type": ["number", "null"], "minimum": 300, "maximum": 2000, "x-unit": "mm"}
REMINDER_ACTIONS = ("confirm", "acknowledge", "snooze", "skip")


def plan_schema() -> dict:
    """A plan's fields and the rules of each (Plan.from_dict in deskpi/core/habits/plans.py, which also checks
    how they fit together); a field left out, or null for a number, comes from the kind's preset."""
    time = {"type": "string", "pattern": r"^\s*([01]?[0-9]|2[0-3]):[0-5][0-9]\s*$",
            "description": "a time of day as HH:MM", "example": "09:00"}
    day = {"type": ["string", "integer"], "minimum": 0, "maximum": 6,
           "pattern": "^\\s*(" + "|".join("".join(f"[{c.upper()}{c}]" for c in d)
                                             for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")) + ")",
           "description": "mon..sun (or 0-6, 0 = Monday)"}
    props: dict = {
        "kind": {"type": "string", "enum": list(KINDS)},
        "name": {"type": "string", "maxLength": PLAN_NAME_MAX, "pattern": PLAN_NAME_PATTERN,
                 "description": PLAN_NAME_RULE},
        "mode": {"type": "string", "enum": list(MODES)},
        "days": {"type": "array", "items": day, "minItems": 1, "maxItems": 7,
                 "description": "working days, each once", "example": ["mon", "tue", "wed", "thu", "fri"]},
        "start": time, "end": time,
        "quiet": {"type": "array", "items": {"type": "array", "items": time, "minItems": 2, "maxItems": 2},
                  "description": "quiet periods inside the working hours", "example": [["12:00", "13:00"]]},
        "holidays": {"type": "array", "items": {"type": "string", "format": "date"}},
        "ramp": {"type": ["string", "array"], "pattern": f"^({'|'.join([*RAMPS, NO_RAMP])})$", "minItems": 1,
                 "items": {"type": "array", "minItems": 2, "maxItems": 2,
                           "items": {"type": "integer", "minimum": 0, "maximum": 720}},
                 "description": f"{', '.join(RAMPS)}, {NO_RAMP}, or [[week, minutes], ...]: weeks rising from 1 "
                                f"(at most 520), minutes 0-720"},
    }
    for key, (lo, hi, unit) in RANGES.items():
        kind = "integer" if isinstance(getattr(DEFAULT_PLAN, key), int) else "number"
        props[key] = {"type": [kind, "null"], "minimum": lo, "maximum": hi, "x-unit": unit}
    return {"type": "object", "additionalProperties": False, "properties": props,
            "example": {"kind": "custom", "sit_min": 40, "stand_min": 20}}


PLAN = plan_schema()

api = Api("people", __name__)


def describe_user(ctx: WebContext, user) -> dict:
    """A profile as the API and the pages show it: never the PIN hash; with admin flag and presets."""
    st = ctx.store
    d = user_dict(user, st.get_active_user(), st.get_owner())
    d["admin"] = ctx.is_admin(user)
    d["presets"] = [{"slot": k, "height_mm": v} for k, v in sorted(st.get_presets(user.name).items())]
    return d


def checked_pin_hash(pin: object) -> str:
    try:
        validate_secret(pin if isinstance(pin, str) else "")
    except ValueError as exc:
        raise ApiError(422, f"pin: {exc}") from None
    return _pin_hash(str(pin))


def _pin_hash(pin: str) -> str:
    """The hash of a valid PIN, made in one of the few PIN-check slots (429 when none comes free)."""
    signin = context().signin
    if signin is None:
        return hash_secret(pin)
    try:
        return signin.gate.run(hash_secret, pin)          # 16 MiB of scrypt each: a few at a time
    except LockedOut as exc:
        raise ApiError(429, str(exc), retry_after_s=round(exc.retry_after_s, 1)) from None


def _check_current_pin(ctx: WebContext, user, current: object) -> None:
    """Your present PIN, to change your own: a wrong one counts towards the same lock-out as signing in
    (per name and per address; a device cookie buys no extra tries here, the phone is signed in already)."""
    if not isinstance(current, str) or not current:
        raise ApiError(403, "to change your own PIN, send your present one as current_pin")
    try:
        checked = ctx.signin.check(user.name, current, request.remote_addr)
    except LockedOut as exc:
        raise ApiError(429, str(exc), retry_after_s=round(exc.retry_after_s, 1)) from None
    if checked is None or checked.id != user.id:
        raise ApiError(403, "to change your own PIN, send your present one as current_pin "
                            "(the one given is wrong; after 5 wrong tries the name is locked for a while)")


def create_user(ctx: WebContext, body: dict, *, admin: bool):
    pin_hash = checked_pin_hash(body["pin"]) if body.get("pin") is not None else None
    numbers = {k: body.get(k) for k in ("stature_cm", "shoe_mm", "seated_mm", "standing_mm")}
    try:
        return add_user(ctx.store, body["name"], limits=ctx.limits(), units=body.get("units", "cm"),
                        admin=admin, pin_hash=pin_hash, **numbers)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


def _user_or_404(ctx: WebContext, name: str):
    user = ctx.store.get_user(name)
    if user is None:
        if not ctx.is_admin(ctx.user()):
            raise ApiError(403, f"you may only see and change your own profile ({ctx.user().name!r})")
        known = ", ".join(u.name for u in ctx.store.list_users()) or "none yet"
        raise ApiError(404, f"no user {show(name)} (users: {known})")
    if not ctx.is_self_or_admin(user.name):
        # The same words as for a name that does not exist: nobody can probe who uses this desk.
        raise ApiError(403, f"you may only see and change your own profile ({ctx.user().name!r})")
    return user


@api.op("GET", "/users", summary="Everyone who uses this desk (admins and the owner); yourself only otherwise",
        tag="people")
def users():
    ctx = context()
    st = ctx.store
    me = ctx.user()
    active, owner = st.get_active_user(), st.get_owner()
    # Statures and heights are personal: as GET /users/NAME, a plain user sees only their own profile (who
    # is at the desk and who holds the claim come with GET /state).
    people = st.list_users() if ctx.is_admin(me) else [u for u in st.list_users() if u.id == me.id]
    return jsonify([{**user_dict(u, active, owner), "last_used_at": last_desk_use(st, u)} for u in people])


@api.op("POST", "/users", auth="admin", summary="Add a person (admins)", tag="people",
        body={"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": NAME, "pin": PIN, "stature_cm": STATURE, "shoe_mm": SHOE,
                             "seated_mm": BODY_HEIGHT, "standing_mm": BODY_HEIGHT, "units": UNITS,
                             "admin": {"type": "boolean"}},
              "example": {"name": "Ada", "stature_cm": 170, "pin": "4711"}},
        body_required=True, responses={201: "Added", 429: "Too many PIN checks at once (see Retry-After)"})
def add_user_route(body):
    ctx = context()
    user, notes = create_user(ctx, body, admin=bool(body.get("admin", False)))
    return jsonify({**describe_user(ctx, user), "notes": notes}), 201


@api.op("GET", "/users/<name>", summary="One person's profile and presets", tag="people",
        responses={200: "The profile", 403: "Someone else's profile", 404: "No such user"})
def user(name: str):
    ctx = context()
    return jsonify(describe_user(ctx, _user_or_404(ctx, name)))


@api.op("PATCH", "/users/<name>", summary="Change a profile; a stature alone recomputes sit/stand heights",
        tag="people",
        body={"type": "object", "additionalProperties": False,
              "properties": {"stature_cm": STATURE, "shoe_mm": SHOE, "seated_mm": BODY_HEIGHT,
                             "standing_mm": BODY_HEIGHT, "units": UNITS, "pin": PIN,
                             "current_pin": {"type": "string", "maxLength": 128,
                                             "description": "your present PIN, to change your own"},
                             "admin": {"type": "boolean"}},
              "minProperties": 1, "example": {"stature_cm": 182}},
        body_required=True, responses={200: "Changed (a new PIN also signs that person out elsewhere and "
                                            "revokes their API tokens)",
                                       403: "Someone else's profile, making an admin, or a wrong current_pin",
                                       404: "No such user", 409: "Would leave the desk without an admin",
                                       429: "Too many wrong PINs for this name, or too many PIN checks at "
                                            "once (see Retry-After)"})
def update_user_route(name: str, body):
    ctx = context()
    u = _user_or_404(ctx, name)
    if not body:
        raise ApiError(400, "send one or more of stature_cm, shoe_mm, seated_mm, standing_mm, units, pin, admin")
    fields = {k: v for k, v in body.items() if k not in ("pin", "current_pin", "admin")}
    me = ctx.user()
    own = me.id == u.id
    if "admin" in body:
        if not ctx.is_admin(me):
            raise ApiError(403, "only an admin may make someone an admin")
        refusal = None if body["admin"] else last_admin_refusal(ctx.store, u, demoting=True)
        if refusal:
            raise ApiError(409, refusal)
        fields["role"] = "admin" if body["admin"] else "user"
    if "pin" in body:
        if own and u.pin_hash:
            _check_current_pin(ctx, u, body.get("current_pin"))
        fields["pin_hash"] = checked_pin_hash(body["pin"])
        tokens = len(ctx.store.list_tokens(u.name))
    limits = ctx.limits()
    notes: list[str] = []
    try:
        if body.get("stature_cm") is not None and ("seated_mm" not in body or "standing_mm" not in body):
            seated, standing, notes = heights_for(
                body["stature_cm"], limits=limits, shoe_mm=body.get("shoe_mm", u.shoe_mm),
                seated_mm=body.get("seated_mm"), standing_mm=body.get("standing_mm"))
            fields.update(seated_mm=seated, standing_mm=standing)
        notes += desk_notes(fields.get("seated_mm"), fields.get("standing_mm"), limits)
        updated = ctx.store.update_user(u.name, **fields)     # a new PIN ends all their sessions and tokens
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    if "pin" in body:
        where = "every other phone and browser" if own and g.get("via") == "session" else "every phone and browser"
        notes.append(f"PIN changed: {u.name} is signed out on {where}, and "
                     f"{tokens} API token{'' if tokens == 1 else 's'} of theirs {'was' if tokens == 1 else 'were'} "
                     f"revoked (make new ones with `deskpi token create {u.name}`)")
    if "pin" in body and own and g.get("via") == "session":
        sign_in(ctx.store, updated, csrf=session.get("csrf"))   # ...but this one, where it was changed
    return jsonify({**describe_user(ctx, updated), "notes": notes}), 200


@api.op("DELETE", "/users/<name>", auth="admin", summary="Remove a person and their data (admins)",
        tag="people", responses={200: "Removed", 403: "Not an admin", 404: "No such user", 409: "The last admin"})
def remove_user_route(name: str):
    ctx = context()
    u = _user_or_404(ctx, name)
    refusal = last_admin_refusal(ctx.store, u)
    if refusal:
        raise ApiError(409, refusal)
    ctx.store.remove_user(u.name)
    ctx.claims.forget(u.name)
    return jsonify(removed=u.name), 200


@api.op("POST", "/users/<name>/activate", auth="admin", tag="people",
        summary="Make someone the active user without a claim (admins)",
        responses={200: "Active", 403: "Not an admin", 404: "No such user"})
def activate(name: str):
    ctx = context()
    u = _user_or_404(ctx, name)
    ctx.store.set_active_user(u.name)
    return jsonify(active=u.name), 200


@api.op("POST", "/users/<name>/rename", auth="admin", tag="people",
        summary="Give a person a new name (admins); what they did under the old one stays theirs",
        body={"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": NAME}, "example": {"name": "Robert"}},
        body_required=True,
        responses={200: "Renamed", 403: "Not an admin", 404: "No such user",
                   422: "Not a valid name, or it reads as someone else's (case and lookalikes count)"})
def rename_user_route(name: str, body):
    ctx = context()
    u = _user_or_404(ctx, name)
    try:
        renamed = rename_person(ctx.store, u, body["name"], field="name")    # as when adding a person
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    ctx.claims.rename(u.name, renamed.name)
    return jsonify({**describe_user(ctx, renamed), "renamed_from": u.name}), 200


@api.op("POST", "/users/<name>/reset-pin", auth="admin", tag="people",
        summary="Give a person a new PIN drawn by the desk, shown once (admins); signs them out everywhere",
        responses={200: "The new PIN, in this answer only; their sessions ended and their API tokens were revoked",
                   403: "Not an admin, or your own PIN (change it on your profile, with your present one)",
                   404: "No such user", 429: "Too many PIN checks at once (see Retry-After)"})
def reset_pin_route(name: str):
    ctx = context()
    u = _user_or_404(ctx, name)
    if u.id == ctx.user().id:
        raise ApiError(403, "your own PIN is changed on your profile page, with your present one: a new PIN "
                            "drawn here would sign you out")
    pin, notes = reset_pin(ctx.store, u, hash_pin=_pin_hash)
    if ctx.signin is not None:
        ctx.signin.forgive(u.name)
    return jsonify(name=u.name, pin=pin, notes=notes), 200        # answers under /api/ are never cached


@api.op("PUT", "/users/<name>/presets/<slot>", summary="Save one of a person's presets", tag="people", params=SLOT,
        body=lambda lo, hi: {"type": "object", "required": ["height_mm"], "additionalProperties": False,
                             "properties": {"height_mm": height_schema(lo, hi, 1100)},
                             "example": {"height_mm": 1100}},
        body_required=True, responses={200: "Saved", 403: "Someone else's profile", 404: "No such user or preset"})
def put_user_preset(name: str, slot: str, body):
    ctx = context()
    u = _user_or_404(ctx, name)
    n = slot_number(slot)
    try:
        saved = ctx.store.set_preset(u.name, n, float(body["height_mm"]))
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(slot=n, height_mm=saved), 200


@api.op("DELETE", "/users/<name>/presets/<slot>", summary="Empty one of a person's presets", tag="people",
        params=SLOT,
        responses={200: "Emptied", 403: "Someone else's profile", 404: "No such user or preset"})
def delete_user_preset(name: str, slot: str):
    ctx = context()
    u = _user_or_404(ctx, name)
    n = slot_number(slot)
    ctx.store.clear_preset(u.name, n)
    return jsonify(slot=n, height_mm=None), 200


@api.op("GET", "/users/<name>/plan", summary="A person's sit-stand plan", tag="plans",
        responses={200: "The plan, where it comes from, and its label (what it does, in words)",
                   403: "Someone else's plan", 404: "No such user"})
def get_plan(name: str):
    ctx = context()
    u = _user_or_404(ctx, name)
    plan, source = plan_for(ctx.store, u.name)
    return jsonify(user=u.name, source=source, plan=plan.to_dict(), label=plan_label(plan))


@api.op("PUT", "/users/<name>/plan", summary="Set a person's plan (a kind's preset fills missing fields)",
        tag="plans",
        body=PLAN, body_required=True,
        responses={200: "Stored in full, with its label", 403: "Someone else's plan", 404: "No such user",
                   422: "A field outside its rules, or fields that do not fit together"})
def put_plan(name: str, body):
    ctx = context()
    u = _user_or_404(ctx, name)
    try:
        full = set_plan(ctx.store, u.name, body)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(user=u.name, plan=full, label=plan_label(Plan.from_dict(full))), 200


@api.op("GET", "/ergonomics", summary="Recommended sit and stand heights from stature, with why",
        query={"stature_cm": {"type": "number", "minimum": STATURE_CM[0], "maximum": STATURE_CM[1],
                              "x-required": True},
               "shoe_mm": {"type": "number", "minimum": SHOE_MM[0], "maximum": SHOE_MM[1]}}, tag="people",
        responses={200: "The recommendation", 400: "Missing or not a number", 422: "Out of range"})
def ergonomics():
    args = request.args
    try:
        stature = float(args["stature_cm"])
        shoe = float(args["shoe_mm"]) if "shoe_mm" in args else None
    except KeyError:
        raise ApiError(400, "missing stature_cm: give a height in cm, e.g. stature_cm=175") from None
    except ValueError:
        raise ApiError(400, f"stature_cm and shoe_mm must be numbers, got {show(dict(args))}") from None
    try:
        rec = recommend(stature, shoe, limits=context().limits())
    except ErgonomicsError as exc:
        raise ApiError(422, str(exc)) from None
    return jsonify(rec.to_dict())


DESK_STATS_DAYS = 92             # the longest window of everyone's statistics: a quarter


def _days(args) -> int:
    try:
        return int(args.get("days", "7"))
    except ValueError:
        raise ApiError(400, f"days must be a whole number of days, got {show(args.get('days'))}") from None


def _report(user: str | None, days: int):
    try:
        return Response(report_json(stats_report(context().store, user=user, days=days)), mimetype="application/json")
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None


@api.op("GET", "/stats", summary="Sitting and standing per day, posture changes, goal progress",
        query={"days": {"type": "integer", "minimum": 1, "maximum": 400},
               "user": {"type": "string", "maxLength": NAME_MAX}},
        tag="people",
        responses={200: "Statistics", 400: "days is not a whole number", 403: "Someone else's statistics",
                   404: "No such user", 422: "Out of range"})
def stats():
    ctx = context()
    days = _days(request.args)
    who = request.args.get("user") or ctx.user().name
    if not ctx.is_self_or_admin(who):
        raise ApiError(403, f"you may only see your own statistics ({ctx.user().name!r})")
    try:
        return _report(who, days)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None


@api.op("GET", "/stats/desk", summary="Everyone's statistics at once, and the time nobody was signed in "
                                      "(admins only)",
        query={"days": {"type": "integer", "minimum": 1, "maximum": DESK_STATS_DAYS}},
        tag="people",
        responses={200: "Statistics", 400: "days is not a whole number", 403: "Not an admin",
                   422: f"Out of range (more than {DESK_STATS_DAYS} days)"})
def stats_desk():
    ctx = context()
    days = _days(request.args)
    if not ctx.is_admin(ctx.user()):
        raise ApiError(403, f"only an admin may see everyone's statistics ({ctx.user().name!r} is not one)")
    if days < 1:
        # Said here: the per-person check below would name the per-person range (1-400), not this one.
        raise ApiError(422, f"days = {days}: everyone's statistics cover 1-{DESK_STATS_DAYS} days at once")
    if days > DESK_STATS_DAYS:
        # Everyone's days at once grow with the people and the days: a year of fifty people is seconds of the
        # desk's time and a hundred MB of its memory, so longer reports come from `deskpi stats` on the desk.
        raise ApiError(422, f"days = {days}: everyone's statistics cover at most {DESK_STATS_DAYS} days at once; "
                            f"ask per person, or run `deskpi stats --days {days}` on the desk")
    return _report(None, days)


# -- the live reminder (for whoever is at the desk) -------------------------------------------
def _answering_allowed(ctx: WebContext) -> None:
    user = ctx.user()
    active = ctx.store.get_active_user()
    if not ctx.is_admin(user) and (active is None or active.id != user.id):
        raise ApiError(409, f"the reminders are for {active.name if active else 'the person at the desk'}; "
                            f"claim the desk to get yours")


@api.op("GET", "/reminder", summary="The live reminder and today's plan status", tag="plans",
        responses={200: "The reminder", 404: "Reminders are not enabled on this desk"})
def reminder():
    return jsonify(context().habits.snapshot())


@api.op("POST", "/reminder/<outcome>", summary="Answer the live reminder: confirm, acknowledge, snooze or skip",
        body={"type": "object", "additionalProperties": False,
              "properties": {
                  "id": {"type": ["string", "null"], "maxLength": 64},
                  "move": {"type": "boolean", "description":
                           "confirm only: true moves the desk to the reminder's posture now (needs the claim); "
                           "false or left out records the answer and never moves it"},
                  "when_back": {"type": "boolean", "description":
                                "a break that ends in sitting or standing: ask again (or, in auto mode, warn "
                                "before moving) when the break's minutes are over"}},
              "example": {"id": "20261127-3", "move": False}},
        params={"outcome": {"type": "string", "enum": list(REMINDER_ACTIONS)}},
        tag="plans", responses={200: "Answered", 404: "No such action, or reminders are not enabled",
                                409: "Not the live reminder, not yours to answer, or the desk did not move"})
def reminder_outcome(outcome: str, body):
    if outcome not in REMINDER_ACTIONS:
        raise ApiError(404, f"unknown reminder action {show(outcome)}; actions are {', '.join(REMINDER_ACTIONS)}")
    ctx = context()
    habits = ctx.habits
    _answering_allowed(ctx)
    # Only a move asked for in so many words: an answer without `move` used to let the plan's own move
    # through, for a caller without the claim too, and said target_mm null while the desk went.
    move = body.get("move") is True
    if move and not ctx.may_move(ctx.user()):
        raise ApiError(409, claim_first(ctx))           # the same rule as every move from a phone
    try:
        return jsonify(habits.outcome(outcome, body.get("id"), move=move, when_back=bool(body.get("when_back")),
                                      by=caller())), 200
    except PolicyError as exc:
        raise ApiError(409, str(exc)) from None
    except MotionRefused as exc:
        raise ApiError(409, f"the answer is recorded, but the desk did not move: {exc}") from None


@api.op("POST", "/reminders/pause-today", summary="Pause (or resume) today's reminders",
        body={"type": "object", "additionalProperties": False, "properties": {"paused": {"type": "boolean"}},
              "example": {"paused": True}},
        tag="plans", responses={200: "Done", 404: "Reminders are not enabled on this desk",
                                409: "The reminders are someone else's"})
def pause_today(body):
    ctx = context()
    habits = ctx.habits
    _answering_allowed(ctx)
    paused = body.get("paused", True)
    habits.pause_today(paused)
    return jsonify(paused=paused), 200
