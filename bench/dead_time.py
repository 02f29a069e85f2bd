"""Dead time in the window: how long a step waits to start once the steps it comes after
are done, when nobody has to press a key (a rehearsal; `auto` steps in the driver).

A plan is rehearsed on the simulated estate (ready steps side by side, each started the
moment its dependencies are met); from its audit log, for every step that waited on
others, the gap between the entry that ended the last of its dependencies and its own
`step.started`. The baseline, measured in the same run, is the bare cost of one entry of
the log: an append with its fsync, through the cockpit's own writer. The gap holds a few
of those (the end, the start, what the runner derives from the log between them) and a
thread's start.

    python -m bench.dead_time [--plan plans/oms-phase2-simple.toml] [--speed 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, Figure, median, ms, note, percentile, report
from bench.harness import open_driver
from cockpit.audit import events
from cockpit.audit.entry import Actor, AuditEntry
from cockpit.audit.writer import AuditWriter
from cockpit.plan.loader import load_plan_file
from cockpit.plan.models import Plan
from cockpit.session.rehearsal import rehearse

PLAN = ROOT / "plans" / "oms-phase2-simple.toml"
TARGET_P99_S = 1.0
APPENDS = 200
ENDS = frozenset({events.STEP_SUCCEEDED, events.STEP_SKIPPED})


def gaps(plan: Plan, entries: list[AuditEntry]) -> dict[str, float]:
    """Step id -> seconds from its last dependency's end to its first start."""
    ended: dict[str, datetime] = {}
    found: dict[str, float] = {}
    for entry in entries:
        if entry.step is None:
            continue
        if entry.event in ENDS:
            ended[entry.step] = entry.ts
        elif entry.event == events.STEP_STARTED and entry.step not in found:
            after = plan.step(entry.step).after
            if after and all(dep in ended for dep in after):
                last = max(ended[dep] for dep in after)
                found[entry.step] = (entry.ts - last).total_seconds()
    return found


def append_costs(folder: Path, count: int) -> list[float]:
    """Seconds for each of `count` appends (fsync included) through the audit writer."""
    writer = AuditWriter(folder / "baseline.jsonl", session="bench", mode="driver",
                         actor=Actor(user="bench", host="bench-host", ssh_client=None))
    costs = []
    try:
        for n in range(count):
            began = time.perf_counter()
            writer.append(events.STEP_PROGRESS, step="baseline", detail={"n": n})
            costs.append(time.perf_counter() - began)
    finally:
        writer.close()
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", type=Path, default=PLAN)
    parser.add_argument("--speed", type=float, default=60.0)
    args = parser.parse_args()
    plan = load_plan_file(args.plan).plan
    with tempfile.TemporaryDirectory(prefix="bench-dead-time-") as tmp:
        folder = Path(tmp)
        baseline = append_costs(folder, APPENDS)
        began = time.monotonic()
        with open_driver(args.plan, folder / "session", speed=args.speed) as driver:
            result = rehearse(driver.runner)
            measured = gaps(plan, driver.runner.entries)
        note(f"{args.plan.name} rehearsed at x{args.speed:g} in "
             f"{time.monotonic() - began:.0f} s: {result.render().splitlines()[-1]}")
    if not measured:
        note("no step waited on another: nothing to measure")
        return 1
    samples = list(measured.values())
    slowest = max(measured, key=lambda s: measured[s])
    note(f"{len(samples)} steps waited on others; the slowest to start: {slowest} "
         f"({ms(measured[slowest]):.1f} ms)")
    append_p50 = median(baseline)
    p50, p99 = median(samples), percentile(samples, 99)
    report(Figure("dead time between steps, p50", ms(p50), "ms"))
    report(Figure("dead time between steps, p99", ms(p99), "ms", ms(TARGET_P99_S), "max"))
    report(Figure("baseline: one audit append with fsync, p50", ms(append_p50), "ms"))
    note(f"dead time p50 = {p50 / append_p50:.1f}x an append, p99 = "
         f"{p99 / append_p50:.1f}x an append")
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    sys.exit(main())
