"""The SQL side of the simulated estate, built from the plan: servers, AGs, the OMS data.

Each `[[estate.sql]]` endpoint and each AG replica is a `SimSqlServer`; the database of
each `[[estate.databases]]` lives on its source with the OMS rows. Statements arriving on
any connection are dispatched here, to the operation they start. A ticker advances AG
seeding and keeps `sys.dm_exec_sessions` true to the app servers: each running EC2 app
server holds a connection pool on the database its DNS name points at, for as long as
that database lets it in. (The datacentre app servers were retired after Phase One:
they hold none.)
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cockpit.plan.models import Estate
from cockpit.sim import backup_grammar, plan_data, table_reads
from cockpit.sim import tsql_grammar as grammar
from cockpit.sim.availability_group import SimAvailabilityGroup
from cockpit.sim.backup_engine import BackupEngine, Throughput
from cockpit.sim.faults import FaultSet
from cockpit.sim.oms_data import (
    APP_LOGIN,
    LINKED_SERVER,
    OMS_USERS,
    OTHER_COLLATION,
    OTHER_PATHS,
    TDE_CERTIFICATE,
    TDE_THUMBPRINT,
    WEEKLY_JOB,
    login_sid,
)
from cockpit.sim.sessions import APP_PROGRAM, AppPool, Client
from cockpit.sim.sql_backup import Clock, Operations
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sqlserver import (
    SimConnection,
    SimDatabase,
    SimSqlServer,
    timestamp,
)

TICK_S = 0.05
LOG_PER_ROW = 512  # bytes of log a one-row insert writes
# The log an order costs, all told: its header and lines are a few KB, but what each order
# sets off in an OMS (stock reservations, payment, status history, the indexes of each)
# writes far more. At the profile's 20 MB of log a minute that is 160 orders a minute,
# ~10,000 an hour: a retailer's busy trading hour.
LOG_PER_ORDER = 128 * 1024
POOL = 2  # sessions in each app server's connection pool

Rows = list[tuple[Any, ...]]
_log = logging.getLogger(__name__)


@dataclass
class AppView:
    """What the SQL side needs to know of the rest of the sim."""

    running_apps: Callable[[], list[str]]  # EC2 app servers running now
    resolve: Callable[[str], str | None]  # a DNS name -> its published value


def _norm(host: str) -> str:
    return host.strip().lower().rstrip(".")


# The simulated servers' files live in a temporary folder named by the owning process: a
# sim killed outright (SIGKILL, a crash) cannot remove its own, so the next one sweeps it.
FOLDER_PREFIX = "cockpit-sim-sql-"


def sweep_stale_folders(root: Path | None = None) -> list[Path]:
    """Remove the folders of simulators whose process is gone; returns what was removed."""
    removed = []
    for folder in (root or Path(tempfile.gettempdir())).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, and not ours to sweep
    return True


def _slowed(throughput: Throughput, faults: FaultSet) -> Throughput:
    """`restore-slow=<factor>`: every restore's rate divided by the factor."""
    factor = _first_number(faults.args("restore-slow"))
    if not factor:
        return throughput
    return replace(throughput, restore_mb_s=throughput.restore_mb_s / float(factor))


class SimSqlEstate:
    def __init__(self, estate: Estate, *, speed: float, faults: FaultSet, s3: Any,
                 s3_host: str, apps: AppView, throughput: Throughput | None = None,
                 sentinels: Mapping[str, Sequence[str]] | None = None) -> None:
        throughput = _slowed(throughput or Throughput(), faults)
        self.estate = estate
        self.sentinels = dict(sentinels or {})  # database id -> its sentinel tables
        self.speed = speed
        self.faults = faults
        self.apps = apps
        sweep_stale_folders()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        self.disk_root = self.folder / "disks"
        self.servers: dict[str, SimSqlServer] = {}
        self.ags: dict[str, SimAvailabilityGroup] = {}
        self._hosts: dict[str, str] = {}
        self._stopping = threading.Event()
        self.operations = Operations(Clock(speed, self._stopping), s3, s3_host, self.disk_root,
                                     fail_backup_at=_first_number(faults.args("backup-fails-at")),
                                     drop_session_at=_first_number(faults.args("sql-drop-at")),
                                     drop_row_of=_first_table(faults.args("restore-drops-row")))
        gap = _first_number(faults.args("log-gap"))
        self.engine = BackupEngine(self.operations, throughput, estate.region,
                                   lose_log=int(gap) if gap else None)
        self._last_tick = time.monotonic()
        self._pools: dict[str, list[AppPool]] = {}  # by server key: the apps' pools there
        self._unwritten: dict[tuple[str, str], float] = {}  # log bytes not yet a whole order
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sim-sql")

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._build_servers()
        self._build_ags()
        self._seed_logins()
        for db in self.estate.databases:
            added = self.servers[db.source].add_database(
                db.name, plan_data.database_bytes(db, self.sentinels.get(db.id, ())))
            added.users = {user: login_sid(user) for user in OMS_USERS}
            added.encryptor_thumbprint = TDE_THUMBPRINT
            self.servers[db.source].refresh_catalog(added)
            self.servers[db.source].publish_databases()
        self._seed_jobs()
        self._seed_server_objects()
        for ag in self.ags.values():
            ag.prove_seeding()
        for server in self.servers.values():
            server.handler = self.perform
            server.agent.fails = set(self.faults.args("agent-job-fails"))
        self.tick()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        for server in self.servers.values():
            server.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _build_servers(self) -> None:
        for endpoint in self.estate.sql:
            name = (endpoint.server or endpoint.id).split(".")[0].upper()
            server = self._add_server(endpoint.id, name)
            if endpoint.version:  # the version the plan says it runs
                server.properties.update(ProductMajorVersion=str(endpoint.version),
                                         ProductVersion=f"{endpoint.version}.0.4345.5")
            if endpoint.server:
                self._hosts[_norm(endpoint.server)] = endpoint.id

    def _seed_jobs(self) -> None:
        """The weekly job on each source, next due at 02:00 three days on (local time, as
        Agent schedules are: well outside any window whatever the hour now);
        `job-scheduled` moves its next run into the coming hour. Disabled elsewhere."""
        now = datetime.now(UTC).astimezone()  # the server's local time: this host's
        due = (now + timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
        if self.faults.has("job-scheduled", WEEKLY_JOB):
            due = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
        sources = {db.source: db.name for db in self.estate.databases}
        for key, server in self.servers.items():
            name = sources.get(key) or next(iter(sources.values()), "OMS")
            server.add_job(WEEKLY_JOB, name, enabled=key in sources,
                           next_run=due if key in sources else None)

    def _faulted(self, fault: str, key: str, server: SimSqlServer) -> bool:
        """Whether `fault` names this server, by endpoint id or replica name."""
        named = set(self.faults.args(fault))
        return bool(named & {key, key.removeprefix("replica:"), server.name})

    def _seed_server_objects(self) -> None:
        """What a DBA builds on each instance before the window: the WMS linked server,
        the S3 credential for the backup bucket, the source's file layout and collation;
        each missing or different where a fault says so."""
        name, product, provider, source = LINKED_SERVER
        for key, server in self.servers.items():
            if not self._faulted("linked-server-missing", key, server):
                server.add_linked_server(name, product, provider, source)
            if not self._faulted("credential-missing", key, server):
                for bucket in self.estate.buckets:  # CREATE CREDENTIAL [s3://host/bucket]
                    server.add_credential(f"s3://{self.operations.s3_host}/{bucket.name}",
                                          "S3 Access Key")
            if self._faulted("collation-differs", key, server):
                server.properties["Collation"] = OTHER_COLLATION
                server.publish_databases()
            version = self.faults.args("source-version")
            if version and key in self._datacentre():
                server.properties.update(ProductMajorVersion=version[0],
                                         ProductVersion=f"{version[0]}.0.4345.5")
            if self._faulted("path-missing", key, server):
                data, log = OTHER_PATHS
                server.properties.update(InstanceDefaultDataPath=data, InstanceDefaultLogPath=log)
                server.directories = {data.lower(), log.lower()}

    def _datacentre(self) -> set[str]:
        return {e.id for e in self.estate.sql if e.site == "datacentre"}

    def _seed_logins(self) -> None:
        """The OMS logins on every instance, copied with their SIDs (as a DBA does with
        sp_help_revlogin or Copy-DbaLogin); with `orphaned-user`, that login was created
        again by hand on the instances in AWS, and so has another SID."""
        for key, server in self.servers.items():
            # The DBA copied the TDE certificate (with its key) to every instance, or forgot.
            if not self._faulted("missing-certificate", key, server):
                server.add_certificate(TDE_CERTIFICATE, TDE_THUMBPRINT)
        recreated = set(self.faults.args("orphaned-user"))
        in_datacentre = {e.id for e in self.estate.sql if e.site == "datacentre"}
        for key, server in self.servers.items():
            for user in OMS_USERS:
                again = user in recreated and key not in in_datacentre
                server.add_login(user, login_sid(user, recreated=again))

    def _add_server(self, key: str, name: str) -> SimSqlServer:
        if key not in self.servers:
            folder = self.folder / f"server-{len(self.servers) + 1}"
            self.servers[key] = SimSqlServer(name, folder)
        return self.servers[key]

    def _build_ags(self) -> None:
        stuck = set(self.faults.args("replica-stuck"))
        denied = frozenset(self.faults.args("seeding-denied"))
        for ag in self.estate.availability_groups:
            replicas = {}
            for replica in ag.replicas:
                server = self._add_server(replica.endpoint or f"replica:{replica.id}", replica.id)
                server.name = replica.id  # @@SERVERNAME is the replica's name
                replicas[replica.id] = server
            self.ags[ag.id] = SimAvailabilityGroup(
                ag, replicas, self.speed, stuck, denied=denied,
                seeding_s=self.engine.throughput.seeding_s(),
                listener_offline=self.faults.has("listener-offline", ag.id))
            self._hosts[_norm(ag.listener)] = f"ag:{ag.id}"

    # --- where things are -----------------------------------------------------------------------

    def connector(self, endpoint_id: str) -> Callable[[], SimConnection]:
        server = self.servers[endpoint_id]
        return server.connect

    def server_for(self, host: str) -> SimSqlServer | None:
        """The server a DNS name reaches: an endpoint's host, or an AG listener's primary."""
        key = self._hosts.get(_norm(host))
        if key is None:
            return None
        if key.startswith("ag:"):
            return self.ags[key.removeprefix("ag:")].primary_server
        return self.servers[key]

    def reached_by_apps(self) -> list[tuple[str, SimSqlServer | None]]:
        """(database name, the server its DNS name points at now) for each plan database."""
        found = []
        records = {r.id: r for r in self.estate.records}
        for db in self.estate.databases:
            record = records.get(db.record) if db.record else None
            if record is not None:
                value = self.apps.resolve(record.name)
                found.append((db.name, self.server_for(value) if value else None))
        return found

    def database_status(self) -> str:
        """What an app server's health check says of its database: `ok` while the database
        its DNS name points at is online and writable."""
        for name, server in self.reached_by_apps():
            db = server.database(name) if server else None
            status = "unreachable" if server is None else (
                db.status_for_apps() if db else "missing")
            if status == "ok" and server is not None and db is not None \
                    and APP_LOGIN in db.orphaned_on(server):
                # Msg 4060 (Database engine events and errors 4000-4999): the app's login
                # exists, but no user of the database maps to its SID.
                status = (f'login failed: Cannot open database "{db.name}" requested by the '
                          f"login {APP_LOGIN}")
            if status != "ok":
                return status
        return "ok"

    # --- statements -----------------------------------------------------------------------------

    def perform(self, conn: SimConnection, statement: grammar.Statement) -> Rows:
        """Run one generated statement on the connection's server."""
        handler = _HANDLERS.get(type(statement))
        if handler is None:
            raise grammar.incorrect_syntax(type(statement).__name__)
        return handler(self, conn, statement)

    def _table_query(self, conn: SimConnection, st: table_reads.TableRead) -> Rows:
        db = conn.server.require(st.database)
        if not db.online:
            raise SimSqlError(927, f"Database '{db.name}' cannot be opened. It is in the "
                                   "middle of a restore.", level=14)
        stored = _stored_table(db, st.database, st.schema, st.table)
        return table_reads.answer(db.data_file, stored, st)

    def _set_option(self, conn: SimConnection, st: grammar.SetOption) -> Rows:
        server = conn.server
        in_ag = next((ag for ag in self.ags.values() if ag.holds(st.database)
                      and server in ag.servers.values()), None)
        if in_ag is not None:  # "Prerequisites, Restrictions, and Recommendations for Always
            # On availability groups": an availability database stays read-write and
            # multi-user; ALTER DATABASE is refused with 1468, then 5069 ("Database engine
            # events and errors 1000-1999", "5000-5999")
            raise SimSqlError(1468, f'The operation cannot be performed on database '
                                    f'"{st.database}" because it is involved in a database '
                                    "mirroring session or an availability group. Some "
                                    "operations are not allowed on a database that is "
                                    "participating in a database mirroring session or in an "
                                    "availability group.", then=SimSqlError(
                                        5069, "ALTER DATABASE statement failed."))
        with server.lock:
            db = server.require(st.database)
            if st.option in ("READ_ONLY", "READ_WRITE"):
                db.read_only = st.option == "READ_ONLY"
            else:
                db.user_access = st.option
            server.publish_databases()
        if st.rollback_immediate:  # whoever may no longer be there is rolled back and gone
            self._publish_sessions()
        return []

    def _ag_database(self, conn: SimConnection, st: grammar.AgDatabase) -> Rows:
        ag = self._ag(conn.server, st.ag)
        if st.verb == "ADD":
            ag.add_database(conn.server, conn.server.require(st.database))
        else:
            ag.remove_database(conn.server, st.database)
        return []

    def _join(self, conn: SimConnection, st: grammar.JoinAg) -> Rows:
        self._ag(conn.server, st.ag).join(conn.server, conn.server.require(st.database))
        return []

    def _ag(self, server: SimSqlServer, name: str) -> SimAvailabilityGroup:
        for ag in self.ags.values():
            if ag.spec.id.lower() == name.lower() and server in ag.servers.values():
                return ag
        raise SimSqlError(15151, f"Cannot find the availability group '{name}', because it "
                                 "does not exist or you do not have permission.")

    def _drop(self, conn: SimConnection, st: grammar.DropDatabase) -> Rows:
        db = conn.server.require(st.database)
        if any(ag.holds(db.name) and conn.server in ag.servers.values()
               for ag in self.ags.values()):
            raise SimSqlError(3752, f"The database '{db.name}' is currently joined to an "
                                    "availability group. Before you can drop the database, "
                                    "you need to remove it from the availability group.")
        conn.server.drop_database(db.name)
        return []

    def _insert(self, conn: SimConnection, st: grammar.InsertSentinel) -> Rows:
        """One row into a table of the database: refused as SQL Server refuses a write to a
        database that is not online (927), read-only (3906), or a table it lacks (208)."""
        db = conn.server.require(st.database)
        if not db.online:
            raise SimSqlError(927, f"Database '{db.name}' cannot be opened. It is in the "
                                   "middle of a restore.", level=14)
        if db.read_only:
            raise SimSqlError(3906, f'Failed to update database "{db.name}" because the '
                                    "database is read-only.")
        table = _stored_table(db, st.database, st.schema, st.table)
        with conn.server.lock, sqlite3.connect(db.data_file) as data:
            data.execute(f'INSERT INTO "{table}" VALUES (?, ?)', (st.value, timestamp()))
        data.close()
        db.log.write(LOG_PER_ROW)
        conn.server.refresh_catalog(db)
        return []

    def _backup(self, conn: SimConnection, st: backup_grammar.Backup) -> Rows:
        self.engine.backup(conn, st, sessions_on=self._user_sessions(conn, st.database))
        return []

    def _restore(self, conn: SimConnection, st: backup_grammar.Restore) -> Rows:
        self.engine.restore(conn, st)
        return []

    def _listing(self, conn: SimConnection, st: backup_grammar.Listing) -> Rows:
        return self.engine.listing(st)

    def _user_sessions(self, conn: SimConnection, name: str) -> int:
        """User sessions in the database on the connection's server, but its own."""
        db = conn.server.database(name)
        key = next((k for k, s in self.servers.items() if s is conn.server), None)
        if db is None or key is None:
            return 0
        return sum(pool.size for pool in self._pools.get(key, [])
                   if pool.database_id == db.database_id)

    # --- time -----------------------------------------------------------------------------------

    def tick(self) -> None:
        now = time.monotonic()
        for ag in self.ags.values():
            ag.tick(now)
        self._publish_sessions()
        self._write_log(now)

    def _write_log(self, now: float) -> None:
        """The stores' orders, written into the database the apps reach while it is open to
        them (online, read-write, multi-user: until the tail-log backup fences it): rows
        arrive and the log grows by what they wrote, so LSNs advance and a log backup has
        that much to carry, and the rows as of its last LSN."""
        elapsed, self._last_tick = (now - self._last_tick) * self.speed, now
        per_s = self.engine.throughput.log_mb_per_min * 1024 * 1024 / 60
        for name, server in self.reached_by_apps():
            db = server.database(name) if server else None
            if server is not None and db is not None and db.status_for_apps() == "ok" \
                    and self.apps.running_apps():
                self._take_orders(server, db, per_s * elapsed)

    def _take_orders(self, server: SimSqlServer, db: SimDatabase, log_bytes: float) -> None:
        """Whole orders for the log written (the rest carried to the next tick), under the
        server's lock: a backup reads the data and the log's end together."""
        key = (server.name, db.name)
        owed = self._unwritten.get(key, 0.0) + log_bytes
        orders = int(owed // LOG_PER_ORDER)
        self._unwritten[key] = owed - orders * LOG_PER_ORDER
        with server.lock:
            if orders:
                plan_data.arrive(db.data_file, orders)
            db.log.write(int(log_bytes))
        if orders:
            server.refresh_catalog(db)

    def _loop(self) -> None:
        while not self._stopping.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # one bad tick must not stop the seeding for good
                if self._stopping.is_set():
                    return
                _log.exception("simulated SQL Server tick failed")

    def _publish_sessions(self) -> None:
        """Each running app server's pool, on the database its DNS name reaches, if it may."""
        wanted: dict[str, list[AppPool]] = {key: [] for key in self.servers}
        apps = self.apps.running_apps()
        for name, server in self.reached_by_apps():
            db = server.database(name) if server else None
            if server is None or db is None or not db.online or db.user_access != "MULTI_USER":
                continue
            key = next(k for k, s in self.servers.items() if s is server)
            wanted[key] += [AppPool(self._client(app), db.database_id, POOL) for app in apps]
        for key, pools in wanted.items():
            if self._pools.get(key) != pools:
                self._pools[key] = pools
                self.servers[key].set_app_pools(pools)

    def _client(self, app: str) -> Client:
        """An app server as its sessions show it: its name, SqlClient, its address."""
        spec = next((a for a in self.estate.app_servers if a.id == app), None)
        address = (spec.address or urlsplit(spec.health_url).hostname) if spec else None
        return Client(app, APP_PROGRAM, APP_LOGIN, address or "")


def _stored_table(db: SimDatabase, database: str, schema: str, table: str) -> str:
    """A table's name in the database's file; Msg 208 when the database has no such table."""
    with sqlite3.connect(db.data_file) as data:
        stored = plan_data.stored_table(data, f"{schema}.{table}")
    data.close()
    if stored is None:
        raise SimSqlError(208, f"Invalid object name '{database}.{schema}.{table}'.")
    return stored


def _first_number(args: list[str]) -> float | None:
    return float(args[0]) if args else None


def _first_table(args: list[str]) -> str | None:
    return args[0] if args else None


_HANDLERS: dict[type, Callable[[SimSqlEstate, SimConnection, Any], Rows]] = {
    table_reads.TableRead: SimSqlEstate._table_query,
    grammar.SetOption: SimSqlEstate._set_option,
    grammar.AgDatabase: SimSqlEstate._ag_database,
    grammar.JoinAg: SimSqlEstate._join,
    grammar.DropDatabase: SimSqlEstate._drop,
    grammar.InsertSentinel: SimSqlEstate._insert,
    backup_grammar.Backup: SimSqlEstate._backup,
    backup_grammar.Restore: SimSqlEstate._restore,
    backup_grammar.Listing: SimSqlEstate._listing,
}
