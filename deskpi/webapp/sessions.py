"""Sign-in sessions over HTTP: the session cookie, its CSRF token, and API tokens as a caller's proof.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure over HTTPS) holds
only a server-side session id and a CSRF token: the store decides whether the
session is still alive, so changing a PIN signs that person out everywhere
(and revokes their API tokens: deskpi.store.people.update_user).

A phone that signed in also gets a device cookie (HttpOnly, SameSite=Lax, Secure
over HTTPS, for a year, sent only to the API): it lets that phone keep trying
its owner's PIN while strangers have the name locked out (deskpi.webapp.auth).
"""
from __future__ import annotations

import hmac
import logging
import secrets
import time

from flask import Flask, Response, after_this_request, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from deskpi.util.storage import StorageFull
from deskpi.webapp.api_spec import API
from deskpi.webapp.context import WebContext

log = logging.getLogger(__name__)

DEVICE_COOKIE = "deskpi_device"
DEVICE_COOKIE_DAYS = 365

#: token -> when its last use was written: the write waits for an fsync, so at most once a minute.
_TOKEN_TOUCH_S = 60.0


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the page itself came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        # Directly or through a TLS proxy; SESSION_COOKIE_SECURE forces it.
        return request.is_secure or bool(app.config.get("SESSION_COOKIE_SECURE"))


def sign_in(store, user, *, csrf: str | None = None) -> str:
    """Start a server-side session for `user` in this browser; returns its CSRF token."""
    sid = store.create_session(user.name)
    session.clear()                  # never keep a session id chosen before signing in
    session.permanent = True
    session["sid"] = sid
    token = csrf or secrets.token_urlsafe(24)
    session["csrf"] = token
    return token


def device_cookie() -> str | None:
    """This phone's device cookie, if it sent one."""
    return request.cookies.get(DEVICE_COOKIE) or None


def remember_device(ctx: WebContext, user, resp: Response) -> None:
    """After a good sign-in: give this phone a device cookie for `user` unless it has one already."""
    if ctx.signin is None:
        return
    cookie = ctx.signin.remember_device(user, device_cookie())
    if cookie is not None:
        secure = request.is_secure or bool(current_app.config.get("SESSION_COOKIE_SECURE"))
        resp.set_cookie(DEVICE_COOKIE, cookie, max_age=DEVICE_COOKIE_DAYS * 86400, path=f"{API}/",
                        httponly=True, samesite="Lax", secure=secure)


def sign_out(store) -> None:
    sid = session.get("sid")
    if sid is not None:
        store.end_session(sid)
    session.clear()


def user_for_token(ctx: WebContext, token: str):
    """The token's user, read without waiting behind the store's writer. When its last use is due to
    be written, that happens once the request's work is done: the write waits for the writer's lock
    and an fsync, and a script's Stop (rare, so usually due) would otherwise wait for them before the
    motor goes off."""
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

            @after_this_request
            def note_use(resp: Response) -> Response:
                # The request's work is done (a Stop has stopped): a store that is full, locked past
                # its timeout or closing costs the note, never turns the answer into an error.
                try:
                    ctx.store.user_for_token(token)      # records when it was last used
                except Exception as exc:                 # noqa: BLE001 - bookkeeping only; tried again in a minute
                    if not isinstance(exc, StorageFull):
                        log.warning("could not note an API token's use: %s", exc)
                return resp
    return user


def csrf_ok() -> bool:
    """Whether this request carries the CSRF token of its session."""
    expected = session.get("csrf")
    given = request.headers.get("X-CSRF-Token", "")
    return bool(expected) and hmac.compare_digest(str(expected), given)
