"""Load balancer target groups: targets healthy or drained; register and deregister."""

from __future__ import annotations

from typing import Any

from cockpit.estate import elb
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _targets_healthy(c: m.TargetsHealthy, ctx: ProbeContext) -> Verdict:
    snap = elb.target_health(ctx.handle, c.target_group)
    if snap.error:
        return Verdict(False, f"{c.target_group}: {snap.error}", {"error": snap.error})
    states = {t.server: t.state for t in snap.targets}
    evidence = {t.server: {"state": t.state, "reason": t.reason, "az": t.az}
                for t in snap.targets}
    off = [f"{s} {states.get(s, 'not registered')}"
           for s in c.servers if states.get(s) != "healthy"]
    if off:
        return Verdict(False, f"{c.target_group}: {', '.join(off)}", evidence)
    return Verdict(True, f"{c.target_group}: {len(c.servers)} target(s) healthy", evidence)


def _targets_drained(c: m.TargetsDrained, ctx: ProbeContext) -> Verdict:
    snap = elb.target_health(ctx.handle, c.target_group)
    if snap.error:
        return Verdict(False, f"{c.target_group}: {snap.error}", {"error": snap.error})
    present = [f"{t.server} {t.state}" for t in snap.targets if t.server in c.servers]
    evidence = {t.server: {"state": t.state, "reason": t.reason} for t in snap.targets}
    if present:
        return Verdict(False, f"{c.target_group} still has {', '.join(present)}", evidence)
    return Verdict(True, f"{c.target_group}: {len(c.servers)} target(s) drained", evidence)


def _register(a: m.Register, ctx: ActionContext) -> dict[str, Any]:
    return elb.register(ctx.handle, a.target_group, a.servers)


def _deregister(a: m.Deregister, ctx: ActionContext) -> dict[str, Any]:
    return elb.deregister(ctx.handle, a.target_group, a.servers)


def _registered(a: m.Register, ctx: ProbeContext) -> Verdict:
    """Each server a target of the group again, whatever its health (an `until` judges
    that): registered, not draining out of it."""
    snap = elb.target_health(ctx.handle, a.target_group)
    if snap.error:
        return Verdict(False, f"{a.target_group}: {snap.error}", {"error": snap.error})
    states = {t.server: t.state for t in snap.targets}
    evidence = {t.server: {"state": t.state, "reason": t.reason} for t in snap.targets}
    off = [f"{s} {states.get(s, 'not registered')}" for s in a.servers
           if states.get(s) in (None, "draining")]
    if off:
        return Verdict(False, f"{a.target_group}: {', '.join(off)}", evidence)
    held = ", ".join(f"{s} {states[s]}" for s in a.servers)
    return Verdict(True, f"{a.target_group}: {len(a.servers)} target(s) registered ({held})",
                   evidence)


def _deregistered(a: m.Deregister, ctx: ProbeContext) -> Verdict:
    """Each server out of the group, or draining out of it: the deregistration was made."""
    snap = elb.target_health(ctx.handle, a.target_group)
    if snap.error:
        return Verdict(False, f"{a.target_group}: {snap.error}", {"error": snap.error})
    evidence = {t.server: {"state": t.state, "reason": t.reason} for t in snap.targets}
    still = [f"{t.server} {t.state}" for t in snap.targets
             if t.server in a.servers and t.state != "draining"]
    if still:
        return Verdict(False, f"{a.target_group} still has {', '.join(still)}", evidence)
    return Verdict(True, f"{a.target_group}: {len(a.servers)} target(s) deregistered "
                         "(draining or gone)", evidence)


def _target_group_matches(c: m.TargetGroupMatches, ctx: ProbeContext) -> Verdict:
    spec = next(g for g in ctx.handle.estate.target_groups if g.id == c.target_group)
    try:
        live = elb.target_group_settings(ctx.handle, c.target_group)
    except probe_errors() as exc:
        error = describe_error(exc)
        return Verdict(False, f"{c.target_group}: {error}", {"error": error})
    wanted: dict[str, Any] = {
        "port": spec.port, "health_path": spec.health_path, "interval": int(spec.interval),
        "healthy_threshold": spec.healthy_threshold,
        "unhealthy_threshold": spec.unhealthy_threshold,
        "deregistration_delay": int(spec.deregistration_delay)}
    off = [f"{k} {live.get(k)} (plan: {v})" for k, v in wanted.items() if live.get(k) != v]
    evidence = {"live": live, "plan": wanted}
    if off:
        return Verdict(False, f"{c.target_group} differs from the plan: {', '.join(off)}",
                       evidence)
    return Verdict(True, f"{c.target_group}: port, health check and deregistration delay "
                         "as the plan says", evidence)


PROBES: Probes = {
    m.TargetGroupMatches: _target_group_matches,
    m.TargetsHealthy: _targets_healthy,
    m.TargetsDrained: _targets_drained,
}

ACTIONS: Actions = {
    m.Register: _register,
    m.Deregister: _deregister,
}

EFFECTS: Effects = {
    m.Register: _registered,
    m.Deregister: _deregistered,
}

WATCHED_BY: WatchedBy = {
    m.TargetsHealthy: "targets",
    m.TargetsDrained: "targets",
}
