"""Reaction: from a change in the estate to the pane showing it, against the poll interval.

The real Textual app (`make_driver_app` on a real runner and `DriverSession`) runs under
Pilot (`app.run_test()`) on the ten-times estate, the session's poller polling each pane
on its own cadence (`settings.polling.pane_every_s`, the default 2 s, counted from the
start of the pane's last poll). The sim is served by another process
(`bench.sim_server --flips`, as moto never shares a real driver's process), which on
SIGUSR1 breaks and on SIGUSR2 mends, through the sim's own objects (see `bench.flips`):

- a target: `oms-app-01` in `oms-web`, in the sim's ALB health model, healthy <->
  unhealthy (the plan sets the ALB's check interval to an hour, so the sim's own checker
  never undoes a flip);
- a resolver: `dc-dns-1`'s weather, answering <-> SERVFAIL, so every answer it gives
  changes at once.

Each round waits until the screen shows the state before the change (so a change a slow
poll never showed cannot make the next look instant), then a random time (0 to the poll
interval, so changes land anywhere in the poll cycle), sends the signal, and times until
the first frame that shows each change (see `bench.frames`: a frame is an `App._display`
of a compositor update; the rows checked are on screen). Both kinds are timed in every
round: `--changes` rounds give that many of each.
The clock starts just before the signal is sent; delivering it takes microseconds.

With `--preset 100x` the same on the hundred-times estate (600 app servers, 1,600
targets, 300 names on 5 resolvers): the target is the first AWS server of the first
group there.

    python -m bench.reaction [--changes 100] [--weather] [--preset 10x|100x]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.common import Figure, median, note, percentile, report, served_pid, served_sim
from bench.frames import FrameWatch, check_on_screen, wait_for_panes
from bench.harness import Driver, bench_settings, open_driver
from bench.scale import PRESETS, RESOLVERS, aws_ids, build, group_ids
from cockpit.runner.panes import PaneView

SIZE = (160, 48)
WEATHER = ("aws-latency=50", "dns-latency=50")


def target_shows(view: PaneView | None, target: tuple[str, str], broken: bool) -> bool:
    """The pane shows (group, server) healthy, or unhealthy when `broken`."""
    if view is None:
        return False
    want = "unhealthy" if broken else "healthy"
    return any(r.cells[:2] == list(target) and r.cells[4] == want for r in view.rows)


def resolver_shows(view: PaneView | None, resolver: str, broken: bool) -> bool:
    if view is None:
        return False
    first = next((r for r in view.rows if len(r.cells) > 2 and r.cells[1] == resolver), None)
    return first is not None and (first.cells[2] == "SERVFAIL") == broken


@dataclass
class Samples:
    target: list[float] = field(default_factory=list)
    resolver: list[float] = field(default_factory=list)
    missed: int = 0


async def one_round(app: Any, watch: FrameWatch, sim_pid: int, target: tuple[str, str],
                    round_no: int, samples: Samples, timeout_s: float,
                    delay_s: float) -> None:
    broken = round_no % 2 == 0  # even rounds break both, odd rounds mend them
    targets, dns = app.screen.query_one("#pane-targets"), app.screen.query_one("#pane-dns")

    def shows_target(want: bool) -> bool:
        return target_shows(targets.view, target, want)

    def shows_dns(want: bool) -> bool:
        return resolver_shows(dns.view, RESOLVERS[0], want)

    # Start only from a screen that shows the state before the change: a change that a
    # slow poll never showed must not make the next one look instant.
    caught_up = watch.expect(lambda: shows_target(not broken) and shows_dns(not broken))
    if not (shows_target(not broken) and shows_dns(not broken)) and \
            await caught_up.wait(timeout_s) is None:
        samples.missed += 2
        return
    await asyncio.sleep(delay_s)
    seen_target = watch.expect(lambda: shows_target(broken))
    seen_dns = watch.expect(lambda: shows_dns(broken))
    started = time.perf_counter()
    os.kill(sim_pid, signal.SIGUSR1 if broken else signal.SIGUSR2)
    for expectation, into in ((seen_target, samples.target), (seen_dns, samples.resolver)):
        at = await expectation.wait(timeout_s)
        if at is None:
            samples.missed += 1
        else:
            into.append(at - started)


async def drive(driver: Driver, sim_pid: int, target: tuple[str, str], changes: int,
                seed: int) -> tuple[Samples, float]:
    from cockpit.ui.app import make_driver_app

    settings = bench_settings()
    app = make_driver_app(driver.session, keymap={}, settings=settings)
    samples, rng = Samples(), random.Random(seed)
    poll_s = settings.polling.pane_every_s
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_panes(app, pilot)
        await check_on_screen(app, pilot, [target[1], RESOLVERS[0]])
        watch = FrameWatch(app)
        for round_no in range(changes):
            await one_round(app, watch, sim_pid, target, round_no, samples,
                            4 * poll_s + 20, rng.uniform(0, poll_s))
            if round_no % 10 == 9:
                note(f"{round_no + 1} rounds done; not shown in time: {samples.missed}")
        app.exit()
    return samples, poll_s


def figures(samples: Samples, poll_s: float, preset: str = "10x") -> list[Figure]:
    limit = poll_s + 0.25
    text = f"<= poll interval {poll_s:g} s + 0.25 s = {limit:g} s"
    out = []
    at = "" if preset == "10x" else f", {preset}"  # make bench's rows keep their names
    for kind, values in ((f"a target changes health{at}", samples.target),
                         (f"a resolver flips{at}", samples.resolver)):
        out.append(report(Figure(f"reaction p50, {kind}", median(values), "s")))
        out.append(report(Figure(f"reaction p99, {kind}", percentile(values, 99), "s",
                                 limit, "max", text)))
    return out


def measure(changes: int, weather: bool, seed: int, preset: str = "10x") -> list[Figure]:
    scale = replace(PRESETS[preset], health_interval_s=3600.0)
    target = (group_ids(scale)[0], aws_ids(scale)[0])
    faults = WEATHER if weather else ()
    with tempfile.TemporaryDirectory(prefix="bench-reaction-") as tmp:
        plan_file, _ = build(scale, Path(tmp))
        note(f"estate: {scale.describe()}; sim in its own process; weather: "
             f"{', '.join(faults) or 'none'}; {changes} rounds, terminal {SIZE[0]}x{SIZE[1]}")
        flips = ["--flips", f"{target[0]},{target[1]},{RESOLVERS[0]}"]
        with served_sim(plan_file, Path(tmp), faults=faults, extra=flips) as endpoints, \
                open_driver(plan_file, Path(tmp) / "session", endpoints=endpoints) as driver:
            sim_pid = served_pid(endpoints)
            samples, poll_s = asyncio.run(drive(driver, sim_pid, target, changes, seed))
    note(f"changes not shown within the timeout: {samples.missed}")
    return figures(samples, poll_s, preset)


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--weather", action="store_true",
                        help=f"add {' and '.join(WEATHER)} to the sim")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--preset", choices=["10x", "100x"], default="10x")
    args = parser.parse_args(argv)
    return measure(max(1, args.changes), args.weather, args.seed, args.preset)


if __name__ == "__main__":
    main()
