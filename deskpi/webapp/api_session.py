"""Signing in and out, self-registration, API tokens, and the admin's desk policy.

How a session is kept (the cookie, its CSRF token, the server-side session
that a PIN change ends) is deskpi.webapp.sessions; these are the operations.
"""
from __future__ import annotations

import re

from flask import g, jsonify, request, session

from deskpi.people.accounts import user_dict
from deskpi.webapp.api_people import NAME, PIN, STATURE, create_user
from deskpi.webapp.api_spec import Api, ApiError
from deskpi.webapp.auth import LockedOut
from deskpi.webapp.context import POLICY, WebContext, context
from deskpi.webapp.sessions import device_cookie, remember_device, sign_in, sign_out

api = Api("session", __name__)

POLICY_PROPERTIES = {"require_claim": {"type": "boolean"},
                     "claim_idle_min": {"type": "number", "minimum": POLICY["claim_idle_min"][1],
                                        "maximum": POLICY["claim_idle_min"][2], "x-unit": "min"},
                     "self_register": {"type": "boolean"}, "auto_moves_allowed": {"type": "boolean"}}
#: What the store keeps as a token's label (deskpi.store.access): up to 64 characters, no control characters.
TOKEN_LABEL = {"type": "string", "maxLength": 64, "pattern": r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$",
               "description": "up to 64 characters without control characters or line breaks", "example": "laptop"}


def _limits(ctx: WebContext) -> dict:
    return dict(zip(("min_mm", "max_mm"), ctx.limits(), strict=True))


def session_view(ctx: WebContext) -> dict:
    """Who is signed in here, their CSRF token, the claim, the desk's policy and first-run help."""
    user = ctx.user()
    policy = ctx.policy()
    has_users = ctx.has_store and bool(ctx.store.list_users())
    out = {
        "user": None,
        "csrf_token": session.get("csrf") if user is not None else None,
        "claim": ctx.claim_view(user),
        "desk": {**{k: policy[k] for k in ("require_claim", "claim_idle_min", "auto_moves_allowed")},
                 "limits": _limits(ctx)},
        "setup": {"users_exist": has_users, "self_register": bool(policy["self_register"])},
    }
    if user is not None:
        st = ctx.store
        out["user"] = {**user_dict(user, st.get_active_user(), st.get_owner()), "admin": ctx.is_admin(user)}
    return out


@api.op("GET", "/session", auth="public", summary="Who is signed in, the CSRF token, the claim, first-run help",
        tag="session")
def get_session():
    return jsonify(session_view(context()))


@api.op("POST", "/session", auth="public", summary="Sign in with name and PIN (sets the session cookie)",
        body={"type": "object", "required": ["name", "pin"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "maxLength": 64}, "pin": {"type": "string", "maxLength": 128}},
              "example": {"name": "Ada", "pin": "4711"}},
        body_required=True, tag="session",
        responses={200: "Signed in", 401: "Wrong name or PIN", 404: "This desk keeps no user data",
                   429: "Locked out for a while, or too many sign-ins at once (see Retry-After)"})
def post_session(body):
    ctx = context()
    if ctx.signin is None:
        raise ApiError(404, "this desk keeps no user data, so nobody can sign in")
    try:
        user = ctx.signin.check(body["name"], body["pin"], request.remote_addr, device=device_cookie())
    except LockedOut as exc:
        raise ApiError(429, str(exc), retry_after_s=round(exc.retry_after_s, 1)) from None
    if user is None:
        raise ApiError(401, "wrong name or PIN (names are not case-sensitive; after 5 wrong tries "
                            "the name is locked for a while)")
    sign_in(ctx.store, user)
    g.user = user
    resp = jsonify(session_view(ctx))
    remember_device(ctx, user, resp)       # this phone may keep trying while strangers lock the name
    return resp, 200


@api.op("DELETE", "/session", summary="Sign out", tag="session", responses={200: "Signed out"})
def delete_session():
    sign_out(context().store)
    return jsonify(signed_out=True), 200


@api.op("POST", "/register", auth="public", summary="Create your own account (only if the desk allows it)",
        body={"type": "object", "required": ["name", "pin"], "additionalProperties": False,
              "properties": {"name": NAME, "pin": PIN, "stature_cm": STATURE},
              "example": {"name": "Ada", "pin": "4711", "stature_cm": 170}},
        body_required=True, tag="session",
        responses={201: "Registered and signed in", 403: "Self-registration is off",
                   429: "Too many PIN checks at once (see Retry-After)"})
def post_register(body):
    ctx = context()
    if not ctx.policy()["self_register"]:
        raise ApiError(403, "self-registration is off on this desk: ask facilities to add you "
                            "(`deskpi user add NAME` on the desk)")
    user, notes = create_user(ctx, body, admin=False)
    sign_in(ctx.store, user)
    g.user = user
    resp = jsonify({**session_view(ctx), "notes": notes})
    remember_device(ctx, user, resp)
    return resp, 201


# -- API tokens for scripts ------------------------------------------------------------------
@api.op("GET", "/tokens", summary="Your API tokens (never the secrets)", tag="session")
def list_tokens():
    ctx = context()
    return jsonify(tokens=ctx.store.list_tokens(ctx.user().name))


@api.op("POST", "/tokens", summary="A new API token for scripts: shown once",
        body={"type": "object", "additionalProperties": False,
              "properties": {"label": TOKEN_LABEL}, "example": {"label": "laptop"}},
        tag="session", responses={201: "The token (send it as Authorization: Bearer ...)",
                                  409: "You already have the most API tokens one person may have (20): "
                                       "revoke one first"})
def create_token(body):
    ctx = context()
    try:
        token_id, token = ctx.store.create_token(ctx.user().name, body.get("label", ""))
    except ValueError as exc:
        if getattr(exc, "cap", None) is not None:      # the cap on live tokens (the store's TokenLimitError)
            raise ApiError(409, str(exc)) from None
        raise ApiError(422, str(exc)) from None
    return jsonify(id=token_id, token=token), 201


@api.op("DELETE", "/tokens/<token_id>", summary="Revoke one of your tokens", tag="session",
        params={"token_id": {"type": "string", "pattern": "^[0-9]{1,12}$", "description": "from GET /api/v1/tokens"}},
        responses={200: "Revoked", 404: "No such token of yours"})
def revoke_token(token_id: str):
    if not re.fullmatch(r"[0-9]{1,12}", token_id):
        raise ApiError(404, f"no token {token_id!r}: token ids are whole numbers (your tokens and their ids "
                            f"are listed with `deskpi token list NAME`)")
    ctx = context()
    user = ctx.user()
    if not ctx.store.revoke_token(int(token_id), user=None if ctx.is_admin(user) else user.name):
        raise ApiError(404, f"no token {token_id} of yours")
    return jsonify(revoked=int(token_id)), 200


# -- the desk policy (admins) ----------------------------------------------------------------------
@api.op("GET", "/admin/settings", auth="admin", summary="The desk policy and limits (admins)", tag="admin")
def get_settings():
    ctx = context()
    return jsonify({**ctx.policy(), "limits": _limits(ctx),
                    "limits_note": "set by facilities in the desk's config file ([desk] min_mm, max_mm)"})


@api.op("PATCH", "/admin/settings", auth="admin", summary="Change the desk policy (admins)", tag="admin",
        body={"type": "object", "additionalProperties": False, "properties": POLICY_PROPERTIES,
              "minProperties": 1, "example": {"require_claim": True, "claim_idle_min": 30}},
        body_required=True, responses={200: "Changed"})
def patch_settings(body):
    return jsonify(context().set_policy(body)), 200
