"""The session layer as a user meets it: a manual step confirmed (or not) from the
driver's screen and from `cockpit rehearse`, a watcher that needs the folder alone, and a
window that says it is complete."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import MANUAL_PHASE, write_plan
from support.ui import header_text, screen_text, showing
from support.waiting import wait_for

from cockpit.estate.handle import EstateHandle
from cockpit.runner.state import Status
from cockpit.session.driver import DriverSession
from cockpit.session.folder import SessionFolder
from cockpit.session.watch import SessionReader
from cockpit.ui.app import CockpitApp, make_driver_app, make_watch_app
from cockpit.ui.screens.complete import WindowComplete
from cockpit.ui.screens.manual import ConfirmManual

SIZE = (160, 48)


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EstateHandle]]:
    path, plan = write_plan(tmp_path_factory.mktemp("plan"), MANUAL_PHASE)
    with running_sim(plan, speed=50) as (_sim, handle):
        yield path, handle


@pytest.fixture
def session(estate: tuple[Path, EstateHandle], tmp_path: Path) -> Iterator[DriverSession]:
    opened = driver_session(estate[0], estate[1], tmp_path / "session", time_scale=50)
    try:
        yield opened
    finally:
        opened.close(wait_s=10)


@asynccontextmanager
async def driving(session: DriverSession) -> AsyncIterator[tuple[CockpitApp, Any]]:
    app = make_driver_app(session, keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "call-bridge" in screen_text(app), what="the runbook")
        yield app, pilot
        await app.workers.wait_for_complete()


def step_events(session: DriverSession) -> list[str]:
    return [e.event for e in log_entries(session.folder.path) if e.step == "call-bridge"]


# --- a manual step from the driver's screen ------------------------------------------------


async def test_r_on_a_manual_step_asks_and_a_note_makes_it_done(session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmManual),
                       what="the manual step's prompt")
        assert "Phone the store-ops bridge" in screen_text(app)
        await pilot.press(*"Bridge told, duty manager Sam acknowledged")
        await pilot.press("enter")
        await wait_for(pilot, lambda: session.runner.step_state("call-bridge").done,
                       what="the step done")
    assert step_events(session) == ["step.started", "step.progress", "step.succeeded"]
    done = log_entries(session.folder.path)[-1]
    assert done.actor.user and done.actor.user == log_entries(session.folder.path)[0].actor.user
    outputs = session.runner.step_state("call-bridge").outputs
    assert outputs["note"] == "Bridge told, duty manager Sam acknowledged"


async def test_escape_at_the_prompt_leaves_the_step_ready(session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmManual),
                       what="the manual step's prompt")
        await pilot.press("escape")
        await wait_for(pilot, lambda: "step.withdrawn" in step_events(session),
                       what="the attempt withdrawn")
    assert session.runner.step_state("call-bridge").status is Status.READY
    assert "step.failed" not in step_events(session)


async def test_enter_alone_cancels_the_prompt(session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmManual),
                       what="the manual step's prompt")
        await pilot.press("enter")  # Cancel has focus: the safe choice
        await wait_for(pilot, lambda: "step.withdrawn" in step_events(session),
                       what="the attempt withdrawn")
    assert session.runner.step_state("call-bridge").status is Status.READY


# --- the end of the window ------------------------------------------------------------------


async def test_a_finished_window_says_so_and_offers_the_report(session: DriverSession) -> None:
    async with driving(session) as (app, pilot):
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmManual),
                       what="the manual step's prompt")
        await pilot.press(*"done", "enter")
        await wait_for(pilot, lambda: showing(app, WindowComplete),
                       what="the export offered")
        assert "window complete: 1 step in" in screen_text(app)  # the modal says it
        await pilot.press("enter")  # Export report has focus
        await wait_for(pilot, lambda: list(session.folder.path.glob("report-*.html")),
                       what="the report written")
        header = header_text(app)
    assert "window complete: 1 step in" in header
    assert "spare" not in header and "OVER" not in header  # the clock has stopped


# --- a watcher needs the folder alone ---------------------------------------------------------


async def test_a_watcher_shows_every_step_after_the_plan_file_moved_away(
    estate: tuple[Path, EstateHandle], tmp_path: Path,
) -> None:
    plan = tmp_path / "moving-plan.toml"
    shutil.copy(estate[0], plan)
    opened = driver_session(plan, estate[1], tmp_path / "session", time_scale=50,
                            confirm_manual=lambda instruction: "bridge told")
    opened.run("call-bridge")
    opened.close()
    plan.rename(tmp_path / "moved-away.toml")
    app = make_watch_app(SessionReader(opened.folder), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "call-bridge" in screen_text(app), what="the runbook")
        assert "done" in screen_text(app)
        assert "window complete" in header_text(app)


async def test_a_watcher_that_cannot_read_the_plan_says_why(
    estate: tuple[Path, EstateHandle], tmp_path: Path,
) -> None:
    opened = driver_session(estate[0], estate[1], tmp_path / "session", time_scale=50)
    opened.close()
    opened.folder.plan.unlink()
    app = make_watch_app(SessionReader(SessionFolder(opened.folder.path)), keymap={})
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "Cannot show the session" in screen_text(app),
                       what="the reason on screen")
        assert "plan.toml" in screen_text(app)


def test_the_session_keeps_the_plan_it_opened_with_its_hash(
    estate: tuple[Path, EstateHandle], tmp_path: Path,
) -> None:
    import hashlib

    opened = driver_session(estate[0], estate[1], tmp_path / "session", time_scale=50)
    opened.close()
    kept = opened.folder.plan.read_bytes()
    assert kept == estate[0].read_bytes()
    assert opened.folder.plan.stat().st_mode & 0o077 == 0
    first = log_entries(opened.folder.path)[0]
    assert first.detail["plan_sha256"] == hashlib.sha256(kept).hexdigest()
