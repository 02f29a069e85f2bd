"""The app servers' own health endpoint: status, body, version and database, as they say."""

from __future__ import annotations

from typing import Any

from cockpit.estate import http
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


PROBES: Probes = {
    m.HttpHealthy: _http_healthy,
}

ACTIONS: Actions = {}  # health is only ever observed

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {
    m.HttpHealthy: "apps",
}
