"""The names of audit events. The runner writes them; export and resume read them."""

from __future__ import annotations

SESSION_OPENED = "session.opened"
STEP_STARTED = "step.started"
STEP_PROGRESS = "step.progress"
STEP_SUCCEEDED = "step.succeeded"
STEP_FAILED = "step.failed"
STEP_SKIPPED = "step.skipped"
# A started step that ended without acting: a manual step whose prompt was cancelled.
# It is ready again, as if it had not been started; the record keeps the attempt.
STEP_WITHDRAWN = "step.withdrawn"
GATE_OVERRIDDEN = "gate.overridden"
STEP_UNDONE = "step.undone"
STEP_UNDO_FAILED = "step.undo_failed"
NOTE_ADDED = "note.added"
SESSION_CLOSED = "session.closed"
SESSION_INTERRUPTED = "session.interrupted"
AUDIT_REPAIRED = "audit.repaired"
LOCK_TAKEN_OVER = "lock.taken_over"
SESSION_HANGUP = "session.hangup"
# A milestone told (or not) to the people away from the keyboard: one entry per target.
NOTIFY_SENT = "notify.sent"
NOTIFY_FAILED = "notify.failed"
# `cockpit check --session`: the go/no-go of the readiness checks, with each verdict
READINESS_CHECKED = "readiness.checked"
# A phase's point of no return: armed (the new primary's rows when its watch began), then
# passed (the first production write seen there, with what changed): from then on the
# undos that would split the brain are refused.
PONR_ARMED = "phase.ponr_armed"
PONR_PASSED = "phase.point_of_no_return"
# The two-person rule: a second engineer's approval, accepted (who, why) or refused (the
# driver's own, which never counts).
APPROVAL_ACCEPTED = "approval.accepted"
APPROVAL_REFUSED = "approval.refused"
# The driver asked for what needs a second person and found no approval: what the
# approvers' watchers show as waiting.
APPROVAL_ASKED = "approval.asked"
# A phase's rollback path: started from the rollback key (the phase, its steps, their
# summed budgets), its steps recorded as any step's, then ended (rolled back, or stopped at
# a step that failed); refused, with why, once the point of no return has passed.
ROLLBACK_STARTED = "rollback.started"
ROLLBACK_ENDED = "rollback.ended"
ROLLBACK_REFUSED = "rollback.refused"

ALL_EVENTS = frozenset({
    SESSION_OPENED, STEP_STARTED, STEP_PROGRESS, STEP_SUCCEEDED, STEP_FAILED, STEP_SKIPPED,
    STEP_WITHDRAWN,
    GATE_OVERRIDDEN, STEP_UNDONE, STEP_UNDO_FAILED, NOTE_ADDED, SESSION_CLOSED,
    SESSION_INTERRUPTED, AUDIT_REPAIRED, LOCK_TAKEN_OVER, SESSION_HANGUP,
    NOTIFY_SENT, NOTIFY_FAILED, READINESS_CHECKED, PONR_ARMED, PONR_PASSED,
    APPROVAL_ACCEPTED, APPROVAL_REFUSED, APPROVAL_ASKED,
    ROLLBACK_STARTED, ROLLBACK_ENDED, ROLLBACK_REFUSED,
})
