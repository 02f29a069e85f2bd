"""Start and memory: `cockpit --help`, first paint of `cockpit demo`, a driver's RSS.

- `cockpit --help`: wall time of a fresh process, median of `--help-runs`.
- `cockpit demo` in a fresh process in a private tmux server (`tmux -L`, 160x48): from
  just before tmux is asked to spawn it until `tmux capture-pane` first shows the starting
  screen's text (`cutover cockpit` / `opening the simulated estate`), polled every 10 ms;
  and until the panes show live data (no pane still `waiting for the first poll` or
  `no data yet`, the driver's header up). Median of `--paint-runs`; each run quits with `q`.
- Resident memory (VmRSS) of a driver after 3,600 refresh cycles of every pane: a fresh
  process runs the real app under Pilot (`app.run_test()`, so Textual, the widgets and
  the renders are all in it) on the demo plan, with `settings.polling.pane_every_s` at
  0.01 s so each pane is polled again as soon as its poll ends, until every pane has been
  polled `--cycles` times; the sim is served by another process. The panes are polled
  by the driver's poller process (`runner/poll_process.py`): its RSS is measured too, and
  the target is for the two together: their RSS added (the shared libraries counted in
  each) and their PSS added (each shared page counted once, `/proc/PID/smaps_rollup`).
  The RSS after the first cycle is printed beside it.

    python -m bench.startup [--help-runs 7] [--paint-runs 5] [--cycles 3600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import COCKPIT, ROOT, Figure, median, note, pss_mb, report, served_sim, vm_rss_mb

DEMO_PLAN = ROOT / "cockpit" / "demo" / "oms-demo.toml"
FIRST_FRAME = ("cutover cockpit", "opening the simulated estate")
# What a pane says before its first poll, whichever words it uses: the screen counts as
# live once none of them shows.
WAITING = ("waiting for the first poll", "no data yet")


def help_times(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([COCKPIT, "--help"], capture_output=True, check=True)
        samples.append(time.perf_counter() - began)
    return samples


class Tmux:
    """A tmux server of our own (its own socket), so no user's sessions are touched."""

    def __init__(self) -> None:
        self.socket = f"bench-startup-{os.getpid()}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=False)

    def capture(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", name).stdout

    def alive(self, name: str) -> bool:
        return self.run("has-session", "-t", name).returncode == 0

    def kill_server(self) -> None:
        self.run("kill-server")


def first_paint(tmux: Tmux, session_dir: Path, n: int, timeout_s: float = 60.0
                ) -> tuple[float | None, float | None]:
    """(seconds to the first frame, seconds to live panes) of one `cockpit demo`."""
    name = f"demo{n}"
    command = f"{COCKPIT} demo --session {session_dir}"
    began = time.perf_counter()
    tmux.run("new-session", "-d", "-s", name, "-x", "160", "-y", "48", command)
    painted = live = None
    while time.perf_counter() - began < timeout_s and live is None:
        screen = tmux.capture(name)
        now = time.perf_counter() - began
        if painted is None and all(word in screen for word in FIRST_FRAME):
            painted = now
        if " DRIVER " in screen and "App servers" in screen and \
                not any(words in screen for words in WAITING):
            live, painted = now, painted if painted is not None else now
        time.sleep(0.01)
    _quit(tmux, name)
    return painted, live


def _quit(tmux: Tmux, name: str) -> None:
    tmux.run("send-keys", "-t", name, "q")
    deadline = time.monotonic() + 30
    while tmux.alive(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    if tmux.alive(name):
        tmux.run("kill-session", "-t", name)


def paint_times(runs: int) -> tuple[list[float], list[float], int]:
    tmux, painted, live, failed = Tmux(), [], [], 0
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        try:
            for n in range(runs):
                first, ready = first_paint(tmux, Path(tmp) / f"session-{n}", n)
                failed += first is None or ready is None
                painted += [first] if first is not None else []
                live += [ready] if ready is not None else []
        finally:
            tmux.kill_server()
    return painted, live, failed


# --- memory: the child process ---------------------------------------------------------


async def _cycle(session: Any, cycles: int, timeout_s: float) -> dict[str, float]:
    from bench.frames import wait_for_panes
    from bench.harness import bench_settings
    from cockpit.settings import PollingSettings
    from cockpit.ui.app import make_driver_app

    # Below the 0.1 s floor the model validates, so built with `model_construct`: the
    # benchmark polls each pane again as soon as its poll ends, to reach its cycle count
    # in minutes, which no engineer's config may ask of a real estate. The fast interval
    # and the watcher's are the defaults, as they were beside the old class constant.
    settings = bench_settings(PollingSettings.model_construct(
        pane_every_s=0.01, pane_fast_every_s=0.5, watch_read_every_s=0.5))

    async def cycled() -> None:  # the session's poller counts the polls of each pane
        while min(session.polled.values()) < cycles:  # noqa: ASYNC110 (no event)
            await asyncio.sleep(0.05)

    app = make_driver_app(session, keymap={}, settings=settings)
    began = time.monotonic()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for_panes(app, pilot)
        first, first_poller = vm_rss_mb(), _poller_rss_mb(session)
        try:
            await asyncio.wait_for(cycled(), timeout_s)
        except TimeoutError:
            pass  # reported: the cycle count says how far it got
        after_poller = _poller_rss_mb(session)
        pss = pss_mb() + _poller_rss_mb(session, pss_mb)
        app.exit()
    return {"first_mb": first, "after_mb": vm_rss_mb(), "first_poller_mb": first_poller,
            "after_poller_mb": after_poller, "after_pss_mb": pss,
            "cycles": min(session.polled.values()),
            "seconds": time.monotonic() - began}


def _poller_rss_mb(session: Any, measure: Callable[[int], float] = vm_rss_mb) -> float:
    """The RSS (or `measure`) of the process polling the panes, when it is not the
    driver's own."""
    pid = session.polled_apart_by
    return 0.0 if pid is None else measure(pid)


def driver_child(endpoints: Path, cycles: int, timeout_s: float) -> None:
    """In a fresh process: open a driver on the served sim, cycle, print the RSS as JSON."""
    from bench.harness import open_driver

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, \
            open_driver(DEMO_PLAN, Path(tmp) / "session", endpoints=endpoints) as drv:
        result = asyncio.run(_cycle(drv.session, cycles, timeout_s))
    print(json.dumps(result))


def memory(cycles: int, timeout_s: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, \
            served_sim(DEMO_PLAN, Path(tmp), speed=4.0) as endpoints:
        done = subprocess.run(
            [sys.executable, "-m", "bench.startup", "--driver-child", str(endpoints),
             "--cycles", str(cycles), "--timeout", str(timeout_s)],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout_s + 120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the driver process failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def figures(help_s: list[float], painted: list[float], live: list[float],
            mem: dict[str, float] | None) -> list[Figure]:
    out = [report(Figure("cockpit --help", median(help_s), "s")),
           report(Figure("cockpit demo first paint", median(painted), "s", 1.0, "max",
                         "< 1.0 s")),
           report(Figure("cockpit demo until the panes show live data", median(live), "s",
                         2.0, "max", "< 2 s"))]
    if mem is not None:
        out.append(report(Figure(f"driver RSS after {mem['cycles']:.0f} refresh cycles of "
                                 "every pane (the screen's process)", mem["after_mb"], "MB")))
        out.append(report(Figure("its pane poller's process, RSS", mem["after_poller_mb"],
                                 "MB")))
        out.append(report(Figure("driver and poller RSS together", mem["after_mb"] +
                                 mem["after_poller_mb"], "MB", 120.0, "max", "< 120 MB")))
        out.append(report(Figure("driver and poller PSS together (shared pages once)",
                                 mem["after_pss_mb"], "MB", 120.0, "max", "< 120 MB")))
    return out


def measure(help_runs: int, paint_runs: int, cycles: int, timeout_s: float) -> list[Figure]:
    help_s = help_times(help_runs)
    if shutil.which("tmux"):
        painted, live, failed = paint_times(paint_runs)
        note(f"first paint runs: {', '.join(f'{p:.2f}s' for p in painted)}; live: "
             f"{', '.join(f'{p:.2f}s' for p in live)}; runs that never showed: {failed}")
    else:
        painted, live = [], []
        print("cockpit demo first paint: NOT MEASURED: tmux is not installed", flush=True)
    mem = memory(cycles, timeout_s)
    note(f"driver RSS after the first cycle {mem['first_mb']:.0f} MB, its poller's "
         f"{mem['first_poller_mb']:.0f} MB; {mem['cycles']:.0f} "
         f"cycles of every pane took {mem['seconds']:.0f} s (MB = 10^6 bytes)")
    return figures(help_s, painted, live, mem)


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--help-runs", type=int, default=7)
    parser.add_argument("--paint-runs", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=3600)
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="give up cycling after this many seconds")
    parser.add_argument("--driver-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver_child:
        driver_child(args.driver_child, args.cycles, args.timeout)
        return []
    return measure(max(1, args.help_runs), max(1, args.paint_runs), max(1, args.cycles),
                   args.timeout)


if __name__ == "__main__":
    main()
