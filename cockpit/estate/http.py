"""HTTP health of the app servers: status, latency, version, and their database's state."""

from __future__ import annotations

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
    site = next(s.site for s in handle.estate.app_servers if s.id == server)
    url = handle.health_url(server)
    base = AppHealth(server=server, site=site, url=url)
    started = time.perf_counter()
    try:
        response = _client().get(url)
    except httpx.HTTPError as exc:
        return base.model_copy(update={"error": f"{type(exc).__name__}: {exc}".rstrip(": ")})
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
