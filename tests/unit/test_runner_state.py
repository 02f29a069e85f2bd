"""Step states derived from the log alone: readiness follows what still stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from support.plans import PHASE_ONE

from cockpit.audit.entry import Actor, AuditEntry
from cockpit.plan.loader import load_plan
from cockpit.runner.state import Status, cut_short_step, derive

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def entries(*events: tuple[str, str | None]) -> list[AuditEntry]:
    actor = Actor(user="jo", host="jump1")
    return [AuditEntry(seq=i + 1, ts=T0 + timedelta(seconds=i), session="s", actor=actor,
                       mode="driver", event=event, step=step, detail={}, prev="0" * 64,
                       hash="0" * 64)
            for i, (event, step) in enumerate(events)]


def done(*steps: str) -> list[tuple[str, str | None]]:
    return [pair for step in steps
            for pair in (("step.started", step), ("step.succeeded", step))]


def test_undoing_a_step_sends_the_steps_after_it_back_to_waiting() -> None:
    plan = load_plan(PHASE_ONE)
    log = [("session.opened", None),
           *done("announce-start", "instances-running", "apps-healthy", "register-targets",
                 "targets-healthy"),
           ("step.undone", "register-targets")]
    run = derive(plan, entries(*log))
    assert run.steps["register-targets"].status is Status.UNDONE
    # What happened stays on record; what may run next no longer trusts it.
    assert run.steps["targets-healthy"].status is Status.SUCCEEDED
    assert run.steps["switch-dns"].status is Status.PENDING
    assert run.steps["switch-dns"].waiting_on == ["targets-healthy"]
    # Nothing downstream is offered as next: after an undo the engineer chooses.
    assert run.next_ready() is None


def test_a_step_started_and_never_ended_is_the_one_cut_short() -> None:
    log = entries(("session.opened", None), *done("instances-running"),
                  ("step.started", "apps-healthy"), ("step.progress", "apps-healthy"))
    assert cut_short_step(log) == ("apps-healthy", "step.progress")
    closed = [*log, *entries(("session.interrupted", "apps-healthy"))]
    assert cut_short_step(closed) is None
