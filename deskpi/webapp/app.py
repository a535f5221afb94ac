"""The web app: pages for a phone and the JSON API under /api/v1, documented at /openapi.json.

Built by :func:`create_app` around a :class:`~deskpi.service.DeskService`
(anything with the same methods will do); no module-level state. Every
operation is declared once (deskpi.webapp.api_spec): who may call it, what body it
takes, and its OpenAPI entry all come from that one declaration, so bad
input is refused before the service hears of it and never moves the desk.
Every error is ``{"error": "..."}`` with a 4xx that says what was wrong, the
value given and what is allowed.

Who is asking: a session cookie from signing in (then every change must
carry the X-CSRF-Token from that sign-in) or ``Authorization: Bearer`` with
an API token. Remote motion also needs the desk's claim (deskpi.webapp.claims).
"""
from __future__ import annotations

import gzip
import importlib.resources
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, jsonify, render_template, request, send_from_directory, session
from flask.sessions import SecureCookieSessionInterface
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException

from deskpi.webapp import api_desk

from deskpi.webapp import api_people

from deskpi.webapp import api_session
from deskpi.webapp import static_files
from deskpi.webapp.api_spec import Api, ApiError, show
from deskpi.webapp.auth import SignIn
from deskpi.webapp.claims import ClaimBook
from deskpi.webapp.live import LiveFeed
from deskpi.people.presets import SLOTS
from deskpi.webapp.context import WebContext, WebDefaults

API = "/api/v1"
SIM_KEYS = api_desk.SIM_KEYS
PAGES = ("profile", "plan", "reminders", "stats", "admin")

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
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: Requests that only ever make the desk safer: never refused to a signed-in user, with or without CSRF token.
_ALWAYS_ALLOWED = {f"{API}/stop", f"{API}/release"}
_GZIP_TYPES = ("text/", "application/json", "application/javascript", "image/svg+xml", "application/manifest+json")


class _SessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        # Secure whenever the page itself came over HTTPS (directly or through a TLS proxy).
        return request.is_secure or bool(app.config.get("SESSION_COOKIE_SECURE"))


def _assets() -> Path:
    """Where templates/ and static/ live: web/ beside this code in a checkout, else the installed
    deskpi.web_assets package (which an editable install may map to another checkout's web/)."""
    checkout = Path(__file__).resolve().parents[2] / "web"
    if (checkout / "templates" / "base.html").is_file():
        return checkout
    return Path(str(importlib.resources.files("deskpi.web_assets")))


def _live_sources(ctx: WebContext) -> dict:
    def state():
        snap = dict(ctx.service.snapshot())
        snap.pop("loop_lag_p99_ms", None)
        snap.pop("reading_lag_p99_ms", None)
        view = ctx.claims.view()
        snap["claim"] = {"holder": view.holder, "pending": view.pending}
        active = ctx.active_user()
        snap["active_user"] = None if active is None else active.name
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


def create_app(service, *, max_body_bytes: int = 4096, defaults: WebDefaults | None = None,
               secret_key: bytes | None = None, claims: ClaimBook | None = None) -> Flask:
    """The Flask app around `service` (kept on app.extensions['deskpi'])."""
    if not isinstance(max_body_bytes, int) or isinstance(max_body_bytes, bool) or max_body_bytes < 64:
        raise ValueError(f"max_body_bytes must be an integer of at least 64, got {max_body_bytes!r}")
    defaults = defaults or WebDefaults()
    assets = _assets()
    app = Flask(__name__, template_folder=str(assets / "templates"), static_folder=str(assets / "static"),
                static_url_path="/static")
    app.session_interface = _SessionInterface()
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes, SECRET_KEY=secret_key or __import__("secrets").token_bytes(32),
                      SESSION_COOKIE_NAME="deskpi_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(days=defaults.session_days),
                      SEND_FILE_MAX_AGE_DEFAULT=300)
    app.json.sort_keys = False
    app.extensions["deskpi"] = service
    store = getattr(service, "store", None)
    if claims is None:
        claims = getattr(service, "claims", None)
    if claims is None:
        claims = ClaimBook(idle_s=60 * defaults.claim_idle_min)
    service.claims = claims                  # the buttons look for it there
    ctx = WebContext(service, claims, defaults, SignIn(store) if store is not None else None,
                     reader=store.reader() if store is not None else None)
    if claims.on_grant is None and store is not None:
        claims.on_grant = store.set_active_user       # the claimant is now the person at the desk
    ctx.live = LiveFeed(_live_sources(ctx))
    ctx.apply_policy()
    app.extensions["deskpi.web"] = ctx

    def guard(op, phase: str) -> None:
        if op.auth == "public":
            return
        user = g.get("user")
        if phase == "before":
            if user is None:
                raise ApiError(401, "sign in first (POST /api/v1/session with name and PIN) or send "
                                    "Authorization: Bearer <token> (`deskpi token create NAME`)")
            if (request.method not in _SAFE_METHODS and g.get("via") == "session"
                    and request.path not in _ALWAYS_ALLOWED and not api_session.csrf_ok()):
                raise ApiError(403, "missing or wrong X-CSRF-Token header: send the csrf_token from "
                                    "GET /api/v1/session with every change")
            if op.auth == "admin" and not ctx.is_admin(user):
                raise ApiError(403, f"{user.name!r} is not an admin; ask an admin or facilities")
        elif op.auth == "claim":
            if not ctx.may_move(user):
                view = ctx.claims.view()
                held = (f"{view.user} is using it" if view.state == "claimed" else
                        f"waiting for {view.user}'s button press" if view.state == "pending" else "nobody holds it")
                raise ApiError(409, f"claim the desk first ({held}): POST /api/v1/claim, then press any "
                                    f"preset button on the desk within 30 s")
            ctx.claims.touch(user.name)

    static_files.install(app)      # every static URL names its content, ES module imports too

    api = Api(app, API, guard)
    api_desk.register(api, ctx)
    api_people.register(api, ctx)
    api_session.register(api, ctx)
    spec_cache: dict = {}

    # -- cross-cutting ----------------------------------------------------------------------
    @app.before_request
    def identify():
        g.user, g.via = None, None
        if request.endpoint == "static":
            return None
        header = request.headers.get("Authorization")
        if header is not None and request.path.startswith(API):
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, f"Authorization must be 'Bearer <token>', got a {show(scheme)} header")
            user = api_session.user_for_token(ctx, token.strip())
            if user is None:
                raise ApiError(401, "that API token is not valid (revoked, or its user was removed); "
                                    "make a new one with `deskpi token create NAME`")
            g.user, g.via = user, "token"
            return None
        sid = session.get("sid")
        if sid is not None and store is not None:
            user = ctx.session_user(sid)
            if user is not None:
                g.user, g.via = user, "session"
            else:
                session.clear()          # signed out, expired, removed, or the PIN changed
        return None

    @app.before_request
    def refuse_cross_site():
        # A page on another site may not act on this desk (CSRF, also for signing in). Browsers
        # label every request; curl and scripts send no label and are let through.
        if request.method in _SAFE_METHODS or request.path in _ALWAYS_ALLOWED:
            return None
        site = request.headers.get("Sec-Fetch-Site")
        if site in ("cross-site", "same-site"):
            raise ApiError(403, f"requests from another site may not control the desk "
                                f"(Sec-Fetch-Site: {site}); use this desk's own page")
        origin = request.headers.get("Origin")
        if site is None and origin is not None and urlsplit(origin).netloc != request.host:
            # An older browser without Sec-Fetch-Site still names the page that sent the request.
            raise ApiError(403, f"requests from another site may not control the desk "
                                f"(Origin: {show(origin)}); use this desk's own page")
        return None

    @app.after_request
    def finish(resp: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(name, value)
        if request.path.startswith("/api/"):
            resp.headers["Cache-Control"] = "no-store"
        elif request.endpoint == "static" and request.args.get("v") and resp.status_code == 200:
            resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return _gzip(resp)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        resp = jsonify(error=exc.message, **exc.extra)
        resp.status_code = exc.status
        if exc.status == 429 and "retry_after_s" in exc.extra:
            resp.headers["Retry-After"] = str(max(1, int(exc.extra["retry_after_s"] + 0.999)))
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="deskpi"'
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            given = (f"{request.content_length} bytes" if request.content_length is not None
                     else f"more than {max_body_bytes} bytes")
            message = f"request body too large: {given} given, at most {max_body_bytes} bytes allowed"
        elif exc.code == 404:
            message = f"no such URL: {request.method} {show(request.path)}; the API is under {API}/"
        elif exc.code == 405:
            allowed = ", ".join(sorted(m for m in (exc.valid_methods or []) if m not in ("HEAD", "OPTIONS")))
            message = f"method {request.method} is not allowed for {show(request.path)}; allowed: {allowed}"
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
        if request.method not in _SAFE_METHODS:
            try:
                service.stop("web error")
                stopped = "the desk was stopped; "
            except Exception:  # noqa: BLE001
                app.logger.exception("stop after an internal error failed")
        return jsonify(error=f"internal error while handling {request.method} {show(request.path)}; "
                             f"{stopped}see the log"), 500

    # -- documents ------------------------------------------------------------------------------
    @app.get("/openapi.json")
    def openapi():
        if "doc" not in spec_cache:
            from deskpi import __version__
            spec_cache["doc"] = api.openapi(title="deskpi", version=__version__)
        return jsonify(spec_cache["doc"])

    @app.get("/manifest.webmanifest")
    def manifest():
        resp = send_from_directory(app.static_folder, "manifest.webmanifest")
        resp.mimetype = "application/manifest+json"
        return resp

    # -- pages ------------------------------------------------------------------------------------
    def page(name: str):
        user = g.get("user")
        snap = api_desk.state_dict(ctx, user)
        has_users = store is not None and bool(store.list_users())
        context = dict(page=name, snap=snap, sim=bool(snap.get("sim")), sim_keys=SIM_KEYS, slots=SLOTS,
                       user=None, csrf_token=None, next=request.path,
                       setup={"users_exist": has_users, "self_register": bool(ctx.policy()["self_register"])})
        if user is None:
            template = "login.html"
        else:
            if name == "admin" and not ctx.is_admin(user):
                abort(403, f"the admin page is for admins; {user.name!r} is not one")
            context.update(user=api_people.describe_user(ctx, user), csrf_token=session.get("csrf"))
            template = f"{name}.html"
        try:
            return render_template(template, **context)
        except TemplateNotFound:
            return render_template("index.html", **context)

    app.add_url_rule("/", "page_home", lambda: page("index"))
    app.add_url_rule("/login", "page_login", lambda: page("index"))
    for name in PAGES:
        app.add_url_rule(f"/{name}", f"page_{name}", lambda name=name: page(name))
    return app


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
