"""Who may watch from a browser.

On a loopback address only someone on the cockpit's host reaches the page, normally through
an SSH tunnel, so the SSH login is the login. On any other address the page asks for the
pass printed when the server started: `?token=` on the first URL, then a cookie. Every
request is checked, the page, its assets and the websocket that starts a watcher, and one
without the pass gets 403. The token is never logged: the first request trades it for the
cookie and a redirect, so it leaves the address bar, the history and any Referer at once.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

TOKEN_PARAMETER = "token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """A name or an address that only this machine reaches."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Bind:
    """Where the server listens: `HOST:PORT`, an IPv6 host in brackets."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Bind:
        host, colon, port = text.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
        return cls(host.strip("[]"), int(port))

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class WatchPass:
    """The token a browser must hold on a non-loopback address; its repr hides it."""

    token: str = field(repr=False)
    port: int

    @classmethod
    def issue(cls, port: int) -> WatchPass:
        return cls(secrets.token_urlsafe(32), port)

    @property
    def cookie(self) -> str:
        """Cookies are per host, not per port: two servers on one host keep apart."""
        return f"cockpit_watch_{self.port}"

    def admits(self, offered: str | None) -> bool:
        if offered is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())


def pass_required(watch_pass: WatchPass) -> Middleware:
    """Every request holds the pass, in its query (traded for the cookie) or its cookie."""

    @web.middleware
    async def check_pass(request: web.Request, handler: Handler) -> web.StreamResponse:
        offered = request.query.get(TOKEN_PARAMETER)
        if offered is not None:
            if not watch_pass.admits(offered):
                raise web.HTTPForbidden(text="not a valid watch token\n")
            raise _traded_for_cookie(request, watch_pass)
        if not watch_pass.admits(request.cookies.get(watch_pass.cookie)):
            raise web.HTTPForbidden(text="open the URL with the token that `cockpit watch "
                                         "--web` printed when it started\n")
        return await handler(request)

    return check_pass


def _traded_for_cookie(request: web.Request, watch_pass: WatchPass) -> web.HTTPFound:
    query = request.url.query.copy()
    query.popall(TOKEN_PARAMETER)
    found = web.HTTPFound(location=str(request.rel_url.with_query(query)))
    # Strict: a page on another site cannot make the browser open a watcher with it.
    found.set_cookie(watch_pass.cookie, watch_pass.token, httponly=True, samesite="Strict",
                     secure=request.secure, path="/")
    return found


def this_site_only(loopback: bool) -> Middleware:
    """A websocket may be opened from any page the browser shows (browsers apply no
    same-origin rule to it), so it must come from our own page. On loopback, where no
    token is asked, the Host must be a loopback name too: otherwise a site whose name
    resolves to 127.0.0.1 (DNS rebinding) would be "our own page"."""

    @web.middleware
    async def check_site(request: web.Request, handler: Handler) -> web.StreamResponse:
        if loopback and not is_loopback(_host_name(request.host)):
            raise web.HTTPForbidden(text="on a loopback address, open it as localhost\n")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="another site's page may not open a watcher\n")
        return await handler(request)

    return check_site


def _host_name(host: str) -> str:
    """`name:port`, `[v6]:port` or a bare name, without its port."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host
