"""The moments of a window that people away from the keyboard are told of.

Judged from the record as it grows, by comparing the run before and after each entry, so
a milestone is told once, when it happens, and a reopened session does not tell again
what the last driver already told: a phase started (its first step started), a go/no-go
passed (a step of gates alone succeeded), a step failed, a phase ended (its every step
done), the window complete (every step done), the point of no return passed (the first
write on the new primary). A step running past its budget and the projected end slipping
are judged by the clock, from the driver's heartbeat (`past_budget`, `Slip`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.notify.sender import Notice
from cockpit.plan.models import Phase, Plan, Step
from cockpit.runner.state import RunState

ENDS = (events.STEP_SUCCEEDED, events.STEP_SKIPPED)


def milestones_of(entry: AuditEntry, before: RunState, after: RunState,
                  plan: Plan) -> list[Notice]:
    if entry.step is None:
        return []
    step, phase = plan.step(entry.step), plan.phase_of(entry.step)
    name = plan.plan.name
    if entry.event == events.STEP_STARTED:
        return _phase_started(phase, before, name)
    if entry.event == events.PONR_PASSED:
        said = str(entry.detail.get("summary") or "the first write on the new primary")
        return [Notice("phase.point_of_no_return",
                       f"{name}: {phase.id} passed its point of no return: forward-fix only",
                       said, step.id)]
    if entry.event == events.STEP_FAILED:
        reason = str(entry.detail.get("reason") or "no reason recorded")
        return [Notice("step.failed", f"{name}: {step.id} failed",
                       f"{step.title}: {reason}", step.id)]
    if entry.event not in ENDS:
        return []
    told = _go_passed(step, entry, name)
    told += _phase_ended(phase, before, after, name)
    if _all_done(after, plan) and not _all_done(before, plan):
        told.append(Notice("window.complete", f"{name}: window complete",
                           f"every step of {len(after.steps)} is done"))
    return told


def past_budget(run: RunState, plan: Plan, now: datetime, told: set[tuple[str, int]], *,
                time_scale: float = 1.0) -> list[Notice]:
    """Each running step once it runs past its budget (once per attempt: `told` keeps
    which were said). `time_scale`: a sped-up simulator's seconds count that many times."""
    told_now: list[Notice] = []
    for running in run.running_steps():
        if running.started_at is None:
            continue
        step = plan.step(running.step_id)
        elapsed = (now - running.started_at).total_seconds() * time_scale
        key = (step.id, running.attempt)
        if elapsed <= step.budget or key in told:
            continue
        told.add(key)
        told_now.append(Notice(
            "step.past_budget", f"{plan.plan.name}: {step.id} past its budget",
            f"{step.title}: running {elapsed / 60:.1f} min against a budget of "
            f"{step.budget / 60:.1f} min", step.id))
    return told_now


def _phase_started(phase: Phase, before: RunState, name: str) -> list[Notice]:
    if any(before.steps[s.id].attempt > 0 or before.steps[s.id].done for s in phase.steps):
        return []
    return [Notice("phase.started", f"{name}: {phase.title} started",
                   f"phase {phase.id}: {len(phase.steps)} steps")]


def _go_passed(step: Step, entry: AuditEntry, name: str) -> list[Notice]:
    if entry.event != events.STEP_SUCCEEDED or step.do is not None or step.until \
            or not step.gates:
        return []
    return [Notice("go.passed", f"{name}: go/no-go passed: {step.title}",
                   str(entry.detail.get("summary") or "every gate held"), step.id)]


def _phase_ended(phase: Phase, before: RunState, after: RunState, name: str) -> list[Notice]:
    def ended(run: RunState) -> bool:
        return all(run.steps[s.id].done for s in phase.steps)

    if not ended(after) or ended(before):
        return []
    return [Notice("phase.ended", f"{name}: {phase.title} ended",
                   f"phase {phase.id}: every step done")]


def _all_done(run: RunState, plan: Plan) -> bool:
    return all(run.steps[s.id].done for s in plan.steps())


@dataclass
class Slip:
    """The projected end of the window, told when it moves later by more than `told_after_s`
    (the window's seconds) since it was last told or first seen: once per slip, so a window
    sliding a minute at a time is told each time the minutes add up, not every minute."""

    name: str
    told_after_s: float
    time_scale: float = 1.0
    baseline: datetime | None = None

    def check(self, projected: datetime | None) -> list[Notice]:
        if projected is None:
            return []
        if self.baseline is None or projected < self.baseline:
            self.baseline = projected  # earlier than told: good news is not a notice
            return []
        slipped = (projected - self.baseline).total_seconds() * self.time_scale
        if slipped <= self.told_after_s:
            return []
        was, self.baseline = self.baseline, projected
        return [Notice("window.end_slipped",
                       f"{self.name}: projected end slipped {slipped / 60:.0f} min",
                       f"now ~{projected:%H:%M}Z, was ~{was:%H:%M}Z")]
