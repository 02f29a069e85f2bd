"""HTTP as the app servers' health endpoints answer it (status, latency, version, their
database's state), and as a client gets it: a request through a name, resolved where the
client resolves it."""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from cockpit.estate import dns
from cockpit.estate.handle import EstateHandle
from cockpit.estate.health_wire import Answer, Failed, HealthWire
from cockpit.estate.snapshots import AppHealth, AppHealthSnapshot, HttpAnswer
from cockpit.estate.tls import tls_context

TIMEOUT = httpx.Timeout(3.0, connect=2.0)
REQUEST_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
BODY_LIMIT = 2000


def check_health(handle: EstateHandle, servers: list[str]) -> AppHealthSnapshot:
    """Every server's health endpoint, asked at once."""
    if not servers:
        return AppHealthSnapshot()
    with ThreadPoolExecutor(max_workers=min(64, len(servers))) as pool:
        results = list(pool.map(lambda s: check_one(handle, s), servers))
    return AppHealthSnapshot(servers=results)


def check_one(handle: EstateHandle, server: str) -> AppHealth:
    base = _base(handle, server)
    started = time.perf_counter()
    try:
        response = _client().get(base.url)
    except httpx.HTTPError as exc:
        return _failed(base, exc)
    return _answered(base, response, started)


async def check_health_async(client: httpx.AsyncClient, handle: EstateHandle,
                             servers: list[str], gate: asyncio.Semaphore,
                             wire: HealthWire | None = None) -> AppHealthSnapshot:
    """Every server's health endpoint asked at once, each on its kept connection (`wire`),
    else on one pooled, keep-alive client, no thread waiting for any of them, as many in
    flight at once as `gate` lets through: each one's time is then the server's, not a
    queue's in this process."""
    sites = {s.id: s.site for s in handle.estate.app_servers}
    results = await asyncio.gather(*(
        check_one_async(client, AppHealth(server=s, site=sites[s], url=handle.health_url(s)),
                        gate, wire) for s in servers))
    return AppHealthSnapshot(servers=list(results))


async def check_one_async(client: httpx.AsyncClient, base: AppHealth,
                          gate: asyncio.Semaphore, wire: HealthWire | None = None) -> AppHealth:
    async with gate:  # the clock starts once the request may go
        if wire is not None:
            reply = await wire.get(base.url)
            if isinstance(reply, Answer):
                return _answered_as(base, reply.status, reply.text, reply.latency_ms)
            if isinstance(reply, Failed):
                return base.model_copy(update={"error": reply.error})
            # Anything else is asked again through httpx, so the pane says it in its words.
        started = time.perf_counter()
        try:
            response = await client.get(base.url)
        except httpx.HTTPError as exc:
            return _failed(base, exc)
        return _answered(base, response, started)


def health_wire() -> HealthWire:
    """The poller's kept connections to the app servers, with httpx's time limits and its
    TLS context (the one the pooled client verifies with)."""
    return HealthWire(TIMEOUT.connect or 2.0, TIMEOUT.read or 3.0, tls_context)


def read_ahead() -> None:
    """Import what the first health check would: httpx loads httpcore with its first
    transport, and httpcore loads trio where it is installed (half a second)."""
    importlib.import_module("httpcore")


def async_client() -> httpx.AsyncClient:
    """The poller's one client: keep-alive to every server, a small pool per server."""
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                             transport=PoolPerServer())


class PoolPerServer(httpx.AsyncBaseTransport):
    """Keep-alive connections kept per server. One pool of a hundred connections scans
    every connection for every request it places (and polls each socket while at it), so
    sixty health checks at once cost a second of CPU; a pool per server costs a lookup.

    Every pool shares one TLS context, made at the first request: a transport left to
    make its own loads the whole CA bundle again, 50 ms of CPU and 0.9 MB kept for each
    server (at 600 servers, half a minute and 518 MB). The context is httpx's default
    (verify against the CA bundle, SSL_CERT_FILE and SSL_CERT_DIR honoured), as before."""

    PER_SERVER = httpx.Limits(max_connections=2, max_keepalive_connections=2)

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int | None], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(
                verify=tls_context(), limits=self.PER_SERVER)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


def _base(handle: EstateHandle, server: str) -> AppHealth:
    site = next(s.site for s in handle.estate.app_servers if s.id == server)
    return AppHealth(server=server, site=site, url=handle.health_url(server))


def _failed(base: AppHealth, exc: httpx.HTTPError) -> AppHealth:
    return base.model_copy(update={"error": f"{type(exc).__name__}: {exc}".rstrip(": ")})


def _answered(base: AppHealth, response: httpx.Response, started: float) -> AppHealth:
    latency = (time.perf_counter() - started) * 1000
    return _answered_as(base, response.status_code, response.text, round(latency, 1))


def _answered_as(base: AppHealth, status: int, text: str, latency_ms: float) -> AppHealth:
    body = text[:BODY_LIMIT]
    fields = _fields(body)
    return base.model_copy(
        update={
            "status": status,
            "latency_ms": latency_ms,
            "version": fields.get("version"),
            "database": fields.get("database"),
            "body": body,
            "error": None if status == 200 else f"HTTP {status}",
        }
    )


def request(handle: EstateHandle, url: str, *, method: str = "GET", host: str | None = None,
            resolver: str | None = None, through: str | None = None) -> HttpAnswer:
    """One request as a client behind `resolver` (this host's resolver if None) makes it:
    the URL's host name (or `through`, an ALB's DNS name, in its place) resolved there, the
    request sent to the first address it gives, with `host` (else the URL's) as the Host
    header and, over TLS, as the name asked for. A new connection each time, as a new
    client's would be."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return HttpAnswer(method=method, url=url, host=host or "", port=0, error=str(exc))
    port = target.port or (443 if target.scheme == "https" else 80)
    name = through or target.host
    literal = _is_address(name)
    base = HttpAnswer(method=method, url=url, host=host or target.netloc.decode("ascii"),
                      through=through, resolver=None if literal else resolver, port=port)
    try:
        address = name if literal else _address_of(handle, name, port, resolver)
    except (dns.NoAddress, OSError) as exc:
        return base.model_copy(update={"error": f"no address: {exc}"})
    base = base.model_copy(update={"address": address})
    connect_host, connect_port = handle.http_address(address, port)
    extensions = {"sni_hostname": _bare(base.host)} if target.scheme == "https" else {}
    started = time.perf_counter()
    try:
        response = _client().request(
            method, target.copy_with(host=connect_host, port=connect_port),
            headers={"Host": base.host, "Connection": "close"}, extensions=extensions,
            timeout=REQUEST_TIMEOUT)
    except httpx.HTTPError as exc:
        return base.model_copy(update={"error": _why(exc), "latency_ms": _ms(started)})
    return base.model_copy(update={
        "status": response.status_code, "reason": response.reason_phrase,
        "latency_ms": _ms(started), "body": response.text[:BODY_LIMIT]})


def _address_of(handle: EstateHandle, name: str, port: int, resolver: str | None) -> str:
    if resolver is not None:
        return dns.addresses(handle, resolver, name)[0]
    found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    return str(found[0][4][0])


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _bare(host: str) -> str:
    """A Host header's name without its port (`[::1]:8443` -> `::1`)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _why(exc: httpx.HTTPError) -> str:
    """Why a request got no answer, in the words an engineer looks for."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "timeout connecting"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout waiting for the answer"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        return "connection refused" if "refused" in text.lower() else f"cannot connect: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed without an answer"
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


_shared: httpx.Client | None = None


def _client() -> httpx.Client:
    """One pooled client for every health check (keep-alive to each server) and request."""
    global _shared
    if _shared is None:
        _shared = httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
    return _shared


def _fields(body: str) -> dict[str, str]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: str(v) for k, v in parsed.items() if isinstance(v, str | int | float)}
