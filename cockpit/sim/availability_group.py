"""An Always On availability group in the sim: replicas, databases, and seeding over time.

Adding a database on the primary seeds every secondary: NOT SYNCHRONIZING while the
seeding starts, SYNCHRONIZING while the log send queue drains (and the redo queue rises
and falls), then SYNCHRONIZED on synchronous-commit replicas. Asynchronous-commit ones
stay SYNCHRONIZING, which is healthy for them. A replica told to be stuck
(`replica-stuck`) never leaves SYNCHRONIZING. Each replica server's DMVs show what SQL
Server shows there: the primary every replica, a secondary only itself.

Automatic seeding needs the AG granted CREATE ANY DATABASE on each secondary ("Automatic
seeding for secondary replicas"); a secondary without it (`seeding-denied`) never gets its
copy, and the primary's `sys.dm_hadr_automatic_seeding` says the seeding FAILED. Which
`failure_state` a missing grant gives is not documented; the sim says 21, "Seeding Check
Message Timeout", as a secondary that never answers gives. The group was built two days
before the window and proven by seeding a small canary database to every secondary (the
runbook's T-48h test): its history is there from the start.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.plan.models import AgReplica, AvailabilityGroup
from cockpit.sim.sql_errors import SimSqlError
from cockpit.sim.sqlserver import SimDatabase, SimSqlServer, timestamp

SEEDING_S = 60.0  # nominal time to seed the OMS database to a secondary
JOIN_S = 20.0  # a secondary restored WITH NORECOVERY only catches up on the log
STARTING = 0.15  # the share of the seeding spent NOT SYNCHRONIZING
STUCK_AT = 0.55  # where a stuck replica's queues stop draining
STAGGER = 0.1  # each further secondary starts this share of the seeding later
CANARY = "SeedCanary"  # the small database the AG was proven with at T-48h
TIMEOUT_STATE = (21, "Seeding Check Message Timeout")  # sys.dm_hadr_automatic_seeding
LISTENER_PORT = 1433


@dataclass
class DatabaseReplica:
    """One database on one replica, and where its synchronization has got to."""

    replica: AgReplica
    database: str
    size_kb: int
    started: float
    duration: float
    primary: bool = False
    stuck: bool = False
    denied: bool = False  # automatic seeding refused: no copy ever arrives
    prepared: bool = False  # restored WITH NORECOVERY there: waits for its join, no seeding
    state: str = "NOT SYNCHRONIZING"
    send_kb: int = 0
    redo_kb: int = 0

    @property
    def synchronous(self) -> bool:
        return self.replica.availability_mode == "synchronous_commit"

    @property
    def health(self) -> str:
        if self.state == "SYNCHRONIZED" or (self.state == "SYNCHRONIZING"
                                            and not self.synchronous):
            return "HEALTHY"
        return "PARTIALLY_HEALTHY" if self.state == "SYNCHRONIZING" else "NOT_HEALTHY"

    def advance(self, now: float) -> None:
        if self.primary:
            self.state, self.send_kb, self.redo_kb = "SYNCHRONIZED", 0, 0
            return
        if self.denied or self.prepared:
            self.state, self.send_kb, self.redo_kb = "NOT SYNCHRONIZING", self.size_kb, 0
            return
        progress = max(0.0, (now - self.started) / self.duration)
        if self.stuck:
            progress = min(progress, STUCK_AT)
        if progress < STARTING:
            self.state, self.send_kb, self.redo_kb = "NOT SYNCHRONIZING", self.size_kb, 0
        elif progress < 1.0:
            drained = (progress - STARTING) / (1.0 - STARTING)
            self.state = "SYNCHRONIZING"
            self.send_kb = int(self.size_kb * (1.0 - drained))
            self.redo_kb = int(self.size_kb * drained * (1.0 - drained))
        else:
            self.send_kb, self.redo_kb = 0, 0
            self.state = "SYNCHRONIZED" if self.synchronous else "SYNCHRONIZING"


class SimAvailabilityGroup:
    """One AG across its replica servers; the first replica is the primary."""

    def __init__(self, spec: AvailabilityGroup, servers: dict[str, SimSqlServer],
                 speed: float, stuck: set[str], *, denied: frozenset[str] = frozenset(),
                 listener_offline: bool = False, seeding_s: float = SEEDING_S) -> None:
        self.spec = spec
        self.servers = servers  # replica id -> server
        self.speed = speed
        self.stuck = stuck
        self.denied = denied  # secondaries where the AG may not create databases
        self.listener_offline = listener_offline
        self.seeding_s = seeding_s  # the database's size at the seeding pace
        self.seeding_history: list[tuple[Any, ...]] = []
        self.group_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"ag.{spec.id}")).upper()
        # Names made once: the DMVs are published at every 50 ms tick, a row per database
        # and replica, and uuid5 for each row was a third of the SQL side's CPU.
        self._replica_ids = {r.id: str(uuid.uuid5(uuid.NAMESPACE_DNS, f"replica.{spec.id}.{r.id}"))
                             for r in spec.replicas}
        self._listener_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"listener.{spec.id}")).upper()
        self.databases: dict[str, dict[str, DatabaseReplica]] = {}
        self.lock = threading.RLock()
        self._published: dict[str, dict[str, list[tuple[Any, ...]]]] = {}

    @property
    def primary(self) -> AgReplica:
        return self.spec.primary()

    @property
    def primary_server(self) -> SimSqlServer:
        return self.servers[self.primary.id]

    def replica_id(self, replica: AgReplica) -> str:
        return self._replica_ids[replica.id]

    def holds(self, database: str) -> bool:
        return database.lower() in self.databases

    def prove_seeding(self) -> None:
        """The T-48h canary seeding, to every secondary: its history on the primary."""
        start = timestamp(datetime.now(UTC) - timedelta(days=2))
        for replica in self.spec.replicas[1:]:
            self._record_seeding(CANARY, replica, start)
        self.publish()

    def _record_seeding(self, database: str, replica: AgReplica, start: str) -> None:
        """One row of `sys.dm_hadr_automatic_seeding` on the primary, the seeding's source."""
        failed = replica.id in self.denied
        state, desc = TIMEOUT_STATE if failed else (None, None)
        ids = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{self.spec.id}.{database}.{replica.id}"))
               for kind in ("db", "op")]
        self.seeding_history.append((
            start, start, self.group_id, ids[0], self.replica_id(replica), ids[1], 1,
            "FAILED" if failed else "COMPLETED", int(not failed), state, desc, None, 1))

    # --- statements -----------------------------------------------------------------------------

    def add_database(self, server: SimSqlServer, db: SimDatabase) -> None:
        """ALTER AVAILABILITY GROUP ... ADD DATABASE, on the primary: seeding starts."""
        self._require_primary(server, "add a database to")
        self._require_addable(db)
        now, size_kb = time.monotonic(), db.data_pages() * 8
        duration = self.seeding_s / self.speed
        prepared = {r.id for r in self.spec.replicas[1:] if self._restoring(r, db.name)}
        with self.lock:
            self.databases[db.name.lower()] = {
                r.id: DatabaseReplica(r, db.name, size_kb, now + n * STAGGER * duration,
                                      duration, primary=n == 0, stuck=r.id in self.stuck,
                                      denied=r.id in self.denied, prepared=r.id in prepared)
                for n, r in enumerate(self.spec.replicas)}
            for replica in self.spec.replicas[1:]:
                if replica.id not in prepared:  # a prepared secondary is joined, not seeded
                    self._record_seeding(db.name, replica, timestamp())
        self.tick(now)

    def _restoring(self, replica: AgReplica, name: str) -> bool:
        copy = self.servers[replica.id].database(name)
        return copy is not None and copy.state == "RESTORING"

    def remove_database(self, server: SimSqlServer, name: str) -> None:
        self._require_primary(server, "remove a database from")
        with self.lock:
            if self.databases.pop(name.lower(), None) is None:
                raise SimSqlError(35207, f"Database '{name}' is not in availability group "
                                         f"'{self.spec.id}'.")
        for replica in self.spec.replicas[1:]:  # the secondaries' copies stop, RESTORING
            secondary = self.servers[replica.id]
            copy = secondary.database(name)
            if copy is not None:
                copy.state = "RESTORING"
                secondary.publish_databases()
        self.publish()

    def join(self, server: SimSqlServer, db: SimDatabase) -> None:
        """ALTER DATABASE ... SET HADR AVAILABILITY GROUP, on a secondary restored WITH
        NORECOVERY: it catches up on the log and synchronizes."""
        replica = next((r for r, s in self.servers.items() if s is server), None)
        rows = self.databases.get(db.name.lower())
        if replica is None or rows is None or db.state != "RESTORING":
            raise SimSqlError(35250, f"The database '{db.name}' cannot join availability "
                                     f"group '{self.spec.id}': it must be added on the primary "
                                     "and restored WITH NORECOVERY here first.")
        self._require_log(db)
        duration = JOIN_S / self.speed
        with self.lock:  # no seeding: it starts where the log catches up
            rows[replica].prepared = False
            rows[replica].duration = duration
            rows[replica].started = time.monotonic() - STARTING * duration
        self.tick(time.monotonic())

    def _require_log(self, db: SimDatabase) -> None:
        """A secondary joins only if its log reaches the primary's: else Msg 1478
        ("ALTER DATABASE SET HADR"; "Database engine events and errors 1000-1999")."""
        primary = self.primary_server.database(db.name)
        redo = db.restore.redo_start_lsn if db.restore else None
        if primary is not None and redo is not None and redo < primary.log.log_start_or_end:
            raise SimSqlError(1478, f'The mirror database, "{db.name}", has insufficient '
                                    "transaction log data to preserve the log backup chain of "
                                    "the principal database. This may happen if a log backup "
                                    "from the principal database has not been taken or has "
                                    "not been restored on the mirror database.")

    def _require_primary(self, server: SimSqlServer, what: str) -> None:
        if server is not self.primary_server:
            raise SimSqlError(41190, f"Cannot {what} availability group '{self.spec.id}' on "
                                     f"'{server.name}': the local replica is not the primary.")

    def _require_addable(self, db: SimDatabase) -> None:
        if self.holds(db.name):
            raise SimSqlError(35250, f"Database '{db.name}' is already in availability group "
                                     f"'{self.spec.id}'.")
        if not db.online or db.read_only:
            raise SimSqlError(41145, f"Cannot add database '{db.name}' to availability group "
                                     f"'{self.spec.id}': an availability database must be "
                                     "online and read-write.")
        if db.recovery_model != "FULL":
            # "Prerequisites, Restrictions, and Recommendations for Always On availability
            # groups": an availability database uses the FULL recovery model. Which message
            # SQL Server then gives is not documented; this one says the rule.
            raise SimSqlError(41145, f"Cannot add database '{db.name}' to availability group "
                                     f"'{self.spec.id}': it uses the {db.recovery_model} "
                                     "recovery model; an availability database must use FULL.")

    # --- time ------------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Advance every seeding, create the secondaries' copies, and publish the DMVs."""
        with self.lock:
            for rows in self.databases.values():
                for row in rows.values():
                    row.advance(now)
                    self._ensure_copy(row)
        self.publish()

    def _ensure_copy(self, row: DatabaseReplica) -> None:
        """Seeding creates the database on a secondary (unreadable: RESTORING until synced)."""
        if row.primary or row.denied or row.state == "NOT SYNCHRONIZING":
            return
        server = self.servers[row.replica.id]
        copy = server.database(row.database)
        if copy is None:
            source = self.primary_server.require(row.database)
            copy = server.add_database(row.database, source.data_file.read_bytes(),
                                       state="RESTORING")
            copy.users = dict(source.users)  # a copy of the database: its users with it
            copy.encryptor_thumbprint = source.encryptor_thumbprint
            copy.collation = source.collation
            server.refresh_catalog(copy)
        state = "ONLINE" if row.state in ("SYNCHRONIZED", "SYNCHRONIZING") and \
            row.health == "HEALTHY" else "RESTORING"
        if copy.state != state:
            copy.state = state
            server.publish_databases()

    # --- the DMVs ------------------------------------------------------------------------------

    def publish(self) -> None:
        for replica in self.spec.replicas:
            self._publish_on(replica)

    def _publish_on(self, local: AgReplica) -> None:
        """Rewrite the replica's AG views, when what they show has changed."""
        server = self.servers[local.id]
        seen = self.spec.replicas if local is self.primary else [local]
        seen_ids = {r.id for r in seen}  # by id: comparing the models field by field is slow
        with self.lock:
            rows = [row for rows in self.databases.values() for row in rows.values()
                    if row.replica.id in seen_ids]
            tables = {
                "availability_groups": [(self.group_id, self.spec.id)],
                "availability_replicas": [self._replica_row(r) for r in self.spec.replicas],
                "dm_hadr_availability_replica_states": [
                    self._replica_state(r, local, rows) for r in seen],
                "dm_hadr_database_replica_states": [
                    found for row in rows
                    if (found := self._database_row(server, row, local)) is not None],
                "availability_group_listeners": [
                    (self.group_id, self._listener_id, self.spec.listener.rstrip("."),
                     LISTENER_PORT)],
                "availability_group_listener_ip_addresses": self._listener_addresses(),
                # the seeding's source keeps its history: the primary
                "dm_hadr_automatic_seeding": list(self.seeding_history)
                if local is self.primary else [],
            }
            if self._published.get(local.id) == tables:
                return
            self._published[local.id] = tables
        for table, table_rows in tables.items():
            server.replace(table, table_rows)

    def _listener_addresses(self) -> list[tuple[Any, ...]]:
        """One address per subnet of the replicas (a multi-subnet listener): ONLINE in the
        primary's subnet and OFFLINE in the others, as the cluster brings up only one;
        every one OFFLINE when the listener's cluster resource failed."""
        azs = list(dict.fromkeys(r.az or "" for r in self.spec.replicas))
        rows = []
        for n, az in enumerate(azs, start=1):
            online = az == (self.primary.az or "") and not self.listener_offline
            rows.append((self._listener_id, f"10.60.{n}.50", "255.255.255.0",
                         "ONLINE" if online else "OFFLINE"))
        return rows

    def _replica_row(self, replica: AgReplica) -> tuple[Any, ...]:
        return (self.replica_id(replica), self.group_id, replica.id,
                replica.availability_mode.upper(), "AUTOMATIC" if replica.availability_mode
                == "synchronous_commit" else "MANUAL", "AUTOMATIC")

    def _replica_state(self, replica: AgReplica, local: AgReplica,
                       rows: list[DatabaseReplica]) -> tuple[Any, ...]:
        healths = [row.health for row in rows if row.replica is replica]
        health = min(healths, key=_HEALTH_ORDER.index) if healths else "HEALTHY"
        role = "PRIMARY" if replica.id == self.primary.id else "SECONDARY"
        return (self.replica_id(replica), self.group_id, int(replica is local), role,
                "ONLINE" if replica is local else None, "CONNECTED", health)

    def _database_row(self, server: SimSqlServer, row: DatabaseReplica,
                      local: AgReplica) -> tuple[Any, ...] | None:
        db = server.database(row.database)
        if db is None:  # seeding has not created the copy on this secondary yet
            return None
        return (db.database_id, self.group_id, self.replica_id(row.replica),
                int(row.replica is local), int(row.primary), row.state, row.health,
                "ONLINE" if row.state != "NOT SYNCHRONIZING" else "RECOVERING",
                row.send_kb, row.redo_kb)


_HEALTH_ORDER = ["NOT_HEALTHY", "PARTIALLY_HEALTHY", "HEALTHY"]
