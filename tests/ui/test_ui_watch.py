"""Watch mode: a watcher's cockpit on a session folder that a real runner writes.

The watcher reads the folder only (`SessionReader`): the audit log and `state.json`. It
must show what the log says, follow the driver, ignore every action key, and say so
when the driver is gone instead of passing old data off as live.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.audit import log_entries
from support.estate import close_runner, driver_source, keys_estate, open_runner
from support.frozen import frozen_clock
from support.ui import drawn, footer_line, header_text, runbook_marks, screen_text
from support.waiting import wait_for

from cockpit.audit.entry import Actor
from cockpit.plan.models import Plan
from cockpit.runner.runner import Runner
from cockpit.runner.state import derive
from cockpit.session.folder import SessionFolder
from cockpit.session.watch import SessionReader
from cockpit.ui.app import CockpitApp, make_watch_app
from cockpit.ui.screens.watch import WatchScreen
from cockpit.ui.widgets.runbook import MARKS

SIZE = (160, 48)
DRIVER_KEYS = ["r", "g", "u", "s", "o", "c", "m", "n", "p"]


@pytest.fixture(scope="module")
def estate() -> Iterator[tuple[Plan, Any]]:
    with keys_estate() as (plan, handle):
        yield plan, handle


@pytest.fixture
def runner(estate: tuple[Plan, Any], tmp_path: Path) -> Iterator[Runner]:
    """A driver's runner part-way through the window: two steps done, one skipped, one
    failed on its gate, and the App servers pane published to `state.json`."""
    plan, handle = estate
    runner = open_runner(plan, handle, tmp_path / "session")
    try:
        runner.run_step("instances-running")
        runner.run_step("spread-over-azs")
        runner.skip_step("names-on-datacentre", "netops checked both names at 01:50")
        runner.run_step("gated-on-app-1")  # oms-app-1 is held down: the gate fails
        driver_source(runner, handle).poll_pane("apps")
        yield runner
    finally:
        close_runner(runner)


@asynccontextmanager
async def watching(folder: Path) -> AsyncIterator[tuple[CockpitApp, Any]]:
    app = make_watch_app(SessionReader(SessionFolder(folder)), keymap={}, clock=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await drawn(pilot, screen=WatchScreen, what="the watcher's screen drawn")
        yield app, pilot
        await app.workers.wait_for_complete()


def marks_the_log_gives(runner: Runner) -> dict[str, str]:
    run = derive(runner.plan, log_entries(runner.folder))
    return {step_id: MARKS[state.status][0] for step_id, state in run.steps.items()}


async def test_the_watcher_shows_the_step_states_the_log_says(runner: Runner) -> None:
    async with watching(runner.folder) as (app, pilot):
        await wait_for(pilot, lambda: runbook_marks(app) == marks_the_log_gives(runner),
                       what="the watcher's runbook agrees with the audit log")
        assert runbook_marks(app) == {
            "instances-running": "done", "spread-over-azs": "done", "register-app-2": "ready",
            "gated-on-app-1": "FAIL", "names-on-datacentre": "skip", "app-2-healthy": "ready"}

        header = header_text(app)
        me = Actor.current()
        assert header.startswith(" WATCH ") and "read-only" in header
        assert f"drives: {me.user}@{me.host}" in header
        assert "DRIVER GONE" not in header
        # The panes come from the driver's state.json: oms-app-1 answers 503 there.
        await wait_for(pilot, lambda: "503" in screen_text(app),
                       what="the App servers pane as the driver published it")
        assert "no data yet" in screen_text(app)  # the panes the driver never polled


async def test_the_watcher_follows_the_driver_within_two_seconds(runner: Runner) -> None:
    async with watching(runner.folder) as (app, pilot):
        assert runbook_marks(app)["register-app-2"] == "ready"
        await asyncio.to_thread(runner.run_step, "register-app-2")
        await wait_for(pilot, lambda: runbook_marks(app)["register-app-2"] == "done",
                       what="the watcher shows register-app-2 done", within=2.0)


async def test_the_drivers_action_keys_change_nothing(runner: Runner) -> None:
    log = runner.folder / "audit.jsonl"
    async with watching(runner.folder) as (app, pilot):
        before, depth = log.read_bytes(), len(app.screen_stack)
        footer = footer_line(app)
        assert "Run" not in footer and "Skip" not in footer and "Help" in footer

        for key in [*DRIVER_KEYS, "1"]:  # "1" is register-app-2's own key
            await pilot.press(key)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, WatchScreen), f"{key!r} opened {app.screen!r}"
            assert len(app.screen_stack) == depth, f"{key!r} left a modal open"
        assert log.read_bytes() == before
        assert "POLLING PAUSED" not in header_text(app)
        assert runbook_marks(app)["register-app-2"] == "ready"


async def test_the_watcher_can_export_without_touching_the_log(runner: Runner) -> None:
    log = runner.folder / "audit.jsonl"
    before = log.read_bytes()
    app = make_watch_app(SessionReader(SessionFolder(runner.folder)), keymap={}, clock=frozen_clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_for(pilot, lambda: getattr(app.screen, "view", None) is not None,
                       what="the watcher's screen drawn")
        await pilot.press("e")
        await app.workers.wait_for_complete()
        reports = list(runner.folder.glob("report-*.html"))
        assert len(reports) == 1, reports
        await wait_for(pilot, lambda: "report written: " in screen_text(app),
                       what="the notice that the report is written")
    assert "spread-over-azs" in reports[0].read_text(encoding="utf-8")
    assert log.read_bytes() == before


async def test_the_watcher_says_when_the_driver_closed_the_session(runner: Runner) -> None:
    """A driver that closed the session cleanly is not "gone": the record is final. (One
    that died without closing it shows DRIVER GONE: the snapshot of the watch screen.)"""
    async with watching(runner.folder) as (app, pilot):
        assert "SESSION CLOSED" not in header_text(app)
        await asyncio.to_thread(runner.close)
        await wait_for(pilot, lambda: "SESSION CLOSED" in header_text(app),
                       what="the header says the session is closed", within=3.0)
        assert "DRIVER GONE" not in header_text(app)
        assert "drives: nobody" in header_text(app)
        assert log_entries(runner.folder)[-1].event == "session.closed"
