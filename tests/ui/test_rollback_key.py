"""The rollback key in the driver's cockpit, on a real runner and the simulated estate.

The keys plan, given a rollback path of two steps (one that acts, one that checks), is
started; `b` asks the engineer to type `rollback` (Cancel has focus), then runs the path
in order, each step on the record as any step is, between `rollback.started` and
`rollback.ended`; the header then says the phase was rolled back.
"""

from __future__ import annotations

from pathlib import Path

from support.audit import log_entries
from support.estate import KEYS_FAULTS, KEYS_PLAN, driver_session, running_sim
from support.plans import load
from support.ui import drawn, header_text, runbook_what, showing
from support.waiting import wait_for

from cockpit.audit import events
from cockpit.ui.app import make_driver_app
from cockpit.ui.screens.confirm import ConfirmStep
from cockpit.ui.screens.driver import DriverScreen

SPEED = 50.0
ROLLBACK = """
[[phases.rollback]]
id = "rb-deregister-app-2"
title = "Take oms-app-2 out of the ALB again"
do = { kind = "elb.deregister", target_group = "oms-web", servers = ["oms-app-2"] }
budget = "1m"

[[phases.rollback]]
id = "rb-names-checked"
title = "Both names still answer the datacentre"
gates = [{ kind = "dns.resolves_to", records = ["orders", "fulfilment"], value = "original" }]
budget = "2m"
"""


def plan_with_a_way_back(folder: Path) -> Path:
    path = folder / "keys.toml"
    path.write_text(KEYS_PLAN.read_text(encoding="utf-8") + ROLLBACK, encoding="utf-8")
    return path


async def test_b_confirms_then_runs_the_rollback_path_in_order(tmp_path: Path) -> None:
    plan = plan_with_a_way_back(tmp_path)
    folder = tmp_path / "session"
    with running_sim(load(plan), speed=SPEED, faults=KEYS_FAULTS) as (_estate, handle):
        session = driver_session(plan, handle, folder, time_scale=SPEED)
        try:
            assert session.runner.run_step("register-app-2").status.value == "succeeded"
            app = make_driver_app(session, keymap={})
            async with app.run_test(size=(160, 48), notifications=True) as pilot:
                await drawn(pilot, screen=DriverScreen, what="the driver's screen drawn")
                await pilot.press("b")
                await wait_for(pilot, lambda: showing(app, ConfirmStep), what="the confirm")
                await pilot.press("enter")  # Cancel has focus: nothing runs
                await wait_for(pilot, lambda: not showing(app, ConfirmStep), what="cancelled")
                cancelled = [e.event for e in log_entries(folder)]
                await pilot.press("b")
                await wait_for(pilot, lambda: showing(app, ConfirmStep), what="the confirm")
                for key in "rollback":
                    await pilot.press(key)
                await pilot.press("enter")
                await wait_for(pilot, lambda: [e for e in log_entries(folder)
                                               if e.event == events.ROLLBACK_ENDED],
                               what="the rollback ended", within=30)
                await app.workers.wait_for_complete()
                await wait_for(pilot, lambda: "ROLLED BACK keys" in header_text(app),
                               what="the header saying so")
                what = runbook_what(app, "rb-names-checked")
        finally:
            session.close()

    assert events.ROLLBACK_STARTED not in cancelled
    entries = log_entries(folder)
    started = next(i for i, e in enumerate(entries) if e.event == events.ROLLBACK_STARTED)
    path = [(e.event, e.step) for e in entries[started:]
            if e.event in (events.STEP_STARTED, events.STEP_SUCCEEDED, events.ROLLBACK_ENDED)]
    assert path == [
        (events.STEP_STARTED, "rb-deregister-app-2"),
        (events.STEP_SUCCEEDED, "rb-deregister-app-2"),
        (events.STEP_STARTED, "rb-names-checked"),
        (events.STEP_SUCCEEDED, "rb-names-checked"),
        (events.ROLLBACK_ENDED, None),
    ]
    assert entries[started].detail["projected_s"] == 180  # 1m + 2m
    assert what.startswith("rollback: Both names still answer the datacentre")
