"""A restore outlives the driver that started it, and the next driver does not start it again.

The pre-staged window's restores run as one-off SQL Agent jobs on each replica. Here the
driver (a `cockpit rehearse` in a child process, reaching this process's sim as `cockpit
sim serve` serves it) is SIGKILLed in the middle of the restore: its connections drop, and
the restore runs on, because it belongs to the Agent. Reopened with `--take-over
--interrupted resume`, the session waits for the jobs it finds (re-check) or follows them
(run again), reads their outcome from msdb and deletes them; msdb's restorehistory shows
each replica restored the full backup once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import ROOT, load
from support.waiting import eventually
from test_recovery_crash import killed_mid_step, reopen

from cockpit.estate import sql
from cockpit.estate.handle import EstateHandle
from cockpit.sim.estate import SimEstate
from cockpit.sim.serve import write_endpoints

PRESTAGED = ROOT / "plans" / "oms-phase2-database.toml"
STEPS = ("stage-full", "stage-restore")
REPLICAS = ("oms-sql-1", "oms-sql-2", "oms-sql-3")
SPEED = 20.0  # a restore of about 5 s: the driver dies well inside it


def staging(folder: Path) -> Path:
    """The pre-stage phase's full backup and its restore on every replica, as the plan
    writes them (the restore's readiness gate left out: the plan's checks are not here)."""
    head, _, body = PRESTAGED.read_text(encoding="utf-8").partition("\n[[phases.steps]]")
    blocks = ["[[phases.steps]]" + b for b in ("\n" + body).split("\n[[phases.steps]]")]
    kept = [b for step in STEPS for b in blocks if f'\nid = "{step}"\n' in b]
    kept = ["\n".join(line for line in b.splitlines() if not line.startswith("gates ="))
            for b in kept]
    path = folder / "staging.toml"
    path.write_text(head + "\n" + "\n\n".join(kept) + "\n", encoding="utf-8")
    assert [s.id for s in load(path).steps()] == list(STEPS)
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, SimEstate, EstateHandle, Path]]:
    plan = staging(tmp_path)
    with running_sim(load(plan), speed=SPEED) as (estate, handle):
        endpoints = tmp_path / "endpoints.json"
        write_endpoints(estate.endpoints(), endpoints, {
            "pid": os.getpid(), "speed": SPEED, "sql_servers": estate.sql_servers()})
        yield plan, estate, handle, endpoints


def restores_of(handle: EstateHandle, endpoint: str) -> int:
    rows = sql.read_query(handle, endpoint, "msdb",
                          "SELECT COUNT(*) AS restores FROM dbo.restorehistory "
                          "WHERE destination_database_name = 'OMS'")
    return int(rows[0]["restores"])


def restoring_now(handle: EstateHandle) -> list[str]:
    return [e for e in REPLICAS if any(r.command.startswith("RESTORE")
                                       for r in sql.backup_progress(handle, e).requests)]


@pytest.mark.parametrize("choice", ["resume", "rerun"])
def test_a_restore_killed_with_its_driver_runs_on_and_is_not_started_again(
    served: tuple[Path, SimEstate, EstateHandle, Path], tmp_path: Path, choice: str,
) -> None:
    plan, _estate, handle, endpoints = served
    folder = tmp_path / "session"
    killed_mid_step(plan, endpoints, folder, "stage-restore", 10)
    # The driver is dead; SQL Server is still restoring, on the Agent's sessions.
    assert restoring_now(handle), "the restores died with the driver"

    result, at = reopen(plan, folder, handle, choice)
    assert result.succeeded, result.render()
    assert all(sql.database_state(handle, e, "OMS").state == "RESTORING" for e in REPLICAS)
    assert [restores_of(handle, e) for e in REPLICAS] == [1, 1, 1]  # once each, not twice

    after = [e for e in log_entries(folder)[at:] if e.step == "stage-restore"]
    said = [str(e.detail.get("message", "")) for e in after if e.event == "step.progress"]
    assert not [m for m in said if "Agent job started" in m], said
    if choice == "resume":  # the re-check waited for the jobs it found running
        ended = after[-1]
        assert ended.event == "step.succeeded"
        assert ended.detail.get("recheck") or "took effect" in str(ended.detail)
    else:  # run again: it follows the jobs its predecessor started, or finds them done
        done = next(e for e in reversed(after) if "outputs" in e.detail)
        restored = done.detail["outputs"]["restored"]
        for replica in REPLICAS:
            followed = any(f"{replica}: re-attached to Agent job" in m for m in said)
            assert followed or restored[replica]["skipped"], (replica, said, restored)
    jobs = sql.read_query(handle, "oms-sql-1", "msdb",
                          "SELECT COUNT(*) AS jobs FROM dbo.sysjobs WHERE name LIKE 'cockpit %'")
    assert jobs[0]["jobs"] == 0  # each job deleted once its outcome was read


def test_the_engineers_cancel_kills_the_jobs_session_and_says_so(tmp_path: Path) -> None:
    plan = staging(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=10.0) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=10.0)
        try:
            ran = threading.Thread(target=session.runner.run_step, args=("stage-full",))
            ran.start()
            eventually(lambda: [e for e in log_entries(folder) if "BACKUP" in str(
                e.detail.get("message", ""))], what="the backup under way")
            session.runner.cancel()
            ran.join(timeout=60)
            failed = [e for e in log_entries(folder) if e.event == "step.failed"]
        finally:
            session.close()
        assert len(failed) == 1 and failed[0].step == "stage-full"
        said = failed[0].detail["reason"]
        assert "cancelled: KILL " in said and "ended Agent job cockpit " in said, said
        assert isinstance(failed[0].detail["evidence"]["killed_session"], int)
        backups = sql.read_query(handle, "oms-db-dc", "msdb",
                                 "SELECT COUNT(*) AS n FROM dbo.backupset")
        jobs = sql.read_query(handle, "oms-db-dc", "msdb",
                              "SELECT COUNT(*) AS n FROM dbo.sysjobs WHERE name LIKE 'cockpit %'")
        assert (backups[0]["n"], jobs[0]["n"]) == (0, 0)  # no backup written, no job left


def test_an_agent_job_that_fails_fails_the_step_in_sql_servers_words(tmp_path: Path) -> None:
    plan = staging(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED, faults=["agent-job-fails=stage-full"]) as (
            _estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED)
        try:
            state = session.runner.run_step("stage-full")
        finally:
            session.close()
    assert state.status.value == "failed"
    failed = [e for e in log_entries(folder) if e.event == "step.failed"][0]
    assert "Agent job cockpit " in failed.detail["reason"]
    assert "Operating system error 5(Access is denied.)" in failed.detail["reason"]
    assert "(Error 3201)" in failed.detail["reason"]
