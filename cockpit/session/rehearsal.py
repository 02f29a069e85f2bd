"""A headless run: every ready step in order, stopping at the first that does not succeed.

`cockpit rehearse` and the benchmarks run a plan this way; the CLI prints what it is told
through `on_step`. What to do with a step that a dead driver left running is only ever the
operator's choice (`interrupted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cockpit.runner.runner import Runner
from cockpit.runner.state import Status, StepState

# `resume` re-checks the step's condition and runs it again only if that does not hold
# (or it has none to check: a backup cut short was aborted with its session).
INTERRUPTED_CHOICES = ("stop", "recheck", "rerun", "resume")


@dataclass(frozen=True)
class RehearsalResult:
    outcomes: list[StepState]
    stopped_at: str | None
    blocked: list[str]

    @property
    def succeeded(self) -> bool:
        return self.stopped_at is None and not self.blocked

    def render(self) -> str:
        """The outcome as a table: step, result, duration; then one line of verdict."""
        rows = [("step", "result", "duration")]
        rows += [(s.step_id, s.status.value, _duration(s)) for s in self.outcomes]
        rows += [(step_id, "not run", "-") for step_id in self.blocked]
        width = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = ["  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip()
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in width))
        lines.append(self._verdict())
        return "\n".join(lines)

    def _verdict(self) -> str:
        if self.stopped_at:
            return f"stopped at {self.stopped_at}: nothing after it ran"
        if self.blocked:
            return f"{len(self.blocked)} step(s) could not run"
        return "every step succeeded"


def _duration(state: StepState) -> str:
    return f"{state.duration_s:.1f}s" if state.duration_s is not None else "-"


def rehearse(runner: Runner, on_step: Callable[[StepState], None] | None = None,
             *, interrupted: str = "stop") -> RehearsalResult:
    """Run every ready step until none is left; a step that does not succeed stops it."""
    outcomes: list[StepState] = []

    def record(outcome: StepState) -> bool:
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)
        return outcome.status is Status.SUCCEEDED

    for state in runner.state().interrupted():
        if interrupted == "stop" or not record(_recover(runner, state.step_id, interrupted)):
            return RehearsalResult(outcomes, state.step_id, [])
    while (step_id := runner.next_ready()) is not None:
        if not record(runner.run_step(step_id)):
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
