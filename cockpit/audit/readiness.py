"""The session's last `cockpit check`, as a driver opening the session says it."""

from __future__ import annotations

from collections.abc import Sequence

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry


def last_verdicts(entries: Sequence[AuditEntry]) -> tuple[str, bool] | None:
    """What the session's last `cockpit check` said, in a line, and whether it was a go;
    None if none was recorded."""
    last = next((e for e in reversed(entries) if e.event == events.READINESS_CHECKED), None)
    if last is None:
        return None
    checks = [c for c in last.detail.get("checks") or [] if isinstance(c, dict)]
    failing = [str(c.get("id")) for c in checks if not c.get("ok")]
    when = f" at {last.detail['at']}" if last.detail.get("at") else ""
    head = f"readiness{when}, checked {last.ts:%Y-%m-%d %H:%M} UTC by {last.actor.user}"
    if failing:
        return (f"{head}: NO-GO, {len(failing)} of {len(checks)} failed "
                f"({', '.join(failing)})", False)
    return f"{head}: GO, {len(checks)} checks", True
