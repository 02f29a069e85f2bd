"""The database window as a DBA runs it: backups of every type into S3, restore chains on
every replica WITH NORECOVERY, log shipping up to the window, the tail-log fence, recovery,
and the gate that proves the chain whole before the fence.

Every backup step records, under `backups` in its outputs, exactly what it wrote (bucket,
keys, and the LSNs msdb gave it); a restore restores exactly those, in order, and never
"whatever lies under the key". Keys name the session: `<prefix>/<session>/<database>-
<type>-<UTC time>.bak`, and a log's also the LSN it starts at (it is known before: the last
log's end), so a listing of the bucket reads as the chain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cockpit.estate import agent_jobs, s3, sql, sql_chain, sql_objects, tsql
from cockpit.estate.agent_jobs import JobStep
from cockpit.estate.handle import EstateHandle
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
from cockpit.runner.kinds.sql_jobs import run_as_job
from cockpit.runner.kinds.sql_progress import (
    BackupSampler,
    UploadReporter,
    in_sql_words,
    tables_evidence,
    while_sampling,
    with_orphans,
)

EXTENSION = {"full": "bak", "diff": "dif", "log": "trn"}

# --- backing up --------------------------------------------------------------------------------


def _sql_backup(a: m.SqlBackup, ctx: ActionContext) -> dict[str, Any]:
    data = _before_the_fence(ctx, a) if a.tail else None
    record = take_backup(ctx, a.endpoint, a.database, a.bucket, a.prefix, tsql.BackupOptions(
        kind=a.type, checksum=a.checksum, copy_only=a.copy_only, compression=a.compression,
        tail=a.tail), to=a.to, path=a.path, stripes=a.stripes)
    if data is not None:
        record["data"] = data
    return {"backups": [record], "statements": record.pop("statements")}


def _before_the_fence(ctx: ActionContext, a: m.SqlBackup) -> dict[str, Any]:
    """The source's tables as the data check counts them, read just before the fence makes
    it unreadable: what the new primary must then hold (the no-order-lost proof)."""
    snap = sql.table_data(ctx.handle, a.endpoint, sql.database(ctx.handle, a.database))
    if snap.error:
        raise ActionFailed(f"the source cannot be read before the fence: {snap.error}")
    return tables_evidence(snap)


def take_backup(ctx: ActionContext, endpoint: str, database_id: str, bucket_id: str,
                prefix: str, options: tsql.BackupOptions, *, to: str = "url",
                path: str | None = None, stripes: int | None = None) -> dict[str, Any]:
    """One backup, to URL or to disk then uploaded; its record as msdb has it."""
    handle, name = ctx.handle, sql.database(ctx.handle, database_id).name
    bucket = s3.bucket_name(handle, bucket_id)
    key = _key(ctx, prefix, name, options, endpoint)
    count = stripes or 1
    if options.kind == "full" and to == "url" and stripes is None:
        count, _size = in_sql_words(handle, lambda: sql.stripes_for(handle, endpoint, name))
    keys = tsql.stripe_keys(key, count) if to == "url" else [key]
    sample = BackupSampler(ctx, endpoint, "BACKUP", bucket_id if to == "url" else None, key)
    devices = sql.backup_urls(handle, bucket, keys) if to == "url" else \
        [(path or "").rstrip("\\") + "\\" + key.rsplit("/", 1)[-1]]
    statement = sql_chain.backup_statement(handle, name, devices, options, to_url=to == "url")
    what = "tail" if options.tail else f"backup-{options.kind}"
    try:
        followed = run_as_job(ctx, endpoint, what, [JobStep(f"BACKUP {name}", statement)],
                              lambda: sql_chain.backup_set(handle, endpoint, name, devices[0])
                              is not None or _backed_up_to(ctx, endpoint, name, options, prefix),
                              sample)
    except ActionFailed as exc:
        if to != "url":
            raise
        raise with_orphans(exc, handle, bucket_id, key) from exc
    if followed.reattached:  # its predecessor's job: the devices it wrote, not ours
        devices = _devices_written(ctx, endpoint, name, options, prefix)
        keys = [_key_of(d, bucket) for d in devices] if to == "url" else \
            [f"{prefix.strip('/')}/{ctx.session_id or 'no-session'}/"
             f"{devices[0].rsplit(chr(92), 1)[-1]}"]
        key = keys[0]
    record = sql_chain.backup_set(handle, endpoint, name, devices[0])
    if record is None:
        raise ActionFailed(f"msdb on {endpoint} has no backup of {name} to {devices[0]}")
    done = {"endpoint": endpoint, "statements": [statement], "record": record}
    if to == "disk":  # the replicas in AWS restore the uploaded copy, not the share
        s3.upload_file(handle, sql.local_path(handle, devices[0]), bucket_id, key,
                       progress=UploadReporter(ctx, key))
        return {**_recorded(done, bucket, keys, options.kind,
                            sql.backup_urls(handle, bucket, keys)), "written_to": devices[0]}
    return _recorded(done, bucket, keys, options.kind, devices)


def _key(ctx: ActionContext, prefix: str, database: str, options: tsql.BackupOptions,
         endpoint: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    kind = "tail" if options.tail else options.kind
    start = ""
    if options.kind == "log":
        last = _last_log_end(ctx.handle, endpoint, database)
        start = f"-from-{last}" if last is not None else ""
    session = ctx.session_id or "no-session"
    return (f"{prefix.strip('/')}/{session}/{database}-{kind}{start}-{stamp}."
            f"{EXTENSION[options.kind]}")


def _backed_up_to(ctx: ActionContext, endpoint: str, name: str,
                  options: tsql.BackupOptions, prefix: str) -> bool:
    try:
        return bool(_devices_written(ctx, endpoint, name, options, prefix))
    except ActionFailed:
        return False


def _devices_written(ctx: ActionContext, endpoint: str, name: str,
                     options: tsql.BackupOptions, prefix: str) -> list[str]:
    """The devices of the newest backup of this kind under the session's prefix, as msdb
    recorded them: what a job started by an earlier driver wrote."""
    under = f"{prefix.strip('/')}/{ctx.session_id or 'no-session'}/"
    sets = in_sql_words(ctx.handle, lambda: sql_chain.backup_sets(ctx.handle, endpoint, name))
    mine = [s for s in sets if s["type"] == options.kind and
            (under in s["device"] or not s["device"].startswith("s3://"))
            and s["is_force_offline"] == options.tail]
    if not mine:
        raise ActionFailed(f"msdb on {endpoint} has no {options.kind} backup of {name} "
                           f"under {under}")
    newest = mine[0]["backup_set_id"]
    return sorted(s["device"] for s in sets if s["backup_set_id"] == newest)


def _key_of(url: str, bucket: str) -> str:
    return url.split(f"/{bucket}/", 1)[1]


def _last_log_end(handle: EstateHandle, endpoint: str, database: str) -> int | None:
    """Where the next log backup starts: the last log backup's end (not a copy-only's)."""
    try:
        sets = sql_chain.backup_sets(handle, endpoint, database)
    except Exception:  # the key is the better for it, but the backup does not need it
        return None
    logs = [s for s in sets if s["type"] == "log" and not s["is_copy_only"]]
    return logs[0]["last_lsn"] if logs else None


def _recorded(done: dict[str, Any], bucket: str, keys: list[str], kind: str,
              devices: list[str]) -> dict[str, Any]:
    record = done["record"]
    lsns = {k: str(record[k]) if record[k] is not None else None for k in (
        "first_lsn", "last_lsn", "checkpoint_lsn", "database_backup_lsn",
        "differential_base_lsn")}
    return {"type": kind, "bucket": bucket, "keys": keys, "devices": devices,
            "to_url": devices[0].startswith("s3://"), **lsns,
            "has_backup_checksums": record["has_backup_checksums"],
            "is_copy_only": record["is_copy_only"], "tail": record["is_force_offline"],
            "backup_set_id": record["backup_set_id"], "statements": done["statements"]}


# --- restoring ---------------------------------------------------------------------------------


def _sql_restore(a: m.SqlRestore, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    chain = recorded_backups(ctx.earlier, a.backups)
    target = Target(a.recovery, a.data_path, a.log_path)
    with ThreadPoolExecutor(max_workers=len(a.endpoints)) as pool:
        done = dict(zip(a.endpoints, pool.map(
            lambda e: restore_chain(ctx, e, name, chain, target), a.endpoints), strict=True))
    return {"restored": done, "backups": [b["keys"][0] for b in chain]}


def recorded_backups(earlier: dict[str, dict[str, Any]], steps: list[str]) -> list[dict[str, Any]]:
    """The backups the steps recorded, in the steps' order and each step's own."""
    chain = []
    for step in steps:
        found = earlier.get(step, {}).get("backups")
        if not found:
            raise ActionFailed(f"step {step} has recorded no backup yet: run it first")
        chain += [b for b in found if isinstance(b, dict)]
    return chain


@dataclass(frozen=True)
class Target:
    """How a chain ends at an endpoint: RECOVERY or not, and where the full's files go."""

    recovery: bool = False
    data_path: str | None = None
    log_path: str | None = None


def restore_chain(ctx: ActionContext, endpoint: str, name: str, chain: list[dict[str, Any]],
                  a: Target) -> dict[str, Any]:
    """Each backup not yet rolled forward at the endpoint, WITH NORECOVERY; then RECOVERY
    if asked. A re-run skips what the redo LSN shows already applied."""
    handle = ctx.handle
    state, redo = in_sql_words(handle, lambda: sql_chain.redo_start(handle, endpoint, name))
    applied, skipped = [], []
    for backup in chain:
        if state == "RESTORING" and redo is not None and redo >= int(backup["last_lsn"]):
            skipped.append(backup["keys"][0])
            continue
        moves = _moves(ctx, endpoint, backup, a) if backup["type"] == "full" else None
        sample = BackupSampler(ctx, endpoint, "RESTORE", None, backup["keys"][0])
        while_sampling(ctx, sample, _restoring(ctx, endpoint, name, backup, moves))
        applied.append(backup["keys"][0])
        state, redo = "RESTORING", int(backup["last_lsn"])
        if ctx.progress is not None:
            ctx.progress(f"{endpoint}: restored {backup['type']} up to LSN {redo}",
                         {"endpoint": endpoint, "redo_start_lsn": str(redo)})
    if a.recovery:
        in_sql_words(handle, lambda: sql_chain.recover(handle, endpoint, name))
    return {"applied": applied, "skipped": skipped,
            "redo_start_lsn": None if a.recovery else str(redo)}


def _restoring(ctx: ActionContext, endpoint: str, name: str, backup: dict[str, Any],
               moves: list[tuple[str, str]] | None) -> Callable[[], object]:
    """The RESTORE, as an Agent job of the endpoint: it outlives this driver."""
    statement = sql_chain.restore_statement(
        ctx.handle, name, backup["devices"], log=backup["type"] == "log",
        to_url=backup["to_url"], moves=moves)
    what = f"restore-{backup['type']}-{backup['last_lsn']}"

    def rolled_forward() -> bool:
        state, redo = sql_chain.redo_start(ctx.handle, endpoint, name)
        return state == "RESTORING" and redo is not None and redo >= int(backup["last_lsn"])

    return lambda: run_as_job(ctx, endpoint, what, [JobStep(f"RESTORE {name}", statement)],
                              rolled_forward)


def _moves(ctx: ActionContext, endpoint: str, backup: dict[str, Any],
           a: Target) -> list[tuple[str, str]]:
    """Each file of the backup to the endpoint's default data or log folder (or the plan's),
    read from RESTORE FILELISTONLY: the target's disks need not be laid out as the
    source's."""
    handle = ctx.handle

    def read() -> list[tuple[str, str]]:
        files = sql_chain.file_list(handle, endpoint, backup["devices"], to_url=backup["to_url"])
        defaults = sql_objects.server_defaults(handle, endpoint)
        data = a.data_path or defaults["data_path"]
        log = a.log_path or defaults["log_path"]
        return [(logical, _join(log if kind == "L" else data, physical))
                for logical, physical, kind in files]

    return in_sql_words(handle, read)


def _join(folder: str, physical: str) -> str:
    return folder.rstrip("\\") + "\\" + physical.rsplit("\\", 1)[-1]


def _sql_recover(a: m.SqlRecover, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    for endpoint in a.endpoints:
        _recover_at(ctx.handle, endpoint, name)
    return {"recovered": a.endpoints}


def _recover_at(handle: EstateHandle, endpoint: str, name: str) -> None:
    in_sql_words(handle, lambda: sql_chain.recover(handle, endpoint, name))


# --- log shipping ------------------------------------------------------------------------------


def _ship_logs(a: m.ShipLogs, ctx: ActionContext) -> dict[str, Any]:
    """Every `every`, a log backup restored on each replica; `rounds` times."""
    shipped: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for round_no in range(1, a.rounds + 1):
        if round_no > 1:
            _wait(a.every / ctx.time_scale)
        ship_round(a, ctx, shipped, failures)
    return {"backups": shipped, "restore_failures": failures}


def ship_round(a: m.ShipLogs, ctx: ActionContext, shipped: list[dict[str, Any]],
               failures: list[dict[str, Any]]) -> dict[str, Any]:
    """One round of log shipping: a log backup, restored on each replica. Appended to
    `shipped` (and a refused restore to `failures`); the backup's record returned."""
    name = sql.database(ctx.handle, a.database).name
    for adopted in _unrecorded_logs(a, ctx, name, shipped):
        shipped.append(adopted)
        failed = _restore_everywhere(ctx, a.replicas, name, adopted)
        if failed:
            failures.append({"round": len(shipped), "last_lsn": adopted["last_lsn"], **failed})
    record = take_backup(ctx, a.endpoint, a.database, a.bucket, a.prefix,
                         tsql.BackupOptions(kind="log"), to=a.to, path=a.path)
    record.pop("statements")
    shipped.append(record)
    round_no = len(shipped)
    failed = _restore_everywhere(ctx, a.replicas, name, record)
    if failed:
        failures.append({"round": round_no, "last_lsn": record["last_lsn"], **failed})
    if ctx.progress is not None:
        ctx.progress(f"log {round_no} shipped, up to LSN {record['last_lsn']}"
                     + (f"; restore failed on {', '.join(failed)}" if failed else ""),
                     {"round": round_no, "last_lsn": record["last_lsn"], "failed": failed})
    return record


def _unrecorded_logs(a: m.ShipLogs, ctx: ActionContext, name: str,
                     shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log backups this shipping wrote that its record lacks (a round cut short with its
    driver, its job finished by the Agent): read back from msdb, oldest first, so the
    recorded chain has no hole where they are."""
    if not shipped or a.to != "url":
        return []
    last = int(shipped[-1]["last_lsn"])
    under = f"{a.prefix.strip('/')}/{ctx.session_id or 'no-session'}/"
    bucket = s3.bucket_name(ctx.handle, a.bucket)
    sets = in_sql_words(ctx.handle, lambda: sql_chain.backup_sets(ctx.handle, a.endpoint, name))
    found: dict[int, list[dict[str, Any]]] = {}
    for row in sets:
        if row["type"] == "log" and not row["is_copy_only"] and not row["is_force_offline"] \
                and under in row["device"] and int(row["first_lsn"] or 0) >= last:
            found.setdefault(row["backup_set_id"], []).append(row)
    adopted = []
    for set_id in sorted(found):
        devices = sorted(r["device"] for r in found[set_id])
        record = _recorded({"record": found[set_id][0], "statements": []}, bucket,
                           [_key_of(d, bucket) for d in devices], "log", devices)
        record.pop("statements")
        adopted.append({**record, "adopted": True})
    return adopted


def _restore_everywhere(ctx: ActionContext, replicas: list[str], name: str,
                        record: dict[str, Any]) -> dict[str, str]:
    """The log restored on each replica; a replica that refuses it is said, not fatal: log
    shipping goes on (as its jobs do), and the chain gate before the fence stops the window
    on a replica left behind."""
    failed = {}
    for endpoint in replicas:
        try:
            restore_chain(ctx, endpoint, name, [record], Target())
        except ActionFailed as exc:
            failed[endpoint] = str(exc)
    return failed


def _wait(seconds: float) -> None:
    threading.Event().wait(max(0.0, seconds))


# --- the sentinel ------------------------------------------------------------------------------


def _write_sentinel(a: m.WriteSentinel, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    value = f"{ctx.session_id or 'no-session'} {datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
    done = in_sql_words(ctx.handle, lambda: sql_chain.write_sentinel(
        ctx.handle, a.endpoint, name, a.table, value))
    return {**done, "sentinel": value, "table": a.table}


def _sentinel_found(c: m.SentinelFound, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    written = ctx.outputs.get(c.written_by, {})
    value, table = written.get("sentinel"), written.get("table")
    if not value or not table:
        return Verdict(False, f"step {c.written_by} has written no sentinel yet", {})
    return _count_sentinels(ctx, c.endpoint, name, str(table), str(value))


def _count_sentinels(ctx: ProbeContext, endpoint: str, name: str, table: str,
                     value: str) -> Verdict:
    evidence = {"sentinel": value, "table": table}
    try:
        found = sql_chain.sentinels_found(ctx.handle, endpoint, name, table, value)
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{endpoint}: {error}", {**evidence, "error": error})
    if found != 1:
        return Verdict(False, f"sentinel {value!r} found {found} time(s) in {name}.{table} at "
                              f"{endpoint}: the last write before the fence is not there",
                       {**evidence, "found": found})
    return Verdict(True, f"sentinel {value!r} (the last write before the fence) found in "
                         f"{name}.{table} at {endpoint}", {**evidence, "found": found})


def _sentinel_written(a: m.WriteSentinel, ctx: ProbeContext) -> Verdict:
    """A marker row of this session's is in the table (its values start with the session's
    id): what a step cut short before it recorded its value left, if anything."""
    name = sql.database(ctx.handle, a.database).name
    session = ctx.session_id or "no-session"
    try:
        found = sql_chain.sentinels_of_session(ctx.handle, a.endpoint, name, a.table, session)
    except Exception as exc:  # a probe reports, it never raises
        return Verdict(False, sql.describe_sql_error(ctx.handle, exc), {})
    evidence = {"session": session, "found": found}
    if not found:
        return Verdict(False, f"no sentinel of session {session} in {name}.{a.table}", evidence)
    return Verdict(True, f"{found} sentinel(s) of session {session} in {name}.{a.table} at "
                         f"{a.endpoint}", evidence)


# --- the chain, judged -------------------------------------------------------------------------


def _chain_continuous(c: m.ChainContinuous, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, c.database).name
    try:
        chain = recorded_backups(ctx.outputs, c.backups)
    except ActionFailed as exc:
        return Verdict(False, str(exc), {})
    try:
        return _judge_chain(c, ctx, name, chain)
    except Exception as exc:  # a probe reports, it never raises
        error = sql.describe_sql_error(ctx.handle, exc)
        return Verdict(False, f"{name}: {error}", {"error": error})


def _judge_chain(c: m.ChainContinuous, ctx: ProbeContext, name: str,
                 chain: list[dict[str, Any]]) -> Verdict:
    logs = [b for b in chain if b["type"] == "log"]
    step_of = _steps_of(ctx.outputs, c.backups)
    problems = _breaks(logs, step_of)
    problems += _strangers(ctx.handle, c.source, name, chain)
    problems += _missing_objects(ctx.handle, chain, step_of)
    last = int(chain[-1]["last_lsn"])
    behind = {}
    for replica in c.replicas:
        state, redo = sql_chain.redo_start(ctx.handle, replica, name)
        behind[replica] = {"state": state, "redo_start_lsn": str(redo) if redo else None}
        if state != "RESTORING" or redo is None or redo < last:
            problems.append(f"{replica} has rolled forward to {redo or 'nothing'} "
                            f"({state or 'no database'}), not to {last}: restore the rest "
                            "of the chain there")
    evidence = {"chain": [{k: b.get(k) for k in ("type", "first_lsn", "last_lsn", "keys")}
                          for b in chain], "replicas": behind}
    if problems:
        return Verdict(False, "; ".join(problems), evidence)
    return Verdict(True, f"{name}: {len(chain)} backup(s) continuous to LSN {last}, every "
                         f"replica rolled forward to it ({', '.join(c.replicas)})", evidence)


def _steps_of(outputs: dict[str, dict[str, Any]], steps: list[str]) -> dict[str, str]:
    return {str(b["last_lsn"]): step for step in steps
            for b in outputs.get(step, {}).get("backups", []) if isinstance(b, dict)}


def _breaks(logs: list[dict[str, Any]], step_of: dict[str, str]) -> list[str]:
    said = []
    for before, after in zip(logs, logs[1:], strict=False):
        if str(after["first_lsn"]) != str(before["last_lsn"]):
            said.append(f"the log chain breaks between LSN {before['last_lsn']} and "
                        f"{after['first_lsn']}: no log backup recorded covers that range "
                        f"(after step {step_of.get(str(before['last_lsn']), '?')})")
    return said


def _strangers(handle: EstateHandle, source: str, name: str,
               chain: list[dict[str, Any]]) -> list[str]:
    """Log backups msdb recorded on the source that the chain does not hold: taken by
    someone else (a maintenance job to local disk), they hold LSNs the replicas lack."""
    full = next((b for b in chain if b["type"] == "full"), None)
    if full is None:
        return []
    ours = {str(b["last_lsn"]) for b in chain}
    sets = sql_chain.backup_sets(handle, source, name)
    return [f"log backup of LSN {s['first_lsn']} to {s['last_lsn']} to {s['device']} "
            "(msdb) is not in the chain: restore it on every replica, or the chain is "
            "broken there" for s in sets
            if s["type"] == "log" and not s["is_copy_only"]
            and s["first_lsn"] is not None and s["first_lsn"] >= int(full["first_lsn"])
            and str(s["last_lsn"]) not in ours]


def _missing_objects(handle: EstateHandle, chain: list[dict[str, Any]],
                     step_of: dict[str, str]) -> list[str]:
    said = []
    for backup in chain:
        for key in backup["keys"]:
            found = s3.landed_objects(handle, backup["bucket"], key)
            if not any(o.key == key for o in found):
                step = step_of.get(str(backup["last_lsn"]), "?")
                said.append(f"the {backup['type']} backup of LSN {backup['first_lsn']} to "
                            f"{backup['last_lsn']} (step {step}) is missing from "
                            f"s3://{backup['bucket']}/{key}")
    return said


# --- effects -----------------------------------------------------------------------------------


def _backed_up(a: m.SqlBackup, ctx: ProbeContext) -> Verdict:
    """A backup of this type to this session's prefix is in msdb."""
    name = sql.database(ctx.handle, a.database).name
    prefix = f"{a.prefix.strip('/')}/{ctx.session_id or 'no-session'}/{name}-"
    jobs = _jobs_running(ctx, a.endpoint)  # before msdb's backups: see `_restored`
    try:
        sets = sql_chain.backup_sets(ctx.handle, a.endpoint, name)
    except Exception as exc:  # a probe reports, it never raises
        return Verdict(False, sql.describe_sql_error(ctx.handle, exc), {})
    kind = "log" if a.tail else a.type
    found = [s for s in sets if s["type"] == kind and prefix in s["device"]
             and (not a.tail or s["is_force_offline"])]
    if not found:
        still = f"; its Agent job still running: {jobs[0]}" if jobs else ""
        return Verdict(False, f"no {kind} backup of {name} under {prefix} in msdb{still}",
                       {"jobs_running": jobs}, pending=bool(jobs))
    return Verdict(True, f"{kind} backup of {name} to {found[0]['device']}",
                   {"device": found[0]["device"], "last_lsn": str(found[0]["last_lsn"])})


def _restored(a: m.SqlRestore, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, a.database).name
    try:
        chain = recorded_backups(ctx.outputs, a.backups)
    except ActionFailed as exc:
        return Verdict(False, str(exc), {})
    last = int(chain[-1]["last_lsn"])
    # The jobs first, the databases after: a job that ends between the two looks has left
    # its restore in the database by the second, never a "not restored" with no job.
    running = {e: names for e in a.endpoints if (names := _jobs_running(ctx, e))}
    seen = {e: sql_chain.redo_start(ctx.handle, e, name) for e in a.endpoints}
    evidence = {e: {"state": st, "redo_start_lsn": str(r) if r else None}
                for e, (st, r) in seen.items()}
    short = [e for e, (st, r) in seen.items()
             if not (st == "ONLINE" if a.recovery else st == "RESTORING" and r and r >= last)]
    if short:
        jobs = {e: names for e, names in running.items() if e in short}
        still = f"; its Agent jobs still running on {', '.join(jobs)}" if jobs else ""
        return Verdict(False, f"not restored to LSN {last} on {', '.join(short)}{still}",
                       {**evidence, "jobs_running": jobs}, pending=bool(jobs))
    return Verdict(True, f"{name} restored to LSN {last} on {', '.join(a.endpoints)}", evidence)


def _jobs_running(ctx: ProbeContext, endpoint: str) -> list[str]:
    """The step's Agent jobs still running at the endpoint: work on its way, which a
    re-check waits for rather than judging it not done."""
    if ctx.session_id is None or ctx.step_id is None:
        return []
    try:
        return agent_jobs.running(ctx.handle, endpoint, ctx.session_id, ctx.step_id)
    except Exception:  # msdb unreadable: judge by the database alone, as before
        return []


def _recovered(a: m.SqlRecover, ctx: ProbeContext) -> Verdict:
    name = sql.database(ctx.handle, a.database).name
    seen = {e: sql_chain.redo_start(ctx.handle, e, name)[0] for e in a.endpoints}
    offline = [e for e, state in seen.items() if state != "ONLINE"]
    if offline:
        return Verdict(False, f"{name} not ONLINE on {', '.join(offline)}", {"states": seen})
    return Verdict(True, f"{name} ONLINE on {', '.join(a.endpoints)}", {"states": seen})


def _shipped(a: m.ShipLogs, ctx: ProbeContext) -> Verdict:
    """Every replica has rolled forward to the source's last log backup."""
    name = sql.database(ctx.handle, a.database).name
    logs = [s for s in sql_chain.backup_sets(ctx.handle, a.endpoint, name)
            if s["type"] == "log" and not s["is_copy_only"]]
    if not logs:
        return Verdict(False, f"no log backup of {name} at {a.endpoint}", {})
    last = int(logs[0]["last_lsn"])
    seen = {e: sql_chain.redo_start(ctx.handle, e, name)[1] for e in a.replicas}
    behind = [e for e, r in seen.items() if r is None or r < last]
    evidence = {"last_lsn": str(last), "redo": {e: str(r) if r else None for e, r in seen.items()}}
    if behind:
        return Verdict(False, f"{', '.join(behind)} behind LSN {last}", evidence)
    return Verdict(True, f"every replica at LSN {last}", evidence)


PROBES: Probes = {
    m.ChainContinuous: _chain_continuous,
    m.SentinelFound: _sentinel_found,
}

ACTIONS: Actions = {
    m.SqlBackup: _sql_backup,
    m.SqlRestore: _sql_restore,
    m.SqlRecover: _sql_recover,
    m.ShipLogs: _ship_logs,
    m.WriteSentinel: _write_sentinel,
}

EFFECTS: Effects = {
    m.SqlBackup: _backed_up,
    m.SqlRestore: _restored,
    m.SqlRecover: _recovered,
    m.ShipLogs: _shipped,
    m.WriteSentinel: _sentinel_written,
}

WATCHED_BY: WatchedBy = {}  # the panes' kinds are pinned; the backup pane shows these anyway
