"""HTTP health of the app servers: status, latency, version, and their database's state."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import AppHealth, AppHealthSnapshot

TIMEOUT = httpx.Timeout(3.0, connect=2.0)
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
                             servers: list[str]) -> AppHealthSnapshot:
    """Every server's health endpoint in flight at once on one pooled, keep-alive client:
    the wait is the slowest server's, and no thread waits for any of them."""
    results = await asyncio.gather(*(check_one_async(client, handle, s) for s in servers))
    return AppHealthSnapshot(servers=list(results))


async def check_one_async(client: httpx.AsyncClient, handle: EstateHandle,
                          server: str) -> AppHealth:
    base = _base(handle, server)
    started = time.perf_counter()
    try:
        response = await client.get(base.url)
    except httpx.HTTPError as exc:
        return _failed(base, exc)
    return _answered(base, response, started)


def async_client() -> httpx.AsyncClient:
    """The poller's one client: keep-alive to every server, a small pool per server."""
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False,
                             transport=PoolPerServer())


class PoolPerServer(httpx.AsyncBaseTransport):
    """Keep-alive connections kept per server. One pool of a hundred connections scans
    every connection for every request it places (and polls each socket while at it), so
    sixty health checks at once cost a second of CPU; a pool per server costs a lookup."""

    PER_SERVER = httpx.Limits(max_connections=2, max_keepalive_connections=2)

    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int | None], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = (request.url.scheme, request.url.host, request.url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(limits=self.PER_SERVER)
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
    body = response.text[:BODY_LIMIT]
    fields = _fields(body)
    return base.model_copy(
        update={
            "status": response.status_code,
            "latency_ms": round(latency, 1),
            "version": fields.get("version"),
            "database": fields.get("database"),
            "body": body,
            "error": None if response.status_code == 200 else f"HTTP {response.status_code}",
        }
    )


_shared: httpx.Client | None = None


def _client() -> httpx.Client:
    """One pooled client for every health check (keep-alive to each server)."""
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
