"""How a request reached the desk: to which host name, through which proxy, over HTTPS or not.

- Host names (``[web] allowed_hosts``): the desk answers only to its own names
  (``localhost``, its host name and ``NAME.local``, the addresses it has, the
  configured ``[web] host``) and the ones listed; any other Host header gets a
  400 before anything else runs, so a DNS-rebinding page cannot talk to it.
  ``"*"`` allows any name.
- Redirects never carry a host: werkzeug builds absolute ones from the Host
  header (``/api/v1//state`` -> ``http://HOST/api/v1/state``); every Location
  leaves as a path on this site.
- Proxies (``[web] trusted_proxies``): X-Forwarded-For, -Proto and -Host are
  believed only from a listed proxy (werkzeug's ProxyFix, one hop), so
  lock-outs and the audit see the real client and cookies get Secure behind
  a TLS proxy; from anyone else they are ignored.
- HSTS (``[web] hsts``): Strict-Transport-Security on responses over HTTPS.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from deskpi.webapp.api_spec import ApiError

HSTS = "max-age=31536000"
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_LOCAL_CHECK_S = 30.0          # how long "is this one of my addresses" is remembered (DHCP may change them)


@dataclass(frozen=True)
class Transport:
    """The [web] settings about how requests arrive (see the module docstring)."""
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    hsts: bool = False
    bind_host: str = ""                 # [web] host: a name or address the desk was told to answer on

    @classmethod
    def from_settings(cls, web) -> Transport:
        return cls(allowed_hosts=tuple(web.allowed_hosts), trusted_proxies=tuple(web.trusted_proxies),
                   hsts=bool(web.hsts), bind_host=web.host)


def host_name(host: str) -> str:
    """The name or address in a Host header, without port or brackets, lower case: "[::1]:8080" -> "::1"."""
    h = host.strip().lower()
    if h.startswith("["):
        end = h.find("]")
        return h[1:end] if end > 0 else h
    if h.count(":") == 1:
        h = h.partition(":")[0]
    return h.rstrip(".")


class AllowedHosts:
    """Which Host headers the desk answers."""

    def __init__(self, extra: Iterable[str] = (), bind_host: str = "") -> None:
        names = [n.strip().lower().rstrip(".") for n in extra if n.strip()]
        self.any = "*" in names
        self.suffixes = tuple(n for n in names if n.startswith("."))
        own = set(_LOOPBACK)
        hostname = socket.gethostname().lower()
        if hostname:
            own |= {hostname, f"{hostname}.local"}
        if bind_host and bind_host not in ("0.0.0.0", "::"):
            own.add(host_name(bind_host) if not bind_host.startswith("[") else bind_host.strip("[]").lower())
        self.names = frozenset(own | {n for n in names if n != "*" and not n.startswith(".")})
        self._local: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def allows(self, host: str) -> bool:
        name = host_name(host)
        if self.any or name in self.names:
            return True
        if any(name.endswith(s) or name == s[1:] for s in self.suffixes):
            return True
        return self._is_my_address(name)

    def _is_my_address(self, name: str) -> bool:
        """Whether `name` is an address of this machine now: the kernel lets us bind to exactly those."""
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return False
        if ip.is_unspecified or ip.is_multicast:
            return False
        now = time.monotonic()
        with self._lock:
            hit = self._local.get(name)
            if hit is not None and now - hit[1] < _LOCAL_CHECK_S:
                return hit[0]
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.bind((name, 0))
            mine = True
        except OSError:
            mine = False
        with self._lock:
            if len(self._local) > 256:
                self._local.clear()
            self._local[name] = (mine, now)
        return mine


class TrustedProxies:
    """WSGI middleware: X-Forwarded-* are applied for requests whose peer is a trusted proxy, only."""

    def __init__(self, app, proxies: Iterable[str]) -> None:
        self.app = app
        self.networks = tuple(ipaddress.ip_network(p, strict=False) for p in proxies)
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)

    def trusts(self, peer: str | None) -> bool:
        try:
            ip = ipaddress.ip_address((peer or "").split("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)

    def __call__(self, environ, start_response):
        if self.trusts(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def install(app: Flask, transport: Transport) -> AllowedHosts:
    """Install the host check (first of every request's checks), relative redirects, HSTS and the proxy fix."""
    allowed = AllowedHosts(transport.allowed_hosts, transport.bind_host)

    def check_host() -> None:
        host = request.environ.get("HTTP_HOST")
        if host is None or allowed.allows(host):
            return                      # HTTP/1.0 without a Host header: nothing to reflect, nothing to rebind
        shown = host_name(host)[:100]
        raise ApiError(400, f"this desk does not answer to the host name {shown!r} (Host header {host[:120]!r}); "
                            f"it answers to its own names and addresses and to [web] allowed_hosts. An admin can "
                            f"allow it with: deskpi config set web.allowed_hosts '[\"{shown}\"]' "
                            f"(or '[\"*\"]' for any name), then restart deskpi")

    def finish(resp: Response) -> Response:
        location = resp.headers.get("Location")
        if location:
            resp.headers["Location"] = relative(location)
        if transport.hsts and request.is_secure:
            resp.headers["Strict-Transport-Security"] = HSTS
        return resp

    app.before_request_funcs.setdefault(None, []).insert(0, check_host)
    app.after_request(finish)
    if transport.trusted_proxies:
        app.wsgi_app = TrustedProxies(app.wsgi_app, transport.trusted_proxies)
    return allowed


def relative(location: str) -> str:
    """A Location as a path on this site: scheme and host dropped, never "//" (another host to a browser)."""
    parts = urlsplit(location)
    if not (parts.scheme or parts.netloc or location.startswith(("//", "/\\", "\\"))):
        return location
    path = "/" + parts.path.lstrip("/\\")
    return urlunsplit(("", "", path, parts.query, parts.fragment))
