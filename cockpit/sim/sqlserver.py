"""One simulated SQL Server: its DMVs in a SQLite file, its databases in SQLite files, and
a DB-API connection with the surface the pyodbc adapter uses.

A connection's SELECTs are read as T-SQL and run on SQLite as `tsql_select` transpiles
them, with the server's DMV file attached as `sys` (or, after `USE [db]`, that database's
catalog views) and whatever database a three-part name reads attached under that name;
every other statement must be one `cockpit.estate.tsql` generates, and goes to the estate's
handler, which turns it into a simulated operation. The DMV file is a real file a pyodbc
connection can attach too: that is how the adapter's queries, transpiled, are tested
through ODBC.
"""

from __future__ import annotations

import itertools
import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.sim import backup_grammar, sessions, sql_agent, table_reads, tsql_select
from cockpit.sim import tsql_grammar as grammar
from cockpit.sim.log_chain import RestoreState, SourceLog
from cockpit.sim.plan_data import stored_tables
from cockpit.sim.sql_cursor import SimCursor
from cockpit.sim.sql_errors import (
    LinkFailure,
    SimSqlError,
    connection_closed,
    no_such_database,
    rebuild,
)

DMV_SCHEMA = """
CREATE TABLE IF NOT EXISTS databases (
    database_id INTEGER, name TEXT, state_desc TEXT, is_read_only BIT,
    user_access_desc TEXT, recovery_model_desc TEXT, create_date DATETIME,
    collation_name TEXT);
CREATE TABLE IF NOT EXISTS master_files (
    database_id INTEGER, file_id INTEGER, type INTEGER, type_desc TEXT, name TEXT,
    physical_name TEXT, size INTEGER, redo_start_lsn BIGINT);
CREATE TABLE IF NOT EXISTS availability_groups (group_id TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS availability_replicas (
    replica_id TEXT, group_id TEXT, replica_server_name TEXT, availability_mode_desc TEXT,
    failover_mode_desc TEXT, seeding_mode_desc TEXT);
CREATE TABLE IF NOT EXISTS dm_hadr_availability_replica_states (
    replica_id TEXT, group_id TEXT, is_local BIT, role_desc TEXT,
    operational_state_desc TEXT, connected_state_desc TEXT,
    synchronization_health_desc TEXT);
CREATE TABLE IF NOT EXISTS dm_hadr_database_replica_states (
    database_id INTEGER, group_id TEXT, replica_id TEXT, is_local BIT,
    is_primary_replica BIT, synchronization_state_desc TEXT,
    synchronization_health_desc TEXT, database_state_desc TEXT,
    log_send_queue_size BIGINT, redo_queue_size BIGINT);
CREATE TABLE IF NOT EXISTS dm_exec_requests (
    session_id INTEGER, command TEXT, database_id INTEGER, status TEXT,
    percent_complete REAL, estimated_completion_time BIGINT, start_time DATETIME);
CREATE TABLE IF NOT EXISTS certificates (name TEXT, thumbprint BLOB);
CREATE TABLE IF NOT EXISTS dm_database_encryption_keys (
    database_id INTEGER, encryption_state INTEGER, encryptor_thumbprint BLOB,
    encryptor_type TEXT);
CREATE TABLE IF NOT EXISTS server_principals (
    principal_id INTEGER, name TEXT, sid BLOB, type_desc TEXT, is_disabled BIT);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id INTEGER, name TEXT, credential_identity TEXT, create_date DATETIME);
CREATE TABLE IF NOT EXISTS servers (
    server_id INTEGER, name TEXT, product TEXT, provider TEXT, data_source TEXT,
    is_linked BIT);
CREATE TABLE IF NOT EXISTS availability_group_listeners (
    group_id TEXT, listener_id TEXT, dns_name TEXT, port INTEGER);
CREATE TABLE IF NOT EXISTS availability_group_listener_ip_addresses (
    listener_id TEXT, ip_address TEXT, ip_subnet_mask TEXT, state_desc TEXT);
CREATE TABLE IF NOT EXISTS dm_hadr_automatic_seeding (
    start_time DATETIME, completion_time DATETIME, ag_id TEXT, ag_db_id TEXT,
    ag_remote_replica_id TEXT, operation_id TEXT, is_source BIT, current_state TEXT,
    performed_seeding BIT, failure_state INTEGER, failure_state_desc TEXT,
    error_code INTEGER, number_of_attempts INTEGER);
CREATE TABLE IF NOT EXISTS dm_exec_sessions (
    session_id INTEGER, host_name TEXT, program_name TEXT, login_name TEXT,
    is_user_process BIT, database_id INTEGER, status TEXT);
CREATE TABLE IF NOT EXISTS dm_exec_connections (
    session_id INTEGER, net_transport TEXT, encrypt_option TEXT, auth_scheme TEXT,
    client_net_address TEXT, client_tcp_port INTEGER, parent_connection_id TEXT);
"""

CATALOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS schemas (schema_id INTEGER, name TEXT);
CREATE TABLE IF NOT EXISTS tables (
    object_id INTEGER, schema_id INTEGER, name TEXT, is_ms_shipped BIT);
CREATE TABLE IF NOT EXISTS dm_db_partition_stats (
    object_id INTEGER, index_id INTEGER, partition_number INTEGER, row_count BIGINT);
CREATE TABLE IF NOT EXISTS database_principals (
    principal_id INTEGER, name TEXT, sid BLOB, type_desc TEXT,
    authentication_type_desc TEXT);
CREATE TABLE IF NOT EXISTS columns (
    object_id INTEGER, name TEXT, column_id INTEGER, system_type_id INTEGER,
    user_type_id INTEGER);
CREATE TABLE IF NOT EXISTS types (name TEXT, system_type_id INTEGER, user_type_id INTEGER);
"""

# msdb's Agent tables, as much as a readiness check and a one-off job read (dbo.sysjobs,
# dbo.sysjobsteps, dbo.sysjobschedules: next_run_date yyyymmdd and next_run_time HHMMSS are
# integers, 0 when the schedule has no next run; dbo.sysjobactivity, dbo.sysjobhistory: see
# cockpit/sim/sql_agent.py).
MSDB_SCHEMA = """
CREATE TABLE IF NOT EXISTS sysjobs (job_id TEXT, name TEXT, enabled INTEGER);
CREATE TABLE IF NOT EXISTS sysjobsteps (
    job_id TEXT, step_id INTEGER, step_name TEXT, subsystem TEXT, database_name TEXT,
    command TEXT);
CREATE TABLE IF NOT EXISTS sysjobactivity (
    session_id INTEGER, job_id TEXT, run_requested_date DATETIME,
    start_execution_date DATETIME, stop_execution_date DATETIME,
    last_executed_step_id INTEGER);
CREATE TABLE IF NOT EXISTS sysjobhistory (
    instance_id INTEGER PRIMARY KEY, job_id TEXT, step_id INTEGER, step_name TEXT,
    message TEXT, run_status INTEGER, run_date INTEGER, run_time INTEGER,
    run_duration INTEGER, server TEXT);
CREATE TABLE IF NOT EXISTS sysjobschedules (
    job_id TEXT, schedule_id INTEGER, next_run_date INTEGER, next_run_time INTEGER);
CREATE TABLE IF NOT EXISTS backupset (
    backup_set_id INTEGER PRIMARY KEY, media_set_id INTEGER, database_name TEXT, type TEXT,
    first_lsn BIGINT, last_lsn BIGINT, checkpoint_lsn BIGINT, database_backup_lsn BIGINT,
    differential_base_lsn BIGINT, is_copy_only BIT, has_backup_checksums BIT,
    is_force_offline BIT, begins_log_chain BIT, backup_start_date DATETIME,
    backup_finish_date DATETIME, backup_size NUMERIC, recovery_model TEXT, server_name TEXT);
CREATE TABLE IF NOT EXISTS backupmediafamily (
    media_set_id INTEGER, family_sequence_number INTEGER, physical_device_name TEXT);
CREATE TABLE IF NOT EXISTS restorehistory (
    restore_history_id INTEGER PRIMARY KEY, restore_date DATETIME,
    destination_database_name TEXT, backup_set_id INTEGER, restore_type TEXT, recovery BIT);
"""

SYSTEM_DATABASES = ("master", "tempdb", "model", "msdb")
# RESTORE HEADERONLY's columns the sim fills ("RESTORE HEADERONLY (Transact-SQL)").
HEADERONLY_COLUMNS = ("DatabaseName", "BackupType", "FirstLSN", "LastLSN", "CheckpointLSN",
                      "DatabaseBackupLSN", "DifferentialBaseLSN", "IsCopyOnly",
                      "HasBackupChecksums", "IsForceOffline")
FILELISTONLY_COLUMNS = ("LogicalName", "PhysicalName", "Type")
Handler = Callable[["SimConnection", grammar.Statement], list[tuple[Any, ...]]]
PAGE = 8192
# The sim's rows are a sample of an OMS: its files are sized as the seeded row data padded
# to the allocation a real one of this shape carries (indexes, free space), so a backup of
# it is several S3 parts yet still uploads in a blink on loopback.
ALLOCATION_FACTOR = 64
LOG_PAGES = 256
# Where the datacentre server keeps data and log files, and so where a restore without MOVE
# puts them ("RESTORE Arguments": files go back to the paths recorded in the backup).
DATA_PATH, LOG_PATH = "D:\\Data\\", "L:\\Log\\"
COLLATION = "SQL_Latin1_General_CP1_CI_AS"
# Three-part names' schemas kept attached at once: SQLite attaches at most ten files, and
# main, sys and dbo hold three.
MAX_NAMED = 6


def timestamp(moment: datetime | None = None) -> str:
    """DATETIME as SQLite stores it and the ODBC driver reads it back (UTC, no zone)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass
class SimDatabase:
    name: str
    database_id: int
    data_file: Path
    catalog_file: Path
    state: str = "ONLINE"
    read_only: bool = False
    user_access: str = "MULTI_USER"
    recovery_model: str = "FULL"
    created_at: str = field(default_factory=timestamp)
    # Its users (name -> SID): they live in the database, so a backup carries them and a
    # restore on another instance brings them, mapped to whatever logins have those SIDs.
    users: dict[str, bytes] = field(default_factory=dict)
    # TDE: the thumbprint of the certificate in master its encryption key is protected by
    # (None: not encrypted). A backup of it restores only where that certificate is.
    encryptor_thumbprint: bytes | None = None
    collation: str = COLLATION
    log: SourceLog = field(default_factory=SourceLog)  # its transaction log and backup chain
    restore: RestoreState | None = None  # while RESTORING: where the next roll forward starts
    # The folders of its data and log files ("sys.master_files": physical_name).
    data_path: str = DATA_PATH
    log_path: str = LOG_PATH
    # What its files hold beyond the rows (indexes, free space): set when it is seeded,
    # carried by its backups. Rows that arrive later add their own bytes, no more.
    reserved_bytes: int = 0

    def file_paths(self) -> list[tuple[str, str, str]]:
        """(logical name, type_desc, physical name) of each of its files."""
        return [(self.name, "ROWS", f"{self.data_path}{self.name}.mdf"),
                (f"{self.name}_log", "LOG", f"{self.log_path}{self.name}_log.ldf")]

    def orphaned_on(self, server: SimSqlServer) -> list[str]:
        """The users whose SID no login of `server` has (sys.database_principals joined
        to sys.server_principals by SID: "Troubleshoot orphaned users")."""
        sids = {sid for sid, _ in server.logins.values()}
        return [name for name, sid in self.users.items() if sid not in sids]

    @property
    def online(self) -> bool:
        return self.state == "ONLINE"

    def data_pages(self) -> int:
        """Its rows' pages and the pages allocated beyond them."""
        size = self.data_file.stat().st_size if self.data_file.exists() else 0
        return math.ceil((size + self.reserved_bytes) / PAGE) if size else 0

    def status_for_apps(self) -> str:
        """What an app server's health check says of this database."""
        if not self.online:
            return self.state.lower()
        if self.read_only:
            return "read-only"
        return "ok" if self.user_access == "MULTI_USER" else "restricted"


class SimSqlServer:
    """One server's files and state. Python holds the truth; the DMV file mirrors it."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.dmv_file = folder / "sys.sqlite"
        self.lock = threading.RLock()
        self.databases: dict[str, SimDatabase] = {}
        self.handler: Handler | None = None  # the estate's: what a statement starts
        self.logins: dict[str, tuple[bytes, str]] = {"sa": (b"\x01", "SQL_LOGIN")}
        self.certificates: dict[str, bytes] = {}  # master's: name -> thumbprint
        # SERVERPROPERTY's answers (SERVERPROPERTY (Transact-SQL)): SQL Server 2022 CU12,
        # Enterprise; EngineEdition 3 is Enterprise, Developer and Evaluation.
        self.properties: dict[str, str | int] = {
            "ProductMajorVersion": "16", "ProductMinorVersion": "0",
            "ProductVersion": "16.0.4125.3", "ProductLevel": "RTM",
            "Edition": "Enterprise Edition: Core-based Licensing (64-bit)",
            "EngineEdition": 3, "Collation": COLLATION, "IsHadrEnabled": 1,
            "InstanceDefaultDataPath": DATA_PATH, "InstanceDefaultLogPath": LOG_PATH}
        # The folders that exist on the server's disks: a file restored into any other
        # fails (Msg 5133, then 3156: "Database engine events and errors 5000-5999").
        self.directories: set[str] = {DATA_PATH.lower(), LOG_PATH.lower()}
        self.credentials: dict[str, str] = {}  # name (a URL) -> identity
        # Linked servers by name: (product, provider, data source).
        self.linked_servers: dict[str, tuple[str, str, str]] = {}
        # What the login connecting (the cockpit's) holds at server level: read through
        # HAS_PERMS_BY_NAME, as a login sees its own permissions.
        self.granted: set[str] = {"VIEW SERVER STATE", "VIEW ANY DEFINITION",
                                  "ALTER ANY DATABASE", "CREATE ANY DATABASE",
                                  "ALTER ANY AVAILABILITY GROUP"}
        self._ids = itertools.count(5)  # 1-4 are the system databases
        self._sessions = itertools.count(51)  # SQL Server's user sessions start at 51
        self._live: dict[int, SimConnection] = {}  # open sessions, by id: what KILL reaches
        self.agent = sql_agent.SqlAgent(self)
        self.closed = False
        # Who is connected: the cockpit's own connections, the Agent's job steps, and the
        # app servers' pools (their session ids kept for as long as the pool stays).
        self._connected: dict[int, sessions.Session] = {}
        self._pools: dict[sessions.AppPool, list[int]] = {}
        self._writer = sqlite3.connect(self.dmv_file, check_same_thread=False,
                                       isolation_level=None)
        # Readers never wait for the writer (WAL); the files die with the sim (no fsync).
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=OFF")
        self._writer.executescript(DMV_SCHEMA)
        self.msdb_file = folder / "msdb.sqlite"
        with sqlite3.connect(self.msdb_file, isolation_level=None) as msdb:
            msdb.executescript(MSDB_SCHEMA)
        msdb.close()
        self.publish_databases()
        self.publish_servers()
        self.add_login("sa", self.logins["sa"][0])

    # --- databases --------------------------------------------------------------------------

    def database(self, name: str) -> SimDatabase | None:
        return self.databases.get(name.lower())

    def require(self, name: str) -> SimDatabase:
        found = self.database(name)
        if found is None:
            raise no_such_database(name)
        return found

    def add_database(self, name: str, data: bytes | None, *, state: str = "ONLINE") -> SimDatabase:
        """A database on this server (its file named by id: a name may hold anything)."""
        with self.lock:
            database_id = next(self._ids)
            db = SimDatabase(name, database_id, self.folder / f"db-{database_id}.sqlite",
                             self.folder / f"db-{database_id}.catalog.sqlite", state=state)
            if data is not None:
                db.data_file.write_bytes(data)
                db.reserved_bytes = len(data) * (ALLOCATION_FACTOR - 1)
            self.databases[name.lower()] = db
            self.refresh_catalog(db)
            self.publish_databases()
            return db

    def drop_database(self, name: str) -> None:
        with self.lock:
            db = self.databases.pop(name.lower())
            for path in (db.data_file, db.catalog_file):
                path.unlink(missing_ok=True)
            self.publish_databases()

    def publish_databases(self) -> None:
        """Mirror the databases into `sys.databases` and `sys.master_files`."""
        with self.lock:
            dbs = list(self.databases.values())
            collation = str(self.properties["Collation"])
            system = [(n + 1, name, "ONLINE", 0, "MULTI_USER", "SIMPLE", timestamp(), collation)
                      for n, name in enumerate(SYSTEM_DATABASES)]
            rows = system + [(d.database_id, d.name, d.state, int(d.read_only), d.user_access,
                              d.recovery_model, d.created_at, d.collation) for d in dbs]
            files = [f for d in dbs for f in _files(d)]
            # encryption_state 3: encrypted ("sys.dm_database_encryption_keys")
            keys = [(d.database_id, 3, d.encryptor_thumbprint, "CERTIFICATE")
                    for d in dbs if d.encryptor_thumbprint is not None]
            self.replace("databases", rows)
            self.replace("master_files", files)
            self.replace("dm_database_encryption_keys", keys)

    def add_job(self, name: str, database: str, *, enabled: bool,
                next_run: datetime | None) -> None:
        """An Agent job with one T-SQL step in `database`, and when it runs next."""
        job_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"job:{self.name}:{name}")).upper()
        date, time_ = (int(next_run.strftime("%Y%m%d")), int(next_run.strftime("%H%M%S"))) \
            if next_run else (0, 0)
        with self.lock, sqlite3.connect(self.msdb_file, isolation_level=None) as msdb:
            msdb.execute("INSERT INTO sysjobs VALUES (?, ?, ?)", (job_id, name, int(enabled)))
            msdb.execute("INSERT INTO sysjobsteps VALUES (?, 1, ?, 'TSQL', ?, '')",
                         (job_id, name, database))
            msdb.execute("INSERT INTO sysjobschedules VALUES (?, 1, ?, ?)",
                         (job_id, date, time_))
        msdb.close()

    def database_name(self, database_id: int) -> str | None:
        """DB_NAME(id): the system databases are 1-4; NULL for an id no database has."""
        if 1 <= database_id <= len(SYSTEM_DATABASES):
            return SYSTEM_DATABASES[database_id - 1]
        dbs = list(self.databases.values())  # a copy: a restore may add one meanwhile
        return next((d.name for d in dbs if d.database_id == database_id), None)

    def database_id(self, name: str) -> int | None:
        """DB_ID(name): NULL for a name no database has."""
        if name.lower() in SYSTEM_DATABASES:
            return SYSTEM_DATABASES.index(name.lower()) + 1
        db = self.database(name)
        return db.database_id if db else None

    def property_of(self, name: object) -> str | int | None:
        """SERVERPROPERTY(name): NULL for a name it does not know, as SQL Server returns."""
        if str(name) in ("ServerName", "MachineName"):
            return self.name  # a replica is renamed after it is built
        return self.properties.get(str(name))

    def add_certificate(self, name: str, thumbprint: bytes) -> None:
        with self.lock:
            self.certificates[name] = thumbprint
            self.replace("certificates", sorted(self.certificates.items()))

    def add_credential(self, name: str, identity: str) -> None:
        with self.lock:
            self.credentials[name] = identity
            self.replace("credentials", [(n, url, who, timestamp()) for n, (url, who)
                                         in enumerate(sorted(self.credentials.items()), 65536)])

    def add_linked_server(self, name: str, product: str, provider: str, source: str) -> None:
        with self.lock:
            self.linked_servers[name] = (product, provider, source)
            self.publish_servers()

    def publish_servers(self) -> None:
        """sys.servers: the local server is server_id 0 (is_linked 0), linked ones follow."""
        with self.lock:
            self.replace("servers", [(0, self.name, "SQL Server", "SQLNCLI", self.name, 0)] + [
                (n, linked, *spec, 1)
                for n, (linked, spec) in enumerate(sorted(self.linked_servers.items()), 1)])

    def has_perms_by_name(self, securable: object, securable_class: object,
                          permission: object) -> int | None:
        """HAS_PERMS_BY_NAME at server level (securable and class NULL): 1 or 0 for what
        the connecting login holds; NULL for a permission of another class, as the
        function returns when it cannot answer ("HAS_PERMS_BY_NAME (Transact-SQL)")."""
        if securable is not None or securable_class is not None:
            return None
        return int(str(permission).upper() in self.granted)

    def missing_directories(self, paths: Sequence[str]) -> list[str]:
        """The paths whose folder does not exist on this server's disks."""
        return [p for p in paths if p.rsplit("\\", 1)[0].lower() + "\\" not in self.directories]

    def add_login(self, name: str, sid: bytes) -> None:
        with self.lock:
            self.logins[name] = (sid, "SQL_LOGIN")
            self.replace("server_principals", [
                (n, login, login_sid, kind, 0)
                for n, (login, (login_sid, kind)) in enumerate(sorted(self.logins.items()), 1)])

    def refresh_catalog(self, db: SimDatabase) -> None:
        """`sys.schemas`, `sys.tables`, `sys.columns`, the partition stats and the users of a
        database, from its data (each table in the schema its file records for it)."""
        tables = table_counts(db.data_file) if db.data_file.exists() else {}
        columns = table_columns(db.data_file) if tables else {}
        of = table_schemas(db.data_file) if tables else {}
        schemas = {name: n for n, name in enumerate(
            ["dbo", *sorted(set(of.values()) - {"dbo"})], start=1)}
        with sqlite3.connect(db.catalog_file, isolation_level=None) as catalog:
            catalog.execute("PRAGMA journal_mode=WAL")
            catalog.executescript(CATALOG_SCHEMA + "BEGIN; DELETE FROM schemas; "
                                  "DELETE FROM tables; DELETE FROM dm_db_partition_stats; "
                                  "DELETE FROM database_principals; DELETE FROM columns; "
                                  "DELETE FROM types;")
            catalog.executemany("INSERT INTO database_principals VALUES (?, ?, ?, ?, ?)",
                                _principals(db))
            catalog.executemany("INSERT INTO schemas VALUES (?, ?)",
                                [(n, name) for name, n in schemas.items()])
            catalog.executemany("INSERT INTO types VALUES (?, ?, ?)", table_reads.TYPES)
            for n, (table, count) in enumerate(sorted(tables.items()), start=1001):
                catalog.execute("INSERT INTO tables VALUES (?, ?, ?, 0)",
                                (n, schemas[of[table]], table))
                catalog.execute("INSERT INTO dm_db_partition_stats VALUES (?, 1, 1, ?)",
                                (n, count))
                catalog.executemany("INSERT INTO columns VALUES (?, ?, ?, ?, ?)", [
                    (n, column, k, table_reads.type_id(kind), table_reads.type_id(kind))
                    for k, (column, kind) in enumerate(columns[table], start=1)])
            catalog.execute("COMMIT")
        catalog.close()

    # --- the DMV file -------------------------------------------------------------------------

    def replace(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Replace every row of one DMV table, in one transaction (readers see all or none)."""
        with self.lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                self._writer.execute(f"DELETE FROM {table}")
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    self._writer.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                self._writer.execute("COMMIT")
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise

    def write(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self.lock:
            self._writer.execute(statement, params)

    # --- connections --------------------------------------------------------------------------

    def connect(self, program: str | None = None) -> SimConnection:
        with self.lock:
            session_id = next(self._sessions)
            self._connected[session_id] = sessions.Session(session_id, sessions.COCKPIT, 1)
            conn = SimConnection(self, session_id, program)
            self._live[session_id] = conn
            self.publish_sessions()
        return conn

    def ended(self, conn: SimConnection) -> None:
        with self.lock:
            self._live.pop(conn.session_id, None)
        self.session_moved(conn.session_id, None)

    def live_session(self, session_id: int) -> SimConnection | None:
        with self.lock:
            return self._live.get(session_id)

    def session_moved(self, session_id: int, database_id: int | None) -> None:
        """A session's current database changed (USE), or it ended (None)."""
        with self.lock:
            session = self._connected.pop(session_id, None)
            if session is not None and database_id is not None:
                self._connected[session_id] = sessions.Session(
                    session_id, session.client, database_id)
            self.publish_sessions()

    def set_app_pools(self, pools: list[sessions.AppPool]) -> None:
        """The app servers' pools connected now: a new pool's sessions get ids, a pool
        gone takes its sessions with it."""
        with self.lock:
            self._pools = {pool: self._pools.get(pool) or [next(self._sessions)
                                                          for _ in range(pool.size)]
                           for pool in pools}
            self.publish_sessions()

    def publish_sessions(self) -> None:
        """sys.dm_exec_sessions and _connections: the cockpit's sessions, the Agent's job
        steps (user processes under the Agent's login, named by their job and step) and the
        apps' pools."""
        with self.lock:
            if self.closed:  # a client, or a job, ending after the server stopped
                return
            users = sorted([*map(self._as_shown, self._connected.values()), *(
                sessions.Session(n, pool.client, pool.database_id)
                for pool, ids in self._pools.items() for n in ids)],
                key=lambda s: s.session_id)
            self.replace("dm_exec_sessions", sessions.session_rows(users))
            self.replace("dm_exec_connections", sessions.connection_rows(users))

    def _as_shown(self, session: sessions.Session) -> sessions.Session:
        conn = self._live.get(session.session_id)
        if conn is None or not conn.program_name:
            return session
        agent = sessions.Client(self.name, conn.program_name, sql_agent.AGENT_LOGIN,
                                "<local machine>")
        return sessions.Session(session.session_id, agent, session.database_id, "running")

    def write_msdb(self, statement: str, params: Sequence[Any] = ()) -> None:
        if self.closed:
            return
        with self.lock, sqlite3.connect(self.msdb_file, isolation_level=None) as msdb:
            msdb.execute(statement, params)
        msdb.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._writer.close()


def _principals(db: SimDatabase) -> list[tuple[Any, ...]]:
    """dbo (mapped to sa's SID), guest (no login: NONE), then the database's own users."""
    fixed = [(1, "dbo", b"\x01", "SQL_USER", "INSTANCE"), (2, "guest", b"\x00", "SQL_USER", "NONE")]
    return fixed + [(n, name, sid, "SQL_USER", "INSTANCE")
                    for n, (name, sid) in enumerate(sorted(db.users.items()), start=5)]


def _files(db: SimDatabase) -> list[tuple[Any, ...]]:
    """sys.master_files: redo_start_lsn is where the next roll forward must start, NULL
    unless the database is RESTORING."""
    (data, _, data_file), (log, _, log_file) = db.file_paths()
    redo = db.restore.redo_start_lsn if db.restore and db.state == "RESTORING" else None
    return [(db.database_id, 1, 0, "ROWS", data, data_file, db.data_pages(), redo),
            (db.database_id, 2, 1, "LOG", log, log_file, LOG_PAGES, redo)]


# --- the data itself ------------------------------------------------------------------------------


def _quote(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def table_counts(data_file: Path) -> dict[str, int]:
    with sqlite3.connect(data_file) as data:
        counts = {name: int(data.execute(f"SELECT COUNT(*) FROM {_quote(name)}").fetchone()[0])
                  for name in _stored_tables(data)}
    data.close()
    return counts


def table_columns(data_file: Path) -> dict[str, list[tuple[str, str]]]:
    """(name, declared type) of each table's columns, by the table's name in the file."""
    with sqlite3.connect(data_file) as data:
        found = {name: table_reads.columns_of(data, name) for name in _stored_tables(data)}
    data.close()
    return found


def table_schemas(data_file: Path) -> dict[str, str]:
    """Each table's schema, by its name in the database's file."""
    with sqlite3.connect(data_file) as data:
        found = stored_tables(data)
    data.close()
    return found


def _stored_tables(data: sqlite3.Connection) -> list[str]:
    return list(stored_tables(data))


# --- the DB-API surface ------------------------------------------------------------------------


class SimConnection:
    """What pyodbc's Connection offers the adapter: cursor(), execute(), commit(), close()."""

    def __init__(self, server: SimSqlServer, session_id: int,
                 program_name: str | None = None) -> None:
        self.server = server
        self.session_id = session_id
        self.program_name = program_name
        self.autocommit = True
        self.timeout = 0
        self.database = "master"
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.create_function("SERVERPROPERTY", 1, server.property_of, deterministic=True)
        self._db.create_function("HAS_PERMS_BY_NAME", 3, server.has_perms_by_name)
        tsql_select.register_functions(self._db, self)
        self._attach(server.dmv_file)
        self._named: dict[str, Path] = {}  # three-part names' schemas attached: alias -> file
        self._schemas: set[str] = set()  # the database's schemas attached, after USE
        self._closed = False
        self._killed: SimSqlError | None = None

    def cursor(self) -> SimCursor:
        self._check_open()
        return SimCursor(self)

    def execute(self, statement: str, *params: Any) -> SimCursor:
        return self.cursor().execute(statement, *params)

    def commit(self) -> None:
        """Autocommit: nothing is pending."""

    def rollback(self) -> None:
        """Autocommit: nothing is pending."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()
            self.server.ended(self)

    # --- the session's end, from outside ------------------------------------------------

    def kill(self, error: SimSqlError) -> None:
        """KILL the session (its client went away, the server stops): a statement running
        on it ends with `error` at its next tick, and any later one is refused with it."""
        self._killed = error

    def check_timeout(self, elapsed_s: float) -> None:
        """The client's query timeout (pyodbc's Connection.timeout, ODBC's
        SQL_ATTR_QUERY_TIMEOUT): past it, the driver cancels the statement and reports
        SQLSTATE HYT00 ("SQLSetStmtAttr", learn.microsoft.com/sql/odbc/reference)."""
        if self.timeout and elapsed_s > self.timeout:
            raise SimSqlError(0, "Query timeout expired", level=0, sqlstate="HYT00")

    def check_alive(self) -> None:
        """Raise the error the session was killed with, if it was (a fresh copy each time)."""
        killed = self._killed
        if killed is not None:
            raise rebuild(killed.messages, killed.args[0], type(killed).__name__)

    # --- what a cursor asks of its connection --------------------------------------------

    def run(self, statement: str, params: list[Any]) -> tuple[list[tuple[Any, ...]], Any]:
        """Rows and a description for a statement (no rows, None, for a command).

        A `LinkFailure` (the fault `sql-drop-at`) takes the connection with it, as a
        dropped TCP connection takes a pyodbc one: later use is refused as closed."""
        self._check_open()
        self.check_alive()
        try:
            return self._run(statement, params)
        except LinkFailure:
            self.close()
            raise

    def _run(self, statement: str, params: list[Any]) -> tuple[list[tuple[Any, ...]], Any]:
        text = grammar.strip_comments(statement)
        agent_call = sql_agent.parse(text)
        if agent_call is not None:
            self.server.agent.run(self, agent_call)
            return [], None
        backup = backup_grammar.parse(text) or table_reads.parse(text)
        if backup is not None:
            return self._perform(backup)
        parsed = grammar.parse(statement)
        if isinstance(parsed, grammar.Select):
            return self._select(parsed.sql, params)
        if isinstance(parsed, grammar.Use):
            self.use(parsed.database)
            return [], None
        return self._perform(parsed)

    def _perform(self, parsed: Any) -> tuple[list[tuple[Any, ...]], Any]:
        if self.server.handler is None:
            raise SimSqlError(40613, "The server is not ready.", sqlstate="08S01")
        rows = self.server.handler(self, parsed)
        names: tuple[str, ...] = ("",)
        if isinstance(parsed, backup_grammar.Listing):
            names = HEADERONLY_COLUMNS if parsed.what == "HEADERONLY" else FILELISTONLY_COLUMNS
        return rows, (tuple((n, int, None, None, None, None, True) for n in names)
                      if rows else None)

    def use(self, name: str) -> None:
        """The connection's database: `sys` then means that database's catalog views, and
        a two-part name `dbo.<table>` its tables: SQL Server resolves a schema-qualified
        name in the current database ("Database identifiers", learn.microsoft.com/sql/
        relational-databases/databases/database-identifiers)."""
        for schema in self._schemas - {"dbo"}:
            self._detach(schema)
        self._schemas = set()
        if name.lower() in SYSTEM_DATABASES:
            self._attach(self.server.dmv_file)
            if name.lower() == "msdb":  # msdb's own tables: dbo.sysjobs and its kin
                self._attach(self.server.msdb_file, "dbo")
            else:
                self._detach("dbo")
            self.database = name
            self.server.session_moved(self.session_id, SYSTEM_DATABASES.index(name.lower()) + 1)
            return
        db = self._opened(name)
        self._attach(db.catalog_file)
        self._attach(db.data_file, "dbo")
        self._schemas = {"dbo", *table_schemas(db.data_file).values()}
        for schema in self._schemas - {"dbo"}:  # the same file: a schema-qualified name finds it
            self._attach(db.data_file, schema)
        self.database = db.name
        self.server.session_moved(self.session_id, db.database_id)

    def _opened(self, name: str) -> SimDatabase:
        """A user database a statement may read: Msg 911 if there is none, Msg 927 (Level
        14) "Database '%.*ls' cannot be opened. It is in the middle of a restore." while it
        is RESTORING ("Database engine events and errors (0 to 999)")."""
        db = self.server.require(name)
        if not db.online:
            raise SimSqlError(927, f"Database '{db.name}' cannot be opened. It is in the "
                                   "middle of a restore.", level=14)
        return db

    def _attach(self, path: Path, schema: str = "sys") -> None:
        self._detach(schema)
        self._db.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))

    def _detach(self, schema: str) -> None:
        name = schema[1:-1].replace('""', '"') if schema.startswith('"') else schema
        if any(row[1] == name for row in self._db.execute("PRAGMA database_list")):
            self._db.execute(f"DETACH DATABASE {schema}")

    def _select(self, sql: str, params: list[Any]) -> tuple[list[tuple[Any, ...]], Any]:
        select = tsql_select.transpile(sql)  # Msg 102 for what SQL Server cannot read
        for database, schema in select.schemas:
            self._attach_named(database, schema)
        try:
            cursor = self._db.execute(select.sql, params)
        except sqlite3.Error as exc:
            raise _as_sql_server(exc) from None
        description = tuple((c[0], None, None, None, None, None, True)
                            for c in cursor.description or ())
        return [tuple(row) for row in cursor.fetchall()], description

    def _attach_named(self, database: str, schema: str) -> None:
        """The file a three-part name `database.schema.x` reads, attached under that name
        (again only when it changed: a database dropped and restored has a new file)."""
        alias, path = tsql_select.schema_alias(database, schema), self._file_of(database, schema)
        if self._named.get(alias) == path:
            return
        if len(self._named) >= MAX_NAMED:  # SQLite attaches at most 10 files at once
            for stale in list(self._named):
                self._detach(_quoted(stale))
            self._named.clear()
        self._attach(path, _quoted(alias))
        self._named[alias] = path

    def _file_of(self, database: str, schema: str) -> Path:
        """System databases share the server's DMV file (and msdb's dbo its Agent and backup
        tables); a user database's `sys` is its catalog, its `dbo` its data."""
        if database in SYSTEM_DATABASES:
            if schema == "dbo" and database == "msdb":
                return self.server.msdb_file
            if schema == "sys":
                return self.server.dmv_file
        elif schema in ("sys", "dbo"):
            db = self._opened(database)
            return db.catalog_file if schema == "sys" else db.data_file
        # "Invalid object name" (Msg 208) names the schema-qualified object that is missing.
        raise SimSqlError(208, f"Invalid object name '{database}.{schema}'.")

    # --- what a SELECT's functions ask of the session (tsql_select.Session) ----------------

    def server_name(self) -> str:
        return self.server.name

    def database_name(self, database_id: int) -> str | None:
        return self.server.database_name(database_id)

    def database_id(self, name: str) -> int | None:
        return self.server.database_id(name)

    def _check_open(self) -> None:
        if self._closed:
            raise connection_closed()


def _quoted(alias: str) -> str:
    return '"' + alias.replace('"', '""') + '"'


def _as_sql_server(exc: sqlite3.Error) -> SimSqlError:
    text = str(exc)
    if text.startswith("no such table: "):
        return SimSqlError(208, f"Invalid object name '{text.removeprefix('no such table: ')}'.")
    if text.startswith("no such column: "):
        return SimSqlError(207, f"Invalid column name '{text.removeprefix('no such column: ')}'.")
    return SimSqlError(102, f"Incorrect syntax ({text}).", level=15)
