"""The driver's key flows, on a real runner and the simulated estate.

Each test opens a fresh session folder with a real `Runner` and drives the cockpit's
screen through its keys, as an engineer at the keyboard would, then checks what the
engineer would check: the runbook, the header, the modals, the audit log and the files
written. One simulated estate (oms-app-1 held down) serves the module: the keys plan only
reads the estate, except `register-app-2`, which registering twice does not disturb.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from support.audit import entries_named, events_of, log_entries
from support.estate import close_runner, driver_source, keys_estate, open_runner
from support.frozen import FROZEN_NOW, frozen_clock
from support.ui import (
    drawn,
    footer_line,
    header_text,
    runbook_marks,
    runbook_what,
    screen_text,
    showing,
)
from support.waiting import wait_for
from textual.command import CommandPalette
from textual.widgets import Button, Input

from cockpit.audit.entry import Actor
from cockpit.audit.verify import verify_log
from cockpit.plan.models import Plan
from cockpit.runner.runner import Runner
from cockpit.ui.app import CockpitApp, make_driver_app
from cockpit.ui.keys import actions_for
from cockpit.ui.screens.confirm import ConfirmStep
from cockpit.ui.screens.driver import DriverScreen
from cockpit.ui.screens.help import HelpScreen
from cockpit.ui.screens.reason import AskReason

SIZE = (160, 48)  # wide: every pane, the runbook and the audit tail on screen at once


@pytest.fixture(scope="module")
def estate() -> Iterator[tuple[Plan, Any]]:
    with keys_estate() as (plan, handle):
        yield plan, handle


@pytest.fixture
def runner(estate: tuple[Plan, Any], tmp_path: Path) -> Iterator[Runner]:
    plan, handle = estate
    runner = open_runner(plan, handle, tmp_path / "session")
    try:
        yield runner
    finally:
        close_runner(runner)


@asynccontextmanager
async def driving(runner: Runner, estate: tuple[Plan, Any], *,
                  keymap: dict[str, str] | None = None,
                  clock: Any = None) -> AsyncIterator[tuple[CockpitApp, Any]]:
    """The driver's cockpit on `runner`, its runbook drawn, as `cockpit run --sim` opens it."""
    app = make_driver_app(driver_source(runner, estate[1]), keymap=keymap or {}, clock=clock)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await drawn(pilot, screen=DriverScreen, what="the driver's screen drawn")
        yield app, pilot
        await app.workers.wait_for_complete()


async def settle(app: CockpitApp, pilot: Any) -> None:
    """Let a step's worker end and its result reach the screen."""
    await app.workers.wait_for_complete()
    await pilot.pause()


def step_events(runner: Runner, step: str) -> list[str]:
    return events_of(runner.folder, step)


async def select(pilot: Any, app: CockpitApp, step_id: str) -> None:
    """Move the runbook cursor to `step_id` with the arrow keys, as a user would."""
    from cockpit.ui.widgets.runbook import Runbook

    runbook = app.screen.query_one(Runbook)
    moves = runbook.get_row_index(step_id) - runbook.cursor_row
    await pilot.press(*(["down"] * moves if moves > 0 else ["up"] * -moves))
    assert runbook.selected_step == step_id


# --- run: r, g, the plan's own step keys, a remapped key -------------------------------


async def test_r_runs_the_selected_step_and_the_log_grows(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        assert runbook_marks(app)["spread-over-azs"] == "ready"
        await select(pilot, app, "spread-over-azs")
        before = len(log_entries(runner.folder))
        await pilot.press("r")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["spread-over-azs"] == "done",
                       what="the runbook shows spread-over-azs done")

        events = step_events(runner, "spread-over-azs")
        assert events[0] == "step.started" and events[-1] == "step.succeeded", events
        assert len(log_entries(runner.folder)) > before
        # r ran the selected step, not the next ready one.
        assert step_events(runner, "instances-running") == []
        assert runbook_marks(app)["instances-running"] == "ready"
        assert "log #" in header_text(app)


async def test_g_runs_the_next_ready_step(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "names-on-datacentre")  # g ignores the cursor
        await pilot.press("g")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["instances-running"] == "done",
                       what="the runbook shows instances-running done")
        assert step_events(runner, "instances-running") == ["step.started", "step.succeeded"]
        assert step_events(runner, "names-on-datacentre") == []


async def test_a_step_waiting_on_others_is_shown_and_r_on_it_records_nothing(
    runner: Runner, estate: Any,
) -> None:
    async with driving(runner, estate) as (app, pilot):
        assert runbook_marks(app)["app-2-healthy"] == "wait"
        assert "after instances-running, spread-over-azs" in runbook_what(app, "app-2-healthy")
        await select(pilot, app, "app-2-healthy")
        await pilot.press("r")
        await settle(app, pilot)
        await wait_for(pilot, lambda: "app-2-healthy is pending" in screen_text(app),
                       what="a notice that app-2-healthy cannot run yet")
        assert step_events(runner, "app-2-healthy") == []


async def test_a_remapped_key_runs_the_selected_step(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate, keymap={"run_step": "x"}) as (app, pilot):
        await select(pilot, app, "spread-over-azs")
        await pilot.press("r")  # no longer the run key
        await settle(app, pilot)
        assert step_events(runner, "spread-over-azs") == []

        await pilot.press("x")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["spread-over-azs"] == "done",
                       what="x ran spread-over-azs")
        assert step_events(runner, "spread-over-azs") == ["step.started", "step.succeeded"]
        assert " x Run " in footer_line(app)  # the footer says so


# --- confirm: the type-to-confirm modal ---------------------------------------------------


async def test_a_confirm_step_asks_for_its_id_with_cancel_focused(
    runner: Runner, estate: Any,
) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("1")  # the plan's key for register-app-2: select and run
        await wait_for(pilot, lambda: showing(app, ConfirmStep),
                       what="the type-to-confirm modal")
        assert isinstance(app.focused, Button) and app.focused.id == "cancel", app.focused
        shown = screen_text(app)
        assert "Type register-app-2 to run it" in shown
        assert app.screen.query_one("#run", Button).disabled

        await pilot.press("enter")  # on the focused Cancel: the safe choice
        await settle(app, pilot)
        assert isinstance(app.screen, DriverScreen)
        assert step_events(runner, "register-app-2") == []
        assert runbook_marks(app)["register-app-2"] == "ready"


async def test_typing_the_id_then_enter_runs_a_confirm_step(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "register-app-2")
        await pilot.press("r")
        await wait_for(pilot, lambda: showing(app, ConfirmStep),
                       what="the type-to-confirm modal")
        await pilot.press("tab")  # from Cancel to the id field
        typed = app.screen.query_one("#typed", Input)
        assert app.focused is typed

        await pilot.press(*"register-app")  # not the whole id: refused, still asking
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmStep)
        assert app.screen.query_one("#run", Button).disabled
        assert step_events(runner, "register-app-2") == []

        await pilot.press(*"-2")
        assert not app.screen.query_one("#run", Button).disabled
        await pilot.press("enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["register-app-2"] == "done",
                       what="register-app-2 done")
        events = step_events(runner, "register-app-2")
        assert events[0] == "step.started" and events[-1] == "step.succeeded", events

        # u reverses it, behind the same type-to-confirm.
        await pilot.press("u")
        await wait_for(pilot, lambda: showing(app, ConfirmStep),
                       what="the undo's type-to-confirm modal")
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        assert "Undo register-app-2" in screen_text(app)
        await pilot.press("tab", *"register-app-2", "enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["register-app-2"] == "undone",
                       what="the runbook shows register-app-2 undone")
        assert step_events(runner, "register-app-2")[-1] == "step.undone"


async def test_the_confirm_modal_shows_the_whole_action(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("1")
        await wait_for(pilot, lambda: showing(app, ConfirmStep),
                       what="the type-to-confirm modal")
        shown = " ".join(screen_text(app).split())
        assert "This changes the estate: elb.register(" in shown
        assert "servers=oms-app-2)" in shown


async def test_typing_the_id_straight_away_reaches_the_id_field(
    runner: Runner, estate: Any,
) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("1")
        await wait_for(pilot, lambda: showing(app, ConfirmStep),
                       what="the type-to-confirm modal")
        await pilot.press(*"register-app-2")
        assert app.screen.query_one("#typed", Input).value == "register-app-2"


# --- skip, override, note: reasons on the record -----------------------------------------


async def test_skip_with_a_reason_records_it_with_who(runner: Runner, estate: Any) -> None:
    reason = "netops checked"
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "names-on-datacentre")
        await pilot.press("s")
        await wait_for(pilot, lambda: showing(app, AskReason), what="the reason box")
        assert "Skip names-on-datacentre: why?" in screen_text(app)
        await pilot.press(*reason, "enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["names-on-datacentre"] == "skip",
                       what="the runbook shows the step skipped")

        skipped = entries_named(runner.folder, "step.skipped")
        assert [(e.step, e.detail["reason"]) for e in skipped] == [
            ("names-on-datacentre", reason)]
        assert skipped[0].actor.user == Actor.current().user
        assert f"skipped: {reason}" in runbook_what(app, "names-on-datacentre")


@pytest.mark.parametrize("typed", ["", "   "], ids=["empty", "blank"])
async def test_an_empty_reason_is_refused(runner: Runner, estate: Any, typed: str) -> None:
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "names-on-datacentre")
        before = (runner.folder / "audit.jsonl").read_bytes()
        await pilot.press("s")
        await wait_for(pilot, lambda: showing(app, AskReason), what="the reason box")
        if typed:
            await pilot.press(*typed)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AskReason), "an empty reason closed the box"
        await wait_for(pilot, lambda: "a reason is required" in screen_text(app),
                       what="the notice that a reason is required")

        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DriverScreen)
        assert (runner.folder / "audit.jsonl").read_bytes() == before
        assert runbook_marks(app)["names-on-datacentre"] == "ready"


async def test_override_a_failed_gate_with_a_reason(runner: Runner, estate: Any) -> None:
    reason = "bridge agreed"
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "gated-on-app-1")
        await pilot.press("r")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["gated-on-app-1"] == "FAIL",
                       what="the gate on oms-app-1 fails (the sim holds it down)")
        assert "gate failed: http.healthy" in runbook_what(app, "gated-on-app-1")

        await pilot.press("o")
        await wait_for(pilot, lambda: showing(app, AskReason), what="the reason box")
        assert "Override the failed gates of gated-on-app-1" in screen_text(app)
        await pilot.press(*reason, "enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["gated-on-app-1"] == "done",
                       what="the overridden step done")

        overridden = entries_named(runner.folder, "gate.overridden")
        assert [(e.step, e.detail["reason"]) for e in overridden] == [("gated-on-app-1", reason)]
        assert overridden[0].detail["gate"].startswith("http.healthy(")
        assert overridden[0].actor.user == Actor.current().user
        assert step_events(runner, "gated-on-app-1") == [
            "step.started", "step.failed", "step.started", "gate.overridden", "step.succeeded"]


async def test_recheck_a_failed_step_and_mark_another_done(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await select(pilot, app, "gated-on-app-1")
        await pilot.press("r")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["gated-on-app-1"] == "FAIL",
                       what="gated-on-app-1 failed on its gate")
        await pilot.press("c")  # judge its `until` now, without the gate or any action
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["gated-on-app-1"] == "done",
                       what="the re-check found gated-on-app-1 done")
        restarted = [e for e in log_entries(runner.folder)
                     if e.step == "gated-on-app-1" and e.event == "step.started"][-1]
        assert restarted.detail["reason"] == "re-check after interruption"

        await select(pilot, app, "names-on-datacentre")
        await pilot.press("m")
        await wait_for(pilot, lambda: showing(app, AskReason), what="the reason box")
        await pilot.press(*"dig ok", "enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["names-on-datacentre"] == "done",
                       what="names-on-datacentre marked done")
        marked = entries_named(runner.folder, "step.succeeded")[-1]
        assert (marked.step, marked.detail["reason"]) == ("names-on-datacentre",
                                                          "marked done: dig ok")


async def test_q_leaves_the_cockpit(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="the cockpit closed after q")
    assert "step.started" not in events_of(runner.folder)


async def test_a_note_goes_into_the_log_and_the_tail(runner: Runner, estate: Any) -> None:
    text = "DBA paused backups"
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("n")
        await wait_for(pilot, lambda: showing(app, AskReason), what="the note box")
        await pilot.press(*text, "enter")
        await settle(app, pilot)
        notes = entries_named(runner.folder, "note.added")
        assert [(n.detail["text"], n.actor.user) for n in notes] == [
            (text, Actor.current().user)]
        await wait_for(pilot, lambda: text in screen_text(app),
                       what="the audit tail shows the note")


# --- export, pause, help, palette -----------------------------------------------------------


async def test_export_writes_an_html_report_of_an_intact_log(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate, clock=frozen_clock) as (app, pilot):
        await pilot.press("g")
        await settle(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        report = runner.folder / f"report-{FROZEN_NOW:%Y%m%d-%H%M%S}.html"
        await wait_for(pilot, report.exists, what=f"{report.name} written")
        await wait_for(pilot, lambda: "report written: " in screen_text(app),
                       what="the notice that the report is written")

    html = report.read_text(encoding="utf-8")
    assert "UI key flows: app servers behind the ALB" in html
    assert "instances-running" in html
    verdict = verify_log(runner.folder / "audit.jsonl")
    assert verdict.status == "intact", verdict.reason


async def test_pause_shows_in_the_header_and_on_the_panes(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await wait_for(pilot, lambda: " ago " in screen_text(app), what="a pane's first poll")
        assert "POLLING PAUSED" not in header_text(app)
        await pilot.press("p")
        await pilot.pause()
        assert "POLLING PAUSED" in header_text(app)
        assert "paused, " in screen_text(app)  # the panes' ages say so too

        await pilot.press("p")
        await pilot.pause()
        assert "POLLING PAUSED" not in header_text(app)


async def test_question_mark_lists_every_binding_id(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: showing(app, HelpScreen), what="the help screen")
        shown = screen_text(app)
        for action in actions_for("driver"):
            assert action.id in shown, f"{action.id} missing from the help screen"
        assert "Select step register-app-2" in shown  # the plan's own key "1"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DriverScreen)


async def test_the_help_shows_the_keys_table_name_of_the_config_file(
    runner: Runner, estate: Any,
) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: showing(app, HelpScreen), what="the help screen")
        assert '[keys] run_step = "x,f7"' in screen_text(app)


async def open_palette(pilot: Any, app: CockpitApp, query: str) -> None:
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: CommandPalette.is_open(app), what="the command palette")
    await pilot.press(*query)


async def test_the_palette_lists_every_step_and_runs_one(runner: Runner, estate: Any) -> None:
    steps = [step.id for step in runner.plan.steps()]
    async with driving(runner, estate) as (app, pilot):
        await open_palette(pilot, app, "select")
        await wait_for(pilot, lambda: all(f"select {s}" in screen_text(app) for s in steps),
                       what=f"the palette lists `select <step>` for each of {steps}")
        await pilot.press("escape")

        await open_palette(pilot, app, "run spr")
        await wait_for(pilot, lambda: "run spread-over-azs" in screen_text(app),
                       what="the palette offers to run spread-over-azs")
        await pilot.press("enter")
        await settle(app, pilot)
        await wait_for(pilot, lambda: runbook_marks(app)["spread-over-azs"] == "done",
                       what="the palette ran spread-over-azs")
        assert step_events(runner, "spread-over-azs") == ["step.started", "step.succeeded"]


async def test_the_palette_shows_each_steps_status(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await open_palette(pilot, app, "select inst")
        await wait_for(pilot, lambda: "select instances-running" in screen_text(app),
                       what="the palette lists instances-running")
        assert "Imported instances running (ready)" in screen_text(app)


async def test_colon_opens_the_palette(runner: Runner, estate: Any) -> None:
    async with driving(runner, estate) as (app, pilot):
        await pilot.press("colon")
        await wait_for(pilot, lambda: CommandPalette.is_open(app), what="the command palette",
                       within=1)
