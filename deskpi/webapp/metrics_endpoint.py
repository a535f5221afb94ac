"""GET /metrics: the desk's Prometheus metrics when `[metrics] enabled` is on, for a metrics token only.

Off (the default): 404. On: the request must carry ``Authorization: Bearer`` with a token of role
"metrics" (``deskpi token create prometheus --role metrics``): none, or one the desk does not know, is a
401; a person's token is a 403, since what a fleet's monitoring reads is not a person's to read and a
metrics token reads nothing else (the API refuses it: deskpi/webapp/security.py). With
``[metrics] allow_localhost`` a request from this machine's own loopback that no proxy forwarded needs
no token. The text itself comes from the desk (``service.metrics.render()``); every response the app
gives is counted there by status code.
"""
from __future__ import annotations

import contextlib
import ipaddress
import time

from flask import Flask, Response, request

from deskpi.util.storage import StorageFull
from deskpi.webapp.api_spec import ApiError, show
from deskpi.webapp.context import WebContext, context

#: Headers a reverse proxy adds: a request carrying one came from elsewhere, whatever address it arrived from.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
#: How often a metrics token's last use is written (a scrape comes every 15-60 s; the write waits for an fsync).
TOUCH_EVERY_S = 60.0
MAKE_ONE = "make one on the desk with `deskpi token create prometheus --role metrics`"


def install(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    app.after_request(count_response)


def metrics() -> Response:
    ctx = context()
    desk_metrics = getattr(ctx.service, "metrics", None)
    if desk_metrics is None:
        problem = getattr(ctx.service, "metrics_problem", None)
        if problem:
            raise ApiError(503, problem)
        raise ApiError(404, "metrics are off on this desk: turn them on with `deskpi config set metrics.enabled "
                            "true` (or [metrics] enabled = true in its config), then restart deskpi")
    if not (desk_metrics.allow_localhost and _from_this_machine()):
        _require_metrics_token(ctx)
    body, content_type = desk_metrics.render()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _from_this_machine() -> bool:
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped          # ::ffff:127.0.0.1, from a server bound to "::"
    return address.is_loopback and not any(h in request.headers for h in FORWARDED)


def _require_metrics_token(ctx: WebContext) -> None:
    header = request.headers.get("Authorization")
    if header is None:
        raise ApiError(401, f"the metrics need a metrics token: send Authorization: Bearer TOKEN ({MAKE_ONE})")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, f"Authorization must be 'Bearer TOKEN', got a {show(scheme)} header")
    role = token_role(ctx, token.strip())
    if role is None:
        raise ApiError(401, f"that token is not valid on this desk (revoked, or made on another desk); {MAKE_ONE}, "
                            f"or hand the fleet's token in with --token-stdin")
    if role != "metrics":
        raise ApiError(403, f"a person's API token cannot read the metrics: they take a token of role metrics; "
                            f"{MAKE_ONE}")


def token_role(ctx: WebContext, token: str) -> str | None:
    """The token's role ("user", "metrics") or None, read without waiting behind the store's writer; a
    metrics token's last use is written at most once a minute."""
    if not ctx.has_store or not hasattr(ctx.reads, "token_role"):
        return None
    role = ctx.reads.token_role(token, touch=False)
    if role == "metrics":
        now = time.monotonic()
        touched = ctx.token_touched.get(token)
        if touched is None or now - touched >= TOUCH_EVERY_S:
            if len(ctx.token_touched) > 1000:
                ctx.token_touched.clear()
            ctx.token_touched[token] = now
            with contextlib.suppress(StorageFull):      # a full disk costs the note, not the scrape
                ctx.store.token_role(token)
    return role


def count_response(resp: Response) -> Response:
    desk_metrics = getattr(context().service, "metrics", None)
    if desk_metrics is not None:
        desk_metrics.web_response(resp.status_code)
    return resp
