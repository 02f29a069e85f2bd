"""Phase Two's driver SIGKILLed mid-step, and the next driver carrying on.

The plan is Phase Two from stopping the apps to the data check, on its estate: the steps
around those only cost time here.

The estate is this process's sim, served to a `cockpit rehearse --sim-endpoints` in a child
process as `cockpit sim serve` serves it: when the child dies its SQL connection drops, and
the sim's server ends what that connection was running, as SQL Server does. A restore cut
short leaves no database; a backup cut short leaves its multipart upload open in S3.

- After a crash in `restore` (no `until`): `--interrupted recheck` judges it by what the
  estate shows (no database: not done) and fails it, and the next `resume` (or `rerun`)
  restores and finishes the window, where it used to stop at "restore not run... 9 step(s)
  could not run".
- After a crash in `backup`: the reopening says which uploads were orphaned (in the log,
  and among the session's warnings) and `resume` aborts them first, with the step's undo,
  on the record, before it backs up again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import MANUAL_NOTE, ROOT, load
from support.waiting import eventually

from cockpit.audit.export import export_log
from cockpit.audit.verify import verify_log
from cockpit.estate import sql
from cockpit.estate.handle import EstateHandle
from cockpit.runner.state import Status
from cockpit.session.rehearsal import RehearsalResult, rehearse
from cockpit.sim.estate import SimEstate
from cockpit.sim.serve import write_endpoints

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
COCKPIT = str(Path(sys.executable).parent / "cockpit")
STEPS = ["stop-apps", "no-sessions", "source-read-only", "backup", "backup-verified", "restore",
         "target-read-write", "add-to-ag", "data-check"]
SPEED = 50.0  # a backup of 2.4 s, a restore of 1.8 s: room to die in the middle of either
BUCKET = "oms-cutover-backups"
KEY = "oms/OMS-phase2-full.bak"


def database_steps(folder: Path, last: str) -> Path:
    """Phase Two cut down to `STEPS` up to `last`, as written there (the first one's `after`
    dropped)."""
    steps = STEPS[:STEPS.index(last) + 1]
    head, _, body = PHASE_TWO.read_text(encoding="utf-8").partition("\n[[phases.steps]]")
    # its point of no return (start-apps) is not among the steps kept
    head = "\n".join(line for line in head.splitlines()
                     if not line.startswith("point_of_no_return ="))
    blocks = ["[[phases.steps]]" + block for block in ("\n" + body).split("\n[[phases.steps]]")
              if 'id = "' in block]
    kept = [block for step in steps for block in blocks if f'\nid = "{step}"\n' in block]
    kept[0] = "\n".join(line for line in kept[0].splitlines()
                        if not line.startswith("after =")) + "\n"
    path = folder / "phase-two-database.toml"
    path.write_text(head + "\n" + "\n".join(kept), encoding="utf-8")
    assert [step.id for step in load(path).steps()] == steps
    return path


@pytest.fixture
def plan(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Phase Two's database steps, to the data check (or the step a test names)."""
    last = getattr(request, "param", STEPS[-1])
    return database_steps(tmp_path, last)


@pytest.fixture
def sim(plan: Path, tmp_path: Path) -> Iterator[tuple[SimEstate, EstateHandle, Path]]:
    """Phase Two's sim, and the endpoints file a driver in another process reaches it by."""
    with running_sim(load(plan), speed=SPEED) as (estate, handle):
        endpoints = tmp_path / "endpoints.json"
        write_endpoints(estate.endpoints(), endpoints, {
            "pid": os.getpid(), "speed": SPEED, "sql_servers": estate.sql_servers()})
        yield estate, handle, endpoints


def logged(folder: Path) -> list[dict[str, Any]]:
    """The complete lines of a log another process is writing."""
    path = folder / "audit.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines]


def killed_mid_step(plan: Path, endpoints: Path, folder: Path, step: str,
                    percent: float) -> None:
    """Rehearse Phase Two in a child process; SIGKILL it once `step` has said it is past
    `percent`, the way a crashed or killed cockpit dies."""
    child = subprocess.Popen(
        [COCKPIT, "rehearse", str(plan), "--manual-note", MANUAL_NOTE,
         "--sim-endpoints", str(endpoints), "--session", str(folder)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def past() -> bool:
            if child.poll() is not None:
                raise AssertionError(f"the driver ended by itself ({child.returncode}): "
                                     f"{child.stderr.read() if child.stderr else b''!r}")
            return any(e["step"] == step and e["event"] == "step.progress"
                       and float(e["detail"].get("percent", -1)) >= percent
                       for e in logged(folder))

        eventually(past, what=f"{step} past {percent}%", within=60)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -9
    events = [(e["event"], e["step"]) for e in logged(folder)]
    assert ("step.started", step) in events and ("step.succeeded", step) not in events
    assert "session.closed" not in [event for event, _ in events]


def idle(handle: EstateHandle, endpoint: str) -> None:
    """The server has ended what the dead driver's connection was running."""
    eventually(lambda: sql.backup_progress(handle, endpoint).requests, lambda r: not r,
               what=f"nothing running on {endpoint}")


def reopen(plan: Path, folder: Path, handle: EstateHandle,
           choice: str) -> tuple[RehearsalResult, int]:
    """Reopen as `cockpit rehearse --take-over --interrupted CHOICE`: the result, and where
    in the log this opening began."""
    before = len(log_entries(folder))
    session = driver_session(plan, handle, folder, time_scale=SPEED, take_over=True,
                             confirm_manual=lambda _instruction: MANUAL_NOTE)
    try:
        return rehearse(session.runner, interrupted=choice), before
    finally:
        session.close()


def uploads(estate: SimEstate) -> list[dict[str, Any]]:
    return list(estate.client("s3").list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))


# --- the dead end after a crash in `restore` ---------------------------------------------------


@pytest.mark.parametrize("then", ["resume", "rerun"])
def test_a_restore_cut_short_is_rechecked_then_resumed_to_the_end(
    plan: Path, sim: tuple[SimEstate, EstateHandle, Path], tmp_path: Path, then: str,
) -> None:
    _estate, handle, endpoints = sim
    folder = tmp_path / "session"
    killed_mid_step(plan, endpoints, folder, "restore", 20)
    idle(handle, "oms-sql-1")
    assert not sql.database_state(handle, "oms-sql-1", "OMS").exists  # ended with its driver

    checked, at = reopen(plan, folder, handle, "recheck")
    assert checked.stopped_at == "restore" and not checked.succeeded
    failed = [e for e in log_entries(folder)[at:]
              if e.step == "restore" and e.event == "step.failed"]
    assert len(failed) == 1
    assert failed[0].detail["reason"].startswith(
        "re-check: sql.restore_from_url has not taken effect: no database OMS at oms-sql-1")
    assert failed[0].detail["evidence"]["sql.restore_from_url"]["exists"] is False

    result, at = reopen(plan, folder, handle, then)  # the way forward is still open
    assert result.succeeded, result.render()
    assert [s.step_id for s in result.outcomes] == STEPS[STEPS.index("restore"):]
    assert result.outcomes[0].attempt == (4 if then == "resume" else 3)  # killed, re-checked
    assert sql.database_state(handle, "oms-sql-1", "OMS").state == "ONLINE"
    started = [e.step for e in log_entries(folder)[at:] if e.event == "step.started"]
    assert started.count("restore") == (2 if then == "resume" else 1)  # resume re-checks first
    assert verify_log(folder / "audit.jsonl").status == "intact"


# --- the uploads a crash in `backup` orphaned ---------------------------------------------------


@pytest.mark.parametrize("plan", ["backup-verified"], indirect=True)
def test_a_backup_cut_short_has_its_orphaned_upload_aborted_first_on_resume(
    plan: Path, sim: tuple[SimEstate, EstateHandle, Path], tmp_path: Path,
) -> None:
    estate, handle, endpoints = sim
    folder = tmp_path / "session"
    killed_mid_step(plan, endpoints, folder, "backup", 20)
    idle(handle, "oms-db-dc")
    orphaned = uploads(estate)
    assert [u["Key"] for u in orphaned] == [KEY]  # what the killed backup left, parts and all

    before = len(log_entries(folder))
    session = driver_session(plan, handle, folder, time_scale=SPEED, take_over=True,
                             confirm_manual=lambda _instruction: MANUAL_NOTE)
    try:
        # Said on opening, before anything is run: in the log and among the warnings.
        warned = [e for e in log_entries(folder)[before:] if e.detail.get("warning")]
        assert len(warned) == 1 and warned[0].step == "backup"
        assert warned[0].event == "step.progress"
        assert [u["upload_id"] for u in warned[0].detail["orphaned_uploads"]] == [
            orphaned[0]["UploadId"]]
        assert warned[0].detail["abort_with"].startswith("s3.abort_multipart(")
        said = [w for w in session.runner.warnings if "orphaned multipart upload" in w]
        assert len(said) == 1 and orphaned[0]["UploadId"] in said[0]
        assert session.runner.step_state("backup").status is Status.INTERRUPTED

        result = rehearse(session.runner, interrupted="resume")
    finally:
        session.close()

    assert result.succeeded, result.render()
    assert [(s.step_id, s.status.value) for s in result.outcomes[:2]] == [
        ("backup", "undone"), ("backup", "succeeded")]
    added = log_entries(folder)[before:]
    backup = [e.event for e in added if e.step == "backup"]
    assert backup[:4] == ["session.interrupted", "step.progress", "step.undone",
                          "step.started"], backup
    undone = next(e for e in added if e.event == "step.undone")
    assert [u["upload_id"] for u in undone.detail["outputs"]["aborted"]] == [
        orphaned[0]["UploadId"]]
    assert uploads(estate) == []  # nothing left for S3 to keep and bill
    verified = next(e for e in added if e.step == "backup-verified"
                    and e.event == "step.succeeded")
    assert verified.detail["evidence"]["s3.backup_present"]["open_uploads"] == []

    report = export_log(folder / "audit.jsonl", "md")
    assert "orphaned multipart upload" in report and orphaned[0]["UploadId"] in report
