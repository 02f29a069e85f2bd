"""A phase's rollback path: the way back to the datacentre while the window still allows it.

The plan declares it per phase (`[[phases.rollback]]`): ordinary steps, with their gates,
actions, conditions and budgets, run in the order written from one key. It may start only
while the phase's point of no return has not passed (after the first production write on
the new primary the datacentre copy is stale: forward-fix only), and the refusal is on the
record with why. Its length is the sum of its steps' budgets: what the window's abort-by is
measured by (session/abort_by.py).

A rollback may start from anywhere before the point of no return, so a step whose action
the estate already shows done (the apps in AWS never started, the source never fenced) is
recorded as skipped, with what was seen, rather than run against a state it does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.models import Phase, Plan, Step
from cockpit.runner import probes
from cockpit.runner.kinds import EFFECTS
from cockpit.runner.state import RunState, Status


@dataclass(frozen=True)
class RollbackPath:
    phase: Phase

    @property
    def steps(self) -> list[Step]:
        return self.phase.rollback

    @property
    def duration_s(self) -> float:
        """The rollback's projected length: its steps' budgets, summed."""
        return sum(step.budget for step in self.steps)


def path_of(plan: Plan, phase_id: str) -> RollbackPath | None:
    phase = next((p for p in plan.phases if p.id == phase_id), None)
    return RollbackPath(phase) if phase is not None and phase.rollback else None


def window_phase(plan: Plan, entries: list[AuditEntry]) -> Phase | None:
    """The phase the window is in: that of the last step of the window started; None
    before any has."""
    for entry in reversed(entries):
        if entry.event == events.STEP_STARTED and entry.step and not plan.is_rollback(entry.step):
            return plan.phase_of(entry.step)
    return None


def current_path(plan: Plan, entries: list[AuditEntry]) -> RollbackPath | None:
    """The rollback the rollback key would start now, if the window's phase declares one."""
    phase = window_phase(plan, entries)
    return path_of(plan, phase.id) if phase is not None else None


def refusal(plan: Plan, run: RunState, entries: list[AuditEntry]) -> str | None:
    """Why a rollback may not start now, in the engineer's words; None when it may."""
    phase = window_phase(plan, entries)
    if phase is None:
        return "nothing to roll back: no step of the window has started"
    if not phase.rollback:
        return f"phase {phase.id} declares no rollback path ([[phases.rollback]])"
    passed = run.ponr_passed.get(phase.id)
    if passed is not None:
        return (f"refused: the point of no return of {phase.id} passed at "
                f"{passed.ts:%H:%M:%S}Z ({passed.detail.get('summary', 'declared step done')}); "
                "a rollback now would split the brain: forward-fix only")
    running = run.running()
    if running is not None:
        return f"{running.step_id} is running: let it end (or quit to cancel it) first"
    return None


def runnable(plan: Plan, run: RunState, step_id: str) -> set[Status]:
    """The statuses a rollback step may run from, while its rollback is going on (it is
    never `ready`: nothing in the window waits for it). None for a step of the window."""
    if not plan.is_rollback(step_id) or run.rolling_back() is None:
        return set()
    return {Status.PENDING, Status.FAILED, Status.UNDONE, Status.INTERRUPTED}


def outside_rollback(plan: Plan, run: RunState, step_id: str) -> str | None:
    """Why a rollback step may not run on its own: it runs with its path, from the key."""
    if not plan.is_rollback(step_id) or run.rolling_back() is not None:
        return None
    phase = plan.phase_of(step_id)
    return (f"{step_id} is a step of {phase.id}'s rollback path: it runs with the path, "
            "from the rollback key")


def to_run(path: RollbackPath, run: RunState) -> list[Step]:
    """The path's steps not yet done: a rollback started again after one of its steps
    failed goes on from there."""
    return [step for step in path.steps if not run.step(step.id).done]


def already_so(step: Step, ctx: probes.ProbeContext) -> probes.Verdict | None:
    """What the estate shows when the step's action has already taken effect (nothing
    to do); None when it has not, or cannot tell (a manual action, a step of checks)."""
    if step.do is None:
        return None
    effect = EFFECTS.get(type(step.do))
    if effect is None:
        return None
    try:
        verdict = effect(step.do, ctx)
    except Exception:  # unreadable now: the step runs, and its own checks judge it
        return None
    return verdict if verdict.ok else None
