"""A driver as `cockpit run` opens one: estate handle, session folder (lock, plan.toml,
audit log, state.json), runner, and the `DriverSession` the screen polls through, all
from `cockpit.session.driver.open_driver_session`, the one assembly of a driver.

Against a sim served by another process (`--sim-endpoints`, as moto never shares a real
driver's process) or, where a benchmark must reach into the sim's objects, one started
in this process.

The settings are the model's defaults, not those of the shell a benchmark runs in (see
`bench_settings`): the polling intervals were class constants, and a figure must not move
because one engineer set `COCKPIT_POLLING__PANE_EVERY_S`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scale import CANARY
from cockpit.plan.loader import load_plan_file
from cockpit.plan.models import Step
from cockpit.runner.panes import PANES
from cockpit.runner.runner import Runner
from cockpit.runner.state import Status
from cockpit.session.driver import DriverSession, open_driver_session
from cockpit.session.estate_choice import EstateChoice
from cockpit.session.folder import SessionFolder
from cockpit.settings import (
    AwsSettings,
    CockpitSettings,
    DisplaySettings,
    PollingSettings,
    RunnerSettings,
)

# The runner's wait for a running step at the end, as the benchmarks have always closed it.
CLOSE_WAIT_S = 10.0


def bench_settings(polling: PollingSettings | None = None) -> CockpitSettings:
    """The model's defaults (with `polling` in place of its polling section, if given),
    never the `COCKPIT_*` variables of this process's environment: `model_construct` skips
    only the top level's reading of them; each default section is validated as usual. A
    `polling` the caller built with `model_construct` keeps whatever it was given."""
    return CockpitSettings.model_construct(
        polling=polling if polling is not None else PollingSettings(),
        display=DisplaySettings(), runner=RunnerSettings(), aws=AwsSettings(), keys={})


def confirm_manual(step: Step, instruction: str) -> str:
    """The note a manual step is confirmed with, should a benchmark run one unattended
    (the driver's screen puts its own modal in place of this when an app is made)."""
    return "bench"


@dataclass
class Driver:
    session: DriverSession
    runner: Runner
    sim: Any | None  # the in-process SimEstate, when there is one


@contextmanager
def open_driver(plan_file: Path, folder: Path, *, endpoints: Path | None = None,
                speed: float = 1.0, faults: Sequence[str] = (),
                settings: CockpitSettings | None = None) -> Iterator[Driver]:
    """With `endpoints`: reach that served sim; without: start one in this process."""
    choice = EstateChoice(sim=endpoints is None, speed=speed, faults=tuple(faults),
                          endpoints_file=endpoints)
    with open_driver_session(load_plan_file(plan_file), SessionFolder(folder), choice,
                             settings=settings or bench_settings(),
                             ask_manual=confirm_manual,
                             close_wait_s=CLOSE_WAIT_S) as session:
        sim = session.estate.sim if session.estate is not None else None
        yield Driver(session, session.runner, sim)


def switch_canary(driver: Driver) -> str:
    """Run the plan's first step (UPSERT the canary name, wait for INSYNC): from then on
    the DNS pane asks Route 53 for that change's status on every poll."""
    state = driver.runner.run_step("switch-canary")
    if state.status is not Status.SUCCEEDED:
        raise RuntimeError(f"switch-canary {state.status}: {state.reason}")
    change_ids = state.outputs.get("change_ids", [])
    return str(change_ids[-1]) if change_ids else f"(no change id for {CANARY})"


def run_steps(driver: Driver, step_ids: list[str]) -> list[str]:
    """Run each step in turn; the ones that did not succeed, with why."""
    failed = []
    for step_id in step_ids:
        state = driver.runner.run_step(step_id)
        if state.status is not Status.SUCCEEDED:
            failed.append(f"{step_id} {state.status}: {state.reason}")
    return failed


def refresh_all(session: DriverSession, pool: ThreadPoolExecutor) -> dict[str, float]:
    """Every pane polled at once, each in a worker thread of its own, as the driver's
    screen does; each pane's own duration, and `all` for the wall time of the lot."""
    import time

    def timed(pane: str) -> float:
        began = time.perf_counter()
        session.poll_pane(pane)
        return time.perf_counter() - began

    started = time.perf_counter()
    futures = {pane: pool.submit(timed, pane) for pane in PANES}
    durations = {pane: future.result() for pane, future in futures.items()}
    durations["all"] = time.perf_counter() - started
    return durations


def unanswered_rows(session: DriverSession) -> int:
    """Rows whose question got no answer at the last poll: a resolver that timed out, an
    app server whose health check failed. A pane can end its poll without an error while
    most of its rows are these: a refresh is only as good as its answers."""
    panes = session.view().panes
    timeouts = sum(any("timeout" in cell for cell in row.cells)
                   for view in panes.values() for row in view.rows)
    no_status = sum(not row.cells[3].isdigit() for row in panes["apps"].rows
                    if "timeout" not in row.cells[3]) if "apps" in panes else 0
    return timeouts + no_status


def pane_errors(session: DriverSession) -> dict[str, str]:
    view = session.view()
    return {name: pane.error for name, pane in view.panes.items() if pane.error}
