"""What a probe saw: typed snapshots, the one currency between estate, runner and screen.

Every snapshot carries when it was taken and, instead of raising, the error that stopped
it: a pane shows the error inline and the app keeps running.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    taken_at: datetime = Field(default_factory=utcnow)
    error: str | None = None


class InstanceState(BaseModel):
    server: str
    instance_id: str | None = None
    state: str = "missing"
    az: str | None = None
    instance_type: str | None = None
    private_ip: str | None = None


class InstancesSnapshot(Snapshot):
    instances: list[InstanceState] = []


class TargetState(BaseModel):
    server: str
    instance_id: str
    port: int | None = None
    az: str | None = None
    state: str
    reason: str | None = None
    description: str | None = None


class TargetGroupSnapshot(Snapshot):
    group: str
    targets: list[TargetState] = []


class AppHealth(BaseModel):
    server: str
    site: str
    url: str
    status: int | None = None
    latency_ms: float | None = None
    version: str | None = None
    database: str | None = None
    body: str | None = None
    error: str | None = None

    @property
    def healthy(self) -> bool:
        return self.status == 200 and self.error is None


class AppHealthSnapshot(Snapshot):
    servers: list[AppHealth] = []


class HttpAnswer(Snapshot):
    """One request as a client made it: the name asked of which resolver, the address it
    went to, and the answer; `error` says why there was none (refused, timeout...)."""

    method: str
    url: str
    host: str  # the Host header sent
    through: str | None = None  # the name asked in place of the URL's (an ALB's)
    resolver: str | None = None  # None: this host's resolver, or an address in the URL
    address: str | None = None
    port: int
    status: int | None = None
    reason: str | None = None
    latency_ms: float | None = None
    body: str | None = None


class ChangeSnapshot(Snapshot):
    change_id: str
    status: str | None = None
    submitted_at: datetime | None = None


class RecordValue(BaseModel):
    """A record as Route 53 holds it; an alias's `value` is its target's DNS name."""

    record: str
    name: str
    type: str
    value: str | None = None
    ttl: int | None = None
    alias: bool = False


class RecordsSnapshot(Snapshot):
    records: list[RecordValue] = []


class ResolverAnswer(BaseModel):
    resolver: str
    record: str
    name: str
    value: str | None = None
    ttl: int | None = None
    error: str | None = None


class DnsSnapshot(Snapshot):
    answers: list[ResolverAnswer] = []


# --- SQL Server ---------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    """SQL Server's datetimes carry no zone; the sim's and the servers' clocks are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class ReplicaState(BaseModel):
    """One replica of an AG, and (when the AG holds it) one database on that replica."""

    replica: str
    availability_mode: str | None = None
    role: str | None = None
    connected_state: str | None = None
    replica_health: str | None = None
    database: str | None = None
    sync_state: str | None = None
    sync_health: str | None = None
    log_send_queue_kb: int | None = None
    redo_queue_kb: int | None = None

    @property
    def synchronous(self) -> bool:
        return (self.availability_mode or "").upper().startswith("SYNCHRONOUS")


class AgSnapshot(Snapshot):
    ag: str
    endpoint: str | None = None
    replicas: list[ReplicaState] = []

    def for_database(self, database: str) -> list[ReplicaState]:
        return [r for r in self.replicas if r.database == database]


class RunningRequest(BaseModel):
    """A BACKUP or RESTORE in `sys.dm_exec_requests`."""

    session_id: int
    command: str
    database: str | None = None
    percent_complete: float = 0.0
    estimated_completion_ms: int | None = None
    start_time: datetime | None = None

    @field_validator("start_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class RequestsSnapshot(Snapshot):
    endpoint: str
    requests: list[RunningRequest] = []


class SessionGroup(BaseModel):
    """Sessions alike: the same host, program, login and client address."""

    host_name: str | None = None
    program_name: str | None = None
    login_name: str | None = None
    client_net_address: str | None = None
    sessions: int

    def said(self) -> str:
        """Whom to chase, in one phrase: `oms-app-1 (10.60.1.11) .Net SqlClient Data
        Provider as oms_app x2`."""
        return (f"{self.host_name or '?'} ({self.client_net_address or 'no address'}) "
                f"{self.program_name or '?'} as {self.login_name or '?'} x{self.sessions}")


class SessionsSnapshot(Snapshot):
    endpoint: str
    database: str
    groups: list[SessionGroup] = []

    @property
    def total(self) -> int:
        return sum(g.sessions for g in self.groups)


class DatabaseStateSnapshot(Snapshot):
    endpoint: str
    database: str
    exists: bool = False
    state: str | None = None
    is_read_only: bool | None = None
    user_access: str | None = None
    recovery_model: str | None = None
    size_pages: int | None = None

    @property
    def size_bytes(self) -> int:
        return (self.size_pages or 0) * 8192


class TableData(BaseModel):
    """One table as the data check sees it: exact rows, checksum, and the partition stats.
    `skipped`: the columns its checksum leaves out, each `name (type)`, being of a type
    CHECKSUM cannot take."""

    table: str
    rows: int | None = None
    checksum: int | None = None
    stats_rows: int | None = None
    skipped: list[str] = []


class DataSnapshot(Snapshot):
    endpoint: str
    database: str
    tables: list[TableData] = []

    def by_table(self) -> dict[str, TableData]:
        return {t.table.lower(): t for t in self.tables}


# --- S3 ---------------------------------------------------------------------------------------


class UploadState(BaseModel):
    """An open multipart upload: a backup in flight, or the parts a failed one left."""

    key: str
    upload_id: str
    parts: int = 0
    bytes: int = 0
    initiated: datetime | None = None


class ObjectState(BaseModel):
    key: str
    size: int
    parts: int = 1
    etag: str | None = None


class BackupObjectsSnapshot(Snapshot):
    """A backup's key (or its stripes) in S3: uploads still open, objects complete."""

    bucket: str
    key: str
    uploads: list[UploadState] = []
    objects: list[ObjectState] = []

    @property
    def uploaded_bytes(self) -> int:
        return sum(u.bytes for u in self.uploads) + sum(o.size for o in self.objects)
