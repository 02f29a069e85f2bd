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

from cockpit.estate import dns, ec2, elb, http, route53, s3, sql
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import (
    BackupObjectsSnapshot,
    ReplicaState,
    RequestsSnapshot,
    RunningRequest,
    UploadState,
    utcnow,
)
from cockpit.plan.models import BackupToDisk, BackupToUrl, Plan, RestoreFromUrl, Step, Upsert
from cockpit.runner import chain_pane
from cockpit.runner.kinds import PANE_OF
from cockpit.runner.state import RunState, Status

RowStatus = Literal["ok", "warn", "bad", "info"]

PANES: dict[str, str] = {
    "apps": "App servers",
    "targets": "ALB targets",
    "ag": "SQL availability group",
    "backup": "Backup and restore",
    "dns": "DNS",
}


def panes_watched_by(step: Step) -> set[str]:
    """The panes a step's gates, `until` and `do` are seen on: they poll faster while it
    runs. (A backup's step has nothing to wait on, but its pane is what moves.) Which kind
    shows on which pane is said by its system's module in `runner.kinds`."""
    models = [*step.gates, *step.until, *([step.do] if step.do else [])]
    return {PANE_OF[type(model)] for model in models if type(model) in PANE_OF}


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
    before = dict(handle.retries)
    try:
        view = _BUILDERS[pane](handle, plan, run)
    except Exception as exc:  # a pane must degrade, never take the cockpit down
        return PaneView(pane=pane, title=PANES[pane], columns=[],
                        error=f"{type(exc).__name__}: {exc}")
    return _with_retries(view, before, handle.retries)


def _with_retries(view: PaneView, before: dict[str, int], after: dict[str, int]) -> PaneView:
    """Throttling and 5xx are retried with backoff: say so, or a slow pane is a mystery.
    (Counts are per service, so panes polled at once may each show the other's retries.)"""
    grown = {s: n - before.get(s, 0) for s, n in after.items() if n > before.get(s, 0)}
    if not grown:
        return view
    said = ", ".join(f"{service} {n}" for service, n in sorted(grown.items()))
    note = f"AWS retried with backoff ({said})"
    return view.model_copy(update={"note": f"{note}; {view.note}" if view.note else note})


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
            h.version or "-", h.database or "-"]))
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
    groups = [g.id for g in plan.estate.target_groups]
    with ThreadPoolExecutor(max_workers=max(1, len(groups))) as pool:  # groups at once
        snaps = list(pool.map(lambda group: elb.target_health(handle, group), groups))
    for group, snap in zip(plan.estate.target_groups, snaps, strict=True):
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


# --- the availability group -----------------------------------------------------------------


def _ag(handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    if not plan.estate.availability_groups:
        return _not_in_plan("ag", "availability group")
    rows: list[PaneRow] = []
    errors = []
    for ag in plan.estate.availability_groups:
        snap = sql.ag_state(handle, ag.id)
        if snap.error:
            errors.append(f"{ag.id}: {snap.error}")
        rows += [PaneRow(status=_replica_status(r), cells=[
            ag.id, r.replica, (r.role or "-").lower(), r.database or "-", r.sync_state or "-",
            r.sync_health or r.replica_health or "-", _kb(r.log_send_queue_kb),
            _kb(r.redo_queue_kb)]) for r in snap.replicas]
    return PaneView(pane="ag", title=PANES["ag"], rows=rows, error="; ".join(errors) or None,
                    columns=["AG", "replica", "role", "db", "sync", "health", "send KB",
                             "redo KB"])


def _replica_status(r: ReplicaState) -> RowStatus:
    """NOT SYNCHRONIZING or unhealthy is bad; SYNCHRONIZING is on its way on a synchronous
    replica (warn) and the normal state of an asynchronous one (ok if healthy)."""
    health = r.sync_health or r.replica_health
    if r.connected_state not in (None, "CONNECTED") or health == "NOT_HEALTHY" or \
            r.sync_state == "NOT SYNCHRONIZING":
        return "bad"
    if r.sync_state == "SYNCHRONIZING" and (r.synchronous or health != "HEALTHY"):
        return "warn"
    return "ok" if health == "HEALTHY" else "warn"


def _kb(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


# --- backup and restore ---------------------------------------------------------------------

_Transfer = BackupToUrl | BackupToDisk | RestoreFromUrl


def _transfers(plan: Plan) -> list[_Transfer]:
    """The plan's backups and restores (do or undo), in step order."""
    kinds = (BackupToUrl, BackupToDisk, RestoreFromUrl)
    return [a for step in plan.steps() for a in (step.do, step.undo) if isinstance(a, kinds)]


def _backup(handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    transfers = _transfers(plan)
    chains = chain_pane.chains_of(plan)
    if chains and not transfers:
        found, errors = chain_pane.chain_rows(handle, chains)
        return PaneView(pane="backup", title=PANES["backup"],
                        rows=[PaneRow(status=status, cells=cells) for status, cells in found],
                        note=None if found else "no backup of the plan's databases yet",
                        error="; ".join(errors) or None,
                        columns=["operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"])
    if not transfers:
        return _not_in_plan("backup", "database backup")
    endpoints = sorted({t.endpoint for t in transfers})
    keys = sorted({(t.bucket, t.key) for t in transfers})
    with ThreadPoolExecutor(max_workers=4) as pool:
        uploads_f = pool.map(lambda b: s3.bucket_uploads(handle, b),
                             sorted({t.bucket for t in transfers}))
        requests = list(pool.map(lambda e: sql.backup_progress(handle, e), endpoints))
        objects = list(pool.map(lambda k: s3.backup_objects(handle, *k), keys))
        buckets = list(uploads_f)
    rows = _request_rows(handle, transfers, requests, objects)
    busy = {u.upload_id for o in objects for u in o.uploads} if rows else set()
    rows += _object_rows(objects) + _open_upload_rows(buckets, busy)
    errors = [f"{r.endpoint}: {r.error}" for r in requests if r.error] + \
        [f"s3://{o.bucket}/{o.key}: {o.error}" for o in [*objects, *buckets] if o.error]
    idle = None if rows else "no backup or restore running; no backup of the plan in S3 yet"
    return PaneView(pane="backup", title=PANES["backup"], rows=rows, note=idle,
                    error="; ".join(errors) or None,
                    columns=["operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"])


def _request_rows(handle: EstateHandle, transfers: list[_Transfer],
                  requests: list[RequestsSnapshot],
                  objects: list[BackupObjectsSnapshot]) -> list[PaneRow]:
    """A row per BACKUP or RESTORE running; a backup's S3 upload shows on its row."""
    return [_request_row(handle, snap.endpoint, request, _transfer_of(
        transfers, snap.endpoint, request), objects)
        for snap in requests for request in snap.requests]


def _transfer_of(transfers: list[_Transfer], endpoint: str,
                 request: RunningRequest) -> _Transfer | None:
    """The plan's backup or restore that this running request is."""
    restoring = request.command.startswith("RESTORE")
    return next((t for t in transfers if t.endpoint == endpoint
                 and isinstance(t, RestoreFromUrl) == restoring), None)


def _request_row(handle: EstateHandle, endpoint: str, request: RunningRequest,
                 transfer: _Transfer | None, objects: list[BackupObjectsSnapshot]) -> PaneRow:
    uploads: list[UploadState] = []
    if isinstance(transfer, BackupToUrl):
        uploads = next((o.uploads for o in objects if o.key == transfer.key), [])
    database = request.database or (
        sql.database(handle, transfer.database).name if transfer else "-")
    sent = sum(u.bytes for u in uploads)
    rate = s3.meter(handle).rate(f"{endpoint}:{request.session_id}", sent) if uploads else None
    return PaneRow(status="info", cells=[
        f"{request.command.split()[0].lower()} @ {endpoint}", database,
        f"{request.percent_complete:.0f}", _rate(rate), _eta(request.estimated_completion_ms),
        str(sum(u.parts for u in uploads)) if uploads else "-",
        _bytes(sent) if uploads else "-"])


def _object_rows(objects: list[BackupObjectsSnapshot]) -> list[PaneRow]:
    """The plan's backups that have landed in S3, whole."""
    rows = []
    for snap in objects:
        found = s3.complete_set(snap.objects, snap.key)
        if found:
            rows.append(PaneRow(status="ok", cells=[
                f"in S3: {snap.key}", "-", "100", "-", "-", str(sum(o.parts for o in found)),
                _bytes(sum(o.size for o in found))]))
    return rows


def _open_upload_rows(buckets: list[BackupObjectsSnapshot], busy: set[str]) -> list[PaneRow]:
    """Open multipart uploads no running backup explains: a failed backup's parts, which S3
    keeps (and bills) until they are aborted."""
    return [PaneRow(status="warn", cells=[
        f"open upload: {u.key}", "-", "-", "-", "-", str(u.parts), _bytes(u.bytes)])
        for snap in buckets for u in snap.uploads if u.upload_id not in busy]


def _bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _rate(rate: float | None) -> str:
    return "-" if not rate else f"{_bytes(int(rate))}/s"


def _eta(remaining_ms: int | None) -> str:
    if remaining_ms is None:
        return "-"
    minutes, seconds = divmod(int(remaining_ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _not_in_plan(pane: str, what: str) -> PaneView:
    return PaneView(pane=pane, title=PANES[pane], columns=[], note=f"no {what} in this plan")


_BUILDERS: dict[str, Callable[[EstateHandle, Plan, RunState], PaneView]] = {
    "apps": _apps,
    "targets": _targets,
    "dns": _dns,
    "ag": _ag,
    "backup": _backup,
}
