"""Conditions on the run itself: what an earlier step of the session came to.

A skip or a mark-done lets the steps after it run (they count as done for `after`), but
neither proves anything happened: a gate that needs the proof asks for `step.succeeded`.
"""

from __future__ import annotations

from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)

SUCCEEDED = "succeeded"


def _step_succeeded(c: m.StepSucceeded, ctx: ProbeContext) -> Verdict:
    if ctx.step_outcomes is None:
        return Verdict(False, "step.succeeded: judged only in a session's run", {})
    came_to = {step: ctx.step_outcomes.get(step, "unknown") for step in c.steps}
    short = [f"{step} is {outcome}" for step, outcome in came_to.items()
             if outcome != SUCCEEDED]
    if short:
        return Verdict(False, f"not succeeded on its own evidence: {'; '.join(short)}",
                       {"steps": came_to})
    return Verdict(True, f"{', '.join(c.steps)} succeeded", {"steps": came_to})


PROBES: Probes = {
    m.StepSucceeded: _step_succeeded,
}

ACTIONS: Actions = {}

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {}
