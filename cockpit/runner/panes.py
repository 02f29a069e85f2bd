"""What each live pane shows, probed from the estate and reduced to rows with a verdict.

A pane is a small table: the driver builds it from fresh snapshots, publishes it in
`state.json`, and a watcher renders the very same rows, so both screens agree. Each row
carries a status (ok, warn, bad, info) that the screen shows as a word or mark as well as
a colour, so it reads in 16 colours and with NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cockpit.estate import dns, ec2, elb, http, route53
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import utcnow
from cockpit.plan.models import Plan, Upsert
from cockpit.runner.state import RunState, Status

RowStatus = Literal["ok", "warn", "bad", "info"]

PANES: dict[str, str] = {
    "apps": "App servers",
    "targets": "ALB targets",
    "ag": "SQL availability group",
    "backup": "Backup and restore",
    "dns": "DNS",
}

# Which condition kinds wait on which pane: that pane polls faster while such a step runs.
WATCHED_BY: dict[str, frozenset[str]] = {
    "apps": frozenset({"ec2.running", "ec2.stopped", "ec2.spread", "http.healthy"}),
    "targets": frozenset({"elb.targets_healthy", "elb.targets_drained"}),
    "dns": frozenset({"route53.insync", "dns.resolves_to"}),
    "ag": frozenset({"sql.ag_synchronized", "sql.no_user_sessions"}),
    "backup": frozenset({"sql.backup_done", "sql.restore_done", "s3.object_present"}),
}


class PaneRow(BaseModel):
    cells: list[str]
    status: RowStatus = "info"


class PaneView(BaseModel):
    pane: str
    title: str
    columns: list[str]
    rows: list[PaneRow] = []
    error: str | None = None
    note: str | None = None
    taken_at: datetime = Field(default_factory=utcnow)

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or utcnow()) - self.taken_at).total_seconds()


def probe_pane(pane: str, handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    """One pane's fresh view. Never raises: failures become the view's error."""
    try:
        return _BUILDERS[pane](handle, plan, run)
    except Exception as exc:  # a pane must degrade, never take the cockpit down
        return PaneView(pane=pane, title=PANES[pane], columns=[],
                        error=f"{type(exc).__name__}: {exc}")


def _apps(handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    servers = [s.id for s in plan.estate.app_servers]
    aws = [s.id for s in plan.estate.app_servers if s.site == "aws"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        instances_f = pool.submit(ec2.describe_servers, handle, aws)
        health = http.check_health(handle, servers)
    instances = instances_f.result()
    by_server = {i.server: i for i in instances.instances}
    rows = []
    for h in health.servers:
        inst = by_server.get(h.server)
        where = _az(inst.az, plan.estate.region) if inst and inst.az else (
            "DC" if h.site == "datacentre" else "?")
        ec2_state = inst.state if inst else "-"
        status: RowStatus = "ok" if h.healthy else "bad"
        rows.append(PaneRow(status=status, cells=[
            h.server, where, ec2_state,
            str(h.status) if h.status else (h.error or "-")[:24],
            f"{h.latency_ms:.0f}" if h.latency_ms is not None else "-",
            (h.version or "-").removeprefix("oms-"), h.database or "-"]))
    return PaneView(pane="apps", title=PANES["apps"], error=instances.error,
                    columns=["server", "AZ", "EC2", "http", "ms", "version", "db"],
                    rows=rows)


def _az(az: str, region: str) -> str:
    """`ap-southeast-2a` -> `2a`: the region is the plan's, the letter is what differs."""
    return az[len(region) - 1:] if az.startswith(region) else az


_TARGET_STATUS: dict[str, RowStatus] = {
    "healthy": "ok", "initial": "warn", "draining": "warn", "unhealthy": "bad",
    "unused": "bad", "unavailable": "bad"}


def _targets(handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    rows: list[PaneRow] = []
    errors = []
    for group in plan.estate.target_groups:
        snap = elb.target_health(handle, group.id)
        if snap.error:
            errors.append(f"{group.id}: {snap.error}")
        if not snap.targets and not snap.error:
            rows.append(PaneRow(cells=[group.id, "(no targets)", "-", "-", "-", "-"]))
        for t in snap.targets:
            rows.append(PaneRow(status=_TARGET_STATUS.get(t.state, "info"), cells=[
                group.id, t.server, str(t.port or "-"),
                _az(t.az, plan.estate.region) if t.az else "-", t.state,
                (t.reason or "").removeprefix("Target.").removeprefix("Elb.")]))
    return PaneView(pane="targets", title=PANES["targets"], rows=rows,
                    error="; ".join(errors) or None,
                    columns=["group", "target", "port", "AZ", "state", "reason"])


def expected_dns(plan: Plan, run: RunState) -> dict[str, str]:
    """What each record should answer now: its switched value once a switch succeeded."""
    expected = {r.id: r.value for r in plan.estate.records}
    for step in plan.steps():
        if not isinstance(step.do, Upsert):
            continue
        state = run.steps[step.id]
        values = state.outputs.get("values", {})
        if state.status is Status.SUCCEEDED and isinstance(values, dict):
            expected.update({k: str(v) for k, v in values.items()})
    return expected


def _dns(handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    records = [r.id for r in plan.estate.records]
    if not records:
        return PaneView(pane="dns", title=PANES["dns"], columns=[], note="no names in this plan")
    expected = expected_dns(plan, run)
    with ThreadPoolExecutor(max_workers=2) as pool:
        held_f = pool.submit(route53.record_values, handle, records)
        answers = dns.resolve(handle, records)
    held = {r.record: r for r in held_f.result().records}
    change = _last_change_status(handle, run)
    rows = []
    for rec in plan.estate.records:
        want = _norm(expected[rec.id])
        r53 = held.get(rec.id)
        r53_value = r53.value if r53 and r53.value else "-"
        rows.append(PaneRow(status="ok" if _norm(r53_value) == want else "warn", cells=[
            rec.name.rstrip("."), "route53", _short(r53_value), change, "",
            _match(_norm(r53_value) == want)]))
        for a in (a for a in answers.answers if a.record == rec.id):
            same = a.error is None and _norm(a.value or "") == want
            rows.append(PaneRow(status="ok" if same else "bad", cells=[
                "", a.resolver, _short(a.error or a.value or "-"), "",
                str(a.ttl) if a.ttl is not None else "-", _match(same)]))
    return PaneView(pane="dns", title=PANES["dns"], rows=rows,
                    error=held_f.result().error,
                    note="expected: " + ", ".join(
                        f"{k}={_short(v)}" for k, v in sorted(expected.items())),
                    columns=["name", "source", "answer", "change", "TTL", "match"])


def _last_change_status(handle: EstateHandle, run: RunState) -> str:
    change_ids = [cid for s in run.steps.values()
                  for cid in s.outputs.get("change_ids", []) if isinstance(cid, str)]
    if not change_ids:
        return ""
    snap = route53.change_status(handle, change_ids[-1])
    return snap.status or (snap.error or "?")[:16]


def _norm(value: str) -> str:
    return value.strip().lower().rstrip(".")


def _short(value: str) -> str:
    return value.rstrip(".")


def _match(same: bool) -> str:
    return "= match" if same else "x MISMATCH"


def _not_in_plan(pane: str, what: str) -> PaneView:
    return PaneView(pane=pane, title=PANES[pane], columns=[], note=f"no {what} in this plan")


_BUILDERS: dict[str, Callable[[EstateHandle, Plan, RunState], PaneView]] = {
    "apps": _apps,
    "targets": _targets,
    "dns": _dns,
    "ag": lambda handle, plan, run: _not_in_plan("ag", "availability group"),
    "backup": lambda handle, plan, run: _not_in_plan("backup", "database backup"),
}
