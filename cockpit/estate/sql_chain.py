"""The log chain as SQL Server keeps it: backups of every type, restores that roll forward,
and what msdb and sys.master_files say of them.

A backup's record is read back from msdb.dbo.backupset by the device it was written to, so
a step records the LSNs SQL Server gave it, not ones the cockpit worked out. LSNs are
numeric(25,0): they come back as Decimal or int and are kept as int (as text in a step's
outputs: JSON readers lose digits past 2**53).
"""

from __future__ import annotations

from typing import Any

from cockpit.estate import tsql
from cockpit.estate.handle import EstateHandle
from cockpit.estate.sql import connection, execute, fetch, query_text, read_query

KINDS = {"D": "full", "I": "diff", "L": "log"}


def _lsn(value: Any) -> int | None:
    return None if value is None else int(value)


def backup_statement(handle: EstateHandle, database: str, devices: list[str],
                     options: tsql.BackupOptions, *, to_url: bool) -> str:
    """The BACKUP to the devices (the region in BACKUP_OPTIONS for a URL)."""
    region = handle.estate.region if to_url else None
    return tsql.backup(database, devices, options, to_url=to_url, region=region)


def backup_set(handle: EstateHandle, endpoint: str, database: str,
               device: str) -> dict[str, Any] | None:
    """The newest backup of the database written to `device`, as msdb recorded it."""
    with connection(handle, endpoint) as conn:
        rows = fetch(conn, query_text("backup_set"), [database, device])
    return _backup_record(rows[0]) if rows else None


def backup_sets(handle: EstateHandle, endpoint: str, database: str) -> list[dict[str, Any]]:
    """Every backup of the database msdb recorded, newest first (one row per device)."""
    with connection(handle, endpoint) as conn:
        rows = fetch(conn, query_text("backup_sets"), [database])
    return [_backup_record(r) for r in rows]


def _backup_record(r: dict[str, Any]) -> dict[str, Any]:
    kind = str(r["backup_type"])
    return {"backup_set_id": int(r["backup_set_id"]), "type": KINDS.get(kind, kind),
            "first_lsn": _lsn(r["first_lsn"]), "last_lsn": _lsn(r["last_lsn"]),
            "checkpoint_lsn": _lsn(r["checkpoint_lsn"]),
            "database_backup_lsn": _lsn(r["database_backup_lsn"]),
            "differential_base_lsn": _lsn(r["differential_base_lsn"]),
            "is_copy_only": bool(r["is_copy_only"]),
            "has_backup_checksums": bool(r["has_backup_checksums"]),
            "is_force_offline": bool(r["is_force_offline"]),
            "finished": str(r["backup_finish_date"]), "size": int(r["backup_size"] or 0),
            "device": str(r["device"])}


def file_list(handle: EstateHandle, endpoint: str, devices: list[str], *,
              to_url: bool) -> list[tuple[str, str, str]]:
    """RESTORE FILELISTONLY: (logical name, physical name, D or L) of each file."""
    device = "URL" if to_url else "DISK"
    sources = ", ".join(f"{device} = {tsql.quote_string(d)}" for d in devices)
    options = f" WITH RESTORE_OPTIONS = {tsql.s3_options(handle.estate.region)}" if to_url \
        else ""
    with connection(handle, endpoint) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute(f"RESTORE FILELISTONLY FROM {sources}{options}")
            names = [c[0] for c in cursor.description or []]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()
    return [(str(r["LogicalName"]), str(r["PhysicalName"]), str(r["Type"])) for r in rows]


def restore_statement(handle: EstateHandle, database: str, devices: list[str], *, log: bool,
                      to_url: bool, moves: list[tuple[str, str]] | None = None) -> str:
    """RESTORE ... WITH NORECOVERY: the database stays RESTORING, ready for the next."""
    return tsql.restore(database, devices, log=log, recovery=False, to_url=to_url,
                        region=handle.estate.region if to_url else None, moves=moves)


def recover(handle: EstateHandle, endpoint: str, database: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.recover", [tsql.recover(database)])


def redo_start(handle: EstateHandle, endpoint: str, database: str) -> tuple[str | None, int | None]:
    """(state, redo_start_lsn) of the database at the endpoint; (None, None) if it is not
    there. The LSN is None unless the database is RESTORING."""
    with connection(handle, endpoint) as conn:
        rows = fetch(conn, query_text("redo_start"), [database])
    if not rows:
        return None, None
    lsns = [lsn for r in rows if (lsn := _lsn(r["redo_start_lsn"])) is not None]
    return str(rows[0]["state"]), min(lsns) if lsns else None


def write_sentinel(handle: EstateHandle, endpoint: str, database: str, table: str,
                   value: str) -> dict[str, Any]:
    return execute(handle, endpoint, "sql.write_sentinel",
                   [tsql.write_sentinel(database, tsql.TableName.parse(table), value)])


def sentinels_found(handle: EstateHandle, endpoint: str, database: str, table: str,
                    value: str) -> int:
    """How many marker rows of `value` the database holds (read-only: one SELECT)."""
    rows = read_query(handle, endpoint, database,
                      tsql.find_sentinel(tsql.TableName.parse(table), value))
    return int(rows[0]["found"]) if rows else 0


def sentinels_of_session(handle: EstateHandle, endpoint: str, database: str, table: str,
                         session: str) -> int:
    rows = read_query(handle, endpoint, database,
                      tsql.find_sentinels_of(tsql.TableName.parse(table), session))
    return int(rows[0]["found"]) if rows else 0
