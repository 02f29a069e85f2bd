"""The state of every step, derived from the audit log alone.

Nothing else is trusted: a restarted driver, a watcher and an export all read the same
entries and reach the same states. A step that was started but never ended, in a session
that did not close, is `interrupted`: the operator decides what happens to it. A re-check
that does not find it done leaves it failed but still to recover: running it again,
resuming or marking it done stay open, in this session and the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.models import Plan


class Status(StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNDONE = "undone"
    INTERRUPTED = "interrupted"


DONE = frozenset({Status.SUCCEEDED, Status.SKIPPED})


@dataclass
class StepState:
    step_id: str
    status: Status = Status.PENDING
    attempt: int = 0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    actor: str | None = None
    reason: str | None = None
    message: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    waiting_on: list[str] = field(default_factory=list)
    # Ended succeeded on the engineer's word (`mark-done`), not on evidence of its own.
    marked_done: bool = False
    # Cut short by a dead driver and not run to an end since (a re-check that did not find
    # it done does not count): what to do with it is still the operator's recovery choice.
    recovering: bool = False

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def to_recover(self) -> bool:
        """Interrupted, or failed only by a re-check since: re-check, run again, resume."""
        return self.recovering and self.status in (Status.INTERRUPTED, Status.FAILED)


@dataclass
class RunState:
    steps: dict[str, StepState]
    head: tuple[int, str] | None = None
    closed: bool = False
    sessions: int = 0
    notes: list[AuditEntry] = field(default_factory=list)
    # Per phase id: the entry that armed its point of no return, and the one that saw it
    # passed (the first production write on the new primary).
    ponr_armed: dict[str, AuditEntry] = field(default_factory=dict)
    ponr_passed: dict[str, AuditEntry] = field(default_factory=dict)
    # The rollback paths' steps, apart from the window's (never ready, never counted in
    # the window's end), and the rollbacks' own entries (started, ended, refused) in order.
    rollback: dict[str, StepState] = field(default_factory=dict)
    rollbacks: list[AuditEntry] = field(default_factory=list)

    def step(self, step_id: str) -> StepState:
        """A step of the window or of a rollback path."""
        found = self.steps.get(step_id) or self.rollback.get(step_id)
        if found is None:
            raise KeyError(step_id)
        return found

    def running(self) -> StepState | None:
        """The first running step in plan order (several may run side by side: see
        `running_steps`)."""
        return next(iter(self.running_steps()), None)

    def running_steps(self) -> list[StepState]:
        """Every step running now, in plan order, a rollback's too: steps of different
        streams run side by side once their dependencies are met."""
        every = [*self.steps.values(), *self.rollback.values()]
        return [s for s in every if s.status is Status.RUNNING]

    def rolled_back(self, phase: str) -> AuditEntry | None:
        """The `rollback.ended` of the phase's rollback run to its end, if one was."""
        return next((e for e in reversed(self.rollbacks) if e.event == events.ROLLBACK_ENDED
                     and e.detail.get("phase") == phase
                     and e.detail.get("outcome") == "rolled back"), None)

    def rolling_back(self) -> AuditEntry | None:
        """The `rollback.started` of a rollback not yet ended."""
        last = next((e for e in reversed(self.rollbacks)
                     if e.event != events.ROLLBACK_REFUSED), None)
        return last if last is not None and last.event == events.ROLLBACK_STARTED else None

    def interrupted(self) -> list[StepState]:
        return [s for s in self.steps.values() if s.status is Status.INTERRUPTED]

    def to_recover(self) -> list[StepState]:
        """The steps a dead driver cut short whose recovery is still open: interrupted, or
        failed by a re-check after the interruption (never by a run of their own)."""
        return [s for s in self.steps.values() if s.to_recover]

    def next_ready(self) -> StepState | None:
        return next((s for s in self.steps.values() if s.status is Status.READY), None)

    def all_done(self) -> bool:
        return all(s.done for s in self.steps.values())


def derive(plan: Plan, entries: Iterable[AuditEntry]) -> RunState:
    run = RunState(steps={step.id: StepState(step.id) for step in plan.steps()},
                   rollback={step.id: StepState(step.id) for step in plan.rollback_steps()})
    for entry in entries:
        _apply(run, entry)
    _mark_ready(plan, run)
    return run


def _apply(run: RunState, entry: AuditEntry) -> None:
    run.head = (entry.seq, entry.hash)
    if entry.event == events.SESSION_OPENED:
        run.sessions += 1
        run.closed = False
    elif entry.event == events.SESSION_CLOSED:
        run.closed = True
    elif entry.event == events.NOTE_ADDED:
        run.notes.append(entry)
    elif entry.event == events.PONR_ARMED:
        run.ponr_armed.setdefault(str(entry.detail.get("phase")), entry)
    elif entry.event == events.PONR_PASSED:
        run.ponr_passed.setdefault(str(entry.detail.get("phase")), entry)
    elif entry.event in _ROLLBACK_EVENTS:
        run.rollbacks.append(entry)
    state = (run.steps.get(entry.step) or run.rollback.get(entry.step)) if entry.step else None
    if state is not None:
        _apply_to_step(state, entry)


def _apply_to_step(state: StepState, entry: AuditEntry) -> None:
    detail = entry.detail
    handler = _STEP_EVENTS.get(entry.event)
    if handler is not None:
        handler(state, entry, detail)


def is_recheck(detail: dict[str, Any]) -> bool:
    """A `step.started` of a re-check after an interruption (older logs say so only in
    words)."""
    return bool(detail.get("recheck")) or detail.get("reason") == RECHECK_REASON


RECHECK_REASON = "re-check after interruption"


def _started(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    # A re-check judges what the cut-short attempt left; a run of its own ends recovery.
    state.recovering = state.recovering and is_recheck(detail)
    state.status = Status.RUNNING
    state.attempt = int(detail.get("attempt", state.attempt + 1))
    state.started_at, state.ended_at, state.duration_s = entry.ts, None, None
    state.actor = entry.actor.label()
    state.reason, state.message, state.evidence, state.overrides = None, None, {}, []
    state.marked_done = False


def _progress(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    state.message = str(detail.get("message", ""))
    if isinstance(detail.get("evidence"), dict):
        state.evidence = detail["evidence"]
    if isinstance(detail.get("outputs"), dict):
        state.outputs.update(detail["outputs"])


def _ended(status: Status) -> Any:
    def apply(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
        # Done, skipped or undone ends a recovery; a failure leaves it as it was (open,
        # when the failure is a re-check's).
        state.recovering = state.recovering and status is Status.FAILED
        state.status = status
        state.marked_done = bool(detail.get("marked_done"))
        state.ended_at = entry.ts
        state.duration_s = detail.get("duration_s", state.duration_s)
        state.reason = detail.get("reason")
        state.actor = entry.actor.label()
        if isinstance(detail.get("evidence"), dict):
            state.evidence = detail["evidence"]
        if isinstance(detail.get("outputs"), dict):
            state.outputs.update(detail["outputs"])

    return apply


def _overridden(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    state.overrides.append(f"{detail.get('gate', '?')}: {detail.get('reason', '')}")


def _interrupted(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    state.status = Status.INTERRUPTED
    state.recovering = True
    state.reason = "the driver stopped while this step ran"


def _withdrawn(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    """Back to where it stood before it started: `pending` becomes `ready` again below
    when its dependencies still stand."""
    state.status = Status.PENDING
    state.recovering = False
    state.ended_at = entry.ts
    state.reason = detail.get("reason")
    state.actor = entry.actor.label()


def _undo_failed(state: StepState, entry: AuditEntry, detail: dict[str, Any]) -> None:
    state.message = f"undo failed: {detail.get('reason', '')}"


_STEP_EVENTS = {
    events.STEP_STARTED: _started,
    events.STEP_PROGRESS: _progress,
    events.STEP_SUCCEEDED: _ended(Status.SUCCEEDED),
    events.STEP_FAILED: _ended(Status.FAILED),
    events.STEP_SKIPPED: _ended(Status.SKIPPED),
    events.STEP_UNDONE: _ended(Status.UNDONE),
    events.STEP_WITHDRAWN: _withdrawn,
    events.GATE_OVERRIDDEN: _overridden,
    events.SESSION_INTERRUPTED: _interrupted,
    events.STEP_UNDO_FAILED: _undo_failed,
}


def _mark_ready(plan: Plan, run: RunState) -> None:
    """A step is ready when everything it comes after is done and still stands: a step
    done before something upstream of it was undone no longer counts as done for it."""
    standing = _standing(plan, run)
    for step in plan.steps():
        state = run.steps[step.id]
        state.waiting_on = [dep for dep in step.after if not standing[dep]]
        if state.status is Status.PENDING and not state.waiting_on:
            state.status = Status.READY


def _standing(plan: Plan, run: RunState) -> dict[str, bool]:
    standing: dict[str, bool] = {}
    for step in plan.steps():  # plan order; `after` may point forward, so resolve lazily
        _stands(step.id, plan, run, standing)
    return standing


def _stands(step_id: str, plan: Plan, run: RunState, standing: dict[str, bool]) -> bool:
    if step_id not in standing:
        standing[step_id] = False  # a cycle (refused by the loader) stands for nothing
        deps = plan.step(step_id).after
        standing[step_id] = run.steps[step_id].done and all(
            _stands(dep, plan, run, standing) for dep in deps)
    return standing[step_id]


def cut_short_step(entries: list[AuditEntry]) -> tuple[str, str] | None:
    """The step a dead session left running last, and the last event it wrote, if any."""
    steps = cut_short_steps(entries)
    return steps[-1] if steps else None


def cut_short_steps(entries: list[AuditEntry]) -> list[tuple[str, str]]:
    """Every step a dead session left running (streams run side by side), each with the
    last event it wrote, in the order they started."""
    open_steps: dict[str, str] = {}
    for entry in entries:
        if not entry.step:
            continue
        # Only a start opens a step: progress (a warning about a step already ended, say)
        # keeps open one that is.
        if entry.event == events.STEP_STARTED or (
                entry.event in (events.STEP_PROGRESS, events.GATE_OVERRIDDEN)
                and entry.step in open_steps):
            open_steps[entry.step] = entry.event
        elif entry.event in _CLOSING_EVENTS:
            open_steps.pop(entry.step, None)
    return list(open_steps.items())


_ROLLBACK_EVENTS = frozenset({events.ROLLBACK_STARTED, events.ROLLBACK_ENDED,
                              events.ROLLBACK_REFUSED})

_CLOSING_EVENTS = frozenset({
    events.STEP_SUCCEEDED, events.STEP_FAILED, events.STEP_SKIPPED,
    events.SESSION_INTERRUPTED, events.STEP_UNDONE, events.STEP_UNDO_FAILED,
    events.STEP_WITHDRAWN,
})
