"""BACKUP and RESTORE of every type on the simulated SQL Server: full, differential and log
backups, to URL or to disk; restores of each WITH NORECOVERY or RECOVERY, with MOVE; the
tail-log fence; `RESTORE DATABASE x WITH RECOVERY`; RESTORE HEADERONLY. Each records what
SQL Server records in msdb ("msdb.dbo.backupset", "backupmediafamily", "restorehistory").

A statement takes the time its size takes at the profile's throughputs (the database's
modelled size for a full, the log written since the last log backup for a log backup),
divided by the sim's speed. The refusals are SQL Server's, each citing its page:
- "SQL Server backup to URL for S3-compatible object storage": `s3://` URLs need SQL Server
  2022 (16.x); the region, unless us-east-1, is given in BACKUP_OPTIONS / RESTORE_OPTIONS
  (else S3 refuses the signature: which error the server then shows is not documented;
  the sim says Msg 3201 with "Access is denied", as a signature S3 refuses reads);
  "COMPRESSION is required in order to change MAXTRANSFERSIZE".
- "BACKUP (Transact-SQL)": NORECOVERY only with BACKUP LOG, DIFFERENTIAL only with BACKUP
  DATABASE; a tail-log backup needs the database to itself (Msg 3101).
- "RESTORE Statements": a full over an online database whose tail was not backed up, without
  REPLACE (Msg 3159); a backup from a newer version (Msg 3169).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from cockpit.sim import log_chain
from cockpit.sim.backup_grammar import Backup, Device, Listing, Options, Restore
from cockpit.sim.log_chain import BackupHeader, RestoreState, SourceLog
from cockpit.sim.sql_backup import (
    Operations,
    Request,
    Target,
    _require_certificate,
    backup_image,
    parse_url,
    read_image,
    split,
)
from cockpit.sim.sql_errors import SimSqlError, terminating
from cockpit.sim.sqlserver import SimConnection, SimDatabase, SimSqlServer, timestamp

MB = 1024 * 1024
LOG_RECORD = 120  # bytes of a checkpoint's log record: what a full backup begins with


@dataclass(frozen=True)
class Throughput:
    """What a statement's duration is measured by, nominally (before the sim's speed)."""

    database_gb: float = 30.0  # the OMS database's modelled size
    backup_mb_s: float = 250.0  # a backup's read and write, to S3 or a share
    restore_mb_s: float = 330.0  # a restore's write (instant file initialization on)
    seeding_mb_s: float = 200.0  # automatic seeding over the AG's endpoint
    log_mb_per_min: float = 20.0  # log the stores' orders write while the database is open

    @property
    def database_bytes(self) -> int:
        return int(self.database_gb * 1024 * MB)

    def backup_s(self, size: int) -> float:
        return max(1.0, size / (self.backup_mb_s * MB))

    def restore_s(self, size: int) -> float:
        return max(1.0, size / (self.restore_mb_s * MB))

    def seeding_s(self) -> float:
        return max(1.0, self.database_bytes / (self.seeding_mb_s * MB))


class BackupEngine:
    """Runs BACKUP and RESTORE statements on the sim's servers."""

    def __init__(self, ops: Operations, throughput: Throughput, region: str,
                 lose_log: int | None = None) -> None:
        self.ops = ops
        self.throughput = throughput
        self.region = region  # where the buckets are
        self.lose_log = lose_log  # `log-gap=<n>`: the n-th log backup's object is lost
        self._logs_taken = 0

    # --- BACKUP -------------------------------------------------------------------------------

    def backup(self, conn: SimConnection, st: Backup, sessions_on: int) -> None:
        server, kind = conn.server, _kind_of(st)
        name = log_chain.statement_name(kind)
        db = server.require(st.database)
        self._check_devices(server, st.devices, st.options, name, "BACKUP_OPTIONS")
        if not db.online:
            raise SimSqlError(3007, f"The backup of database '{db.name}' is not permitted "
                                    "because it is not online.", then=terminating(name))
        tail = st.options.has("NORECOVERY")
        if tail and sessions_on:
            raise SimSqlError(3101, "Exclusive access could not be obtained because the "
                                    "database is in use.", then=terminating(name))
        with server.lock:  # the data as of the backup's last LSN: no order lands between
            header, size = self._header(db, kind, st.options)
            image = backup_image(db, {"set": asdict(header), "server_major": _major(server)})
        duration = self.throughput.backup_s(size)
        request = Request(conn, name, db, duration / self.ops.clock.speed)
        try:
            self._write(conn, st.devices, image, request, duration)
        finally:
            request.end()
        record_backup(server, header, st.devices, size, db.recovery_model)
        if kind == "L":
            self._logs_taken += 1
            if self._logs_taken == self.lose_log:
                self._lose(st.devices)
        if tail:
            self._fence(server, db, header)

    def _header(self, db: SimDatabase, kind: str, options: Options) -> tuple[BackupHeader, int]:
        log, checksum = db.log, options.has("CHECKSUM")
        if kind == "L":
            header = log_chain.begin_log(log, db.name, db.recovery_model,
                                         copy_only=options.has("COPY_ONLY"), checksum=checksum,
                                         tail=options.has("NORECOVERY"))
            return header, max(LOG_RECORD, header.last_lsn - header.first_lsn)
        checkpoint = log.next_lsn
        log.write(LOG_RECORD)  # the checkpoint a data backup starts with
        if kind == "I":
            header = log_chain.begin_differential(log, db.name, checksum=checksum,
                                                  started_at=checkpoint, ended_at=log.next_lsn)
            changed = header.first_lsn - header.differential_base_lsn  # type: ignore[operator]
            return header, min(self.throughput.database_bytes, max(MB, changed))
        header = log_chain.begin_full(log, db.name, copy_only=options.has("COPY_ONLY"),
                                      checksum=checksum, started_at=checkpoint,
                                      ended_at=log.next_lsn)
        return header, self.throughput.database_bytes

    def _write(self, conn: SimConnection, devices: tuple[Device, ...], image: bytes,
               request: Request, duration: float) -> None:
        if devices[0].kind == "URL":
            urls = [d.path for d in devices]
            targets = [Target(self.ops.s3, url, *parse_url(url, self.ops.s3_host), chunk)
                       for url, chunk in zip(urls, split(image, len(urls)), strict=True)]
            for target in targets:
                self.ops._open(target)
            self.ops.clock.run(duration, lambda f: self.ops._backup_tick(request, targets, f),
                               conn)
            for target in targets:
                target.complete()
            return
        local = self.ops.disk_root / devices[0].path.lstrip("/\\").replace("\\", "/")
        local.parent.mkdir(parents=True, exist_ok=True)
        with local.open("wb") as out:
            self.ops.clock.run(duration, lambda f: self.ops._disk_tick(out, image, f, request),
                               conn)

    def _lose(self, devices: tuple[Device, ...]) -> None:
        """The fault `log-gap`: the object is gone from S3 (deleted by a lifecycle rule
        nobody meant for it), though msdb says the backup was taken."""
        for device in devices:
            if device.kind == "URL":
                bucket, key = parse_url(device.path, self.ops.s3_host)
                self.ops.s3.delete_object(Bucket=bucket, Key=key)

    def _fence(self, server: SimSqlServer, db: SimDatabase, header: BackupHeader) -> None:
        """The tail is backed up: the database is RESTORING, unreadable and unchangeable,
        and one RESTORE ... WITH RECOVERY brings it back (the rollback)."""
        with server.lock:
            db.state = "RESTORING"
            db.restore = RestoreState(header.last_lsn, header.database_backup_lsn)
            server.publish_databases()

    # --- RESTORE ------------------------------------------------------------------------------

    def restore(self, conn: SimConnection, st: Restore) -> None:
        server = conn.server
        name = f"RESTORE {st.what}"
        if not st.devices:
            self._recover_only(server, st.database, name)
            return
        self._check_devices(server, st.devices, st.options, name, "RESTORE_OPTIONS")
        meta, payload = self._read(st.devices, name)
        header = BackupHeader(**meta["set"])
        if int(meta.get("server_major") or 0) > _major(server):
            raise SimSqlError(3169, "The database was backed up on a server running version "
                                    f"{meta['server_major']}.00. That version is incompatible "
                                    f"with this server, which is running version "
                                    f"{_major(server)}.00. Either restore the database on a "
                                    "server that supports the backup, or use a backup that is "
                                    "compatible with this server.", then=terminating(name))
        recovery = not st.options.has("NORECOVERY")
        if header.kind == "D":
            db = self._restore_data(conn, st, meta, header, name)
        else:
            db = self._roll_forward(conn, st, header)
        restoring = db.restore
        self.ops._recover(server, db, meta, payload, recovery)
        db.restore = None if recovery else restoring
        server.publish_databases()
        if recovery:
            db.log = SourceLog(next_lsn=header.last_lsn, base_checkpoint=header.database_backup_lsn,
                               log_start=header.last_lsn)
        record_restore(server, header, st.devices, st.database, recovery)

    def _restore_data(self, conn: SimConnection, st: Restore, meta: dict[str, Any],
                      header: BackupHeader, name: str) -> SimDatabase:
        server = conn.server
        existing = server.database(st.database)
        if existing is not None and existing.state != "RESTORING" \
                and not st.options.has("REPLACE"):
            raise SimSqlError(3159, f'The tail of the log for the database "{st.database}" '
                                    "has not been backed up. Use BACKUP LOG WITH NORECOVERY to "
                                    "backup the log if it contains work you do not want to "
                                    "lose. Use the WITH REPLACE or WITH STOPAT clause of the "
                                    "RESTORE statement to just overwrite the contents of the "
                                    "log.", then=terminating(name))
        moved = _moved(meta, st.options.moves)
        _require_certificate(server, meta)
        _require_folders(server, moved, name)
        if existing is not None:
            server.drop_database(existing.name)
        db = server.add_database(st.database, None, state="RESTORING")
        db.data_path, db.log_path = _folders(moved)
        request = Request(conn, name, db, 0.0)
        duration = self.throughput.restore_s(self.throughput.database_bytes)
        try:
            self.ops.clock.run(duration, request.progress, conn)
        except BaseException:
            server.drop_database(db.name)
            raise
        finally:
            request.end()
        db.restore = log_chain.restore_full(header)
        return db

    def _roll_forward(self, conn: SimConnection, st: Restore, header: BackupHeader) -> SimDatabase:
        server = conn.server
        db = server.database(st.database)
        state = db.restore if db is not None and db.state == "RESTORING" else None
        log_chain.apply(state, header, st.database)
        assert db is not None  # apply refused a missing database (Msg 3117)
        size = max(1, header.last_lsn - header.first_lsn)
        request = Request(conn, f"RESTORE {'LOG' if header.kind == 'L' else 'DATABASE'}", db, 0)
        try:
            self.ops.clock.run(self.throughput.restore_s(size), request.progress, conn)
        finally:
            request.end()
        return db

    def _recover_only(self, server: SimSqlServer, name: str, statement: str) -> None:
        """`RESTORE DATABASE x WITH RECOVERY`: a database left RESTORING comes online and
        takes writes again, its data as it was; the rollback of the tail-log fence.
        "Recover a Database Without Restoring Data (Transact-SQL)": RESTORE DATABASE with
        the database's name and the RECOVERY clause alone, no backup named, recovers a
        database that a restore WITH NORECOVERY (or a tail-log backup WITH NORECOVERY,
        "Tail-Log Backups") left restoring. On a database not restoring there is nothing
        to roll forward: Msg 3117, as "RESTORE Statements (Transact-SQL)" lists it."""
        db = server.require(name)
        if db.state != "RESTORING":
            raise SimSqlError(3117, "The log or differential backup cannot be restored because "
                                    "no files are ready to rollforward.",
                              then=terminating(statement))
        with server.lock:
            redo = db.restore.redo_start_lsn if db.restore else db.log.next_lsn
            base = db.restore.base_checkpoint if db.restore else db.log.base_checkpoint
            db.state, db.restore = "ONLINE", None
            db.log = SourceLog(next_lsn=redo, base_checkpoint=base, log_start=redo)
            server.publish_databases()

    def listing(self, st: Listing) -> list[tuple[Any, ...]]:
        """RESTORE HEADERONLY (one row per backup set: the sim writes one set a device) or
        FILELISTONLY (one row per file: Type D data, L log)."""
        meta, _payload = self._read(st.devices, f"RESTORE {st.what}")
        if st.what == "FILELISTONLY":
            return [(str(f[0]), str(f[2]), "L" if f[1] == "LOG" else "D")
                    for f in meta.get("files", [])]
        h = BackupHeader(**meta["set"])
        return [(h.database, {"D": 1, "I": 5, "L": 2}[h.kind], h.first_lsn, h.last_lsn,
                 h.checkpoint_lsn, h.database_backup_lsn, h.differential_base_lsn,
                 int(h.is_copy_only), int(h.has_backup_checksums), int(h.is_force_offline))]

    # --- shared -------------------------------------------------------------------------------

    def _check_devices(self, server: SimSqlServer, devices: tuple[Device, ...],
                       options: Options, name: str, options_name: str) -> None:
        if len({d.kind for d in devices}) > 1:
            raise SimSqlError(3010, "Invalid backup mirror specification. All mirrors must have "
                                    "the same number of members.", then=terminating(name))
        if len(devices) > 64:
            raise SimSqlError(3205, "Too many backup devices specified for backup or restore; "
                                    "only 64 are allowed.", then=terminating(name))
        urls = [d.path for d in devices if d.kind == "URL"]
        if not urls:
            return
        if _major(server) < 16:
            raise SimSqlError(3201, f"Cannot open backup device '{urls[0]}'. Operating system "
                                    "error 50(The request is not supported.).",
                              then=terminating(name))
        if "MAXTRANSFERSIZE" in options.values and not options.has("COMPRESSION") \
                and name.startswith("BACKUP"):
            raise SimSqlError(3013, "COMPRESSION is required in order to change "
                                    "MAXTRANSFERSIZE.", then=terminating(name))
        _require_credentials(server, urls, name)
        region = _region(options.values.get(options_name))
        if region != self.region:
            raise SimSqlError(3201, f"Cannot open backup device '{urls[0]}'. Operating system "
                                    "error 5(Access is denied.).", then=terminating(name))

    def _read(self, devices: tuple[Device, ...], name: str) -> tuple[dict[str, Any], bytes]:
        if devices[0].kind == "URL":
            image = b"".join(self.ops._get(d.path) for d in devices)
        else:
            local = self.ops.disk_root / devices[0].path.lstrip("/\\").replace("\\", "/")
            if not local.exists():
                raise SimSqlError(3201, f"Cannot open backup device '{devices[0].path}'. "
                                        "Operating system error 2(The system cannot find the "
                                        "file specified.).", then=terminating(name))
            image = local.read_bytes()
        try:
            return read_image(image)
        except ValueError:
            raise SimSqlError(3241, f"The media family on device '{devices[0].path}' is "
                                    "incorrectly formed. SQL Server cannot process this media "
                                    "family.", then=terminating(name)) from None


def _kind_of(st: Backup) -> str:
    if st.what == "LOG":
        if st.options.has("DIFFERENTIAL"):
            raise SimSqlError(3032, "One or more of the options (differential) are not "
                                    "supported for this statement. Review the documentation "
                                    "for supported options.", then=terminating("BACKUP LOG"))
        return "L"
    if st.options.has("NORECOVERY"):
        raise SimSqlError(3032, "One or more of the options (norecovery) are not supported "
                                "for this statement. Review the documentation for supported "
                                "options.", then=terminating("BACKUP DATABASE"))
    return "I" if st.options.has("DIFFERENTIAL") else "D"


def _major(server: SimSqlServer) -> int:
    return int(str(server.properties.get("ProductMajorVersion", "16")))


def _region(options: str | int | None) -> str:
    """The region BACKUP_OPTIONS / RESTORE_OPTIONS name (`{"s3": {"region": "..."}}`);
    us-east-1, S3's default, when they name none."""
    if not isinstance(options, str):
        return "us-east-1"
    try:
        return str(json.loads(options).get("s3", {}).get("region") or "us-east-1")
    except (ValueError, AttributeError):
        raise SimSqlError(3013, f"Invalid JSON in backup options: {options}.") from None


def _require_credentials(server: SimSqlServer, urls: list[str], operation: str) -> None:
    """An S3 URL is reached with the credential named by it, a parent path of it or its
    bucket (the most specific wins); with none, Msg 3201 then 3013 ("SQL Server backup to
    URL for S3-compatible object storage": troubleshooting)."""
    for url in urls:
        if not any(url == name or url.startswith(name.rstrip("/") + "/")
                   for name in server.credentials):
            raise SimSqlError(3201, f"Cannot open backup device '{url}'. Operating system "
                                    "error 50(The request is not supported.).",
                              then=terminating(operation))


def _moved(meta: dict[str, Any], moves: tuple[tuple[str, str], ...]) -> list[tuple[str, str, str]]:
    """(logical, type, physical) of each file as the restore will place it: MOVE's path, or
    the path the backup recorded ("RESTORE Arguments": MOVE)."""
    to = {logical.lower(): path for logical, path in moves}
    return [(str(f[0]), str(f[1]), to.get(str(f[0]).lower(), str(f[2])))
            for f in meta.get("files", [])]


def _require_folders(server: SimSqlServer, files: list[tuple[str, str, str]], name: str) -> None:
    missing = set(server.missing_directories([f[2] for f in files]))
    if not missing:
        return
    refusal = terminating(name)
    for logical, _kind, path in reversed(files):
        if path in missing:
            refusal = SimSqlError(3156, f"File '{logical}' cannot be restored to '{path}'. Use "
                                        "WITH MOVE to identify a valid location for the file.",
                                  then=refusal)
    first = next(f[2] for f in files if f[2] in missing)
    raise SimSqlError(5133, f'Directory lookup for the file "{first}" failed with the '
                            "operating system error 3(The system cannot find the path "
                            "specified.).", then=refusal)


def _folders(files: list[tuple[str, str, str]]) -> tuple[str, str]:
    found = {kind: path.rsplit("\\", 1)[0] + "\\" for _logical, kind, path in files}
    return found.get("ROWS", "D:\\Data\\"), found.get("LOG", "L:\\Log\\")


# --- msdb ------------------------------------------------------------------------------------


def record_backup(server: SimSqlServer, header: BackupHeader, devices: tuple[Device, ...],
                  size: int, recovery_model: str) -> int:
    """A backupset row and its media family rows, in the server's msdb."""
    with server.lock, sqlite3.connect(server.msdb_file, isolation_level=None) as msdb:
        set_id = _insert_set(msdb, header, size, recovery_model, server.name)
        msdb.executemany("INSERT INTO backupmediafamily VALUES (?, ?, ?)",
                         [(set_id, n, d.path) for n, d in enumerate(devices, start=1)])
    msdb.close()
    return set_id


def record_restore(server: SimSqlServer, header: BackupHeader, devices: tuple[Device, ...],
                   database: str, recovery: bool) -> None:
    """A restore writes the set's history into the restoring server's msdb too, and a row
    of restorehistory (restore_type D database, I differential, L log)."""
    with server.lock, sqlite3.connect(server.msdb_file, isolation_level=None) as msdb:
        set_id = _insert_set(msdb, header, 0, "FULL", "")
        msdb.executemany("INSERT INTO backupmediafamily VALUES (?, ?, ?)",
                         [(set_id, n, d.path) for n, d in enumerate(devices, start=1)])
        msdb.execute("INSERT INTO restorehistory (restore_date, destination_database_name, "
                     "backup_set_id, restore_type, recovery) VALUES (?, ?, ?, ?, ?)",
                     (timestamp(), database, set_id, header.kind, int(recovery)))
    msdb.close()


def _insert_set(msdb: sqlite3.Connection, h: BackupHeader, size: int, model: str,
                server_name: str) -> int:
    media_set_id = int(msdb.execute("SELECT COALESCE(MAX(media_set_id), 0) + 1 FROM "
                                    "backupset").fetchone()[0])
    msdb.execute(
        "INSERT INTO backupset (media_set_id, database_name, type, first_lsn, last_lsn, "
        "checkpoint_lsn, database_backup_lsn, differential_base_lsn, is_copy_only, "
        "has_backup_checksums, is_force_offline, begins_log_chain, backup_start_date, "
        "backup_finish_date, backup_size, recovery_model, server_name) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (media_set_id, h.database, h.kind, h.first_lsn, h.last_lsn, h.checkpoint_lsn,
         h.database_backup_lsn, h.differential_base_lsn, int(h.is_copy_only),
         int(h.has_backup_checksums), int(h.is_force_offline), int(h.begins_log_chain),
         timestamp(), timestamp(), size, model, server_name))
    return media_set_id

