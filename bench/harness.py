"""A driver as `cockpit run` opens one: estate handle, runner (session folder, audit log,
state.json), and the `DriverSource` the screen polls through.

Against a sim served by another process (`--sim-endpoints`, as moto never shares a real
driver's process) or, where a benchmark must reach into the sim's objects, one started
in this process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.scale import CANARY
from cockpit.launch import open_estate
from cockpit.plan.models import Plan
from cockpit.runner.driver import DriverSource
from cockpit.runner.panes import PANES
from cockpit.runner.runner import Runner
from cockpit.runner.state import Status


@dataclass
class Driver:
    source: DriverSource
    runner: Runner
    sim: Any | None  # the in-process SimEstate, when there is one


@contextmanager
def open_driver(plan_file: Path, plan: Plan, folder: Path, *, endpoints: Path | None = None,
                speed: float = 1.0, faults: Sequence[str] = ()) -> Iterator[Driver]:
    """With `endpoints`: reach that served sim; without: start one in this process."""
    with open_estate(plan, sim=endpoints is None, speed=speed, faults=faults,
                     sim_endpoints=endpoints) as estate:
        runner = Runner(plan, plan_file, estate.handle, folder, time_scale=estate.time_scale)
        try:
            yield Driver(DriverSource(runner, estate.handle), runner, estate.sim)
        finally:
            runner.close(wait_s=10)


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


def refresh_all(source: DriverSource, pool: ThreadPoolExecutor) -> dict[str, float]:
    """Every pane polled at once, each in a worker thread of its own, as the driver's
    screen does; each pane's own duration, and `all` for the wall time of the lot."""
    import time

    def timed(pane: str) -> float:
        began = time.perf_counter()
        source.poll_pane(pane)
        return time.perf_counter() - began

    started = time.perf_counter()
    futures = {pane: pool.submit(timed, pane) for pane in PANES}
    durations = {pane: future.result() for pane, future in futures.items()}
    durations["all"] = time.perf_counter() - started
    return durations


def pane_errors(source: DriverSource) -> dict[str, str]:
    view = source.view()
    return {name: pane.error for name, pane in view.panes.items() if pane.error}
