"""Static files named by their content, ES module imports included.

Every static URL carries a short hash of what it serves (``/static/app.js?v=1f2e3d4c5b``), so a
phone may keep it for a year and still never runs yesterday's JavaScript after an upgrade. The page
scripts are ES modules, and an import is a URL too: served JavaScript has its relative imports
(``import { $ } from "./dom.js"``) pinned to the imported file's own hashed URL, and a module's hash
is taken over that rewritten text. A change in ``dom.js`` so changes the URL of ``dom.js``, of every
module importing it, and of every module importing those, up to the page's ``<script>``.

Only static ``import``/``export ... from`` statements at the start of a line with a ``./`` or ``../``
specifier are pinned (the only kind the page scripts use); imports may not form a cycle.
"""
from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, Response, current_app, redirect, request, send_from_directory, url_for
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

_IMPORT = re.compile(r"""^(\s*(?:import\s*|(?:import|export)\b[^'";]*?\bfrom\s*))(["'])(\.{1,2}/[^'"?#\s]+\.js)\2""",
                     re.M)


@dataclass(frozen=True)
class _Built:
    stat: tuple[int, int]
    version: str
    body: bytes | None = None                             # JavaScript with its imports pinned
    deps: dict[str, str] = field(default_factory=dict)    # imported file -> its version in `body`


class StaticFiles:
    """The static folder's files with their content versions (re-read when a file's mtime or size changes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, _Built] = {}

    def version(self, name: str) -> str | None:
        """The short content hash for ``?v=`` (None: no such file)."""
        built = self._get(name) if _safe(self.folder, name) else None
        return None if built is None else built.version

    def module_urls(self, entries: Iterable[str]) -> list[str]:
        """The versioned URLs of every module the entry scripts import, directly or not, each once
        (for ``<link rel="modulepreload">``: the browser fetches them all at once, not level by level)."""
        entries = list(entries)
        found: dict[str, None] = {}

        def walk(name: str) -> None:
            built = self._get(name)
            for dep in built.deps if built else ():
                if dep not in found and dep not in entries:
                    found[dep] = None
                    walk(dep)

        for entry in entries:
            walk(entry)
        return [url_for("static", filename=name) for name in found]

    def serve(self, filename: str) -> Response:
        """The view for ``/static/<path:filename>``."""
        built = self._get(filename) if _safe(self.folder, filename) else None
        if built is None:
            raise NotFound()
        wanted = request.args.get("v")
        if wanted is not None and wanted != built.version:
            # A page from before an upgrade asks for what the file was: send it to what it is now,
            # never let the new content be kept for a year under the old name.
            resp = redirect(url_for("static", filename=filename))
            resp.headers["Cache-Control"] = "no-cache"
            return resp
        if built.body is None:
            return send_from_directory(self.folder, filename)
        resp = Response(built.body, mimetype="text/javascript")
        resp.set_etag(built.version)
        resp.cache_control.public = True
        resp.cache_control.max_age = current_app.get_send_file_max_age(filename)
        return resp.make_conditional(request)

    def _get(self, name: str, chain: tuple[str, ...] = ()) -> _Built | None:
        if name in chain:
            raise ValueError(f"static modules import each other in a cycle ({' -> '.join((*chain, name))}); "
                             f"content-named URLs need imports without cycles")
        try:
            st = (self.folder / name).stat()
        except (OSError, ValueError):          # ValueError: a NUL in the name (%00), which no file has
            return None
        key = (st.st_mtime_ns, st.st_size)
        hit = self._cache.get(name)
        if hit is not None and hit.stat == key and all(
                _version(self._get(dep, (*chain, name))) == v for dep, v in hit.deps.items()):
            return hit
        data = (self.folder / name).read_bytes()
        if name.endswith(".js"):
            built = self._pin_imports(name, key, data.decode("utf-8"), (*chain, name))
        else:
            built = _Built(key, _digest(data))
        self._cache[name] = built
        return built

    def _pin_imports(self, name: str, key: tuple[int, int], text: str, chain: tuple[str, ...]) -> _Built:
        deps: dict[str, str] = {}

        def pin(m: re.Match) -> str:
            dep = posixpath.normpath(posixpath.join(posixpath.dirname(name), m.group(3)))
            built = None if dep.startswith("../") else self._get(dep, chain)
            if built is None:
                return m.group(0)              # not a static file: the browser's 404 names it
            deps[dep] = built.version
            return f"{m.group(1)}{m.group(2)}{m.group(3)}?v={built.version}{m.group(2)}"

        body = _IMPORT.sub(pin, text).encode("utf-8")
        return _Built(key, _digest(body), body, deps)


def install(app: Flask) -> StaticFiles:
    """Serve `app`'s static folder through :class:`StaticFiles`: ``url_for('static', ...)`` adds the
    version, and templates get ``module_urls(entries)``."""
    files = StaticFiles(Path(app.static_folder))

    @app.url_defaults
    def static_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = files.version(values["filename"])
            if version:
                values["v"] = version

    app.view_functions["static"] = files.serve
    app.jinja_env.globals["module_urls"] = files.module_urls
    return files


def _safe(folder: Path, name: str) -> bool:
    return safe_join(str(folder), name) is not None


def _version(built: _Built | None) -> str | None:
    return None if built is None else built.version


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]
