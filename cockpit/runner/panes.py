"""What each live pane shows, probed from the estate and reduced to rows with a verdict.

A pane is a small table: the driver builds it from fresh snapshots, publishes it in
`state.json`, and a watcher renders the very same rows, so both screens agree. Each row
carries a status (ok, warn, bad, info) that the screen shows as a word or mark as well as
a colour, so it reads in 16 colours and with NO_COLOR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, Field, PrivateAttr

from cockpit.estate import ec2, elb, route53, s3, sql
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import (
    AppHealthSnapshot,
    BackupObjectsSnapshot,
    DnsSnapshot,
    InstancesSnapshot,
    RecordsSnapshot,
    ReplicaState,
    RequestsSnapshot,
    ResolverAnswer,
    RunningRequest,
    TargetGroupSnapshot,
    UploadState,
    utcnow,
)
from cockpit.pictures import progress_bar
from cockpit.plan.models import BackupToDisk, BackupToUrl, Plan, RestoreFromUrl, Step, Upsert
from cockpit.runner import chain_pane
from cockpit.runner.calls import EstateCalls
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


# On a pane too narrow for every column's widest cell, a column is cut to this.
MAX_COLUMN_WIDTH = 26


class PaneView(BaseModel):
    pane: str
    title: str
    columns: list[str]
    rows: list[PaneRow] = []
    error: str | None = None
    note: str | None = None
    taken_at: datetime = Field(default_factory=utcnow)
    widths: list[int] = []  # each column's widest cell: see `laid_out`
    _drawn: dict[bool, list[tuple[str, ...]]] = PrivateAttr(default_factory=dict)

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or utcnow()) - self.taken_at).total_seconds()

    def drawn(self, capped: bool = False) -> list[tuple[str, ...]]:
        """The header, then each row, as the pane draws them: every cell padded to its
        column's width (`capped`: cut to MAX_COLUMN_WIDTH, for a pane too narrow for the
        widest cells), the last left whole for the pane to crop. Worked out once, by
        whoever built or read the view (the poller, a watcher's reader), so the screen's
        thread only copies them."""
        if capped not in self._drawn:
            widths = self.column_widths(capped)
            self._drawn[capped] = [fit_cells(self.columns, widths), *(
                fit_cells(shown_cells(self.columns, r.cells), widths) for r in self.rows)]
        return self._drawn[capped]

    def column_widths(self, capped: bool = False) -> list[int]:
        widths = self.widths or column_widths(self.columns, self.rows)
        return [min(w, max(MAX_COLUMN_WIDTH, len(c))) if capped else w
                for w, c in zip(widths, self.columns, strict=True)]


def laid_out(view: PaneView) -> PaneView:
    """The view with its columns' widths and both ways of drawing it worked out."""
    if not view.widths:
        view = view.model_copy(update={"widths": column_widths(view.columns, view.rows)})
    view.drawn(capped=False)
    view.drawn(capped=True)
    return view


def column_widths(columns: list[str], rows: list[PaneRow]) -> list[int]:
    """Every column as wide as its widest cell, but the last: a reason or free text, it is
    the one to give way on a narrow terminal, so only its title's width is kept."""
    widths = [len(c) for c in columns]
    for row in rows:
        for index, cell in enumerate(shown_cells(columns, row.cells)[:len(widths) - 1]):
            widths[index] = max(widths[index], len(cell))
    return widths


def shown_cells(columns: list[str], cells: list[str]) -> list[str]:
    """The cells as drawn: a percent (a backup's, a restore's, log shipping's) with a bar
    beside its figure. The view keeps the figure alone (the status strip reads it)."""
    if "%" not in columns:
        return cells
    at = columns.index("%")
    try:
        percent = float(cells[at])
    except (IndexError, ValueError):  # `-`: nothing running
        return cells
    return [*cells[:at], f"{progress_bar(percent, 8)} {cells[at]:>3}%", *cells[at + 1:]]


def fit_cells(cells: list[str], widths: list[int]) -> tuple[str, ...]:
    last = len(widths) - 1
    return tuple(_fit(cell, widths[i]) if i < last else cell
                 for i, cell in enumerate(cells[:len(widths)]))


def _fit(cell: str, width: int) -> str:
    return cell.ljust(width) if len(cell) <= width else cell[:width - 1] + "…"


def probe_pane(pane: str, handle: EstateHandle, plan: Plan, run: RunState) -> PaneView:
    """One pane's fresh view, from a thread with no event loop of its own (checks, tests).
    Never raises: failures become the view's error."""

    async def once() -> PaneView:
        async with EstateCalls.opened(handle) as calls:
            return await gather_pane(pane, calls, plan, run)

    return asyncio.run(once())


async def gather_pane(pane: str, calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    """One pane's fresh view: its calls all in flight at once, then its rows built.
    Never raises: failures become the view's error."""
    before = dict(calls.handle.retries)
    try:
        view = await _BUILDERS[pane](calls, plan, run)
    except Exception as exc:  # a pane must degrade, never take the cockpit down
        return PaneView(pane=pane, title=PANES[pane], columns=[],
                        error=f"{type(exc).__name__}: {exc}")
    return laid_out(_with_retries(view, before, calls.handle.retries))


def _with_retries(view: PaneView, before: dict[str, int], after: dict[str, int]) -> PaneView:
    """Throttling and 5xx are retried with backoff: say so, or a slow pane is a mystery.
    (Counts are per service, so panes polled at once may each show the other's retries.)"""
    grown = {s: n - before.get(s, 0) for s, n in after.items() if n > before.get(s, 0)}
    if not grown:
        return view
    said = ", ".join(f"{service} {n}" for service, n in sorted(grown.items()))
    note = f"AWS retried with backoff ({said})"
    return view.model_copy(update={"note": f"{note}; {view.note}" if view.note else note})


async def _apps(calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    servers = [s.id for s in plan.estate.app_servers]
    aws = [s.id for s in plan.estate.app_servers if s.site == "aws"]
    instances, health = await asyncio.gather(
        calls.blocking(("ec2.describe_servers", *aws), ec2.describe_servers, aws),
        calls.health(servers))
    return apps_view(plan, instances, health)


def apps_view(plan: Plan, instances: InstancesSnapshot, health: AppHealthSnapshot) -> PaneView:
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


async def _targets(calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    # One DescribeTargetHealth per group, all groups at once, each parsed once.
    snaps = await asyncio.gather(*(
        calls.blocking(("elb.target_health", g.id), elb.target_health, g.id)
        for g in plan.estate.target_groups))
    return targets_view(plan, list(snaps))


def targets_view(plan: Plan, snaps: list[TargetGroupSnapshot]) -> PaneView:
    rows: list[PaneRow] = []
    errors = []
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
    return {**{r.id: r.value for r in plan.estate.records},
            **_upserted(plan, run, Status.SUCCEEDED)}


def switching_dns(plan: Plan, run: RunState) -> dict[str, str]:
    """The value each record is being switched to, while its switch waits for Route 53 to
    say INSYNC (the step running, the change asked for)."""
    return _upserted(plan, run, Status.RUNNING)


def _upserted(plan: Plan, run: RunState, status: Status) -> dict[str, str]:
    """Record -> value of the plan's switches (Upsert steps, in plan order) now `status`."""
    values: dict[str, str] = {}
    for step in plan.steps():
        state = run.steps[step.id]
        said = state.outputs.get("values", {})
        if isinstance(step.do, Upsert) and state.status is status and isinstance(said, dict):
            values.update({k: str(v) for k, v in said.items()})
    return values


async def _dns(calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    records = [r.id for r in plan.estate.records]
    if not records:
        return PaneView(pane="dns", title=PANES["dns"], columns=[], note="no names in this plan")
    # What Route 53 holds, what every resolver answers and the change's status: at once.
    held, answers, change = await asyncio.gather(
        calls.blocking(("route53.record_values", *records), route53.record_values, records),
        calls.resolve(records), _last_change_status(calls, run))
    return dns_view(plan, expected_dns(plan, run), held, answers, change,
                    switching_dns(plan, run))


def dns_view(plan: Plan, expected: dict[str, str], held: RecordsSnapshot, answers: DnsSnapshot,
             change: str, switching: dict[str, str] | None = None) -> PaneView:
    """Route 53's value and each resolver's answer for every name, against the value
    expected now. While a switch waits on Route 53, a source that already holds the new
    value reads `~ switching`, not a mismatch."""
    by_record = {r.record: r for r in held.records}
    asked: dict[str, list[ResolverAnswer]] = {}
    for a in answers.answers:
        asked.setdefault(a.record, []).append(a)
    rows = []
    for rec in plan.estate.records:
        want = _norm(expected[rec.id])
        coming = _norm((switching or {}).get(rec.id, "")) or None
        r53 = by_record.get(rec.id)
        r53_value = r53.value if r53 and r53.value else "-"
        status, match = _judged(_norm(r53_value), want, coming, "warn")
        rows.append(PaneRow(status=status, cells=[
            rec.name.rstrip("."), "route53", _short(r53_value), change, "", match]))
        for a in asked.get(rec.id, []):
            status, match = _judged(None if a.error else _norm(a.value or ""), want, coming,
                                    "bad")
            rows.append(PaneRow(status=status, cells=[
                "", a.resolver, _short(a.error or a.value or "-"), "",
                str(a.ttl) if a.ttl is not None else "-", match]))
    return PaneView(pane="dns", title=PANES["dns"], rows=rows, error=held.error,
                    note="expected: " + ", ".join(
                        f"{k}={_short(v)}" for k, v in sorted(expected.items())),
                    columns=["name", "source", "answer", "change", "TTL", "match"])


async def _last_change_status(calls: EstateCalls, run: RunState) -> str:
    change_ids = [cid for s in run.steps.values()
                  for cid in s.outputs.get("change_ids", []) if isinstance(cid, str)]
    if not change_ids:
        return ""
    snap = await calls.blocking(("route53.change_status", change_ids[-1]),
                                route53.change_status, change_ids[-1])
    return snap.status or (snap.error or "?")[:16]


def _norm(value: str) -> str:
    return value.strip().lower().rstrip(".")


def _short(value: str) -> str:
    return value.rstrip(".")


def _match(same: bool) -> str:
    return "= match" if same else "x MISMATCH"


def _judged(value: str | None, want: str, coming: str | None,
            otherwise: RowStatus) -> tuple[RowStatus, str]:
    """A source's status and match cell: its value as expected, the value a running switch
    is moving it to, or neither (`otherwise`); None is no answer."""
    if value == want:
        return "ok", _match(True)
    if coming is not None and value == coming:
        return "warn", "~ switching"
    return otherwise, _match(False)


# --- the availability group -----------------------------------------------------------------


async def _ag(calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    if not plan.estate.availability_groups:
        return _not_in_plan("ag", "availability group")
    snaps = await asyncio.gather(*(calls.blocking(("sql.ag_state", ag.id), sql.ag_state, ag.id)
                                   for ag in plan.estate.availability_groups))
    rows: list[PaneRow] = []
    errors = []
    for ag, snap in zip(plan.estate.availability_groups, snaps, strict=True):
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


async def _backup(calls: EstateCalls, plan: Plan, run: RunState) -> PaneView:
    transfers = _transfers(plan)
    chains = chain_pane.chains_of(plan)
    if chains and not transfers:
        # msdb's history, read per chain in threads of its own: one blocking call here.
        chain_rows, errors = await calls.blocking(("chain_pane.chain_rows", str(chains)),
                                                  chain_pane.chain_rows, chains)
        return PaneView(pane="backup", title=PANES["backup"],
                        rows=[PaneRow(status=status, cells=cells)
                              for status, cells in chain_rows],
                        note=None if chain_rows else "no backup of the plan's databases yet",
                        error="; ".join(errors) or None,
                        columns=["operation", "db", "%", "rate", "ETA", "S3 parts", "bytes"])
    if not transfers:
        return _not_in_plan("backup", "database backup")
    endpoints = sorted({t.endpoint for t in transfers})
    keys = sorted({(t.bucket, t.key) for t in transfers})
    buckets = sorted({t.bucket for t in transfers})
    found = await asyncio.gather(
        *(calls.blocking(("s3.bucket_uploads", b), s3.bucket_uploads, b) for b in buckets),
        *(calls.blocking(("sql.backup_progress", e), sql.backup_progress, e)
          for e in endpoints),
        *(calls.blocking(("s3.landed", *k), s3.landed, *k) for k in keys))
    uploads = cast(list[BackupObjectsSnapshot], found[:len(buckets)])
    requests = cast(list[RequestsSnapshot], found[len(buckets):len(buckets) + len(endpoints)])
    # A key's open uploads come from its bucket's listing, read at the same time: not a
    # listing per key before its objects (two S3 round trips one after the other).
    objects = [s3.with_uploads(landed, uploads) for landed in
               cast(list[BackupObjectsSnapshot], found[len(buckets) + len(endpoints):])]
    return backup_view(calls.handle, transfers, uploads, requests, objects)


def backup_view(handle: EstateHandle, transfers: list[_Transfer],
                buckets: list[BackupObjectsSnapshot], requests: list[RequestsSnapshot],
                objects: list[BackupObjectsSnapshot]) -> PaneView:
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


_BUILDERS: dict[str, Callable[[EstateCalls, Plan, RunState], Awaitable[PaneView]]] = {
    "apps": _apps,
    "targets": _targets,
    "dns": _dns,
    "ag": _ag,
    "backup": _backup,
}
