"""SQL Server: the AG's health and sync, sessions, read-only, and the data check that proves
no order was lost; read-only and back, backup into S3 (to URL, or to disk then upload),
restore, join the AG and leave it, drop a database.

Backups and restores block for as long as the server works; meanwhile their progress is
sampled from another connection into the step's log. A SQL failure becomes an
`ActionFailed` in SQL Server's own words (secret-free); a failed backup also says which
multipart uploads it left open in S3, in the failed step's evidence.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.estate import s3, sql, tsql
from cockpit.estate.snapshots import (
    AgSnapshot,
    DatabaseStateSnapshot,
    DataSnapshot,
    ReplicaState,
    TableData,
)
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    ActionFailed,
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)
from cockpit.runner.kinds.sql_progress import (
    BackupSampler,
    UploadReporter,
    in_sql_words,
    tables_evidence,
    while_sampling,
    with_orphans,
)

# --- conditions --------------------------------------------------------------------------------


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
        who = ", ".join(g.said() for g in snap.groups)
        return Verdict(False, f"{snap.total} user session(s) on {name} at {c.endpoint} "
                              f"(the cockpit's own left out): {who}", evidence)
    return Verdict(True, f"no user sessions on {name} at {c.endpoint} but the cockpit's own",
                   evidence)


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


# --- the data check ----------------------------------------------------------------------------


def _logins_match(c: m.LoginsMatch, ctx: ProbeContext) -> Verdict:
    """Each user of the source database against each target's logins, by SID; an orphan
    is named with the statement that maps it again."""
    name = sql.database(ctx.handle, c.database).name
    try:
        users = sql.database_users(ctx.handle, c.source, name)
        source_logins = {sid: login for login, sid in
                         sql.server_logins(ctx.handle, c.source).items()}
        logins = {target: sql.server_logins(ctx.handle, target) for target in c.targets}
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{name}: {error}", {"error": error})
    evidence: dict[str, Any] = {"users": {u: "0x" + sid.hex() for u, sid in users.items()},
                                "orphaned": {}}
    said = []
    for target, found in logins.items():
        sids = set(found.values())
        orphans = sorted(u for u, sid in users.items() if sid not in sids)
        evidence["orphaned"][target] = orphans
        said += [_orphan(user, target, users[user], source_logins, found) for user in orphans]
    if said:
        return Verdict(False, "; ".join(said), evidence)
    return Verdict(True, f"{name}: {len(users)} user(s) map to a login by SID on "
                         f"{', '.join(c.targets)}", evidence)


def _orphan(user: str, target: str, sid: bytes, source_logins: dict[bytes, str],
            found: dict[str, bytes]) -> str:
    login = source_logins.get(sid, user)
    there = (f"login {login} there has SID 0x{found[login].hex()}" if login in found
             else f"no login {login} there")
    return (f"user {user} would be orphaned on {target} (SID 0x{sid.hex()}; {there}): "
            f"create the login with SID = 0x{sid.hex()} before the restore, or after it run "
            f"ALTER USER {tsql.quote_name(user)} WITH LOGIN = {tsql.quote_name(login)}")


def _agent_jobs(c: m.AgentJobsQuiet, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    try:
        jobs = sql.agent_jobs(ctx.handle, c.endpoint, name)
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{c.endpoint}: {error}", {"error": error})
    until = datetime.now(UTC).astimezone() + timedelta(minutes=c.minutes)
    due = [j for j in jobs if j["enabled"] and j["next_run"] is not None
           and j["next_run"] <= until]
    evidence = {"jobs": [{**j, "next_run": j["next_run"].isoformat() if j["next_run"] else None}
                         for j in jobs], "until": until.isoformat()}
    if due:
        said = "; ".join(
            f"{j['job']} runs at {j['next_run']:%Y-%m-%d %H:%M}: disable it with EXEC "
            f"msdb.dbo.sp_update_job @job_name = {tsql.quote_string(j['job'])}, @enabled = 0"
            for j in due)
        return Verdict(False, f"{c.endpoint}: Agent job(s) on {name} due in the next "
                              f"{c.minutes} min: {said}", evidence)
    return Verdict(True, f"{c.endpoint}: no enabled Agent job on {name} due in the next "
                         f"{c.minutes} min ({len(jobs)} job(s) touch it)", evidence)


def _sql_version(c: m.SqlVersion, ctx: ProbeContext) -> Verdict:
    try:
        found = sql.server_version(ctx.handle, c.endpoint)
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{c.endpoint}: {error}", {"error": error})
    major, edition = found.get("major"), str(found.get("edition") or "")
    said = f"{c.endpoint}: SQL Server {found.get('version')} ({edition})"
    if not isinstance(major, int) or major < c.min_major:
        return Verdict(False, f"{said}: major version {major}, need {c.min_major} or later",
                       found)
    if c.editions and not any(edition.startswith(e) for e in c.editions):
        return Verdict(False, f"{said}: not {' or '.join(c.editions)}", found)
    return Verdict(True, said, found)


def _certificates(c: m.CertificatesPresent, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    try:
        thumbprint = sql.tde_thumbprints(ctx.handle, c.source).get(name.lower())
        held = {t: sql.certificates(ctx.handle, t) for t in c.targets} if thumbprint else {}
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{name}: {error}", {"error": error})
    if thumbprint is None:
        return Verdict(True, f"{name} is not encrypted with TDE: no certificate needed",
                       {"tde": False})
    wanted = "0x" + thumbprint.hex().upper()
    evidence: dict[str, Any] = {"tde": True, "thumbprint": wanted, "found": {
        t: sorted(n for n, tp in certs.items() if tp == thumbprint) for t, certs in held.items()}}
    missing = [t for t, certs in held.items() if thumbprint not in certs.values()]
    if missing:
        return Verdict(False, (
            f"{name} is encrypted with TDE and the certificate with thumbprint {wanted} is "
            f"not in master on {', '.join(missing)}: its restore there fails (Msg 33111); "
            "BACKUP CERTIFICATE ... WITH PRIVATE KEY on the source, then CREATE CERTIFICATE "
            "... FROM FILE on each"), evidence)
    return Verdict(True, f"{name}: TDE certificate {wanted} in master on "
                         f"{', '.join(c.targets)}", evidence)


def _sql_query(c: m.SqlQuery, ctx: ProbeContext) -> Verdict:
    where = f"{c.endpoint}" + (f" ({c.database})" if c.database else "")
    name = sql.database(ctx.handle, c.database).name if c.database else None
    try:
        rows = sql.read_query(ctx.handle, c.endpoint, name, c.query)
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{where}: {error}", {"query": c.query, "error": error})
    value = next(iter(rows[0].values())) if rows else None
    evidence = {"query": c.query, "rows": _jsonable(rows[:5]), "row_count": len(rows),
                "value": _jsonable(value)}
    held, wanted = _judge_query(c, rows, value)
    return Verdict(held, f"{where}: {_said(rows, value)} ({wanted})", evidence)


def _judge_query(c: m.SqlQuery, rows: list[dict[str, Any]],
                 value: Any) -> tuple[bool, str]:
    """Whether the result is what the plan expects, and what it expects, in words."""
    if c.no_rows:
        return not rows, "expected no rows"
    if c.equals is not None:
        return rows != [] and _same(value, c.equals), f"expected {c.equals!r}"
    number = _number(value)
    if c.at_most is not None:
        return number is not None and number <= c.at_most, f"expected at most {c.at_most:g}"
    assert c.at_least is not None  # the model holds exactly one expectation
    return number is not None and number >= c.at_least, f"expected at least {c.at_least:g}"


def _same(value: Any, expected: str | int | float) -> bool:
    if isinstance(expected, str):
        return str(value) == expected
    number = _number(value)
    return number is not None and number == expected


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _said(rows: list[dict[str, Any]], value: Any) -> str:
    if not rows:
        return "no rows"
    more = f", {len(rows)} rows" if len(rows) > 1 else ""
    return f"{value!r}{more}"


def _jsonable(value: Any) -> Any:
    """Rows as the record keeps them: numbers and text as they are, anything else as text
    (a Decimal, a datetime, bytes)."""
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _data_matches(c: m.DataMatches, ctx: ProbeContext) -> Verdict:
    db = sql.database(ctx.handle, c.database)
    if c.baseline is not None:
        source = _baseline(ctx, c.baseline, c.source, db.name)
        if source is None:
            return Verdict(False, f"step {c.baseline} has recorded no data to compare with",
                           {})
        target = sql.table_data(ctx.handle, c.target, db)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            source_f = pool.submit(sql.table_data, ctx.handle, c.source, db)
            target = sql.table_data(ctx.handle, c.target, db)
        source = source_f.result()
    evidence: dict[str, Any] = {"source": tables_evidence(source),
                                "target": tables_evidence(target)}
    errors = [f"{s.endpoint}: {s.error}" for s in (source, target) if s.error]
    if errors:
        return Verdict(False, "; ".join(errors), {**evidence, "errors": errors})
    differs = table_differences(source, target)
    evidence["differs"] = [table for table, _ in differs]
    if differs:
        listed = "; ".join(f"{table} ({why})" for table, why in differs)
        return Verdict(False, f"{db.name}: {len(differs)} table(s) differ: {listed}"
                              f"{_left_out(target)}", evidence)
    checked = sum(1 for t in target.tables if t.checksum is not None)
    return Verdict(True, f"{db.name}: {len(target.tables)} table(s) match "
                         f"({checked} by checksum){_left_out(target)}", evidence)


def _left_out(snap: DataSnapshot) -> str:
    """The columns the checksums left out, by name: what the check did not prove."""
    skipped = [f"{t.table}.{column}" for t in snap.tables for column in t.skipped]
    return f"; CHECKSUM leaves out {', '.join(skipped)}: noncomparable type" if skipped else ""


def _baseline(ctx: ProbeContext, step: str, endpoint: str, name: str) -> DataSnapshot | None:
    """The source as a tail-log step read it just before its fence."""
    for backup in reversed(ctx.outputs.get(step, {}).get("backups", [])):
        if isinstance(backup, dict) and isinstance(backup.get("data"), dict):
            return DataSnapshot(endpoint=endpoint, database=name, tables=[
                TableData(table=table, **values) for table, values in backup["data"].items()])
    return None


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




# --- actions -----------------------------------------------------------------------------------


def _set_read_only(a: m.SetReadOnly, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return in_sql_words(ctx.handle, lambda: sql.set_read_only(ctx.handle, a.endpoint, name))


def _set_read_write(a: m.SetReadWrite, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return in_sql_words(ctx.handle, lambda: sql.set_read_write(ctx.handle, a.endpoint, name))


def _drop_database(a: m.DropDatabase, ctx: ActionContext) -> dict[str, Any]:
    db = sql.database(ctx.handle, a.database)
    return in_sql_words(ctx.handle, lambda: sql.drop_database(ctx.handle, a.endpoint, db))


def _add_to_ag(a: m.AddToAg, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return in_sql_words(ctx.handle, lambda: sql.add_to_ag(
        ctx.handle, a.endpoint, a.ag, name, a.seeding))


def _remove_from_ag(a: m.RemoveFromAg, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return in_sql_words(ctx.handle, lambda: sql.remove_from_ag(
        ctx.handle, a.endpoint, a.ag, name))


# --- backup and restore ------------------------------------------------------------------------


def _backup_to_url(a: m.BackupToUrl, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    bucket = s3.bucket_name(handle, a.bucket)
    stripes, size = (a.stripes, None) if a.stripes else in_sql_words(
        handle, lambda: sql.stripes_for(handle, a.endpoint, name))
    keys = tsql.stripe_keys(a.key, stripes)
    sample = BackupSampler(ctx, a.endpoint, "BACKUP", a.bucket, a.key)
    try:
        done = while_sampling(ctx, sample, lambda: in_sql_words(handle, lambda: sql.backup_to_url(
            handle, a.endpoint, name, bucket, keys)))
    except ActionFailed as exc:
        raise with_orphans(exc, handle, a.bucket, a.key) from exc
    return {**done, "stripes": stripes, "database_bytes": size, "keys": keys}


def _backup_to_disk(a: m.BackupToDisk, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    sample = BackupSampler(ctx, a.endpoint, "BACKUP", None, a.key)
    done = while_sampling(ctx, sample, lambda: in_sql_words(handle, lambda: sql.backup_to_disk(
        handle, a.endpoint, name, a.path)))
    uploaded = s3.upload_file(handle, sql.local_path(handle, a.path), a.bucket, a.key,
                              progress=UploadReporter(ctx, a.key))
    return {**done, "upload": uploaded}


def _restore_from_url(a: m.RestoreFromUrl, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    bucket = s3.bucket_name(handle, a.bucket)
    keys = s3.backup_keys(handle, bucket, a.key)
    sample = BackupSampler(ctx, a.endpoint, "RESTORE", None, a.key)
    return while_sampling(ctx, sample, lambda: in_sql_words(handle, lambda: sql.restore_from_url(
        handle, a.endpoint, name, bucket, keys, recovery=a.recovery)))


# --- effects: what the estate shows once an action has taken effect ---------------------------


def _database_at(endpoint: str, database_id: str,
                 ctx: ProbeContext) -> tuple[str, DatabaseStateSnapshot, dict[str, Any]]:
    name = sql.database(ctx.handle, database_id).name
    snap = sql.database_state(ctx.handle, endpoint, name)
    return name, snap, snap.model_dump(mode="json", exclude={"taken_at"})


def _made_read_only(a: m.SetReadOnly, ctx: ProbeContext) -> Verdict:
    return _access(a.endpoint, a.database, True, ctx)


def _made_read_write(a: m.SetReadWrite, ctx: ProbeContext) -> Verdict:
    return _access(a.endpoint, a.database, False, ctx)


def _access(endpoint: str, database_id: str, read_only: bool, ctx: ProbeContext) -> Verdict:
    """READ_ONLY (after RESTRICTED_USER), or READ_WRITE and MULTI_USER again: the last of
    the action's statements holds only when all of them ran."""
    name, snap, evidence = _database_at(endpoint, database_id, ctx)
    if snap.error or not snap.exists:
        return Verdict(False, f"{endpoint}: {snap.error or f'no database {name}'}", evidence)
    said = f"{name} at {endpoint} is {'READ_ONLY' if snap.is_read_only else 'READ_WRITE'}, " \
           f"{snap.user_access}"
    done = snap.is_read_only if read_only else \
        not snap.is_read_only and snap.user_access == "MULTI_USER"
    return Verdict(bool(done), said, evidence)


def _dropped(a: m.DropDatabase, ctx: ProbeContext) -> Verdict:
    name, snap, evidence = _database_at(a.endpoint, a.database, ctx)
    if snap.error:
        return Verdict(False, f"{a.endpoint}: {snap.error}", evidence)
    if snap.exists:
        return Verdict(False, f"{name} is still at {a.endpoint} ({snap.state})", evidence)
    return Verdict(True, f"no database {name} at {a.endpoint}", evidence)


def _restored(a: m.RestoreFromUrl, ctx: ProbeContext) -> Verdict:
    """The database there, ONLINE (RESTORING when restored WITH NORECOVERY to be joined).
    A RESTORE still running is worth waiting for; one cut short leaves the database
    RESTORING, or (as the sim does) not there at all."""
    name, snap, evidence = _database_at(a.endpoint, a.database, ctx)
    wanted = "ONLINE" if a.recovery else "RESTORING"
    running = _running(ctx, a.endpoint, "RESTORE", name)
    evidence["restore_running"] = running
    if snap.error:
        return Verdict(False, f"{a.endpoint}: {snap.error}", evidence)
    if running:
        return Verdict(False, f"a RESTORE of {name} is still running at {a.endpoint}",
                       evidence, pending=True)
    if not snap.exists:
        return Verdict(False, f"no database {name} at {a.endpoint}", evidence)
    if snap.state != wanted:
        cut = " (a restore cut short: drop it, this step's undo, before restoring again)" \
            if snap.state == "RESTORING" else ""
        return Verdict(False, f"{name} at {a.endpoint} is {snap.state}, not {wanted}{cut}",
                       evidence)
    return Verdict(True, f"{name} at {a.endpoint} is {snap.state}", evidence)


def _in_ag(a: m.AddToAg, ctx: ProbeContext) -> Verdict:
    return _membership(a.endpoint, a.ag, a.database, True, ctx)


def _out_of_ag(a: m.RemoveFromAg, ctx: ProbeContext) -> Verdict:
    return _membership(a.endpoint, a.ag, a.database, False, ctx)


def _membership(endpoint: str, ag_id: str, database_id: str, joined: bool,
                ctx: ProbeContext) -> Verdict:
    """The database in (or out of) the AG on the endpoint's replica; how far it has
    synchronized is an `until`'s to judge."""
    name = sql.database(ctx.handle, database_id).name
    ag = sql.availability_group(ctx.handle, ag_id)
    replica = next((r.id for r in ag.replicas if r.endpoint == endpoint), ag.primary().id)
    snap = sql.ag_state(ctx.handle, ag_id)
    if snap.error:
        return Verdict(False, f"{ag_id}: {snap.error}", {"error": snap.error})
    evidence = _sync_evidence(snap, name)
    there = any(r.replica.lower() == replica.lower() for r in snap.for_database(name))
    said = f"{name} is {'in' if there else 'not in'} {ag_id} on {replica}"
    return Verdict(there == joined, said, evidence)


def _backed_up_to_url(a: m.BackupToUrl, ctx: ProbeContext) -> Verdict:
    return _backed_up(a.endpoint, a.database, a.bucket, a.key, ctx)


def _backed_up_to_disk(a: m.BackupToDisk, ctx: ProbeContext) -> Verdict:
    return _backed_up(a.endpoint, a.database, a.bucket, a.key, ctx)


def _backed_up(endpoint: str, database_id: str, bucket_id: str, key: str,
               ctx: ProbeContext) -> Verdict:
    """The backup whole in S3, and no upload of it left open: an open one is a backup cut
    short (its parts orphaned), and whatever object is there may be an older backup. A
    BACKUP still running on the server is worth waiting for."""
    name = sql.database(ctx.handle, database_id).name
    snap = s3.backup_objects(ctx.handle, bucket_id, key)
    where = f"s3://{snap.bucket}/{key}"
    running = _running(ctx, endpoint, "BACKUP", name)
    evidence: dict[str, Any] = {
        "objects": [o.model_dump() for o in snap.objects],
        "open_uploads": [u.model_dump(mode="json") for u in snap.uploads],
        "backup_running": running}
    if snap.error:
        return Verdict(False, f"{where}: {snap.error}", {**evidence, "error": snap.error})
    found = s3.complete_set(snap.objects, key)
    if snap.uploads:
        parts = sum(u.parts for u in snap.uploads)
        what = "a BACKUP still running" if running else \
            "a backup cut short, its parts orphaned until aborted"
        return Verdict(False, f"{where}: {len(snap.uploads)} upload(s) open, {parts} part(s) "
                              f"({what})", evidence, pending=running)
    if found is None:
        return Verdict(False, f"{where}: no complete backup", evidence, pending=running)
    size, parts = sum(o.size for o in found), sum(o.parts for o in found)
    evidence.update(size=size, parts=parts, stripes=len(found))
    return Verdict(True, f"{where}: {size} bytes in {parts} part(s), {len(found)} object(s)",
                   evidence)


def _running(ctx: ProbeContext, endpoint: str, command: str, database: str) -> bool:
    """A BACKUP or RESTORE of the database still running at the endpoint."""
    snap = sql.backup_progress(ctx.handle, endpoint)
    return any(r.command.startswith(command) and (r.database or "").lower() == database.lower()
               for r in snap.requests)


PROBES: Probes = {
    m.SqlQuery: _sql_query,
    m.LoginsMatch: _logins_match,
    m.SqlVersion: _sql_version,
    m.AgentJobsQuiet: _agent_jobs,
    m.CertificatesPresent: _certificates,
    m.AgHealthy: _ag_healthy,
    m.AgSynchronized: _ag_synchronized,
    m.NoUserSessions: _no_user_sessions,
    m.ReadOnly: _read_only,
    m.DataMatches: _data_matches,
}

ACTIONS: Actions = {
    m.SetReadOnly: _set_read_only,
    m.SetReadWrite: _set_read_write,
    m.DropDatabase: _drop_database,
    m.AddToAg: _add_to_ag,
    m.RemoveFromAg: _remove_from_ag,
    m.BackupToUrl: _backup_to_url,
    m.BackupToDisk: _backup_to_disk,
    m.RestoreFromUrl: _restore_from_url,
}

EFFECTS: Effects = {
    m.SetReadOnly: _made_read_only,
    m.SetReadWrite: _made_read_write,
    m.DropDatabase: _dropped,
    m.AddToAg: _in_ag,
    m.RemoveFromAg: _out_of_ag,
    m.BackupToUrl: _backed_up_to_url,
    m.BackupToDisk: _backed_up_to_disk,
    m.RestoreFromUrl: _restored,
}

# Joining or leaving the AG moves the AG pane, and a backup or restore the backup pane, even
# when the step has nothing to wait on: that pane is what an engineer watches meanwhile.
WATCHED_BY: WatchedBy = {
    m.AgHealthy: "ag",
    m.AgSynchronized: "ag",
    m.AddToAg: "ag",
    m.RemoveFromAg: "ag",
    m.BackupToUrl: "backup",
    m.BackupToDisk: "backup",
    m.RestoreFromUrl: "backup",
}
