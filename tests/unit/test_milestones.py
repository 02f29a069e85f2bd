"""Which entries of the record are milestones: told once, when they happen, never again
on a reopened session; a go/no-go is a step of gates alone; a step past its budget is
told once per attempt, in the simulator's time when it is sped up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.plans import PHASE_TWO, load

from cockpit.audit import Actor, AuditWriter
from cockpit.audit import events as ev
from cockpit.audit.entry import AuditEntry
from cockpit.plan.models import Plan
from cockpit.runner.milestones import Slip, milestones_of, past_budget
from cockpit.runner.state import derive

JO = Actor(user="jo", host="jump1")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


@pytest.fixture
def records(plan: Plan, tmp_path: Path) -> Iterator[list[Record]]:
    made: list[Record] = []
    yield made
    for record in made:
        record.writer.close()


class Record:
    """The log as it grows, and the milestones each new entry is."""

    def __init__(self, plan: Plan, path: Path, kept: list[Record]) -> None:
        self.plan, self.entries = plan, []
        kept.append(self)
        self.writer = AuditWriter(path, session="s", actor=JO, mode="driver")
        self.told: list[str] = []

    def add(self, event: str, step: str | None = None, **detail: Any) -> AuditEntry:
        before = derive(self.plan, self.entries)
        entry = self.writer.append(event, step=step, detail=detail)
        self.entries.append(entry)
        after = derive(self.plan, self.entries)
        self.told += [n.milestone for n in milestones_of(entry, before, after, self.plan)]
        return entry

    def run(self, step: str, event: str = ev.STEP_SUCCEEDED, **detail: Any) -> None:
        self.add(ev.STEP_STARTED, step, title=step, attempt=1)
        self.add(event, step, duration_s=0.1, **detail)


def test_a_phase_is_told_when_it_starts_and_ends_a_failure_when_it_happens(
        plan: Plan, tmp_path: Path, records: list[Record]) -> None:
    record = Record(plan, tmp_path / "audit.jsonl", records)
    record.add(ev.SESSION_OPENED, plan_name=plan.plan.name)
    steps = [s.id for s in plan.phases[0].steps]
    record.run(steps[0], summary="done")
    assert record.told == ["phase.started"]
    record.run(steps[1], ev.STEP_FAILED, reason="timed out after 3m")
    assert record.told == ["phase.started", "step.failed"]
    record.run(steps[1], summary="done on the second attempt")  # the phase is not new
    for step in steps[2:]:
        record.run(step, summary="done")
    assert record.told.count("phase.started") == 1
    assert len(plan.phases) == 1  # so its end is also the window's
    assert record.told[-2:] == ["phase.ended", "window.complete"]
    record.add(ev.SESSION_CLOSED, summary="closed")
    assert record.told[-2:] == ["phase.ended", "window.complete"], "told only once"


def test_a_step_of_gates_alone_passing_is_a_go(plan: Plan, tmp_path: Path,
                                               records: list[Record]) -> None:
    go = next(s for phase in plan.phases for s in phase.steps
              if s.gates and s.do is None and not s.until)
    record = Record(plan, tmp_path / "audit.jsonl", records)
    record.run(go.id, summary="gates held: every replica synchronized")
    assert "go.passed" in record.told
    record.run(next(s.id for s in plan.steps() if s.do is not None), summary="done")
    assert record.told.count("go.passed") == 1


def test_past_budget_is_told_once_per_attempt_in_the_simulators_time(
        plan: Plan, tmp_path: Path, records: list[Record]) -> None:
    record = Record(plan, tmp_path / "audit.jsonl", records)
    step = plan.phases[0].steps[0]
    started = record.add(ev.STEP_STARTED, step.id, title=step.title, attempt=1)
    run = derive(plan, record.entries)
    told: set[tuple[str, int]] = set()
    within = started.ts + timedelta(seconds=step.budget * 0.9)
    assert past_budget(run, plan, within, told) == []
    late = started.ts + timedelta(seconds=step.budget + 1)
    notices = past_budget(run, plan, late, told)
    assert [n.milestone for n in notices] == ["step.past_budget"]
    assert notices[0].step == step.id
    assert past_budget(run, plan, late + timedelta(minutes=5), told) == []
    # Sped up 20 times, a twentieth of the budget in wall time is the budget.
    sped = started.ts + timedelta(seconds=step.budget / 20 + 1)
    assert past_budget(run, plan, sped, set(), time_scale=20)


def test_the_point_of_no_return_is_told_with_what_passed_it(
        plan: Plan, tmp_path: Path, records: list[Record]) -> None:
    record = Record(plan, tmp_path / "audit.jsonl", records)
    phase = plan.phases[-1]
    step = phase.steps[-1]
    record.add(ev.PONR_PASSED, step.id, phase=phase.id, rollback="forward-fix only",
               summary="dbo.orders 11358 -> 11366 on oms-sql-1")
    assert record.told == ["phase.point_of_no_return"]


def test_a_slipping_end_is_told_once_per_slip_and_never_for_good_news() -> None:
    start = datetime(2026, 12, 19, 22, 0, tzinfo=UTC)
    slip = Slip("OMS Phase Two", told_after_s=600)
    assert slip.check(None) == []
    assert slip.check(start) == []  # the first projection is the baseline
    assert slip.check(start + timedelta(minutes=9)) == []
    notices = slip.check(start + timedelta(minutes=12))
    assert [n.milestone for n in notices] == ["window.end_slipped"]
    assert "slipped 12 min" in notices[0].title and "was ~22:00Z" in notices[0].body
    assert slip.check(start + timedelta(minutes=20)) == []  # 8 more: not yet another slip
    assert slip.check(start - timedelta(minutes=30)) == []  # earlier: the new baseline
    assert slip.check(start - timedelta(minutes=25)) == []
    # Sped up 20 times, 31 s of wall time is ten minutes and more of the window's.
    fast = Slip("OMS Phase Two", told_after_s=600, time_scale=20)
    fast.check(start)
    assert fast.check(start + timedelta(seconds=31))
