"""What a probe saw: typed snapshots, the one currency between estate, runner and screen.

Every snapshot carries when it was taken and, instead of raising, the error that stopped
it: a pane shows the error inline and the app keeps running.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


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


class ChangeSnapshot(Snapshot):
    change_id: str
    status: str | None = None
    submitted_at: datetime | None = None


class RecordValue(BaseModel):
    record: str
    name: str
    type: str
    value: str | None = None
    ttl: int | None = None


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
