"""Abort-by: the last moment the window's rollback still fits before the window ends.

The window ends at its start (the first step started, as the header's clock has it) plus
the plan's budget. The rollback takes the sum of its steps' budgets. Abort-by is the one
minus the other. Waiting for abort-by itself to pass is too late when a slow step makes it
certain sooner: as soon as the running step's projected end plus the rollback passes the
window's end, the rollback no longer fits, and the header says so before abort-by.

Times are the screen's (wall clock); budgets are nominal, so a simulated estate run at
`--speed N` counts them N times faster, as its durations are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.audit import events
from cockpit.runner import rollback
from cockpit.runner.state import StepState
from cockpit.session.view import SessionView

# Below this share done, a percent says too little to extrapolate from (a restore's first
# sample is often 0%): the step's budget is the better guess.
MIN_FRACTION = 0.01


@dataclass(frozen=True)
class AbortBy:
    phase: str
    window_end: datetime
    rollback_s: float  # on the screen's clock
    abort_by: datetime
    running_ends: datetime | None  # the running step's projected end, if one runs
    no_longer_fits: bool


def abort_by(view: SessionView, now: datetime) -> AbortBy | None:
    """The window's abort-by, while a rollback path exists for the phase the window is
    in, and its point of no return has not passed (nor a rollback begun or run to its
    end); else None."""
    plan, run = view.plan, view.run
    path = rollback.current_path(plan, view.entries)
    started = view.window_started()
    if path is None or started is None or path.phase.id in run.ponr_passed \
            or run.rolling_back() is not None or run.rolled_back(path.phase.id) is not None:
        return None
    scale = view.time_scale
    window_end = started + timedelta(seconds=plan.plan.budget / scale)
    rollback_s = path.duration_s / scale
    ends = running_step_ends(view, now)
    latest = max(ends, now) if ends is not None else now
    return AbortBy(path.phase.id, window_end, rollback_s,
                   window_end - timedelta(seconds=rollback_s), ends,
                   latest + timedelta(seconds=rollback_s) > window_end)


def running_step_ends(view: SessionView, now: datetime) -> datetime | None:
    """When the running steps of the window will all have ended: a backup, restore or
    seeding with progress extrapolated from its start through its last percent; any other
    step at its start plus its budget. Never before now (a step past its projection is
    still running). None when no step of the window runs."""
    ends = [_ends(view, running, now) for running in view.run.running_steps()
            if running.started_at is not None and not view.plan.is_rollback(running.step_id)]
    # Steps of several streams may run at once: the rollback can start once all have ended.
    return max(ends, default=None)


def _ends(view: SessionView, running: StepState, now: datetime) -> datetime:
    assert running.started_at is not None
    sampled = _last_percent(view, running)
    if sampled is not None:
        at, fraction = sampled
        end = running.started_at + (at - running.started_at) / fraction
    else:
        budget = view.plan.step(running.step_id).budget / view.time_scale
        end = running.started_at + timedelta(seconds=budget)
    return max(end, now)


def _last_percent(view: SessionView, running: StepState) -> tuple[datetime, float] | None:
    """The last progress of this attempt that gave a percent: (when, the share done)."""
    assert running.started_at is not None
    for entry in reversed(view.entries):
        if entry.ts < running.started_at:
            return None
        if entry.step != running.step_id or entry.event != events.STEP_PROGRESS:
            continue
        percent = entry.detail.get("percent")
        if isinstance(percent, int | float) and not isinstance(percent, bool):
            fraction = float(percent) / 100
            return (entry.ts, fraction) if MIN_FRACTION <= fraction <= 1 else None
    return None
