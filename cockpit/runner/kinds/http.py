"""HTTP: the app servers' own health endpoint (status, body, version and database, as they
say), and a request as a client makes it, through a name (the ALB's, a switched record)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cockpit.estate import elb, http
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.snapshots import HttpAnswer
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _http_healthy(c: m.HttpHealthy, ctx: ProbeContext) -> Verdict:
    snap = http.check_health(ctx.handle, c.servers)
    evidence: dict[str, Any] = {}
    failing = []
    for h in snap.servers:
        evidence[h.server] = {"status": h.status, "latency_ms": h.latency_ms,
                              "version": h.version, "database": h.database, "error": h.error}
        passed = h.status == c.status and (c.contains is None or c.contains in (h.body or ""))
        if not passed:
            # what the app says of its database is often why (a login that fails, a
            # database read-only or restoring)
            why = f" (database: {h.database})" if h.database not in (None, "ok") else ""
            failing.append(f"{h.server} {h.error or h.status}{why}")
    if failing:
        return Verdict(False, f"unhealthy: {', '.join(failing)}", evidence)
    return Verdict(True, f"{len(c.servers)} server(s) healthy", evidence)


def _http_get(c: m.HttpGet, ctx: ProbeContext) -> Verdict:
    """One request per resolver named (else the plan's first, else this host's): a client
    behind each must get its answer."""
    resolvers: list[str | None] = [*c.resolvers] or \
        [r.id for r in ctx.handle.estate.resolvers[:1]] or [None]
    try:
        through = elb.load_balancer_dns_name(ctx.handle, c.load_balancer) \
            if c.load_balancer else None
    except probe_errors() as exc:
        error = describe_error(exc)
        return Verdict(False, f"{c.load_balancer}: {error}", {"error": error})
    with ThreadPoolExecutor(max_workers=len(resolvers)) as pool:
        answers = list(pool.map(lambda r: http.request(
            ctx.handle, c.url, method=c.method, host=c.host, resolver=r, through=through),
            resolvers))
    faults = [_fault(c, a) for a in answers]
    evidence: dict[str, Any] = {a.resolver or "this host": _seen(a) for a in answers}
    said = "; ".join(_said(c, a, why) for a, why in zip(answers, faults, strict=True))
    return Verdict(all(why is None for why in faults), said, evidence)


def _fault(c: m.HttpGet, a: HttpAnswer) -> str | None:
    """What is wrong with the answer, None if nothing."""
    if a.error is not None:
        return a.error
    if a.status != c.status:
        return f"expected {c.status}"
    if c.contains is not None and c.contains not in (a.body or ""):
        return f"the body lacks {c.contains!r}"
    if c.max_latency_ms is not None and (a.latency_ms or 0) > c.max_latency_ms:
        return f"slower than {c.max_latency_ms:g} ms"
    return None


def _said(c: m.HttpGet, a: HttpAnswer, fault: str | None) -> str:
    """`GET URL [through ALB] -> ADDRESS:PORT via RESOLVER: 200 OK in 3 ms`, and what is
    wrong."""
    asked = f"{c.method} {c.url}" + (f" (Host {c.host})" if c.host else "")
    if a.through is not None:
        asked += f" through {a.through.rstrip('.')}"
    if a.address is not None:
        asked += f" -> {a.address}:{a.port}"
    if a.resolver is not None:
        asked += f" via {a.resolver}"
    if a.status is None:
        return f"{asked}: {fault}"
    got = f"{a.status} {a.reason or ''}".rstrip() + f" in {a.latency_ms:g} ms"
    return f"{asked}: {got}" + (f", {fault}" if fault else "")


def _seen(a: HttpAnswer) -> dict[str, Any]:
    return {"address": a.address, "port": a.port, "status": a.status,
            "latency_ms": a.latency_ms, "error": a.error, "host": a.host,
            "body": (a.body or "")[:200]}


PROBES: Probes = {
    m.HttpHealthy: _http_healthy,
    m.HttpGet: _http_get,
}

ACTIONS: Actions = {}  # health is only ever observed

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {
    m.HttpHealthy: "apps",
    m.HttpGet: "apps",
}
