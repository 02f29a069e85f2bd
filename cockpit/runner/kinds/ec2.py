"""EC2: the app servers' instances running, stopped and spread over AZs; start and stop."""

from __future__ import annotations

from typing import Any

from cockpit.estate import ec2
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
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


PROBES: Probes = {
    m.Ec2Running: _ec2_running,
    m.Ec2Stopped: _ec2_stopped,
    m.Ec2Spread: _ec2_spread,
}

ACTIONS: Actions = {
    m.Ec2Start: _ec2_start,
    m.Ec2Stop: _ec2_stop,
}

WATCHED_BY: WatchedBy = {
    m.Ec2Running: "apps",
    m.Ec2Stopped: "apps",
    m.Ec2Spread: "apps",
}
