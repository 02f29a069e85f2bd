"""A step a dead driver cut short stays the operator's to recover, from the log alone, until
it is run to an end: a re-check that did not find it done leaves it failed *and* to
recover (so `rerun` and `resume` still have it to act on, in this session and the next);
a run of its own, an undo, a skip or marking it done ends that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.plans import PHASE_ONE

from cockpit.audit.entry import Actor, AuditEntry
from cockpit.plan.loader import load_plan
from cockpit.runner.state import Status, cut_short_step, derive

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
STEP = "register-targets"
RECHECK = {"reason": "re-check after interruption", "recheck": True, "attempt": 2}

Event = tuple[str, str | None, dict[str, Any]]


def entries(*events: Event) -> list[AuditEntry]:
    actor = Actor(user="jo", host="jump1")
    return [AuditEntry(seq=i + 1, ts=T0 + timedelta(seconds=i), session="s", actor=actor,
                       mode="driver", event=event, step=step, detail=detail, prev="0" * 64,
                       hash="0" * 64)
            for i, (event, step, detail) in enumerate(events)]


def cut_short(*after: Event) -> list[AuditEntry]:
    """The step started, its driver died, the next opening marked it: then `after`."""
    return entries(("session.opened", None, {}), ("step.started", STEP, {"attempt": 1}),
                   ("session.opened", None, {}),
                   ("session.interrupted", STEP, {"step": STEP, "last_event": "step.started"}),
                   *after)


def state_after(*after: Event) -> Any:
    return derive(load_plan(PHASE_ONE), cut_short(*after)).steps[STEP]


def test_an_interrupted_step_is_to_recover() -> None:
    state = state_after()
    assert state.status is Status.INTERRUPTED and state.to_recover


def test_a_failed_recheck_leaves_it_failed_and_still_to_recover() -> None:
    run = derive(load_plan(PHASE_ONE), cut_short(
        ("step.started", STEP, RECHECK),
        ("step.failed", STEP, {"reason": "re-check: elb.register has not taken effect"})))
    state = run.steps[STEP]
    assert state.status is Status.FAILED and state.to_recover
    assert [s.step_id for s in run.to_recover()] == [STEP]
    assert run.interrupted() == []  # what the log says happened last: a failure


def test_it_stays_to_recover_across_openings_and_repeated_rechecks() -> None:
    state = state_after(
        ("step.started", STEP, RECHECK), ("step.failed", STEP, {}),
        ("session.closed", None, {}), ("session.opened", None, {}),
        ("step.started", STEP, RECHECK), ("step.failed", STEP, {}))
    assert state.to_recover


def test_a_recheck_in_an_older_log_is_known_by_its_reason() -> None:
    state = state_after(("step.started", STEP, {"reason": "re-check after interruption"}),
                        ("step.failed", STEP, {}))
    assert state.to_recover


@pytest.mark.parametrize("end", [
    [("step.started", STEP, {"attempt": 2}), ("step.failed", STEP, {})],  # a run of its own
    [("step.started", STEP, RECHECK), ("step.succeeded", STEP, {})],
    [("step.succeeded", STEP, {"marked_done": True, "reason": "marked done: seen"})],
    [("step.skipped", STEP, {"reason": "not needed"})],
    [("step.undone", STEP, {})],
    [("step.started", STEP, {"attempt": 2}), ("step.withdrawn", STEP, {})],
], ids=["run-failed", "recheck-succeeded", "marked-done", "skipped", "undone", "withdrawn"])
def test_running_it_to_an_end_ends_the_recovery(end: list[Event]) -> None:
    assert not state_after(*end).to_recover


def test_a_recheck_cut_short_too_is_interrupted_and_to_recover() -> None:
    state = state_after(("step.started", STEP, RECHECK), ("session.opened", None, {}),
                        ("session.interrupted", STEP, {"step": STEP}))
    assert state.status is Status.INTERRUPTED and state.to_recover


def test_a_warning_about_a_step_already_ended_does_not_reopen_it() -> None:
    """The opening's warning (uploads a backup left) is a `step.progress` on an ended step:
    a driver dying after it has not cut that step short again."""
    log = cut_short(("step.progress", STEP, {"message": "warning: ...", "warning": "x"}))
    assert cut_short_step(log) is None
    running = entries(("step.started", "apps-healthy", {}), ("step.progress", "apps-healthy", {}))
    assert cut_short_step(running) == ("apps-healthy", "step.progress")
