"""The transaction log of a simulated database: LSNs, the backup chain and the restore chain,
as SQL Server documents them.

Rules, each from its page (learn.microsoft.com/sql/..., by title):
- "BACKUP (Transact-SQL)": a full backup becomes the differential base unless COPY_ONLY; a
  differential holds the changes since that base (none: Msg 3035); BACKUP LOG holds the log
  "from the last successfully executed log backup to the current end of the log", needs a
  prior full (Msg 4214) and the FULL or BULK_LOGGED model (Msg 4208); a COPY_ONLY log never
  moves where the next one starts ("Copy-Only Backups").
- "Tail-Log Backups": BACKUP LOG ... WITH NORECOVERY leaves the database RESTORING; it needs
  the database to itself (Msg 3101).
- "msdb.dbo.backupset": each backup covers [first_lsn, last_lsn); `database_backup_lsn` is
  the checkpoint LSN of the full the backup is based on; `differential_base_lsn` that of a
  differential's base; consecutive log backups have next.first_lsn = prev.last_lsn.
- "RESTORE Statements" and "Database engine events and errors": a log applies if
  first_lsn <= redo_start_lsn < last_lsn, else Msg 4305 (too recent) or 4326 (too early); a
  differential needs its base restored (Msg 3136); a log or differential needs a database
  left RESTORING (Msg 3117); "sys.master_files": redo_start_lsn is where the next roll
  forward must start, NULL unless RESTORING.

LSNs here count bytes of log written (opaque to SQL Server's clients, who may only compare
them: "Recover to a Log Sequence Number"); the sim uses the difference as a log backup's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cockpit.sim.sql_errors import SimSqlError, terminating

FIRST_LSN = 37_000_000_012_300_001  # the shape of a real one: VLF, block, slot


@dataclass
class SourceLog:
    """The log of an online database: where it ends and where its chains start."""

    next_lsn: int = FIRST_LSN  # the end of the log: the next record's LSN
    base_checkpoint: int | None = None  # the differential base: the last full's checkpoint
    log_start: int | None = None  # where the next log backup starts; None: no chain yet
    last_full_checkpoint: int = 0  # any full's, copy-only or not (database_backup_lsn)

    def write(self, log_bytes: int) -> None:
        self.next_lsn += max(0, log_bytes)

    @property
    def log_start_or_end(self) -> int:
        """Where a copy of this database must have rolled forward to, to follow it: the
        start of its unbacked-up log (its end, if it has no chain)."""
        return self.log_start if self.log_start is not None else self.next_lsn


@dataclass
class RestoreState:
    """A database being restored: where the next roll forward must start."""

    redo_start_lsn: int
    base_checkpoint: int  # the checkpoint of the full restored first
    applied: list[int] = field(default_factory=list)  # backup_set_ids, in order


@dataclass(frozen=True)
class BackupHeader:
    """What a backup says of itself (RESTORE HEADERONLY; a row of msdb.dbo.backupset)."""

    database: str
    kind: str  # D full, I differential, L log
    first_lsn: int
    last_lsn: int
    checkpoint_lsn: int
    database_backup_lsn: int
    differential_base_lsn: int | None
    is_copy_only: bool
    has_backup_checksums: bool
    is_force_offline: bool
    begins_log_chain: bool


def statement_name(kind: str, restoring: bool = False) -> str:
    verb = "RESTORE" if restoring else "BACKUP"
    return f"{verb} {'LOG' if kind == 'L' else 'DATABASE'}"


# --- backing up ------------------------------------------------------------------------------


def begin_full(log: SourceLog, database: str, *, copy_only: bool, checksum: bool,
               started_at: int, ended_at: int) -> BackupHeader:
    """A full backup from its checkpoint at `started_at` to `ended_at`."""
    start = started_at
    header = BackupHeader(database, "D", start, ended_at, start, log.last_full_checkpoint,
                          None, copy_only, checksum, False, False)
    log.last_full_checkpoint = start
    if not copy_only:
        log.base_checkpoint = start
        if log.log_start is None:  # the first full starts the log chain
            log.log_start = start
    return header


def begin_differential(log: SourceLog, database: str, *, checksum: bool,
                       started_at: int, ended_at: int) -> BackupHeader:
    if log.base_checkpoint is None:
        raise SimSqlError(3035, f'Cannot perform a differential backup for database '
                                f'"{database}", because a current database backup does not '
                                "exist. Perform a full database backup by reissuing BACKUP "
                                "DATABASE, omitting the WITH DIFFERENTIAL option.",
                          then=terminating("BACKUP DATABASE"))
    start = started_at
    return BackupHeader(database, "I", start, ended_at, start, log.base_checkpoint,
                        log.base_checkpoint, False, checksum, False, False)


def begin_log(log: SourceLog, database: str, recovery_model: str, *, copy_only: bool,
              checksum: bool, tail: bool) -> BackupHeader:
    if recovery_model == "SIMPLE":
        raise SimSqlError(4208, "The statement BACKUP LOG is not allowed while the recovery "
                                "model is SIMPLE. Use BACKUP DATABASE or change the recovery "
                                "model using ALTER DATABASE.", then=terminating("BACKUP LOG"))
    if log.log_start is None or log.base_checkpoint is None:
        raise SimSqlError(4214, "BACKUP LOG cannot be performed because there is no current "
                                "database backup.", then=terminating("BACKUP LOG"))
    header = BackupHeader(database, "L", log.log_start, log.next_lsn, log.next_lsn,
                          log.base_checkpoint, None, copy_only, checksum, tail, False)
    if not copy_only:
        log.log_start = log.next_lsn
    return header


# --- restoring -------------------------------------------------------------------------------


def restore_full(header: BackupHeader) -> RestoreState:
    return RestoreState(redo_start_lsn=header.last_lsn, base_checkpoint=header.checkpoint_lsn)


def apply(state: RestoreState | None, header: BackupHeader, database: str) -> None:
    """Roll a differential or a log forward onto a database left RESTORING; the refusal SQL
    Server gives otherwise. `state` moves to where the next one must start."""
    ending = terminating(statement_name(header.kind, restoring=True))
    if state is None:
        raise SimSqlError(3117, "The log or differential backup cannot be restored because no "
                                "files are ready to rollforward.", then=ending)
    if header.kind == "I":
        if header.differential_base_lsn != state.base_checkpoint:
            raise SimSqlError(3136, "This differential backup cannot be restored because the "
                                    "database has not been restored to the correct earlier "
                                    "state.", then=ending)
        state.redo_start_lsn = header.last_lsn
        return
    redo = state.redo_start_lsn
    if header.first_lsn > redo:
        raise SimSqlError(4305, f"The log in this backup set begins at LSN {header.first_lsn}, "
                                "which is too recent to apply to the database. An earlier log "
                                f"backup that includes LSN {redo} can be restored.", then=ending)
    if header.last_lsn <= redo:
        raise SimSqlError(4326, f"The log in this backup set terminates at LSN "
                                f"{header.last_lsn}, which is too early to apply to the "
                                f"database. A more recent log backup that includes LSN {redo} "
                                "can be restored.", then=ending)
    state.redo_start_lsn = header.last_lsn
