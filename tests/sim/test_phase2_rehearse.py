"""Phase Two rehearsed end to end on the simulated estate, and the three ways it must stop:
a restored copy missing an order (the data check names the table, the DNS name is never
switched), a backup failing part-way (its orphaned upload is reported, and the step's undo
aborts it), a synchronous replica that never synchronizes (the wait times out).

The clean run and the failed backup go through the runner with the sim held open, so S3
can be looked at afterwards; the others go through `cockpit rehearse` (CliRunner)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.audit import events_of, log_entries, started_steps
from support.estate import driver_session, running_sim
from support.plans import MANUAL_NOTE, ROOT, load

from cockpit.audit.verify import verify_log
from cockpit.cli import main
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Manual
from cockpit.runner.runner import Runner
from cockpit.runner.state import Status
from cockpit.session.rehearsal import rehearse
from cockpit.sim.estate import SimEstate

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
DEMO = ROOT / "cockpit" / "demo" / "oms-demo.toml"
SPEED = 100.0
BUCKET = "oms-cutover-backups"
KEY = "oms/OMS-phase2-full.bak"
STEPS = [step.id for step in load(PHASE_TWO).steps()]


@pytest.fixture
def runner_on_sim(request: pytest.FixtureRequest,
                  tmp_path: Path) -> Iterator[tuple[Runner, SimEstate, EstateHandle]]:
    faults = getattr(request, "param", ())
    plan = load(PHASE_TWO)
    with running_sim(plan, speed=SPEED, faults=faults) as (sim, handle):
        session = driver_session(PHASE_TWO, handle, tmp_path / "session", time_scale=SPEED,
                                 confirm_manual=lambda instruction: "rehearsal")
        try:
            yield session.runner, sim, handle
        finally:
            session.close()


def cockpit(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output, result.exception)
    return result


def failed_entry(folder: Path, step: str) -> dict[str, object]:
    failed = [e for e in log_entries(folder) if e.event == "step.failed" and e.step == step]
    assert failed, events_of(folder)
    return dict(failed[-1].detail)


# --- the window, clean -------------------------------------------------------------------------


def test_phase_two_rehearses_to_the_end_and_leaves_the_backup_in_s3(
    runner_on_sim: tuple[Runner, SimEstate, EstateHandle],
) -> None:
    runner, sim, _handle = runner_on_sim
    result = rehearse(runner)
    assert result.succeeded, [(s.step_id, s.status, s.reason) for s in result.outcomes]
    # in the order they ended: the comms step beside the restore ends first
    ended = [s.step_id for s in result.outcomes]
    assert sorted(ended) == sorted(STEPS)
    assert ended.index("tell-stores-restoring") < ended.index("restore")
    # on the record: the stores were told while the restore ran, not after it
    seqs = {(e.event, e.step): e.seq for e in log_entries(runner.folder)
            if e.step in ("restore", "tell-stores-restoring")}
    assert seqs[("step.started", "restore")] < seqs[
        ("step.succeeded", "tell-stores-restoring")] < seqs[("step.succeeded", "restore")]

    head = sim.client("s3").head_object(Bucket=BUCKET, Key=KEY)
    assert sim.sql is not None
    size = sim.sql.servers["oms-db-dc"].require("OMS").data_pages() * 8192
    assert head["ContentLength"] == size
    assert str(head["ETag"]).strip('"').endswith(f"-{math.ceil(size / (5 * 1024 * 1024))}")
    assert sim.client("s3").list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    backup = runner.step_state("backup")
    assert backup.outputs["statements"] == [
        f"BACKUP DATABASE [OMS] TO URL = 's3://{sim.aws_endpoint.split('://')[1]}/{BUCKET}/"
        f"{KEY}' WITH FORMAT, COMPRESSION, CHECKSUM, MAXTRANSFERSIZE = 20971520, "
        "BACKUP_OPTIONS = '{\"s3\": {\"region\": \"ap-southeast-2\"}}', STATS = 5"]
    progress = [e.detail for e in log_entries(runner.folder)
                if e.event == "step.progress" and e.step == "backup" and "percent" in e.detail]
    assert progress and progress[-1]["percent"] > progress[0]["percent"]
    go = runner.step_state("ag-healthy").evidence["sql.ag_healthy"]  # a gate that held
    assert {replica: seen["health"] for replica, seen in go.items()} == {
        "OMS-SQL-1": "HEALTHY", "OMS-SQL-2": "HEALTHY", "OMS-SQL-3": "HEALTHY"}
    checked = runner.step_state("data-check").evidence["sql.data_matches"]
    assert checked["source"] == checked["target"] and checked["differs"] == []
    # the seed's 1,500 orders and those the stores sent until the apps stopped
    assert checked["target"]["dbo.orders"]["rows"] > 1500
    assert verify_log(runner.folder / "audit.jsonl").exit_code == 0


# --- the ways it must stop -----------------------------------------------------------------------


def test_a_restored_copy_missing_an_order_stops_at_the_data_check(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    result = cockpit("rehearse", PHASE_TWO, "--manual-note", MANUAL_NOTE,
                     "--sim", "--speed", str(SPEED), "--session", folder,
                     "--sim-fault", "restore-drops-row=orders")
    assert result.exit_code == 1, result.output
    assert "stopped at data-check: nothing after it ran" in result.output
    reason = str(failed_entry(folder, "data-check")["reason"])
    lost = re.search(r"dbo\.orders \(rows (\d+) vs (\d+),", reason)
    assert lost is not None and int(lost[2]) == int(lost[1]) - 1, reason
    assert "order_lines" not in reason and "customers" not in reason
    # the comms step runs beside the restore: which of the two wrote its start first is
    # the threads' race, not the plan's order
    assert sorted(started_steps(folder)) == sorted(STEPS[:STEPS.index("data-check") + 1])
    assert "switch-db-dns" not in started_steps(folder)


@pytest.mark.parametrize("runner_on_sim", [("backup-fails-at=40",)], indirect=True)
def test_a_failed_backup_reports_its_orphaned_upload_and_the_undo_aborts_it(
    runner_on_sim: tuple[Runner, SimEstate, EstateHandle],
) -> None:
    runner, sim, _handle = runner_on_sim
    result = rehearse(runner)
    assert result.stopped_at == "backup"
    failed = failed_entry(runner.folder, "backup")
    assert "BACKUP DATABASE is terminating abnormally" in str(failed["reason"])
    assert "orphaned multipart upload" in str(failed["reason"])
    evidence = failed["evidence"]
    assert isinstance(evidence, dict)
    orphans = evidence["orphaned_uploads"]
    listed = sim.client("s3").list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [(o["key"], o["upload_id"], o["parts"], o["bytes"]) for o in orphans] == [
        (KEY, listed[0]["UploadId"], 1, 5 * 1024 * 1024)]

    undone = runner.undo_step("backup")
    assert undone.status is Status.UNDONE
    assert sim.client("s3").list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert "restore" not in started_steps(runner.folder)


def test_a_stuck_synchronous_replica_times_out_the_wait(tmp_path: Path) -> None:
    folder = tmp_path / "session"
    # Twice the speed of the others: the wait is the plan's 15 minutes, 4.5 s at x200.
    result = cockpit("rehearse", PHASE_TWO, "--manual-note", MANUAL_NOTE,
                     "--sim", "--speed", str(2 * SPEED), "--session",
                     folder, "--sim-fault", "replica-stuck=OMS-SQL-2")
    assert result.exit_code == 1, result.output
    reason = str(failed_entry(folder, "add-to-ag")["reason"])
    assert reason.startswith("timed out after 15m waiting: OMS in oms-ag: OMS-SQL-2 "
                             "SYNCHRONIZING"), reason
    assert "OMS-SQL-3" not in reason  # asynchronous: SYNCHRONIZING is as good as it gets
    assert "data-check" not in started_steps(folder)


def test_a_fault_on_a_replica_or_table_the_plan_lacks_is_refused(tmp_path: Path) -> None:
    for fault, says in (("replica-stuck=OMS-SQL-1", "OMS-SQL-2, OMS-SQL-3"),
                        ("restore-drops-row=payments", "dbo.orders"),
                        ("backup-fails-at=140", "between 0 and 100")):
        result = cockpit("rehearse", PHASE_TWO, "--manual-note", MANUAL_NOTE,
                         "--sim", "--session", tmp_path / fault,
                         "--sim-fault", fault)
        assert result.exit_code == 2 and says in result.output, result.output


# --- the plans ---------------------------------------------------------------------------------


def test_every_plan_and_the_demo_validate() -> None:
    plans = [*sorted((ROOT / "plans").glob("*.toml")), DEMO]
    result = cockpit("plan", "validate", *plans)
    assert result.exit_code == 0, result.output


def test_the_demo_plays_the_prestaged_database_window_after_phase_one() -> None:
    demo = load(DEMO)
    assert [phase.id for phase in demo.phases] == ["phase-one", "prestage", "phase-two"]
    stage = demo.phases[1].steps[0]
    assert stage.after == [demo.phases[0].steps[-1].id]
    assert {s.id for s in demo.phases[1].steps} == {"stage-full", "stage-restore", "ship-logs"}
    window = {s.id: s for s in demo.phases[2].steps}
    assert {"chain-whole", "tail-log", "restore-tail", "data-check"} <= set(window)
    assert window["tail-log"].do is not None and getattr(window["tail-log"].do, "tail", False)


def test_every_phase_two_step_that_changes_something_has_an_undo() -> None:
    manual = []
    for step in load(PHASE_TWO).steps():
        if isinstance(step.do, Manual):
            # A person's announcement, smoke order or sign-off, confirmed with a note: it
            # changes nothing in the estate for an undo to put back. Named below, so an
            # estate-changing step cannot slip through as "manual" unnoticed.
            manual.append(step.id)
        elif step.do is not None:
            assert step.undo is not None, step.id
    assert manual == ["announce-db-start", "tell-stores-restoring", "db-smoke-order",
                      "db-sign-off"]
