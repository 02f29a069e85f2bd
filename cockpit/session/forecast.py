"""When the window will end: live, from what the running steps say and what is left.

The end is now plus the longest chain of `after` dependencies still to run (steps that do
not wait on each other may run side by side), each step weighing:

- done or skipped: nothing;
- running: its live ETA when its progress gives one (SQL Server's
  `estimated_completion_time`, else the rate of its percent, bytes or log-shipping rounds
  so far), else what is left of its budget;
- anything else: its budget (rehearsals set it: `cockpit plan budget`).

A running step past its budget makes the forecast late: its end is no longer known, and
the header says so in red. The driver's header and a watcher's read the same view, so they
project the same end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cockpit.audit import events
from cockpit.audit.entry import AuditEntry
from cockpit.plan.critical_path import critical_path, path_length
from cockpit.plan.models import ShipLogs, Step
from cockpit.runner.state import Status, StepState
from cockpit.session.view import SessionView


@dataclass(frozen=True)
class Forecast:
    ends: datetime
    budget_ends: datetime
    path: list[str]
    """The steps left on the critical path, running ones first."""
    overrun: list[str]
    """Running steps past their budget."""

    @property
    def spare_s(self) -> float:
        """Seconds between the projected end and the window's budget (negative: over)."""
        return (self.budget_ends - self.ends).total_seconds()

    @property
    def late(self) -> bool:
        return bool(self.overrun)


def forecast(view: SessionView, now: datetime) -> Forecast | None:
    """The projected end of a started window; None before its first step starts."""
    started = view.window_started()
    if started is None:
        return None
    left = seconds_left(view, now)
    path = [step_id for step_id in critical_path(view.plan, left) if left[step_id] > 0]
    overrun = [state.step_id for state in _running(view)
               if _elapsed(state, now) > view.plan.step(state.step_id).budget]
    return Forecast(now + timedelta(seconds=path_length(path, left)),
                    started + timedelta(seconds=view.plan.plan.budget), path, overrun)


def seconds_left(view: SessionView, now: datetime) -> dict[str, float]:
    """Per step, how long it still has to run, as the forecast weighs it."""
    progress = _last_progress(view)
    left: dict[str, float] = {}
    for step in view.plan.steps():
        state = view.run.steps[step.id]
        if state.done:
            left[step.id] = 0.0
        elif state.status is Status.RUNNING:
            left[step.id] = _running_left(step, state, progress.get(step.id), now)
        else:
            left[step.id] = step.budget
    return left


def _running(view: SessionView) -> list[StepState]:
    return [s for s in view.run.steps.values() if s.status is Status.RUNNING]


def _elapsed(state: StepState, now: datetime) -> float:
    return (now - state.started_at).total_seconds() if state.started_at else 0.0


def _running_left(step: Step, state: StepState, sample: AuditEntry | None,
                  now: datetime) -> float:
    live = live_eta(step, state, sample, now) if sample is not None else None
    if live is not None:
        return max(live, 0.0)
    return max(step.budget - _elapsed(state, now), 0.0)


def live_eta(step: Step, state: StepState, sample: AuditEntry, now: datetime) -> float | None:
    """Seconds left by the step's last progress sample: SQL Server's own estimate, or the
    rate it has gone at so far; None when the sample tells neither."""
    detail = sample.detail
    since_sample = (now - sample.ts).total_seconds()
    eta_ms = _number(detail.get("eta_ms"))
    if eta_ms is not None and eta_ms > 0:
        return eta_ms / 1000 - since_sample
    fraction = _fraction_done(step, detail)
    if fraction is not None and fraction >= 1:
        return 0.0  # the operation is done: what is left is the step's own wrap-up
    if fraction is None or state.started_at is None or fraction <= 0:
        return None
    taken = (sample.ts - state.started_at).total_seconds()
    return taken / fraction - taken - since_sample


def _fraction_done(step: Step, detail: Mapping[str, Any]) -> float | None:
    percent = _number(detail.get("percent"))
    if percent is not None:
        return percent / 100
    sent, total = _number(detail.get("bytes")), _number(detail.get("of"))
    if sent is not None and total:
        return sent / total
    shipped = _number(detail.get("round"))
    if shipped is not None and isinstance(step.do, ShipLogs):
        return shipped / step.do.rounds
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _last_progress(view: SessionView) -> dict[str, AuditEntry]:
    """Each running step's last progress sample since it started: read from the newest
    entry back, only as far as the oldest running step's start."""
    running = {state.step_id for state in _running(view)}
    found: dict[str, AuditEntry] = {}
    for entry in reversed(view.entries):
        if not running:
            break
        if entry.step not in running:
            continue
        if entry.event == events.STEP_STARTED:
            running.discard(entry.step)
        elif entry.event == events.STEP_PROGRESS and entry.step not in found \
                and _tells_progress(entry.detail):
            found[entry.step] = entry
    return found


def _tells_progress(detail: Mapping[str, Any]) -> bool:
    return any(key in detail for key in ("eta_ms", "percent", "bytes", "round"))


def critical_steps(view: SessionView, now: datetime) -> set[str]:
    """The steps the window's end waits on: what is left of the critical path once the
    window has started, the whole plan's by budgets before."""
    projected = forecast(view, now)
    if projected is not None:
        return set(projected.path)
    return set(critical_path(view.plan, {step.id: step.budget for step in view.plan.steps()}))
