"""Streams side by side in one session: a long wait does not hold back a step of another
stream; cancelling one running step leaves the others running; a stop records every step
it cut short, and the next driver finds each to recover; an `auto` step starts the moment
it is ready, with no key; `step.succeeded` is not fooled by a skip or a mark-done.

In-process, on one sim for the module; the long steps only wait (for an instance to stop
that nobody stops), as a restore holds the window."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import entries_named, events_of, log_entries, me
from support.estate import driver_session, running_sim
from support.plans import PHASE_ONE, load, write_plan
from support.waiting import eventually

from cockpit.audit.writer import AuditWriter
from cockpit.estate.handle import EstateHandle
from cockpit.runner.state import Status, derive
from cockpit.session.driver import DriverSession

SPEED = 50.0
STREAMS = """
[[phases]]
id = "window"
title = "The database window"

[[phases.steps]]
id = "fence"
title = "Fence the source"
until = [{ kind = "ec2.running", servers = ["oms-app-1"] }]
timeout = "30s"

[[phases.steps]]
id = "restore"
title = "Restore the database (waits, as a long restore holds the window)"
after = ["fence"]
stream = "dba"
until = [{ kind = "ec2.stopped", servers = ["oms-app-1"] }]
timeout = "1h"

[[phases.steps]]
id = "warm-caches"
title = "Warm the app caches (waits too)"
after = ["fence"]
stream = "apps"
until = [{ kind = "ec2.stopped", servers = ["oms-app-2"] }]
timeout = "1h"

[[phases.steps]]
id = "tell-stores"
title = "Tell store operations the restore has started"
after = ["fence"]
stream = "comms"
do = { kind = "manual", instruction = "Tell store operations the database restore has started" }

[[phases.steps]]
id = "apps-answer"
title = "The apps answer, checked the moment the stores are told"
after = ["tell-stores"]
stream = "comms"
auto = true
until = [{ kind = "ec2.running", servers = ["oms-app-2"] }]
timeout = "30s"

[[phases.steps]]
id = "data-check"
title = "Data check"
after = ["fence"]
until = [{ kind = "ec2.running", servers = ["oms-app-1"] }]
timeout = "30s"

[[phases.steps]]
id = "switch"
title = "Switch, only on a data check that held"
after = ["data-check"]
gates = [{ kind = "step.succeeded", steps = ["data-check"] }]
until = [{ kind = "ec2.running", servers = ["oms-app-1"] }]
timeout = "30s"
"""


@pytest.fixture(scope="module")
def handle() -> Iterator[EstateHandle]:
    with running_sim(load(PHASE_ONE), speed=SPEED) as (_sim, running):
        yield running


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    return write_plan(tmp_path, STREAMS)[0]


@pytest.fixture
def session(plan_path: Path, handle: EstateHandle, tmp_path: Path) -> Iterator[DriverSession]:
    opened = driver_session(plan_path, handle, tmp_path / "session", time_scale=SPEED,
                            confirm_manual=lambda instruction: "store ops told")
    try:
        yield opened
    finally:
        opened.close(wait_s=10)


def in_thread(session: DriverSession, step_id: str) -> threading.Thread:
    worker = threading.Thread(target=session.run, args=(step_id,), daemon=True)
    worker.start()
    return worker


def waiting(session: DriverSession, step_id: str) -> None:
    eventually(lambda: events_of(session.folder.path, step_id),
               lambda e: "step.progress" in e, what=f"{step_id} waiting")


def started_fenced(session: DriverSession) -> None:
    assert session.run("fence").status is Status.SUCCEEDED


def test_a_step_of_another_stream_runs_to_its_end_while_the_restore_waits(
        session: DriverSession) -> None:
    started_fenced(session)
    restore = in_thread(session, "restore")
    waiting(session, "restore")
    assert session.run("tell-stores").status is Status.SUCCEEDED
    assert session.runner.step_state("restore").status is Status.RUNNING
    assert "restore" in session.running()
    session.cancel()
    restore.join(timeout=30)
    order = [(e.event, e.step) for e in log_entries(session.folder.path)
             if e.step in ("restore", "tell-stores") and e.event != "step.progress"]
    assert order.index(("step.started", "restore")) < order.index(
        ("step.succeeded", "tell-stores")) < order.index(("step.failed", "restore")), order


def test_cancelling_one_running_step_leaves_the_other_running(session: DriverSession) -> None:
    started_fenced(session)
    threads = [in_thread(session, "restore"), in_thread(session, "warm-caches")]
    waiting(session, "restore")
    waiting(session, "warm-caches")
    assert [s.step_id for s in session.view().run.running_steps()] == [
        "restore", "warm-caches"]
    assert session.cancel_step("warm-caches") == ["warm-caches"]
    threads[1].join(timeout=30)
    run = session.runner.state()
    assert run.steps["warm-caches"].status is Status.FAILED
    assert "cancelled" in (run.steps["warm-caches"].reason or "")
    assert run.steps["restore"].status is Status.RUNNING
    session.cancel()
    threads[0].join(timeout=30)


def test_a_stop_marks_every_step_it_cut_short_and_the_next_driver_finds_each(
        plan_path: Path, handle: EstateHandle, tmp_path: Path) -> None:
    folder = tmp_path / "stopped"
    session = driver_session(plan_path, handle, folder, time_scale=SPEED)
    started_fenced(session)
    threads = [in_thread(session, "restore"), in_thread(session, "warm-caches")]
    waiting(session, "restore")
    waiting(session, "warm-caches")
    session.cancel(stopped_by="SIGTERM")
    session.close(wait_s=10)
    for thread in threads:
        thread.join(timeout=30)
    interrupted = {e.step for e in entries_named(folder, "session.interrupted")}
    assert interrupted == {"restore", "warm-caches"}
    assert events_of(folder)[-1] == "session.closed"
    again = driver_session(plan_path, handle, folder, time_scale=SPEED)
    try:
        assert {s.step_id for s in again.runner.state().to_recover()} == {
            "restore", "warm-caches"}
    finally:
        again.close(wait_s=10)


def test_a_dead_driver_leaves_several_steps_interrupted_on_the_next_opening(
        plan_path: Path, handle: EstateHandle, tmp_path: Path) -> None:
    """The log as a driver SIGKILLed with two streams running leaves it: two steps
    started, neither ended, no `session.closed`."""
    folder = tmp_path / "crashed"
    folder.mkdir(mode=0o700)
    with AuditWriter(folder / "audit.jsonl", session="20261205-010000-dead", actor=me(),
                     mode="driver") as writer:
        writer.append("session.opened", detail={"plan_name": "small", "resumed": False})
        writer.append("step.started", step="fence", detail={"attempt": 1})
        writer.append("step.succeeded", step="fence", detail={"duration_s": 1.0})
        for step in ("restore", "warm-caches"):
            writer.append("step.started", step=step, detail={"attempt": 1})
    again = driver_session(plan_path, handle, folder, time_scale=SPEED)
    try:
        run = again.runner.state()
        assert {s.step_id for s in run.to_recover()} == {"restore", "warm-caches"}
        assert [e.step for e in entries_named(folder, "session.interrupted")] == [
            "restore", "warm-caches"]
        assert sum("was running when the last driver stopped" in w
                   for w in again.warnings) == 2
    finally:
        again.close(wait_s=10)


def test_an_auto_step_starts_by_itself_once_its_dependency_is_done(
        session: DriverSession) -> None:
    started_fenced(session)
    session.run("tell-stores")
    eventually(lambda: session.runner.step_state("apps-answer").status,
               lambda status: status is Status.SUCCEEDED, what="apps-answer done by itself")
    told = [e for e in log_entries(session.folder.path)
            if e.step == "tell-stores" and e.event == "step.succeeded"][0]
    started = [e for e in log_entries(session.folder.path)
               if e.step == "apps-answer" and e.event == "step.started"]
    assert len(started) == 1 and started[0].seq > told.seq


def test_a_skipped_data_check_leaves_the_switch_gate_failing_and_naming_it(
        session: DriverSession) -> None:
    started_fenced(session)
    session.skip("data-check", "no time tonight")
    switched = session.run("switch")
    assert switched.status is Status.FAILED
    assert "step.succeeded" in (switched.reason or "")
    assert "data-check is skipped" in (switched.reason or "")


def test_a_data_check_marked_done_does_not_pass_for_one_that_held(
        session: DriverSession) -> None:
    started_fenced(session)
    session.mark_done("data-check", "the DBA compared by hand")
    switched = session.run("switch")
    assert switched.status is Status.FAILED
    assert "data-check is marked done" in (switched.reason or "")
    assert derive(session.plan, session.runner.entries).steps["data-check"].marked_done


def test_a_data_check_that_held_opens_the_switch_gate(session: DriverSession) -> None:
    started_fenced(session)
    assert session.run("data-check").status is Status.SUCCEEDED
    assert session.run("switch").status is Status.SUCCEEDED
