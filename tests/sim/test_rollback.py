"""A phase's rollback path, rehearsed on the simulated estate, and refused once too late.

The pre-staged window is run up to its point of no return (the apps' start on the new
primary), then rolled back: the apps in AWS stay out, `omsdb` answers the datacentre
again on every resolver, the source fenced by the tail-log backup (RESTORING) is recovered
with RESTORE DATABASE [OMS] WITH RECOVERY and takes writes again, the datacentre's apps
answer healthy on it. Once the first production write on the new primary has been seen,
the same key is refused, on the record, and nothing of the path runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import PHASE_TWO, load
from support.rehearsal import shipping_copy
from support.waiting import eventually

from cockpit.audit import events
from cockpit.estate import dns, sql, sql_chain
from cockpit.runner.runner import StepRefused
from cockpit.runner.state import Status
from cockpit.session.folder import SessionFolder
from cockpit.session.rehearsal import rehearse, rehearse_rollback
from cockpit.session.watch import SessionReader

SPEED = 50.0


def test_the_rehearsed_rollback_leaves_the_source_online_writable_and_named(
    tmp_path: Path,
) -> None:
    plan_path = shipping_copy(tmp_path, 'every = "1m", rounds = 1')
    plan = load(plan_path)
    folder = tmp_path / "session"
    with running_sim(plan, speed=SPEED) as (_sim, handle):
        session = driver_session(plan_path, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            result = rehearse_rollback(session.runner, "phase-two")
            assert result.succeeded, result.render()
            state = sql.database_state(handle, "oms-db-dc", "OMS")
            sql_chain.write_sentinel(handle, "oms-db-dc", "OMS", "dbo.cutover_sentinel",
                                     "after-the-rollback")
            written = sql_chain.sentinels_found(handle, "oms-db-dc", "OMS",
                                                "dbo.cutover_sentinel", "after-the-rollback")
            answers = dns.resolve(handle, ["omsdb"]).answers
        finally:
            session.close()

    entries = log_entries(folder)
    fenced = [e for e in entries if e.step == "tail-log" and e.event == events.STEP_SUCCEEDED]
    assert fenced, "the window did not reach the fence before rolling back"
    assert "start-apps" not in {e.step for e in entries}  # stopped before the point
    started = [e for e in entries if e.event == events.ROLLBACK_STARTED]
    ended = [e for e in entries if e.event == events.ROLLBACK_ENDED]
    assert [e.detail["phase"] for e in started] == ["phase-two"]
    assert started[0].detail["projected_s"] == 12 * 60  # the path's budgets, summed
    assert ended[-1].detail["outcome"] == "rolled back"
    recovered = [e for e in entries if e.step == "rb-recover-source"
                 and e.event == events.STEP_SUCCEEDED]
    assert recovered, "the source was not recovered by the rollback's own step"
    assert state.state == "ONLINE" and state.is_read_only is False
    assert written == 1  # it takes writes again
    source = plan.estate.sql[0].server.rstrip(".")
    assert answers and all((a.value or "").rstrip(".") == source for a in answers), answers
    assert "took" in result.render() and "rolled back" in result.render()


def test_the_rollback_is_refused_once_the_point_of_no_return_has_passed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "session"
    with running_sim(load(PHASE_TWO), speed=SPEED) as (_sim, handle):
        session = driver_session(PHASE_TWO, handle, folder, time_scale=SPEED,
                                 confirm_manual=lambda _instruction: "done")
        try:
            result = rehearse(session.runner)
            assert result.succeeded, result.render()
            eventually(lambda: [e for e in log_entries(folder)
                                if e.event == events.PONR_PASSED],
                       what="the first production write seen on the new primary", within=30)
            with pytest.raises(StepRefused) as refused:
                session.runner.roll_back()
            states = {s: session.runner.step_state(s).status for s in
                      ("rb-drain-aws-apps", "rb-source-read-write")}
        finally:
            session.close()

    said = str(refused.value)
    assert "point of no return of phase-two passed" in said and "forward-fix only" in said
    entries = log_entries(folder)
    refusals = [e for e in entries if e.event == events.ROLLBACK_REFUSED]
    assert [(e.detail["phase"], e.detail["reason"]) for e in refusals] == [("phase-two", said)]
    assert not [e for e in entries if e.event == events.ROLLBACK_STARTED]
    assert set(states.values()) == {Status.PENDING}  # nothing of the path ran
    watched = SessionReader(SessionFolder(folder)).view()
    assert watched is not None and watched.time_scale == SPEED  # abort-by as the driver's
