"""The point of no return, declared by the plan and confirmed by the estate.

The pre-staged window declares `start-apps` its point of no return. When that step starts,
the cockpit reads the new primary's rows per table; once the apps are back, the stores'
orders land on the new primary (the sim writes them into the database the apps reach),
and the first one seen is recorded with what changed. From then on the undo of the fence
(and of every step up to `start-apps`) is refused: the datacentre copy is stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import ROOT, load
from support.rehearsal import shipping_copy
from support.waiting import eventually

from cockpit.audit import events
from cockpit.audit.entry import Actor, AuditEntry
from cockpit.runner import point_of_no_return as ponr
from cockpit.runner.runner import StepRefused
from cockpit.session.folder import SessionFolder
from cockpit.session.rehearsal import rehearse
from cockpit.session.watch import SessionReader
from cockpit.ui.widgets.header import render_header

PRESTAGED = ROOT / "plans" / "oms-phase2-database.toml"
SPEED = 50.0


def quick(folder: Path) -> Path:
    return shipping_copy(folder, 'every = "1m", rounds = 1')


def test_after_the_first_write_on_the_new_primary_the_fence_cannot_be_undone(
    tmp_path: Path,
) -> None:
    plan = quick(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            result = rehearse(session.runner)
            assert result.succeeded, result.render()
            passed = eventually(
                lambda: [e for e in log_entries(folder) if e.event == events.PONR_PASSED],
                what="the first production write seen on the new primary")
            with pytest.raises(StepRefused) as refused:
                session.runner.undo_step("tail-log")
        finally:
            session.close()

    armed = [e for e in log_entries(folder) if e.event == events.PONR_ARMED]
    assert [(e.step, e.detail["endpoint"], e.detail["database"]) for e in armed] == [
        ("start-apps", "oms-sql-1", "OMS")]
    orders_then = armed[0].detail["baseline"]["dbo.orders"]
    seen = passed[0].detail
    assert passed[0].step == "start-apps" and seen["rollback"] == "forward-fix only"
    assert seen["tables"]["dbo.orders"]["before"] == orders_then
    assert seen["tables"]["dbo.orders"]["now"] > orders_then  # orders landed there
    said = str(refused.value)
    assert "point of no return of phase-two passed" in said
    assert "undoing tail-log now would split the brain: forward-fix only" in said
    undone = [e for e in log_entries(folder) if e.event == events.STEP_UNDONE]
    assert undone == []  # refused before anything ran
    view = SessionReader(SessionFolder(folder), hung_after_s=30).view()
    assert view is not None
    header = render_header(view, mode="WATCH").plain
    assert f"FORWARD-FIX ONLY since {passed[0].ts:%H:%M}Z" in header


def test_undos_after_the_declared_step_and_before_the_moment_are_not_refused() -> None:
    plan = load(PRESTAGED)
    assert ponr.undo_refused(plan, "tail-log", {}) is None  # not passed yet: rollback open
    passed = {"phase-two": passing()}
    assert ponr.undo_refused(plan, "register-apps", passed) is None  # forward of it
    assert ponr.undo_refused(plan, "switch-db-dns", passed) is not None


def passing() -> AuditEntry:
    """A recorded passing of phase-two's point of no return, as the log holds one."""
    return AuditEntry(seq=90, ts=datetime(2026, 12, 24, 23, 5, tzinfo=UTC), session="s",
                      actor=Actor(user="dba", host="jump1"), mode="driver",
                      event=events.PONR_PASSED, step="start-apps",
                      detail={"phase": "phase-two", "summary": "first write"},
                      prev="0" * 64, hash="1" * 64)
