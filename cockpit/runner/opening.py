"""A session folder opened by its driver: lock, log repair, `session.opened`, resume.

Opening is where trust is established: the lock proves one driver, a torn last line from
a crash is cut off and the cut itself recorded, the first entry names the plan (by hash),
the cockpit version and the AWS identity, and a step the last driver left running is
marked interrupted so nobody mistakes it for done or silently runs it again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit import __version__
from cockpit.audit import events
from cockpit.audit.entry import Actor, AuditEntry
from cockpit.audit.redact import Redactor
from cockpit.audit.verify import read_entries, repair_torn_tail
from cockpit.audit.writer import AuditWriter
from cockpit.estate.handle import EstateHandle
from cockpit.runner.lock import DriverLock
from cockpit.runner.state import cut_short_step
from cockpit.sessions import new_session_id


@dataclass(frozen=True)
class SessionPaths:
    folder: Path

    @property
    def audit(self) -> Path:
        return self.folder / "audit.jsonl"

    @property
    def state(self) -> Path:
        return self.folder / "state.json"

    @property
    def lock(self) -> Path:
        return self.folder / "lock"


@dataclass
class OpenedSession:
    paths: SessionPaths
    writer: AuditWriter
    lock: DriverLock
    redactor: Redactor
    entries: list[AuditEntry]
    warnings: list[str] = field(default_factory=list)


def open_as_driver(
    folder: Path,
    *,
    plan_path: Path,
    plan_name: str,
    handle: EstateHandle,
    take_over: bool = False,
    mode: str = "driver",
) -> OpenedSession:
    paths = SessionPaths(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = DriverLock(paths.lock)
    lock.acquire(take_over=take_over)
    try:
        return _open_locked(paths, lock, plan_path, plan_name, handle, mode)
    except BaseException:
        lock.release(restore_previous=True)  # the dead driver's name stays for next time
        raise


def _open_locked(
    paths: SessionPaths, lock: DriverLock, plan_path: Path, plan_name: str,
    handle: EstateHandle, mode: str,
) -> OpenedSession:
    redactor = secrets_of(handle)
    torn = repair_torn_tail(paths.audit) if paths.audit.exists() else None
    entries = read_entries(paths.audit).entries if paths.audit.exists() else []
    session_id = entries[0].session if entries else new_session_id()
    writer = AuditWriter(paths.audit, session=session_id, actor=Actor.current(), mode=mode,
                         redactor=redactor)
    opened = OpenedSession(paths, writer, lock, redactor, entries)
    opened.entries.append(writer.append(events.SESSION_OPENED, detail={
        "plan_name": plan_name, "plan_path": str(plan_path.resolve()),
        "plan_sha256": hashlib.sha256(plan_path.read_bytes()).hexdigest(),
        "cockpit_version": __version__, "aws_identity": aws_identity(handle),
        "pid": os.getpid(), "resumed": bool(entries)}))
    _record_recovery(opened, torn, lock)
    return opened


def _record_recovery(opened: OpenedSession, torn: bytes | None, lock: DriverLock) -> None:
    writer = opened.writer
    if torn is not None:
        opened.entries.append(writer.append(events.AUDIT_REPAIRED, detail={
            "removed_bytes": len(torn), "removed_sha256": hashlib.sha256(torn).hexdigest()}))
        opened.warnings.append(f"the log ended in a torn line ({len(torn)} bytes, a crash "
                               "mid-write); it was cut off and the repair recorded")
    if lock.previous is not None:
        opened.entries.append(writer.append(events.LOCK_TAKEN_OVER, detail={
            "previous": lock.previous.describe()}))
    cut = cut_short_step(opened.entries)
    if cut is not None:
        step, last = cut
        opened.entries.append(writer.append(events.SESSION_INTERRUPTED, step=step,
                                            detail={"step": step, "last_event": last}))
        opened.warnings.append(f"step {step} was running when the last driver stopped: it is "
                               "interrupted; re-check it, run it again or mark it done")


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
    for value in (handle.endpoints.aws_credentials or {}).values():
        if value != "testing":  # the sim's placeholder is no secret, and hides nothing
            redactor.add_secret(value)
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            redactor.add_secret(os.environ[name])
    return redactor


def odbc_pairs(text: str) -> list[tuple[str, str]]:
    """`KEY=value;KEY={va;lue}}x}` -> pairs, braces honoured (`}}` is a literal `}`)."""
    pairs, i = [], 0
    while i < len(text):
        key_end = text.find("=", i)
        if key_end < 0:
            break
        key, i = text[i:key_end].strip(" ;"), key_end + 1
        value, i = _odbc_value(text, i)
        pairs.append((key, value))
    return pairs


def _odbc_value(text: str, i: int) -> tuple[str, int]:
    if text[i:i + 1] != "{":
        end = text.find(";", i)
        end = len(text) if end < 0 else end
        return text[i:end].strip(), end + 1
    value, i = [], i + 1
    while i < len(text):
        if text[i] == "}" and text[i + 1:i + 2] == "}":
            value.append("}")
            i += 2
        elif text[i] == "}":
            return "".join(value), text.find(";", i) + 1 if ";" in text[i:] else len(text)
        else:
            value.append(text[i])
            i += 1
    return "".join(value), i


def aws_identity(handle: EstateHandle) -> dict[str, Any]:
    try:
        found = handle.client("sts").get_caller_identity()
    except Exception as exc:  # no credentials must not stop a session from opening
        return {"error": f"{type(exc).__name__}: {exc}", "profile": handle.profile_label}
    return {"account": found.get("Account"), "arn": found.get("Arn"),
            "profile": handle.profile_label}
