"""The Backup and restore pane for a pre-staged window: the statements running, then the
source's last backups and, per replica, where it has rolled forward to and how far behind
the source's last log backup it is, in minutes and MB.

Behind is read from msdb, never worked out from LSNs ("Arithmetic operations ... are not
meaningful" on them): the minutes since the backup the replica's redo LSN ends, and the
sizes of the source's log backups after it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import takewhile
from typing import Any

from cockpit.estate import sql, sql_chain
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import RunningRequest
from cockpit.plan.models import Plan, ShipLogs, SqlBackup, SqlRestore

Chain = tuple[str, str, list[str]]  # source endpoint, database id, replica endpoints
Row = tuple[str, list[str]]  # a row's status (ok, warn, info) and its cells


def chains_of(plan: Plan) -> list[Chain]:
    """Each (source, database) the plan backs up with sql.backup or ships, and the
    endpoints that restore it."""
    found: dict[tuple[str, str], set[str]] = {}
    restores: dict[str, set[str]] = {}
    for step in plan.steps():
        action = step.do
        if isinstance(action, SqlBackup | ShipLogs):
            found.setdefault((action.endpoint, action.database), set())
        if isinstance(action, ShipLogs):
            restores.setdefault(action.database, set()).update(action.replicas)
        if isinstance(action, SqlRestore):
            restores.setdefault(action.database, set()).update(action.endpoints)
    return [(source, db, sorted(restores.get(db, set()) - {source}))
            for (source, db) in sorted(found)]


def chain_rows(handle: EstateHandle, chains: list[Chain]) -> tuple[list[Row], list[str]]:
    """The rows of the pane and the errors met reading them."""
    endpoints = sorted({e for source, _, replicas in chains for e in [source, *replicas]})
    with ThreadPoolExecutor(max_workers=4) as pool:
        requests = list(pool.map(lambda e: sql.backup_progress(handle, e), endpoints))
        found = list(pool.map(lambda c: _chain_rows(handle, *c), chains))
    rows = [_running(snap.endpoint, r) for snap in requests for r in snap.requests]
    rows += [row for each in found for row in each[0]]
    errors = [f"{r.endpoint}: {r.error}" for r in requests if r.error] + \
        [error for each in found if (error := each[1])]
    return rows, errors


def _running(endpoint: str, request: RunningRequest) -> Row:
    eta = request.estimated_completion_ms
    return ("info", [
        f"{request.command.split()[0].lower()} @ {endpoint}", request.database or "-",
        f"{request.percent_complete:.0f}", "-",
        "-" if eta is None else f"{eta / 1000:.0f}s", "-", "-"])


def _chain_rows(handle: EstateHandle, source: str, database_id: str,
                replicas: list[str]) -> tuple[list[Row], str | None]:
    name = sql.database(handle, database_id).name
    try:
        sets = sql_chain.backup_sets(handle, source, name)  # newest first
        positions = {r: sql_chain.redo_start(handle, r, name) for r in replicas}
    except Exception as exc:  # a pane shows what failed and the app keeps running
        return [], f"{source}: {sql.describe_sql_error(handle, exc)}"
    if not sets:
        return [], None
    newest = sets[0]
    rows: list[Row] = [("ok", [
        f"last {newest['type']} @ {source}", name, "-", "-", _ago(newest["finished"]),
        f"LSN {newest['last_lsn']}", _mb(newest["size"])])]
    logs = [s for s in sets if s["type"] == "log" and not s["is_copy_only"]]
    rows += [_replica_row(replica, name, state, redo, sets, logs)
             for replica, (state, redo) in positions.items()]
    return rows, None


def _replica_row(replica: str, name: str, state: str | None, redo: int | None,
                 sets: list[dict[str, Any]], logs: list[dict[str, Any]]) -> Row:
    if state is None:
        return ("info", [f"restored @ {replica}", name, "-", "-", "nothing yet", "-", "-"])
    if state != "RESTORING" or redo is None:
        return ("ok", [f"{state.lower()} @ {replica}", name, "-", "-", "-", "-", "-"])
    reached = next((s for s in sets if s["last_lsn"] == redo), None)
    behind = [s for s in logs if s["last_lsn"] > redo]
    since = _ago(reached["finished"]) if reached else "?"
    # Log shipping's progress: the share of the logs taken since the full that the replica
    # has restored (100 when it has every one the source took).
    since_full = [s for s in takewhile(lambda s: s["type"] != "full", sets) if s in logs]
    restored = [s for s in since_full if s not in behind]
    shipped = f"{100 * len(restored) / len(since_full):.0f}" if since_full else "-"
    return ("ok" if not behind else "warn", [
        f"restoring @ {replica}", name, shipped, "-",
        "caught up" if not behind else f"behind {since}", f"LSN {redo}",
        _mb(sum(s["size"] for s in behind)) + (" behind" if behind else "")])


def _ago(finished: str) -> str:
    """How long ago msdb says a backup finished (its times are the server's UTC here)."""
    try:
        when = datetime.fromisoformat(finished).replace(tzinfo=UTC)
    except ValueError:
        return "?"
    minutes = max(0.0, (datetime.now(UTC) - when).total_seconds() / 60)
    return f"{minutes:.0f} min ago" if minutes >= 1 else "just now"


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.0f} MB"
