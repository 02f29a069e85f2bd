"""A headless rehearsal: every step in order, stopping at the first that does not succeed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cockpit.runner.runner import Runner
from cockpit.runner.state import Status, StepState


@dataclass(frozen=True)
class RehearsalResult:
    outcomes: list[StepState]
    stopped_at: str | None
    blocked: list[str]

    @property
    def succeeded(self) -> bool:
        return self.stopped_at is None and not self.blocked


# What to do with a step a dead driver left running: only the operator decides.
# `resume` re-checks the step's condition and runs it again only if that does not hold
# (or it has none to check: a backup cut short was aborted with its session).
INTERRUPTED_CHOICES = ("stop", "recheck", "rerun", "resume")


def rehearse(runner: Runner, on_step: Callable[[StepState], None] | None = None,
             *, interrupted: str = "stop") -> RehearsalResult:
    """Run every ready step until none is left; a failure stops the rehearsal there."""
    outcomes: list[StepState] = []
    for state in runner.state().interrupted():
        if interrupted == "stop":
            return RehearsalResult(outcomes, state.step_id, [])
        outcome = _recover(runner, state.step_id, interrupted)
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
        if outcome.status is not Status.SUCCEEDED:
            return RehearsalResult(outcomes, state.step_id, [])
    while (step_id := runner.next_ready()) is not None:
        outcome = runner.run_step(step_id)
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
        if outcome.status is not Status.SUCCEEDED:
            return RehearsalResult(outcomes, step_id, [])
    left = [s.step_id for s in runner.state().steps.values() if not s.done]
    return RehearsalResult(outcomes, None, left)


def _recover(runner: Runner, step_id: str, choice: str) -> StepState:
    if choice == "rerun":
        return runner.run_step(step_id)
    has_condition = bool(runner.plan.step(step_id).until)
    if choice == "recheck" or has_condition:
        outcome = runner.recheck_step(step_id)
        if choice == "recheck" or outcome.status is Status.SUCCEEDED:
            return outcome
    return runner.run_step(step_id)
