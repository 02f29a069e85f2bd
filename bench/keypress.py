"""Responsiveness: key press to repaint while every pane refreshes every second, at 10x.

The real app under Pilot (`app.run_test()`), on a real runner and `DriverSession`, against
the ten-times estate served by another process (`bench.sim_server`, as moto never shares a
real driver's process). The app's `settings.polling.pane_every_s` is 1 s, so every pane
is polled again one second after its last poll ended (the timer is one-shot, re-armed when
the poll ends: a pane's period is 1 s plus its poll's duration; the count is printed).

Each press is `down` (or `up`, turning at the ends of the runbook), sent as Pilot sends
keys (`driver.send_message(events.Key(...))`), at a random gap of 50-250 ms. The time runs
from just before the key is sent until the first frame (see `bench.frames`: an
`App._display` of a compositor update) in which the runbook's cursor is on the new row.

Method and limits. `pilot.press()` itself is not timed: after sending it waits for the
process to go idle (`wait_for_idle`: CPU time against wall time), which, with pane polls
busy in worker threads, can take up to a second and measures the polls, not the key.
`pilot.pause()` returns once the screen's message queues are drained; a frame comes after
that, on the screen's update timer, so awaiting it alone would miss the paint. The frame
hook fires when the frame has been composed; under the headless driver its bytes are not
written, so a real terminal adds the write (a few hundred bytes for a cursor move) and its
own drawing. A press that shows no frame in 2 s counts as 2 s.

    python -m bench.keypress [--presses 300] [--weather]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Figure, median, ms, note, percentile, report, served_sim
from bench.frames import FrameWatch, wait_for_panes
from bench.harness import Driver, bench_settings, open_driver, switch_canary
from bench.scale import Scale, build

SIZE = (160, 48)
POLL_S = 1.0
TIMEOUT_S = 2.0
WEATHER = ("aws-latency=50", "dns-latency=50")


@dataclass
class Presses:
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    polls: int = 0


def count_polls(driver: Driver, presses: Presses) -> None:
    """Count every pane poll that lands: each one's view is handed to the publisher for
    `state.json`, whichever thread or loop polled it (the publisher's method, wrapped)."""
    publisher = driver.session.runner.publisher
    set_pane = publisher.set_pane

    def counted(pane: str, view: Any) -> Any:
        presses.polls += 1
        return set_pane(pane, view)

    publisher.set_pane = counted  # type: ignore[method-assign]


async def press_once(app: Any, watch: FrameWatch, runbook: Any, going_down: bool,
                     presses: Presses) -> None:
    from textual import events

    row = runbook.cursor_row
    wanted = row + 1 if going_down else row - 1
    seen = watch.expect(lambda: runbook.cursor_row == wanted)
    started = time.perf_counter()
    app._driver.send_message(events.Key("down" if going_down else "up", None))
    at = await seen.wait(TIMEOUT_S)
    if at is None:
        presses.timeouts += 1
        presses.latencies.append(TIMEOUT_S)
    else:
        presses.latencies.append(at - started)


async def drive(driver: Driver, count: int, seed: int) -> tuple[Presses, float]:
    from cockpit.settings import PollingSettings
    from cockpit.ui.app import make_driver_app

    presses, rng = Presses(), random.Random(seed)
    settings = bench_settings(PollingSettings(pane_every_s=POLL_S))  # every pane, every second
    app = make_driver_app(driver.session, keymap={}, settings=settings)
    return await _presses(app, driver, count, presses, rng)


async def _presses(app: Any, driver: Driver, count: int, presses: Presses,
                   rng: random.Random) -> tuple[Presses, float]:
    from cockpit.ui.widgets.runbook import Runbook

    async with app.run_test(size=SIZE) as pilot:
        await wait_for_panes(app, pilot)
        await _polled_apart(driver)
        runbook = app.screen.query_one(Runbook)
        runbook.focus()
        await pilot.pause()
        count_polls(driver, presses)
        watch, going_down = FrameWatch(app), True
        started = time.perf_counter()
        for _ in range(count):
            await asyncio.sleep(rng.uniform(0.05, 0.25))
            going_down = _direction(runbook, going_down)
            await press_once(app, watch, runbook, going_down, presses)
        took = time.perf_counter() - started
        app.exit()
    return presses, took


async def _polled_apart(driver: Driver, timeout_s: float = 30.0) -> None:
    """The steady state: the first views come from the driver's own poller while its
    poller process starts; the presses begin once that process polls (or never does)."""
    waited = 0.0
    while driver.session.polled_apart_by is None and waited < timeout_s:
        await asyncio.sleep(0.05)
        waited += 0.05
    apart = driver.session.polled_apart_by is not None
    note(f"panes polled by {'a process of their own' if apart else 'the driver itself'}")


def _direction(runbook: Any, going_down: bool) -> bool:
    if runbook.cursor_row >= runbook.row_count - 1:
        return False
    if runbook.cursor_row <= 0:
        return True
    return going_down


def figures(presses: Presses) -> list[Figure]:
    values = [ms(v) for v in presses.latencies]
    return [
        report(Figure("key press to repaint p50, 10x, panes every 1 s", median(values), "ms")),
        report(Figure("key press to repaint p90, 10x, panes every 1 s",
                      percentile(values, 90), "ms")),
        report(Figure("key press to repaint p99, 10x, panes every 1 s",
                      percentile(values, 99), "ms", 30.0, "max", "< 30 ms")),
    ]


def measure(count: int, weather: bool, seed: int) -> list[Figure]:
    scale = Scale(health_interval_s=300.0)
    faults = WEATHER if weather else ()
    with tempfile.TemporaryDirectory(prefix="bench-keypress-") as tmp:
        plan_file, _ = build(scale, Path(tmp))
        note(f"estate: {scale.describe()}; sim in its own process; weather: "
             f"{', '.join(faults) or 'none'}; {count} presses, terminal {SIZE[0]}x{SIZE[1]}")
        with served_sim(plan_file, Path(tmp), speed=50.0, faults=faults) as endpoints, \
                open_driver(plan_file, Path(tmp) / "session", endpoints=endpoints) as driver:
            switch_canary(driver)
            presses, took = asyncio.run(drive(driver, count, seed))
    note(f"pane polls during the presses: {presses.polls} in {took:.0f} s "
         f"({presses.polls / took / 5:.2f} per pane per second); "
         f"presses with no repaint in {TIMEOUT_S:g} s: {presses.timeouts}")
    return figures(presses)


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=300)
    parser.add_argument("--weather", action="store_true",
                        help=f"add {' and '.join(WEATHER)} to the sim")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    return measure(max(1, args.presses), args.weather, args.seed)


if __name__ == "__main__":
    main()
