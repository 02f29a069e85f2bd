"""A backup its driver died in has left its multipart upload open: what the next driver's
screen says, and what a re-check does (and does not do) about it.

The estate is made as the dead driver left it by the sim itself: a backup whose connection
drops at 30% (`sql-drop-at`), the server ending it and leaving its upload open in S3, parts
and all; the log is written as that driver left it (the backup started, at 30%, no end).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries, me
from support.estate import driver_session, running_sim
from support.plans import ROOT, load
from support.ui import drawn, screen_text, showing
from support.waiting import eventually, wait_for

from cockpit.audit.writer import AuditWriter
from cockpit.estate import sql
from cockpit.estate.handle import EstateHandle
from cockpit.runner import actions
from cockpit.runner.state import Status
from cockpit.session.rehearsal import rehearse
from cockpit.sim.estate import SimEstate
from cockpit.ui.app import make_driver_app
from cockpit.ui.screens.confirm import ConfirmStep
from cockpit.ui.screens.driver import DriverScreen
from cockpit.ui.widgets.runbook import Runbook

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
PLAN = load(PHASE_TWO)
STEPS = [step.id for step in PLAN.steps()]
SPEED = 50.0
BUCKET = "oms-cutover-backups"
SIZE = (160, 48)


def uploads(sim: SimEstate) -> list[dict[str, Any]]:
    return list(sim.client("s3").list_multipart_uploads(Bucket=BUCKET).get("Uploads", []))


@pytest.fixture
def left(tmp_path: Path) -> Iterator[tuple[SimEstate, EstateHandle, Path]]:
    """The estate and the session folder a driver that died 30% into `backup` left."""
    with running_sim(PLAN, speed=SPEED, faults=("sql-drop-at=30",)) as (sim, handle):
        backup = PLAN.step("backup").do
        with pytest.raises(actions.ActionFailed, match="orphaned multipart upload"):
            actions.perform(backup, actions.ActionContext(handle, lambda _instruction: None))
        eventually(lambda: sql.backup_progress(handle, "oms-db-dc").requests, lambda r: not r,
                   what="the server done with the dropped backup")
        assert len(uploads(sim)) == 1
        folder = tmp_path / "session"
        folder.mkdir(mode=0o700)
        with AuditWriter(folder / "audit.jsonl", session="20261205-020000-dead", actor=me(),
                         mode="driver") as writer:
            writer.append("session.opened", detail={"plan_name": PLAN.plan.name,
                                                    "resumed": False})
            for step in STEPS[:STEPS.index("backup")]:
                writer.append("step.started", step=step, detail={"title": step, "attempt": 1})
                writer.append("step.succeeded", step=step, detail={"duration_s": 1.0})
            writer.append("step.started", step="backup", detail={"title": "Back up",
                                                                  "attempt": 1})
            writer.append("step.progress", step="backup", detail={
                "message": "BACKUP DATABASE 30%", "percent": 30.0})
        yield sim, handle, folder


async def test_the_screen_names_the_orphans_and_the_key_and_u_aborts_them(
    left: tuple[SimEstate, EstateHandle, Path],
) -> None:
    sim, handle, folder = left
    (orphan,) = uploads(sim)
    session = driver_session(PHASE_TWO, handle, folder, time_scale=SPEED)
    try:
        app = make_driver_app(session, keymap={})
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await drawn(pilot, screen=DriverScreen, what="the driver's screen drawn")
            shown = screen_text(app)
            assert "ORPHANED UPLOADS" in shown, shown
            assert orphan["UploadId"][:12] in shown.replace("\n", "")
            assert "Press u to abort them" in shown.replace("\n", "").replace("  ", " ")
            # The backup's undo is the selected action: one key away.
            assert app.screen.query_one(Runbook).selected_step == "backup"

            await pilot.press("u")
            await wait_for(pilot, lambda: showing(app, ConfirmStep),
                           what="the undo's type-to-confirm")
            assert "s3.abort_multipart" in screen_text(app)
            await pilot.press(*"backup")
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await wait_for(pilot, lambda: session.runner.step_state("backup").status
                           is Status.UNDONE, what="the backup's undo done")
    finally:
        session.close()
    assert uploads(sim) == []
    undone = next(e for e in log_entries(folder) if e.event == "step.undone")
    assert [u["upload_id"] for u in undone.detail["outputs"]["aborted"]] == [orphan["UploadId"]]


def test_a_recheck_names_the_open_upload_and_aborts_nothing(
    left: tuple[SimEstate, EstateHandle, Path],
) -> None:
    sim, handle, folder = left
    session = driver_session(PHASE_TWO, handle, folder, time_scale=SPEED)
    try:
        assert any("orphaned multipart upload" in w for w in session.runner.warnings)
        result = rehearse(session.runner, interrupted="recheck")
        assert result.stopped_at == "backup"
        state = session.runner.step_state("backup")
        assert state.status is Status.FAILED and state.to_recover
        assert state.reason is not None and state.reason.startswith(
            "re-check: sql.backup_to_url has not taken effect: "
            "s3://oms-cutover-backups/oms/OMS-phase2-full.bak: 1 upload(s) open")
        assert "a backup cut short" in state.reason
    finally:
        session.close()
    assert len(uploads(sim)) == 1  # a re-check never acts
    assert "step.undone" not in [e.event for e in log_entries(folder)]
