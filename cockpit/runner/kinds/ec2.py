"""EC2: the app servers' instances running, stopped and spread over AZs; start and stop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cockpit.estate import ec2
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


def _ec2_running(c: m.Ec2Running, ctx: ProbeContext) -> Verdict:
    return _ec2_state(c.servers, "running", ctx)


def _ec2_stopped(c: m.Ec2Stopped, ctx: ProbeContext) -> Verdict:
    return _ec2_state(c.servers, "stopped", ctx)


def _ec2_state(servers: list[str], wanted: str, ctx: ProbeContext) -> Verdict:
    snap = ec2.describe_servers(ctx.handle, servers)
    if snap.error:
        return Verdict(False, f"EC2: {snap.error}", {"error": snap.error})
    evidence = {i.server: {"instance_id": i.instance_id, "state": i.state, "az": i.az}
                for i in snap.instances}
    off = [f"{i.server} {i.state}" for i in snap.instances if i.state != wanted]
    if off:
        return Verdict(False, f"not {wanted}: {', '.join(off)}", evidence)
    return Verdict(True, f"{len(servers)} instance(s) {wanted}", evidence)


def _ec2_spread(c: m.Ec2Spread, ctx: ProbeContext) -> Verdict:
    snap = ec2.describe_servers(ctx.handle, c.servers)
    if snap.error:
        return Verdict(False, f"EC2: {snap.error}", {"error": snap.error})
    azs = sorted({i.az for i in snap.instances if i.az and i.state == "running"})
    evidence = {"azs": azs, "by_server": {i.server: i.az for i in snap.instances}}
    ok = len(azs) >= c.min_azs
    return Verdict(ok, f"running in {len(azs)} AZ(s) ({', '.join(azs) or 'none'}), "
                       f"need {c.min_azs}", evidence)


def _ec2_start(a: m.Ec2Start, ctx: ActionContext) -> dict[str, Any]:
    return ec2.start_instances(ctx.handle, a.servers)


def _ec2_stop(a: m.Ec2Stop, ctx: ActionContext) -> dict[str, Any]:
    return ec2.stop_instances(ctx.handle, a.servers)


def _started(a: m.Ec2Start, ctx: ProbeContext) -> Verdict:
    return _came_to(a.servers, "running", "pending", ctx)


def _stopped(a: m.Ec2Stop, ctx: ProbeContext) -> Verdict:
    return _came_to(a.servers, "stopped", "stopping", ctx)


def _came_to(servers: list[str], wanted: str, on_the_way: str, ctx: ProbeContext) -> Verdict:
    """The instances in the state the action asks for; worth waiting while every one that
    is not is on its way there."""
    verdict = _ec2_state(servers, wanted, ctx)
    if verdict.ok or "error" in verdict.evidence:
        return verdict
    states = [seen.get("state") for seen in verdict.evidence.values() if isinstance(seen, dict)]
    return replace(verdict, pending=all(s in (wanted, on_the_way) for s in states))


PROBES: Probes = {
    m.Ec2Running: _ec2_running,
    m.Ec2Stopped: _ec2_stopped,
    m.Ec2Spread: _ec2_spread,
}

ACTIONS: Actions = {
    m.Ec2Start: _ec2_start,
    m.Ec2Stop: _ec2_stop,
}

EFFECTS: Effects = {
    m.Ec2Start: _started,
    m.Ec2Stop: _stopped,
}

WATCHED_BY: WatchedBy = {
    m.Ec2Running: "apps",
    m.Ec2Stopped: "apps",
    m.Ec2Spread: "apps",
}
