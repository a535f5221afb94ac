"""Signing in and out, self-registration, API tokens, and the admin's desk policy.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure over HTTPS) holds
the user's name, a CSRF token and a fingerprint of their PIN hash: changing a
PIN signs that person out everywhere.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time

from flask import g, jsonify, request, session

from deskpi.webapp.api_people import NAME, PIN, STATURE, create_user
from deskpi.webapp.api_spec import Api, ApiError
from deskpi.webapp.auth import LockedOut
from deskpi.people.accounts import user_dict
from deskpi.webapp.context import POLICY, WebContext


def sign_in(store, user, *, csrf: str | None = None) -> str:
    """Start a server-side session for `user` in this browser; returns its CSRF token."""
    sid = store.create_session(user.name)
    session.clear()                  # never keep a session id chosen before signing in
    session.permanent = True
    session["sid"] = sid
    token = csrf or secrets.token_urlsafe(24)
    session["csrf"] = token
    return token


def sign_out(store) -> None:
    sid = session.get("sid")
    if sid is not None:
        store.end_session(sid)
    session.clear()


#: token -> when its last use was written: the write waits for an fsync, so at most once a minute.
_TOKEN_TOUCH_S = 60.0


def user_for_token(ctx: WebContext, token: str):
    """The token's user, read without waiting behind the store's writer."""
    if not ctx.has_store:
        return None
    user = ctx.reads.user_for_token(token, touch=False)
    if user is not None:
        now = time.monotonic()
        touched = ctx.token_touched.get(token)
        if touched is None or now - touched >= _TOKEN_TOUCH_S:
            if len(ctx.token_touched) > 1000:
                ctx.token_touched.clear()
            ctx.token_touched[token] = now
            ctx.store.user_for_token(token)          # records when it was last used
    return user


def csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.headers.get("X-CSRF-Token", "")
    return bool(expected) and hmac.compare_digest(str(expected), given)


def register(api: Api, ctx: WebContext) -> None:
    def session_view() -> dict:
        user = ctx.user()
        policy = ctx.policy()
        has_users = ctx.has_store and bool(ctx.store.list_users())
        out = {
            "user": None,
            "csrf_token": session.get("csrf") if user is not None else None,
            "claim": ctx.claim_view(user),
            "desk": {**{k: policy[k] for k in ("require_claim", "claim_idle_min", "auto_moves_allowed")},
                     "limits": dict(zip(("min_mm", "max_mm"), ctx.limits()))},
            "setup": {"users_exist": has_users, "self_register": bool(policy["self_register"])},
        }
        if user is not None:
            st = ctx.store
            out["user"] = {**user_dict(user, st.get_active_user(), st.get_owner()), "admin": ctx.is_admin(user)}
        return out

    @api.op("GET", "/session", auth="public", summary="Who is signed in, the CSRF token, the claim, first-run help",
            tag="session")
    def get_session():
        return jsonify(session_view())

    @api.op("POST", "/session", auth="public", summary="Sign in with name and PIN (sets the session cookie)",
            body={"type": "object", "required": ["name", "pin"], "additionalProperties": False,
                  "properties": {"name": {"type": "string", "maxLength": 64}, "pin": {"type": "string", "maxLength": 128}},
                  "example": {"name": "Ada", "pin": "4711"}},
            body_required=True, tag="session",
            responses={200: "Signed in", 401: "Wrong name or PIN", 429: "Locked out for a while"})
    def post_session(body):
        if ctx.signin is None:
            raise ApiError(404, "this desk keeps no user data, so nobody can sign in")
        try:
            user = ctx.signin.check(body["name"], body["pin"], request.remote_addr)
        except LockedOut as exc:
            raise ApiError(429, str(exc), retry_after_s=round(exc.retry_after_s, 1)) from None
        if user is None:
            raise ApiError(401, "wrong name or PIN (names are not case-sensitive; after 5 wrong tries "
                                "the name is locked for a while)")
        sign_in(ctx.store, user)
        g.user = user
        return jsonify(session_view()), 200

    @api.op("DELETE", "/session", summary="Sign out", tag="session", responses={200: "Signed out"})
    def delete_session():
        sign_out(ctx.store)
        return jsonify(signed_out=True), 200

    @api.op("POST", "/register", auth="public", summary="Create your own account (only if the desk allows it)",
            body={"type": "object", "required": ["name", "pin"], "additionalProperties": False,
                  "properties": {"name": NAME, "pin": PIN, "stature_cm": STATURE},
                  "example": {"name": "Ada", "pin": "4711", "stature_cm": 170}},
            body_required=True, tag="session",
            responses={201: "Registered and signed in", 403: "Self-registration is off"})
    def post_register(body):
        if not ctx.policy()["self_register"]:
            raise ApiError(403, "self-registration is off on this desk: ask facilities to add you "
                                "(`deskpi user add NAME` on the desk)")
        user, notes = create_user(ctx, body, admin=False)
        sign_in(ctx.store, user)
        g.user = user
        return jsonify({**session_view(), "notes": notes}), 201

    # -- API tokens for scripts ------------------------------------------------------------------
    @api.op("GET", "/tokens", summary="Your API tokens (never the secrets)", tag="session")
    def list_tokens():
        return jsonify(tokens=ctx.store.list_tokens(ctx.user().name))

    @api.op("POST", "/tokens", summary="A new API token for scripts: shown once",
            body={"type": "object", "additionalProperties": False,
                  "properties": {"label": {"type": "string", "maxLength": 64}}, "example": {"label": "laptop"}},
            tag="session", responses={201: "The token (send it as Authorization: Bearer ...)"})
    def create_token(body):
        try:
            token_id, token = ctx.store.create_token(ctx.user().name, body.get("label", ""))
        except ValueError as exc:
            raise ApiError(422, str(exc)) from None
        return jsonify(id=token_id, token=token), 201

    @api.op("DELETE", "/tokens/<token_id>", summary="Revoke one of your tokens", tag="session",
            responses={200: "Revoked", 404: "No such token of yours"})
    def revoke_token(token_id: str):
        if not re.fullmatch(r"[0-9]{1,12}", token_id):
            raise ApiError(404, f"no token {token_id!r}: ids are whole numbers from GET /api/v1/tokens")
        user = ctx.user()
        if not ctx.store.revoke_token(int(token_id), user=None if ctx.is_admin(user) else user.name):
            raise ApiError(404, f"no token {token_id} of yours")
        return jsonify(revoked=int(token_id)), 200

    # -- the desk policy (admins) ----------------------------------------------------------------------
    policy_props = {"require_claim": {"type": "boolean"},
                    "claim_idle_min": {"type": "number", "minimum": POLICY["claim_idle_min"][1],
                                       "maximum": POLICY["claim_idle_min"][2], "x-unit": "min"},
                    "self_register": {"type": "boolean"}, "auto_moves_allowed": {"type": "boolean"}}

    @api.op("GET", "/admin/settings", auth="admin", summary="The desk policy and limits (admins)", tag="admin")
    def get_settings():
        return jsonify({**ctx.policy(), "limits": dict(zip(("min_mm", "max_mm"), ctx.limits())),
                        "limits_note": "set by facilities in the desk's config file ([desk] min_mm, max_mm)"})

    @api.op("PATCH", "/admin/settings", auth="admin", summary="Change the desk policy (admins)", tag="admin",
            body={"type": "object", "additionalProperties": False, "properties": policy_props,
                  "example": {"require_claim": True, "claim_idle_min": 30}},
            body_required=True, responses={200: "Changed"})
    def patch_settings(body):
        return jsonify(ctx.set_policy(body)), 200
