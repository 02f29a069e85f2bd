"""The cost curve: what a refresh, a key press, memory and CPU cost at 1x, 10x and 100x.

For each preset of `bench.scale` (the demo's size, ten and a hundred times it, the SQL
side included), in a fresh process of its own so no memory is carried from one size to
the next: the sim served by another process with `aws-latency=50` and `dns-latency=50`,
as `bench.refresh` serves it;
and a driver that switches the canary name (with `--join-databases`, it also runs every
database's backup, restore and join first, so the AG and backup panes show each database
in the group: 7 more minutes at 100x, the runner's one step at a time, so not by default;
a 0.1 GB database keeps even that short). Then, in the same run:

- the full refresh of every pane at once (`bench.refresh`: the median of `--runs` warm
  ones, after a cold one), and the baseline, the slowest single call a refresh needs,
  timed alone; their ratio is the figure that says whether the refresh keeps up with the
  estate or merely with the slowest call;
- CPU seconds of the cockpit's process per warm refresh, and of the sim's (another
  process: on two cores each has one) net of what it spends with nobody calling (its
  health checker, its weather, its databases: measured over `IDLE_WINDOW_S` first), and
  the busier one's against the slowest call: a refresh cannot take less than that
  process's CPU time, so this is the ratio's floor on this machine, however the waits
  are arranged;
- key press to repaint p50/p99, with `bench.keypress`'s Pilot and presses while every pane
  polls every second (it takes any driver, so any plan);
- the driver's RSS after the presses and `--cycles` more full refreshes.

Then one table: each figure at 1x, 10x, 100x, and its growth per tenfold step. A step of
at most x10 (the estate grows x10) is linear or better; more is worse than linear.

    python -m bench.scale --curve [--runs 5] [--presses 60] [--cycles 20] [--only 1x 10x]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import keypress
from bench.common import (
    ROOT,
    Figure,
    cpu_seconds,
    load_average,
    median,
    ms,
    note,
    percentile,
    report,
    served_pid,
    served_sim,
    vm_rss_mb,
)
from bench.harness import (
    Driver,
    open_driver,
    pane_errors,
    refresh_all,
    run_steps,
    switch_canary,
    unanswered_rows,
)
from bench.refresh import HEALTH_INTERVAL_S, SIM_SPEED, WEATHER, single_calls
from bench.scale import PRESETS, Scale, build, sql_step_ids
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Plan
from cockpit.runner.panes import PANES

STEP = 10.0  # each preset is ten times the one before
# The panes read the databases' states, not their bytes: a small database lets the 150
# backups, restores and joins of 100x run in a minute or two instead of ten.
SIM = ("--database-gb", "0.1")
IDLE_WINDOW_S = 5.0


def preset(name: str) -> Scale:
    return replace(PRESETS[name], sql=True, health_interval_s=HEALTH_INTERVAL_S)


def refreshes(driver: Driver, runs: int, sim_pid: int) -> tuple[list[float], float, float]:
    """`runs` warm refreshes after a cold one: their wall times, and CPU seconds each of
    the cockpit's process and of the sim's, net of the sim's idle rate."""
    with ThreadPoolExecutor(max_workers=len(PANES), thread_name_prefix="pane") as pool:
        refresh_all(driver.session, pool)
        idle = sim_idle_rate(sim_pid)
        cpu, sim_cpu, began = time.process_time(), cpu_seconds(sim_pid), time.monotonic()
        walls = [refresh_all(driver.session, pool)["all"] for _ in range(runs)]
        sim_cpu = cpu_seconds(sim_pid) - sim_cpu - idle * (time.monotonic() - began)
        return walls, (time.process_time() - cpu) / runs, sim_cpu / runs


def sim_idle_rate(sim_pid: int) -> float:
    """CPU seconds a second the sim spends while nobody calls it. The window is what is
    measured, not a wait for something to happen."""
    cpu, began = cpu_seconds(sim_pid), time.monotonic()
    time.sleep(IDLE_WINDOW_S)
    rate = (cpu_seconds(sim_pid) - cpu) / (time.monotonic() - began)
    note(f"the sim's CPU with nobody calling: {rate:.3f} s a second")
    return rate


def more_refreshes(driver: Driver, cycles: int) -> None:
    with ThreadPoolExecutor(max_workers=len(PANES), thread_name_prefix="pane") as pool:
        for _ in range(cycles):
            refresh_all(driver.session, pool)


def slowest_call(handle: EstateHandle, plan: Plan, change_id: str) -> tuple[str, float]:
    """`bench.refresh`'s single calls, the slowest of them; one that fails (a read timeout
    from a moto too busy to answer in time) is said, and counts as not measured."""
    try:
        calls = single_calls(handle, plan, change_id)
    except Exception as exc:  # botocore's timeouts and its ClientErrors alike
        note(f"a single call failed: {type(exc).__name__}: {str(exc)[:160]}")
        return f"(failed: {type(exc).__name__})", float("nan")
    slowest = max(calls, key=calls.__getitem__)
    return slowest.split(" (")[0], calls[slowest]


def join_databases(driver: Driver, scale: Scale, join: bool) -> int:
    """Every database's backup, restore and join, when asked: the failures' count."""
    if not join:
        return 0
    began = time.monotonic()
    failed = run_steps(driver, sql_step_ids(scale))
    note(f"{scale.databases} databases backed up, restored and joined in "
         f"{time.monotonic() - began:.0f} s; failed: {failed[:3] or 'none'}")
    return len(failed)


def measure_preset(name: str, runs: int, presses: int, cycles: int,
                   join: bool) -> dict[str, Any]:
    scale = preset(name)
    with tempfile.TemporaryDirectory(prefix=f"bench-curve-{name}-") as tmp:
        plan_file, plan = build(scale, Path(tmp))
        note(f"{name}: {scale.describe()}; {len(plan.steps())} steps")
        with served_sim(plan_file, Path(tmp), speed=SIM_SPEED, faults=WEATHER,
                        extra=SIM) as endpoints, \
                open_driver(plan_file, Path(tmp) / "session", endpoints=endpoints) as drv:
            change_id = switch_canary(drv)
            failed = join_databases(drv, scale, join)
            walls, cpu, sim_cpu = refreshes(drv, runs, served_pid(endpoints))
            note(f"{name}: warm refreshes {', '.join(f'{ms(w):.0f}' for w in walls)} ms; "
                 f"CPU {cpu:.3f} s each, the sim's {sim_cpu:.3f} s")
            rows = {pane: len(view.rows) for pane, view in drv.session.view().panes.items()}
            errors = pane_errors(drv.session)
            unanswered = unanswered_rows(drv.session)
            slowest, slowest_s = slowest_call(drv.runner.handle, plan, change_id)
            began = time.monotonic()
            pressed, took = asyncio.run(keypress.drive(drv, presses, seed=7))
            note(f"{name}: {presses} presses in {time.monotonic() - began:.0f} s, p99 "
                 f"{percentile(pressed.latencies, 99) * 1000:.0f} ms")
            more_refreshes(drv, cycles)
            # The screen's process and, once the presses had it follow, its poller's.
            poller = drv.session.polled_apart_by
            rss = vm_rss_mb() + (vm_rss_mb(poller) if poller is not None else 0.0)
    latencies = [ms(v) for v in pressed.latencies]
    return {
        "preset": name, "refresh_ms": ms(median(walls)), "slowest_ms": ms(slowest_s),
        "slowest_call": slowest, "cpu_s": cpu, "sim_cpu_s": sim_cpu, "rss_mb": rss,
        "press_p50_ms": median(latencies), "press_p99_ms": percentile(latencies, 99),
        "timeouts": pressed.timeouts, "polls_per_s": pressed.polls / took,
        "rows": rows, "errors": errors, "failed_steps": failed, "unanswered": unanswered,
        "refreshes": runs + 1 + cycles,
    }


# --- the parent: one process per preset, then the table ------------------------------------

ROWS: list[tuple[str, str, str]] = [  # key, figure, unit
    ("refresh_ms", "full refresh, every pane", "ms"),
    ("slowest_ms", "slowest single call (baseline)", "ms"),
    ("ratio", "refresh / slowest single call", "x"),
    ("press_p50_ms", "key press to repaint p50", "ms"),
    ("press_p99_ms", "key press to repaint p99", "ms"),
    ("rss_mb", "driver RSS after the refreshes (with its poller)", "MB"),
    ("cpu_s", "CPU per refresh, cockpit's process", "s"),
    ("sim_cpu_s", "CPU per refresh, the sim's process (net of idle)", "s"),
    ("cpu_floor", "the busier process's CPU / slowest call", "x"),
    ("pane_rows", "rows across the panes (the size itself)", ""),
    ("unanswered", "rows with no answer (timeouts, failed checks)", ""),
]


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any] | None:
    print(f"\n=== {name} ===", flush=True)
    command = [sys.executable, "-m", "bench.curve", "--child", name, "--runs", str(args.runs),
               "--presses", str(args.presses), "--cycles", str(args.cycles)]
    command += ["--join-databases"] if args.join_databases else []
    began = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith("{")), flush=True)
    if done.returncode != 0 or not lines or not lines[-1].startswith("{"):
        print(f"{name}: NOT MEASURED: it exited {done.returncode} (see above)", flush=True)
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    result["ratio"] = result["refresh_ms"] / result["slowest_ms"]
    result["cpu_floor"] = max(result["cpu_s"], result["sim_cpu_s"]) * 1000 / result["slowest_ms"]
    result["pane_rows"] = sum(result["rows"].values())
    note(f"{name} took {time.monotonic() - began:.0f} s; rows by pane {result['rows']} "
         f"({result['unanswered']} with no answer); "
         f"slowest call {result['slowest_call']}; presses with no repaint in 2 s: "
         f"{result['timeouts']}; pane polls {result['polls_per_s']:.1f}/s during the presses")
    for pane, error in result["errors"].items():
        note(f"{name}: pane {pane} ended its last poll with an error: {error[:200]}")
    return result


def missing(name: str) -> dict[str, Any]:
    return {"preset": name, **{key: float("nan") for key, _, _ in ROWS}}


def growth(values: list[float]) -> str:
    """Each tenfold step's factor, and whether the figure grew linearly or better."""
    steps = [after / before for before, after in zip(values, values[1:], strict=False)
             if before > 0]
    if not steps or any(step != step for step in steps):  # nan: a size not measured
        return ""
    said = " then ".join(f"x{step:.2g}" if step < 10 else f"x{step:.0f}" for step in steps)
    verdict = "linear or better" if max(steps) <= STEP else "worse than linear"
    return f"{said}: {verdict}"


def cell(value: float, unit: str) -> str:
    if value != value:
        return "n/a"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f} {unit}".rstrip() if value >= 10 else f"{value:.1f} {unit}".rstrip()


def table(results: list[dict[str, Any]]) -> str:
    head = ["figure", *(r["preset"] for r in results), "growth per 10x step"]
    rows = [head]
    for key, figure, unit in ROWS:
        values = [float(r[key]) for r in results]
        grew = {"pane_rows": growth(values).split(":")[0], "unanswered": "", "cpu_floor": ""}.get(
            key, growth(values))
        rows.append([figure, *(cell(v, unit) for v in values), grew])
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def figures(results: list[dict[str, Any]]) -> list[Figure]:
    out = [report(Figure(f"refresh / slowest single call, {r['preset']}, 50 ms weather",
                         r["ratio"], "x", 2.0 if r["preset"] == "100x" else 1.5, "max"))
           for r in results]
    # A refresh whose questions timed out is quick for it: its time counts only with these.
    out += [report(Figure(f"rows with no answer after the refreshes, {r['preset']}",
                          r["unanswered"], "", 0.0, "max")) for r in results
            if r["unanswered"] == r["unanswered"]]
    last = results[-1]
    if last["rss_mb"] != last["rss_mb"]:
        return out
    out.append(report(Figure(f"key press to repaint p99, {last['preset']}",
                             last["press_p99_ms"], "ms", 50.0, "max", "< 50 ms")))
    out.append(report(Figure(f"driver RSS (with its poller) after {last['refreshes']} refreshes, "
                             f"{last['preset']}", last["rss_mb"], "MB", 120.0, "max")))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm refreshes (median)")
    parser.add_argument("--presses", type=int, default=60, help="key presses per preset")
    parser.add_argument("--cycles", type=int, default=20,
                        help="more full refreshes before the RSS is read")
    parser.add_argument("--only", nargs="*", choices=list(PRESETS), default=list(PRESETS))
    parser.add_argument("--join-databases", action="store_true",
                        help="back up, restore and join every database before measuring "
                             "(7 min more at 100x)")
    parser.add_argument("--child", choices=list(PRESETS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.runs, args.presses, args.cycles = max(1, args.runs), max(1, args.presses), \
        max(0, args.cycles)
    if args.child:
        result = measure_preset(args.child, args.runs, args.presses, args.cycles,
                                args.join_databases)
        print(json.dumps(result), flush=True)
        return 0
    print(f"load average {load_average()}; sim in its own process, weather "
          f"{', '.join(WEATHER)}; {args.runs} warm refreshes, {args.presses} presses, "
          f"{args.cycles} more refreshes per preset", flush=True)
    ran = {name: run_child(name, args) for name in args.only}
    results = [r if r is not None else missing(name) for name, r in ran.items()]
    print(f"\n=== the cost curve (load average now {load_average()}) ===")
    print(table(results))
    figures(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
