"""The database window's conditions: the AG's health and sync, sessions, read-only, the
backup in S3, and the data check that proves no order was lost."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cockpit.estate import s3, sql
from cockpit.estate.snapshots import AgSnapshot, DataSnapshot, ReplicaState, TableData
from cockpit.plan import models as m
from cockpit.runner.probes import ProbeContext, Verdict


def _ag_healthy(c: m.AgHealthy, ctx: ProbeContext) -> Verdict:
    snap = sql.ag_state(ctx.handle, c.ag)
    if snap.error:
        return Verdict(False, f"{c.ag}: {snap.error}", {"error": snap.error})
    replicas = {r.replica: r for r in snap.replicas}
    evidence = {name: {"role": r.role, "connected": r.connected_state,
                       "health": r.replica_health} for name, r in replicas.items()}
    wanted = [r.id for r in sql.availability_group(ctx.handle, c.ag).replicas]
    off = [f"{name} {_replica_trouble(replicas.get(name))}" for name in wanted
           if _replica_trouble(replicas.get(name))]
    if off:
        return Verdict(False, f"{c.ag}: {', '.join(off)}", evidence)
    return Verdict(True, f"{c.ag}: {len(wanted)} replica(s) connected and healthy", evidence)


def _replica_trouble(replica: ReplicaState | None) -> str:
    if replica is None:
        return "not in the AG"
    if replica.connected_state != "CONNECTED":
        return replica.connected_state or "not connected"
    return "" if replica.replica_health == "HEALTHY" else (replica.replica_health or "unknown")


def _ag_synchronized(c: m.AgSynchronized, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    snap = sql.ag_state(ctx.handle, c.ag)
    if snap.error:
        return Verdict(False, f"{c.ag}: {snap.error}", {"error": snap.error})
    rows = {r.replica: r for r in snap.for_database(name)}
    evidence = _sync_evidence(snap, name)
    off = [trouble for replica in sql.availability_group(ctx.handle, c.ag).replicas
           if (trouble := _unsynchronized(replica, rows.get(replica.id)))]
    if off:
        return Verdict(False, f"{name} in {c.ag}: {', '.join(off)}", evidence)
    return Verdict(True, f"{name} in {c.ag}: synchronous replicas SYNCHRONIZED", evidence)


def _unsynchronized(replica: m.AgReplica, row: ReplicaState | None) -> str:
    """What keeps a replica from counting as synchronized ('' when nothing does)."""
    if row is None:
        return f"{replica.id} has no copy yet"
    queues = f"send {row.log_send_queue_kb or 0} KB, redo {row.redo_queue_kb or 0} KB"
    if replica.availability_mode == "synchronous_commit":
        return "" if row.sync_state == "SYNCHRONIZED" else \
            f"{replica.id} {row.sync_state} ({queues})"
    healthy = row.sync_state in ("SYNCHRONIZING", "SYNCHRONIZED") and row.sync_health == "HEALTHY"
    return "" if healthy else f"{replica.id} {row.sync_state}/{row.sync_health} ({queues})"


def _sync_evidence(snap: AgSnapshot, name: str) -> dict[str, Any]:
    return {r.replica: {"mode": r.availability_mode, "state": r.sync_state,
                        "health": r.sync_health, "send_kb": r.log_send_queue_kb,
                        "redo_kb": r.redo_queue_kb} for r in snap.for_database(name)}


def _no_user_sessions(c: m.NoUserSessions, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    snap = sql.user_sessions(ctx.handle, c.endpoint, name)
    if snap.error:
        return Verdict(False, f"{c.endpoint}: {snap.error}", {"error": snap.error})
    evidence = {"sessions": [g.model_dump() for g in snap.groups], "total": snap.total}
    if snap.total:
        who = ", ".join(f"{g.host_name or '?'}/{g.program_name or '?'} x{g.sessions}"
                        for g in snap.groups)
        return Verdict(False, f"{snap.total} user session(s) on {name}: {who}", evidence)
    return Verdict(True, f"no user sessions on {name} at {c.endpoint}", evidence)


def _read_only(c: m.ReadOnly, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    snap = sql.database_state(ctx.handle, c.endpoint, name)
    evidence = snap.model_dump(mode="json", exclude={"taken_at"})
    if snap.error or not snap.exists:
        return Verdict(False, f"{c.endpoint}: {snap.error or f'no database {name}'}", evidence)
    if not snap.is_read_only:
        return Verdict(False, f"{name} at {c.endpoint} is read-write ({snap.user_access})",
                       evidence)
    return Verdict(True, f"{name} at {c.endpoint} is READ_ONLY, {snap.user_access}", evidence)


def _backup_present(c: m.BackupPresent, ctx: ProbeContext) -> Verdict:
    snap = s3.backup_objects(ctx.handle, c.bucket, c.key)
    where = f"s3://{snap.bucket}/{c.key}"
    evidence: dict[str, Any] = {
        "objects": [o.model_dump() for o in snap.objects],
        "open_uploads": [u.model_dump(mode="json") for u in snap.uploads]}
    if snap.error:
        return Verdict(False, f"{where}: {snap.error}", {**evidence, "error": snap.error})
    found = s3.complete_set(snap.objects, c.key)
    if found is None:
        return Verdict(False, f"{where}: not there yet ({len(snap.uploads)} upload(s) open)",
                       evidence)
    size, parts = sum(o.size for o in found), sum(o.parts for o in found)
    evidence.update(size=size, parts=parts, stripes=len(found))
    if size < c.min_bytes:
        return Verdict(False, f"{where}: {size} bytes, expected at least {c.min_bytes}",
                       evidence)
    return Verdict(True, f"{where}: {size} bytes in {parts} part(s), {len(found)} object(s)",
                   evidence)


# --- the data check ----------------------------------------------------------------------------


def _data_matches(c: m.DataMatches, ctx: ProbeContext) -> Verdict:
    db = sql.database(ctx.handle, c.database)
    with ThreadPoolExecutor(max_workers=2) as pool:
        source_f = pool.submit(sql.table_data, ctx.handle, c.source, db)
        target = sql.table_data(ctx.handle, c.target, db)
    source = source_f.result()
    evidence: dict[str, Any] = {"source": _tables_evidence(source),
                                "target": _tables_evidence(target)}
    errors = [f"{s.endpoint}: {s.error}" for s in (source, target) if s.error]
    if errors:
        return Verdict(False, "; ".join(errors), {**evidence, "errors": errors})
    differs = table_differences(source, target)
    evidence["differs"] = [table for table, _ in differs]
    if differs:
        listed = "; ".join(f"{table} ({why})" for table, why in differs)
        return Verdict(False, f"{db.name}: {len(differs)} table(s) differ: {listed}", evidence)
    checked = sum(1 for t in target.tables if t.checksum is not None)
    return Verdict(True, f"{db.name}: {len(target.tables)} table(s) match "
                         f"({checked} by checksum)", evidence)


def table_differences(source: DataSnapshot, target: DataSnapshot) -> list[tuple[str, str]]:
    """(table, how it differs) for every table not the same on both sides."""
    ours, theirs = source.by_table(), target.by_table()
    found = []
    for key in sorted(set(ours) | set(theirs)):
        s, t = ours.get(key), theirs.get(key)
        why = _table_difference(s, t)
        if why:
            found.append(((s or t or TableData(table=key)).table, why))
    return found


def _table_difference(s: TableData | None, t: TableData | None) -> str:
    if s is None or t is None:
        return "only on the target" if s is None else "missing on the target"
    why = [f"{label} {a} vs {b}" for label, a, b in (
        ("rows", s.rows, t.rows), ("checksum", s.checksum, t.checksum),
        ("partition-stats rows", s.stats_rows, t.stats_rows)) if a != b]
    return ", ".join(why)


def _tables_evidence(snap: DataSnapshot) -> dict[str, Any]:
    return {t.table: {"rows": t.rows, "checksum": t.checksum, "stats_rows": t.stats_rows}
            for t in snap.tables}


PROBES: dict[type, Callable[[Any, ProbeContext], Verdict]] = {
    m.AgHealthy: _ag_healthy,
    m.AgSynchronized: _ag_synchronized,
    m.NoUserSessions: _no_user_sessions,
    m.ReadOnly: _read_only,
    m.BackupPresent: _backup_present,
    m.DataMatches: _data_matches,
}
