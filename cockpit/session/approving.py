"""The second person, seen from both sides: what the driver waits on, and a watcher that
may approve it (`cockpit watch SESSION --approver`).

An approval from a watcher is the same as one from `cockpit approve`: a file in the same
spool, owned by the login running the watcher, taken by the driver only from a login other
than its own, once, while fresh (runner/approvals.py).
"""

from __future__ import annotations

from pathlib import Path

from cockpit.audit.entry import AuditEntry
from cockpit.runner import approvals


def approval_lines(folder: Path, entries: list[AuditEntry]) -> list[str]:
    """For the header: each ask of the driver still open, and whether an approval for it
    is waiting in the spool (the driver presses the key again to take it)."""
    asks = approvals.awaiting(entries)
    left = approvals.left_unused(folder, entries, asks)
    lines = []
    for ask in asks:
        given = [a for a in left if a.step == ask.step and a.action == ask.action]
        if given:
            lines.append(f"approved by {given[-1].approver}: {ask.action} of {ask.step} "
                         f"({given[-1].reason}); do it again to take the approval")
        else:
            lines.append(f"awaiting a second person since {ask.at:%H:%M}Z: {ask.action} of "
                         f"{ask.step}")
    return lines


class Approver:
    """A watcher's approvals, left in the session's spool as the login running it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def waiting(self, entries: list[AuditEntry]) -> tuple[str, str] | None:
        """The driver's latest ask still open: (step, action)."""
        asks = approvals.awaiting(entries)
        return (asks[-1].step, asks[-1].action) if asks else None

    def approve(self, step: str, action: str, reason: str) -> str:
        """Leave the approval; what to tell the approver (ValueError, OSError: refused)."""
        left = approvals.leave(self.folder, step, action, reason)
        return (f"approval of {action} of {step} left for the driver, as {left.approver} "
                f"(good until {(left.at + approvals.FRESH_FOR):%H:%M}Z)")
