"""Streams from the driver's screen: with the restore running, the engineer selects the
comms step, runs it, writes the note in the manual dialog, and it is done while the
restore still shows running; then cancels the restore alone, by selecting it.

The restore here only waits (for an instance to stop that nobody stops), as a long
restore holds the window; the sim and the runner run 50 times faster than life."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import write_plan
from support.ui import runbook_marks, runbook_what, screen_text, showing
from support.waiting import wait_for

from cockpit.estate.handle import EstateHandle
from cockpit.session.driver import DriverSession
from cockpit.ui.app import CockpitApp, make_driver_app
from cockpit.ui.screens.manual import ConfirmManual
from cockpit.ui.widgets.runbook import Runbook

SIZE = (160, 48)
SPEED = 50.0
WINDOW = """
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
title = "Restore the database"
after = ["fence"]
stream = "dba"
until = [{ kind = "ec2.stopped", servers = ["oms-app-1"] }]
timeout = "1h"
budget = "40m"

[[phases.steps]]
id = "tell-stores"
title = "Tell store operations the database restore has started"
after = ["fence"]
stream = "comms"
do = { kind = "manual", instruction = "Tell store operations the database restore has started" }
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EstateHandle]]:
    path, plan = write_plan(tmp_path_factory.mktemp("plan"), WINDOW)
    with running_sim(plan, speed=SPEED) as (_sim, handle):
        yield path, handle


@pytest.fixture
def session(estate: tuple[Path, EstateHandle], tmp_path: Path) -> Iterator[DriverSession]:
    opened = driver_session(estate[0], estate[1], tmp_path / "session", time_scale=SPEED)
    try:
        yield opened
    finally:
        opened.close(wait_s=10)


@asynccontextmanager
async def driving(session: DriverSession) -> AsyncIterator[tuple[CockpitApp, Any]]:
    app = make_driver_app(session, keymap={})
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: "tell-stores" in screen_text(app), what="the runbook")
        yield app, pilot
        await app.workers.wait_for_complete()


async def select(pilot: Any, app: CockpitApp, step_id: str) -> None:
    """Move the runbook cursor to `step_id` with the arrow keys, as a user would."""
    runbook = app.screen.query_one(Runbook)
    moves = runbook.get_row_index(step_id) - runbook.cursor_row
    await pilot.press(*(["down"] * moves if moves > 0 else ["up"] * -moves))
    assert runbook.selected_step == step_id


async def test_the_comms_step_is_done_while_the_restore_still_runs(
        session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await select(pilot, app, "fence")
        await pilot.press("r")
        await wait_for(pilot, lambda: runbook_marks(app)["fence"] == "done",
                       what="the fence done")
        await select(pilot, app, "restore")
        await pilot.press("r")
        await wait_for(pilot, lambda: runbook_marks(app)["restore"] == "RUN..",
                       what="the restore running")

        await select(pilot, app, "tell-stores")
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmManual), what="the manual dialog")
        await pilot.press(*"Told Sam 01:12", "enter")
        await wait_for(pilot, lambda: runbook_marks(app)["tell-stores"] == "done",
                       what="the comms step done")
        assert runbook_marks(app)["restore"] == "RUN.."
        assert runbook_what(app, "tell-stores").startswith("comms: ")
        assert runbook_what(app, "restore").startswith("dba: ")

        # x cancels the selected running step, and only that one
        await select(pilot, app, "restore")
        await pilot.press("x")
        await wait_for(pilot, lambda: runbook_marks(app)["restore"] == "FAIL",
                       what="the restore cancelled")
        assert runbook_marks(app)["tell-stores"] == "done"
    told = session.runner.step_state("tell-stores")
    assert told.outputs["note"] == "Told Sam 01:12"
    order = [(e.event, e.step) for e in log_entries(session.folder.path)
             if e.step in ("restore", "tell-stores") and e.event != "step.progress"]
    assert order.index(("step.started", "restore")) < order.index(
        ("step.succeeded", "tell-stores")) < order.index(("step.failed", "restore")), order


async def test_cancel_on_a_step_that_is_not_running_names_the_running_ones(
        session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await select(pilot, app, "fence")
        await pilot.press("r")
        await wait_for(pilot, lambda: runbook_marks(app)["fence"] == "done",
                       what="the fence done")
        await select(pilot, app, "restore")
        await pilot.press("r")
        await wait_for(pilot, lambda: runbook_marks(app)["restore"] == "RUN..",
                       what="the restore running")
        await select(pilot, app, "tell-stores")
        await pilot.press("x")
        await wait_for(pilot, lambda: "running: restore" in screen_text(app),
                       what="the cancel refused, naming the running step")
        assert runbook_marks(app)["restore"] == "RUN.."
        session.cancel()


async def test_the_runbook_marks_the_steps_the_windows_end_waits_on(
        session: DriverSession) -> None:
    """Before the window starts, by budgets: the fence and the 40-minute restore are what
    the window's end waits on; the comms step beside the restore is not."""
    async with driving(session) as (app, _pilot):
        runbook = app.screen.query_one(Runbook)
        marked = {step for step in ("fence", "restore", "tell-stores")
                  if runbook.get_cell(step, "step").plain.startswith("◆ ")}
    assert marked == {"fence", "restore"}
