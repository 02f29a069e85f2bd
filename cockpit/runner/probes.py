"""Conditions judged against the estate: the same probes serve gates, `until` and panes.

Each probe returns a Verdict: whether the condition holds, a one-line summary an engineer
reads, and the evidence (what was seen) that the audit log keeps with the step's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cockpit.estate import dns, ec2, elb, http, route53
from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeContext:
    handle: EstateHandle
    # Outputs of actions, by step id (e.g. the Route 53 change ids an UPSERT returned).
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_id: str | None = None
    action: Any | None = None  # the step's `do`, for judging what it meant to change


def judge(condition: Any, ctx: ProbeContext) -> Verdict:
    probe = _probe(type(condition))
    return probe(condition, ctx)


def _probe(kind: type) -> Callable[[Any, ProbeContext], Verdict]:
    if kind not in _PROBES:  # the database window's kinds build on this module's names
        from cockpit.runner.database_probes import PROBES

        _PROBES.update(PROBES)
    return _PROBES[kind]


def judge_all(conditions: list[Any], ctx: ProbeContext) -> Verdict:
    verdicts = [judge(c, ctx) for c in conditions]
    failing = [v.summary for v in verdicts if not v.ok]
    evidence: dict[str, Any] = {}
    for condition, verdict in zip(conditions, verdicts, strict=True):
        key, n = condition.kind, 2
        while key in evidence:  # two conditions of one kind: keep both
            key, n = f"{condition.kind}#{n}", n + 1
        evidence[key] = verdict.evidence
    summary = "; ".join(failing) if failing else "; ".join(v.summary for v in verdicts)
    return Verdict(not failing, summary, evidence)


def describe(condition: Any) -> str:
    """A condition in words, for gates, progress lines and reports."""
    fields = condition.model_dump(exclude={"kind"}, exclude_defaults=True)
    args = ", ".join(f"{k}={_short(v)}" for k, v in fields.items())
    return f"{condition.kind}({args})"


def _short(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)


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


def _http_healthy(c: m.HttpHealthy, ctx: ProbeContext) -> Verdict:
    snap = http.check_health(ctx.handle, c.servers)
    evidence: dict[str, Any] = {}
    failing = []
    for h in snap.servers:
        evidence[h.server] = {"status": h.status, "latency_ms": h.latency_ms,
                              "version": h.version, "database": h.database, "error": h.error}
        passed = h.status == c.status and (c.contains is None or c.contains in (h.body or ""))
        if not passed:
            failing.append(f"{h.server} {h.error or h.status}")
    if failing:
        return Verdict(False, f"unhealthy: {', '.join(failing)}", evidence)
    return Verdict(True, f"{len(c.servers)} server(s) healthy", evidence)


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


def _change_insync(c: m.ChangeInsync, ctx: ProbeContext) -> Verdict:
    source = c.of or ctx.step_id or ""
    change_ids = ctx.outputs.get(source, {}).get("change_ids", [])
    if not change_ids and isinstance(ctx.action, m.Upsert) and c.of is None:
        return _records_hold(ctx.action, ctx)
    if not change_ids:
        return Verdict(False, f"no Route 53 change recorded for step {source}", {})
    statuses = {cid: route53.change_status(ctx.handle, cid) for cid in change_ids}
    evidence = {cid: {"status": s.status, "error": s.error} for cid, s in statuses.items()}
    pending = [f"{cid} {s.error or s.status}"
               for cid, s in statuses.items() if s.status != "INSYNC"]
    if pending:
        return Verdict(False, f"Route 53 change {', '.join(pending)}", evidence)
    return Verdict(True, f"Route 53 change(s) INSYNC: {', '.join(change_ids)}", evidence)


def _records_hold(action: m.Upsert, ctx: ProbeContext) -> Verdict:
    """No change id on record (the driver died before writing it): judge by what Route 53
    holds. An UPSERT is idempotent, so the records holding its value means it happened."""
    snap = route53.record_values(ctx.handle, action.records)
    if snap.error:
        return Verdict(False, f"Route 53: {snap.error}", {"error": snap.error})
    held = {r.record: r.value for r in snap.records}
    wanted = {r: route53.resolve_value(ctx.handle, r, action.value) for r in action.records}
    evidence = {"no_change_id": True, "held": held, "wanted": wanted}
    off = [r for r in action.records if _norm(held.get(r) or "") != _norm(wanted[r])]
    if off:
        return Verdict(False, f"no change id recorded, and {', '.join(off)} not switched",
                       evidence)
    return Verdict(True, "no change id recorded; Route 53 holds the new value(s)", evidence)


def _resolves_to(c: m.ResolvesTo, ctx: ProbeContext) -> Verdict:
    try:
        expected = {r: _norm(route53.resolve_value(ctx.handle, r, c.value)) for r in c.records}
    except Exception as exc:  # an unreachable ELB API must not escape a probe
        return Verdict(False, f"cannot tell the expected value: {exc}", {"error": str(exc)})
    snap = dns.resolve(ctx.handle, c.records, c.resolvers or None)
    evidence: dict[str, Any] = {"expected": expected, "answers": {}}
    wrong = []
    for a in snap.answers:
        evidence["answers"].setdefault(a.record, {})[a.resolver] = {
            "value": a.value, "ttl": a.ttl, "error": a.error}
        if a.error or _norm(a.value or "") != expected[a.record]:
            wrong.append(f"{a.resolver} says {a.error or a.value} for {a.record}")
    if wrong:
        return Verdict(False, "; ".join(wrong), evidence)
    return Verdict(True, f"{len(snap.answers)} answer(s) match", evidence)


def _norm(value: str) -> str:
    return ",".join(sorted(v.strip().lower().rstrip(".") + "." for v in value.split(",") if v))


_PROBES: dict[type, Callable[[Any, ProbeContext], Verdict]] = {
    m.Ec2Running: _ec2_running,
    m.Ec2Stopped: _ec2_stopped,
    m.Ec2Spread: _ec2_spread,
    m.HttpHealthy: _http_healthy,
    m.TargetsHealthy: _targets_healthy,
    m.TargetsDrained: _targets_drained,
    m.ChangeInsync: _change_insync,
    m.ResolvesTo: _resolves_to,
}
