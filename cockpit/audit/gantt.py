"""The window at a glance: per step, what was planned (its budget) against what happened.

Built from the board's per-run rows (one per attempt, skip or undo, never per entry) and
the few moments a change board asks about (the point of no return, the approvals), so a
log of any length costs only what its steps do. The plan the session kept beside its log
gives each step's budget and the `after` graph the critical path is found in; without it,
the bars show what happened only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cockpit.audit.board import BoardReport, Mark, StepRun
from cockpit.plan.critical_path import critical_path

if TYPE_CHECKING:  # a plan's models are built by whoever read the plan
    from cockpit.plan.models import Plan


@dataclass
class Bar:
    step: str
    title: str
    budget_s: float | None
    runs: list[StepRun] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    critical: bool = False

    @property
    def start(self) -> datetime | None:
        return next((run.start for run in self.runs if run.start is not None), None)

    @property
    def end(self) -> datetime | None:
        ends = [run.end for run in self.runs if run.end is not None]
        return max(ends) if ends else None

    @property
    def result(self) -> str:
        return self.runs[-1].result if self.runs else "not run"

    @property
    def actual_s(self) -> float | None:
        """From its first start to its last end: a failed attempt's time counts too."""
        start, end = self.start, self.end
        return (end - start).total_seconds() if start and end else None

    @property
    def over_s(self) -> float | None:
        actual = self.actual_s
        if actual is None or self.budget_s is None or self.result == "skipped":
            return None
        return actual - self.budget_s


@dataclass
class Gantt:
    bars: list[Bar]
    marks: list[Mark]
    """Every mark, in log order (each is on its step's bar too)."""
    start: datetime | None
    end: datetime | None

    def at(self, ts: datetime) -> float:
        """Where `ts` falls across the chart, in percent."""
        if self.start is None or self.end is None or self.end <= self.start:
            return 0.0
        span = (self.end - self.start).total_seconds()
        return min(max((ts - self.start).total_seconds() / span * 100, 0.0), 100.0)


def gantt(report: BoardReport, plan: Plan | None) -> Gantt:
    bars = _bars(report, plan)
    for mark in report.marks:
        if mark.step in bars:
            bars[mark.step].marks.append(mark)
    if plan is not None:
        _mark_critical(bars, plan)
    shown = list(bars.values())
    return Gantt(shown, list(report.marks), *_span(shown, report.marks))


def _bars(report: BoardReport, plan: Plan | None) -> dict[str, Bar]:
    bars: dict[str, Bar] = {}
    for step in plan.steps() if plan is not None else []:
        bars[step.id] = Bar(step.id, step.title, step.budget)
    for run in report.timeline:
        bar = bars.setdefault(run.step, Bar(run.step, run.title, None))
        bar.title = bar.title or run.title
        bar.runs.append(run)
    return bars


def _mark_critical(bars: dict[str, Bar], plan: Plan) -> None:
    """The chain that decided the window's length: steps weigh what they took, a step that
    did not run its budget."""
    took = {}
    for bar in bars.values():
        actual = 0.0 if bar.result == "skipped" else bar.actual_s
        if actual is not None:
            took[bar.step] = actual
    for step_id in critical_path(plan, took):
        bars[step_id].critical = True


def _span(bars: list[Bar], marks: list[Mark]) -> tuple[datetime | None, datetime | None]:
    starts = [bar.start for bar in bars if bar.start is not None]
    if not starts:
        return None, None
    ends = [*starts, *(mark.ts for mark in marks)]
    for bar in bars:
        ends += [run.end for run in bar.runs if run.end is not None]
        if bar.start is not None and bar.budget_s is not None:
            ends.append(bar.start + _seconds(bar.budget_s))
    return min(starts), max(ends)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
