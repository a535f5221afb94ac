"""What every request passes through: who is asking, the refusal of other sites, the API's
auth levels, and on the way out the security headers, cache rules and gzip.

Who is asking: a session cookie from signing in (then every change must carry
the X-CSRF-Token from that sign-in) or ``Authorization: Bearer`` with an API
token. Remote motion also needs the desk's claim (deskpi.webapp.claims). Stop needs nobody signed
in when it comes from this desk's own page in a browser: a signed-out phone at the desk can stop it.
"""
from __future__ import annotations

import gzip
from urllib.parse import urlsplit

from flask import Flask, Response, g, request, session

from deskpi.webapp.api_spec import API, ApiError, Operation, show
from deskpi.webapp.context import context
from deskpi.webapp.sessions import csrf_ok, user_for_token

#: No inline script or style anywhere, nothing from another origin, never framed.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
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
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Requests that only ever make the desk safer: never refused to a signed-in user, with or without CSRF token.
ALWAYS_ALLOWED = {f"{API}/stop", f"{API}/release"}
_GZIP_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml", "application/manifest+json")


def install(app: Flask) -> None:
    """Run these checks around every request of `app` (identify first, then the cross-site check)."""
    app.before_request(identify)
    app.before_request(refuse_cross_site)
    app.after_request(finish)


def identify() -> None:
    """Set g.user and g.via ("token" or "session") from the request's credentials, if any."""
    g.user, g.via = None, None
    if request.endpoint == "static":
        return
    ctx = context()
    header = request.headers.get("Authorization")
    if header is not None and request.path.startswith(API):
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, f"Authorization must be 'Bearer <token>', got a {show(scheme)} header")
        user = user_for_token(ctx, token.strip())
        if user is None:
            if _is_metrics_token(ctx, token.strip()):
                raise ApiError(403, "a metrics token reads the desk's metrics and nothing else; the desk's API "
                                    "takes a person's token (`deskpi token create NAME`)")
            raise ApiError(401, "that API token is not valid (revoked, or its user was removed); "
                                "make a new one with `deskpi token create NAME`")
        g.user, g.via = user, "token"
        return
    sid = session.get("sid")
    if sid is not None and ctx.has_store:
        user = ctx.session_user(sid)
        if user is not None:
            g.user, g.via = user, "session"
        else:
            session.clear()          # signed out, expired, removed, or the PIN changed


def _is_metrics_token(ctx, token: str) -> bool:
    reads = ctx.reads if ctx.has_store else None
    return reads is not None and hasattr(reads, "token_role") and reads.token_role(token, touch=False) == "metrics"


def refuse_cross_site() -> None:
    # A page on another site may not act on this desk (CSRF, also for signing in). Browsers
    # label every request; curl and scripts send no label and are let through.
    if request.method in SAFE_METHODS or request.path in ALWAYS_ALLOWED:
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site in ("cross-site", "same-site"):
        raise ApiError(403, f"requests from another site may not control the desk "
                            f"(Sec-Fetch-Site: {site}); use this desk's own page")
    origin = request.headers.get("Origin")
    if site is None and origin is not None and urlsplit(origin).netloc != request.host:
        # An older browser without Sec-Fetch-Site still names the page that sent the request.
        raise ApiError(403, f"requests from another site may not control the desk "
                            f"(Origin: {show(origin)}); use this desk's own page")


def from_this_desks_page() -> bool:
    """The browser says this request came from one of this desk's own pages (the sign-in page's Stop).
    Not proof of anything (a script can send these headers), only what keeps other sites out: a page on
    another site can neither hide its origin nor claim this one."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def guard(op: Operation, phase: str) -> None:
    """The operation's auth level: "before" its body is read (signed in, CSRF, admin), "after" it was
    validated (the claim), so bad input is named before a refusal for the desk's state."""
    if op.auth == "public":
        return
    ctx = context()
    user = g.get("user")
    if phase == "before":
        if user is None and request.path == f"{API}/stop" and from_this_desks_page():
            return      # a signed-out phone at the desk: stop is never refused to a person there
        if user is None:
            raise ApiError(401, "sign in first: with your name and PIN on the sign-in page, or from a script "
                                "with an API token (`deskpi token create NAME`) as Authorization: Bearer <token>")
        if (request.method not in SAFE_METHODS and g.get("via") == "session"
                and request.path not in ALWAYS_ALLOWED and not csrf_ok()):
            raise ApiError(403, "this page's security token is missing or out of date: reload the page and "
                                "try again (a script sends its session's csrf_token as X-CSRF-Token)")
        if op.auth == "admin" and not ctx.is_admin(user):
            raise ApiError(403, f"{user.name!r} is not an admin; ask an admin or facilities")
    elif op.auth == "claim":
        if not ctx.may_move(user):
            raise ApiError(409, claim_first(ctx))
        ctx.claims.touch(user.name)


def claim_first(ctx) -> str:
    """Why a person may not move the desk from their phone yet, and what to do, in the page's words
    (the claim: deskpi.webapp.claims; an API client finds the same steps in the API document)."""
    view = ctx.claims.view()
    where = "on the virtual keypad" if getattr(ctx.service, "sim_keypad", None) is not None else "on the desk"
    if view.state == "claimed":
        return (f"{view.user} is using this desk: to use it from here, tap Claim this desk; {view.user} sees "
                f"your request, and once they release the desk you press the preset button your phone shows {where}")
    held = f"{view.user} is claiming it right now" if view.state == "pending" else "nobody holds it"
    # Not "to move": saving a preset needs the claim too, and moves nothing.
    return (f"claim the desk first ({held}): tap Claim this desk, then press the preset button your phone "
            f"shows {where} within 30 s")


def finish(resp: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        resp.headers["Cache-Control"] = "no-store"
    elif request.endpoint == "static" and request.args.get("v") and resp.status_code == 200:
        # The URL names the file's content (deskpi.webapp.static_files), so it never changes under that name.
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return _gzip(resp)


def _gzip(resp: Response) -> Response:
    """Compress text for a phone on slow Wi-Fi (the page budget counts gzip bytes)."""
    if (resp.status_code != 200 or resp.is_streamed and not resp.direct_passthrough
            or "gzip" not in request.headers.get("Accept-Encoding", "") or "Content-Encoding" in resp.headers
            or not (resp.mimetype or "").startswith(_GZIP_TYPES) or resp.mimetype == "text/event-stream"):
        return resp
    resp.direct_passthrough = False
    data = resp.get_data()
    if len(data) < 1024:
        return resp
    resp.set_data(gzip.compress(data, compresslevel=6))
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"
    return resp
