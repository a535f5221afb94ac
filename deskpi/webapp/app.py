"""The web app: pages for a phone and the JSON API under /api/v1, documented at /openapi.json.

Built by :func:`create_app` around a :class:`~deskpi.daemon.service.DeskService`
(anything with the same methods will do); no module-level state. Every
operation is declared once (deskpi.webapp.api_spec) in its area's module
(api_desk, api_people, api_session): who may call it, what body it takes, and
its OpenAPI entry all come from that one declaration, so bad input is refused
before the service hears of it and never moves the desk. Every error is
``{"error": "..."}`` with a 4xx that says what was wrong, the value given and
what is allowed (deskpi.webapp.errors). Who is asking and what they may do:
deskpi.webapp.security; which host names, proxies and HTTPS: deskpi.webapp.transport;
the pages: deskpi.webapp.pages; Prometheus' /metrics: deskpi.webapp.metrics_endpoint.
"""
from __future__ import annotations

import importlib.resources
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from deskpi.webapp import api_desk, api_people, api_session, errors, metrics_endpoint, security, static_files
from deskpi.webapp.api_spec import API, serve
from deskpi.webapp.auth import SignIn
from deskpi.webapp.claims import ClaimBook
from deskpi.webapp.context import EXTENSION, WebContext, WebDefaults
from deskpi.webapp.live import LiveFeed
from deskpi.webapp.pages import pages
from deskpi.webapp.sessions import CookieSessions
from deskpi.webapp.transport import Transport
from deskpi.webapp.transport import install as transport_install


def create_app(service, *, max_body_bytes: int = 4096, defaults: WebDefaults | None = None,
               secret_key: bytes | None = None, claims: ClaimBook | None = None,
               transport: Transport | None = None, max_streams: int = 64) -> Flask:
    """The Flask app around `service` (kept on app.extensions['deskpi'], its WebContext on ['deskpi.web']).
    `transport`: allowed host names, trusted proxies, HSTS (deskpi.webapp.transport); `max_streams`: live
    streams open at once (deskpi's own server writes them all from one thread)."""
    if not isinstance(max_body_bytes, int) or isinstance(max_body_bytes, bool) or max_body_bytes < 64:
        raise ValueError(f"max_body_bytes must be an integer of at least 64, got {max_body_bytes!r}")
    defaults = defaults or WebDefaults()
    assets = _assets()
    app = Flask(__name__, template_folder=str(assets / "templates"), static_folder=str(assets / "static"),
                static_url_path="/static")
    app.session_interface = CookieSessions()
    app.config.update(MAX_CONTENT_LENGTH=max_body_bytes, SECRET_KEY=secret_key or secrets.token_bytes(32),
                      SESSION_COOKIE_NAME="deskpi_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(days=defaults.session_days),
                      SEND_FILE_MAX_AGE_DEFAULT=300)
    app.json.sort_keys = False
    app.extensions["deskpi"] = service
    transport_install(app, transport or Transport())      # the Host check runs before anything else
    ctx = app.extensions[EXTENSION] = _context(service, defaults, claims, max_streams)
    serve(app, [api_desk.api, api_people.api, api_session.api], prefix=API, guard=security.guard,
          limits=ctx.limits())
    security.install(app)
    errors.install(app)
    static_files.install(app)      # every static URL names its content, ES module imports too
    app.register_blueprint(pages)
    metrics_endpoint.install(app)      # /metrics, 404 unless [metrics] enabled; counts every response
    return app


def _context(service, defaults: WebDefaults, claims: ClaimBook | None, max_streams: int) -> WebContext:
    store = getattr(service, "store", None)
    if claims is None:
        claims = getattr(service, "claims", None)
    if claims is None:
        # A claim is confirmed on a preset button the desk has: the daemon names the wired ones.
        slots = getattr(service, "preset_slots", None)
        claims = ClaimBook(idle_s=60 * defaults.claim_idle_min, **({} if slots is None else {"slots": slots}))
    service.claims = claims                  # the buttons look for it there
    ctx = WebContext(service, claims, defaults, SignIn(store) if store is not None else None,
                     reader=store.reader() if store is not None else None)
    if claims.on_grant is None and store is not None:
        claims.on_grant = store.set_active_user       # the claimant is now the person at the desk
    ctx.live = LiveFeed(api_desk.live_sources(ctx), max_streams=max_streams)
    ctx.apply_policy()
    return ctx


def _assets() -> Path:
    """Where templates/ and static/ live: web/ beside this code in a checkout, else the installed
    deskpi.web_assets package (which an editable install may map to another checkout's web/)."""
    checkout = Path(__file__).resolve().parents[2] / "web"
    if (checkout / "templates" / "base.html").is_file():
        return checkout
    return Path(str(importlib.resources.files("deskpi.web_assets")))
