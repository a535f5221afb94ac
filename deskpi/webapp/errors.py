"""Every error the web app answers is JSON, ``{"error": "..."}``, saying what was wrong, the value
given and what is allowed; an internal error stops the desk first when the request could have moved it.
A browser asking for a page that is not there (or not for them) gets a page saying so instead.
A full disk is not an internal error: 503, "the desk's storage is full: ...", logged once a minute by the
store's storage monitor (deskpi/util/storage.py) instead of a traceback per request."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from deskpi.util.storage import StorageFull, as_storage_full, is_storage_full
from deskpi.webapp.api_spec import API, ApiError, show
from deskpi.webapp.context import context
from deskpi.webapp.security import SAFE_METHODS

#: How long a client is told to wait before trying a write again on a full disk.
STORAGE_RETRY_S = 60


def install(app: Flask) -> None:
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(StorageFull, storage_full)
    app.register_error_handler(Exception, internal_error)


def api_error(exc: ApiError):
    resp = jsonify(error=exc.message, **exc.extra)
    resp.status_code = exc.status
    if exc.status == 429 and "retry_after_s" in exc.extra:
        resp.headers["Retry-After"] = str(max(1, int(exc.extra["retry_after_s"] + 0.999)))
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="deskpi"'
    return resp


#: What a browser's error page says at the top, by status.
PAGE_TITLES = {403: "Not for you", 404: "Page not found", 405: "This page cannot do that"}


def wants_page() -> bool:
    """A browser asking for a page (not the API, not a script): it gets an error page, not JSON."""
    if request.path == API or request.path.startswith(("/api/", "/static/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def http_error(exc: HTTPException):
    if wants_page() and exc.code in PAGE_TITLES:
        from deskpi.webapp.pages import error_page

        message = (f"There is no page at {show(request.path)} on this desk." if exc.code == 404
                   else exc.description or exc.name)
        return error_page(exc.code, PAGE_TITLES[exc.code], message)
    if exc.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        given = (f"{request.content_length} bytes" if request.content_length is not None
                 else f"more than {limit} bytes")
        message = f"request body too large: {given} given, at most {limit} bytes allowed"
    elif exc.code == 404:
        message = (f"no such address: {show(request.path)} is neither a page nor an operation of this desk "
                   f"(the operations are listed at /openapi.json)")
    elif exc.code == 405:
        # The message is for whoever reads it; a script finds the methods allowed in the Allow header.
        message = f"{show(request.path)} does not do that (what it does is listed at /openapi.json)"
    else:
        message = exc.description or exc.name
    resp = jsonify(error=message)
    resp.status_code = exc.code or 500
    if exc.code == 405 and exc.valid_methods:
        resp.headers["Allow"] = ", ".join(exc.valid_methods)
    return resp


def storage_full(exc: Exception):
    """503: nothing could be saved for want of space; the desk itself still moves and stops."""
    full = as_storage_full(exc, f"{request.method} {request.path}")
    ctx = context()
    if ctx.has_store:
        ctx.store.storage.failed(full)        # the flag on the page and in `deskpi status`, the log once a minute
    resp = jsonify(error="the desk's storage is full: that change could not be saved; "
                         "the desk still moves and stops. Free some space on the desk's SD card "
                         "(`deskpi doctor` on the desk shows how much is left), then try again",
                   storage={"full": True})
    resp.status_code = 503
    resp.headers["Retry-After"] = str(STORAGE_RETRY_S)
    return resp


def internal_error(exc: Exception):
    if is_storage_full(exc):                  # an SQLITE_FULL or ENOSPC that no layer turned into StorageFull
        return storage_full(exc)
    # Fail safe: whatever broke, a request that could have moved the desk stops it first.
    log = current_app.logger
    log.exception("internal error in %s %s", request.method, request.path)
    stopped = ""
    if request.method not in SAFE_METHODS:
        try:
            context().service.stop("web error")
            stopped = "the desk was stopped; "
        except Exception:
            log.exception("stop after an internal error failed")
    return jsonify(error=f"the desk could not do that: something went wrong inside it; {stopped}"
                         f"whoever looks after the desk finds the details in its log (`deskpi logs`)"), 500
