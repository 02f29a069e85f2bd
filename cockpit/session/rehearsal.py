"""A headless run: every step as soon as its dependencies are met, ready steps side by side
(a rehearsal has no engineer to press keys), stopping at the first that does not succeed.

`cockpit rehearse` and the benchmarks run a plan this way; the CLI prints what it is told
through `on_step`. What to do with a step that a dead driver left running is only ever the
operator's choice (`interrupted`), and stays theirs until the step is run to an end: a
re-check that did not find it done leaves it to recover, by `rerun` or `resume`, next time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cockpit.runner.runner import Runner, StepRefused
from cockpit.runner.state import Status, StepState

# `recheck` judges the step without acting again (its `until`, or what the estate shows for
# its action); `rerun` runs it again; `resume` re-checks it and runs it again only if that
# does not find it done (at once when nothing can tell: a manual step). Before either of the
# two that run it again, a backup cut short has the uploads it left open aborted by its undo.
INTERRUPTED_CHOICES = ("stop", "recheck", "rerun", "resume")


@dataclass(frozen=True)
class RehearsalResult:
    outcomes: list[StepState]
    stopped_at: str | None
    blocked: list[str]
    # A rehearsed rollback: how it ended, and how long it took against its budget.
    rollback: str | None = None

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
        if self.rollback is not None:
            return self.rollback
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

    def told(outcome: StepState) -> None:  # a step on its way, not its end
        outcomes.append(outcome)
        if on_step is not None:
            on_step(outcome)

    for state in runner.state().to_recover():
        if interrupted == "stop" or not record(
                _recover(runner, state.step_id, interrupted, told)):
            return RehearsalResult(outcomes, state.step_id, [])
    stopped_at = run_side_by_side(runner, record)
    if stopped_at is not None:
        return RehearsalResult(outcomes, stopped_at, [])
    left = [s.step_id for s in runner.state().steps.values() if not s.done]
    return RehearsalResult(outcomes, None, left)


def rehearse_rollback(runner: Runner, phase_id: str,
                      on_step: Callable[[StepState], None] | None = None) -> RehearsalResult:
    """The window up to the phase's point of no return (exclusive; the whole phase when it
    declares none), then the phase's rollback path, so that its length is measured."""
    plan = runner.plan
    phase = next((p for p in plan.phases if p.id == phase_id), None)
    if phase is None or not phase.rollback:
        declared = [p.id for p in plan.phases if p.rollback] or ["none"]
        raise ValueError(f"no rollback path declared for phase {phase_id!r} (phases with "
                         f"one: {', '.join(declared)})")
    outcomes: list[StepState] = []
    last = plan.phases.index(phase)
    while (step_id := runner.next_ready()) is not None and step_id != phase.point_of_no_return \
            and plan.phases.index(plan.phase_of(step_id)) <= last:
        outcomes.append(runner.run_step(step_id))
        if on_step is not None:
            on_step(outcomes[-1])
        if outcomes[-1].status is not Status.SUCCEEDED:
            return RehearsalResult(outcomes, step_id, [])
    try:
        said = runner.roll_back(on_step)
    except StepRefused as exc:  # on the record already, with why
        return RehearsalResult(outcomes, "rollback", [], rollback=f"rollback {exc}")
    ran = [runner.step_state(step.id) for step in phase.rollback]
    ended = runner.state().rollbacks[-1]
    failed = next((s.step_id for s in ran if not s.done), None)
    took = float(ended.detail.get("duration_s") or 0.0)
    budget = sum(step.budget for step in phase.rollback)
    return RehearsalResult(outcomes + ran, failed, [],
                           rollback=f"{said}: took {took:.1f}s against a budget of "
                                    f"{budget / 60:g} min (at this run's speed)")


def run_side_by_side(runner: Runner, record: Callable[[StepState], bool]) -> str | None:
    """Start every ready step at once, each in its own thread, and each step that becomes
    ready the moment the step it waited on ends; `record` hears each end, in this thread,
    and says whether it lets the run go on. The first step it does not: no step starts
    after it, the running ones end, and its id is returned (None: nothing was left)."""
    ended: queue.Queue[tuple[str, StepState | BaseException]] = queue.Queue()
    running: set[str] = set()
    stopped_at: str | None = None
    # Broken off (a stop between steps), the steps still running are the session's close's
    # to cancel and wait for: nothing is appended after `session.closed`.
    while True:
        if stopped_at is None:
            for step_id in _ready(runner, running):
                running.add(step_id)
                _start_thread(runner, step_id, ended)
        if not running:
            return stopped_at
        step_id, outcome = ended.get()
        running.discard(step_id)
        if isinstance(outcome, BaseException):
            raise outcome
        if not record(outcome) and stopped_at is None:
            stopped_at = step_id


def _ready(runner: Runner, running: set[str]) -> list[str]:
    return [s.step_id for s in runner.state().steps.values()
            if s.status is Status.READY and s.step_id not in running]


def _start_thread(runner: Runner, step_id: str,
                  ended: queue.Queue[tuple[str, StepState | BaseException]]) -> None:
    def run() -> None:
        try:
            ended.put((step_id, runner.run_step(step_id)))
        except BaseException as exc:  # said in the rehearsal's own thread
            ended.put((step_id, exc))

    threading.Thread(target=run, name=f"step {step_id}", daemon=True).start()


def _recover(runner: Runner, step_id: str, choice: str,
             told: Callable[[StepState], None]) -> StepState:
    if choice in ("rerun", "resume"):
        aborted = runner.abort_orphans(step_id)  # before anything else, on the record
        if aborted is not None:
            if aborted.status is not Status.UNDONE:
                return aborted  # the abort failed: the uploads are still open, stop here
            told(aborted)
            return runner.run_step(step_id)
    if choice == "rerun" or (choice == "resume" and not runner.can_recheck(step_id)):
        return runner.run_step(step_id)
    outcome = runner.recheck_step(step_id)
    if choice == "recheck" or outcome.status is Status.SUCCEEDED:
        return outcome
    return runner.run_step(step_id)
