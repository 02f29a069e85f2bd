"""A session folder opened by its driver: log repair, `session.opened`, resume.

Opening is where trust is established: the lock proves one driver, a torn last line from
a crash is cut off and the cut itself recorded, the first entry names the plan (by hash),
the cockpit version and the AWS identity, and a step the last driver left running is
marked interrupted so nobody mistakes it for done or silently runs it again.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cockpit import __version__
from cockpit.audit import events
from cockpit.audit.entry import Actor, AuditEntry
from cockpit.audit.redact import Redactor
from cockpit.audit.verify import read_entries, repair_torn_tail
from cockpit.audit.writer import AuditWriter
from cockpit.estate.ec2 import pinned_instances
from cockpit.estate.handle import EstateHandle
from cockpit.estate.identity import aws_identity
from cockpit.estate.sql import odbc_pairs
from cockpit.runner.lock import DriverLock
from cockpit.runner.state import cut_short_steps


class SessionFiles(Protocol):
    """The files of a session folder, as the session layer names them."""

    @property
    def path(self) -> Path: ...

    @property
    def audit(self) -> Path: ...

    @property
    def state(self) -> Path: ...

    @property
    def lock(self) -> Path: ...


@dataclass(frozen=True)
class PlanRecord:
    """How `session.opened` names the plan: by name, where it came from, and its hash."""

    name: str
    path: Path
    sha256: str


@dataclass
class OpenedSession:
    files: SessionFiles
    writer: AuditWriter
    lock: DriverLock
    redactor: Redactor
    entries: list[AuditEntry]
    warnings: list[str] = field(default_factory=list)


def open_as_driver(files: SessionFiles, lock: DriverLock, *, plan: PlanRecord,
                   handle: EstateHandle, mode: str = "driver") -> OpenedSession:
    """The folder's lock is already held: repair the log, write `session.opened`, and
    record what the last driver left behind."""
    redactor = secrets_of(handle)
    torn = repair_torn_tail(files.audit) if files.audit.exists() else None
    entries = read_entries(files.audit).entries if files.audit.exists() else []
    session_id = entries[0].session if entries else new_session_id()
    writer = AuditWriter(files.audit, session=session_id, actor=Actor.current(), mode=mode,
                         redactor=redactor)
    opened = OpenedSession(files, writer, lock, redactor, entries)
    opened.entries.append(writer.append(events.SESSION_OPENED, detail={
        "plan_name": plan.name, "plan_path": str(plan.path.resolve()),
        "plan_sha256": plan.sha256, "cockpit_version": __version__,
        "aws_identity": aws_identity(handle), "instances": pinned_instances(handle),
        "pid": os.getpid(), "resumed": bool(entries)}))
    _record_recovery(opened, torn, lock)
    return opened


def new_session_id() -> str:
    """`20261126-143323-ab12`: sortable, and unique enough for one jump host."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def _record_recovery(opened: OpenedSession, torn: bytes | None, lock: DriverLock) -> None:
    writer = opened.writer
    if torn is not None:
        opened.entries.append(writer.append(events.AUDIT_REPAIRED, detail={
            "removed_bytes": len(torn), "removed_sha256": hashlib.sha256(torn).hexdigest()}))
        opened.warnings.append(f"the log ended in a torn line ({len(torn)} bytes, a crash "
                               "mid-write); it was cut off and the repair recorded")
    if lock.previous is not None:
        detail: dict[str, Any] = {"previous": lock.previous.describe()}
        if lock.stopped_hung is not None:
            detail["hung"] = lock.stopped_hung
            opened.warnings.append(_hung_warning(lock.previous.describe(), lock.stopped_hung))
        opened.entries.append(writer.append(events.LOCK_TAKEN_OVER, detail=detail))
    # Streams run side by side: a dead driver may have left several steps running.
    for step, last in cut_short_steps(opened.entries):
        opened.entries.append(writer.append(events.SESSION_INTERRUPTED, step=step,
                                            detail={"step": step, "last_event": last}))
        opened.warnings.append(f"step {step} was running when the last driver stopped: it is "
                               "interrupted; re-check it, run it again or mark it done")


def _hung_warning(previous: str, stopped: dict[str, Any]) -> str:
    return (f"the driver {previous} was hung (no heartbeat for {stopped.get('silent_s')} s); "
            f"it was stopped with {' then '.join(stopped.get('signals', []))} and gone after "
            f"{stopped.get('gone_after_s')} s; this session took it over")


def secrets_of(handle: EstateHandle) -> Redactor:
    """Everything secret this session can see, so none of it reaches the log."""
    redactor = Redactor()
    for endpoint in handle.estate.sql:
        value = os.environ.get(endpoint.dsn_env)
        if value:
            redactor.add_secret(value)
            for key, secret in odbc_pairs(value):
                if key.lower() in ("pwd", "password") and secret:
                    redactor.add_secret(secret)
    if handle.endpoints.credentials_are_secret:
        for value in (handle.endpoints.aws_credentials or {}).values():
            redactor.add_secret(value)
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            redactor.add_secret(os.environ[name])
    return redactor
