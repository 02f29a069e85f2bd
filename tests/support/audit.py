"""Reading a session's audit log back, as the tests check it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.audit.entry import Actor, AuditEntry


def me() -> Actor:
    """Who the session files should name: this login on this host."""
    from cockpit.audit.entry import Actor

    return Actor.current()


def log_entries(folder: Path) -> list[AuditEntry]:
    from cockpit.audit.verify import read_entries

    return read_entries(folder / "audit.jsonl").entries


def events_of(folder: Path, step: str | None = None) -> list[str]:
    """The events in the log, in order (only those of `step` when given)."""
    return [e.event for e in log_entries(folder) if step is None or e.step == step]


def entries_named(folder: Path, event: str) -> list[AuditEntry]:
    return [e for e in log_entries(folder) if e.event == event]


def started_steps(folder: Path) -> list[str]:
    return [e.step or "" for e in log_entries(folder) if e.event == "step.started"]
