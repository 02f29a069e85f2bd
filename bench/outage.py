"""The outage as a figure: Phase Two rehearsed on a simulated 500 GB OMS database, one-shot
and pre-staged, and the stores' outage each costs in simulated minutes.

The outage runs from the start of `drain-apps` (the stores lose OMS) to the end of
`register-apps` (the ALB sends them to OMS again), read from the rehearsal's audit log and
multiplied by the sim's speed. The simulated database's size and throughputs are the
profile below, from published figures: a full backup to S3 at 250 MB/s and a restore at
330 MB/s (Microsoft's SQL Server 2022 S3 connector guidance: 20 MB parts, compression,
striping over several URLs; EBS gp3 at its 1,000 MB/s ceiling is not the limit), automatic
seeding at 200 MB/s over the AG endpoint, and an OMS writing 20 MB of log a minute at the
pre-Christmas peak. The cockpit's own time between steps (polls, probes) counts too, as it
would on the night.

    python -m bench.outage [--speed 30] [--database-gb 500]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.common import COCKPIT, ROOT, Figure, note, report

SIMPLE = "plans/oms-phase2-simple.toml"
PRESTAGED = "plans/oms-phase2-database.toml"
FIRST, LAST = "drain-apps", "register-apps"
TARGET_MINUTES = 10.0


def rehearse(plan: str, speed: float, database_gb: float, workdir: Path) -> Path:
    """The plan rehearsed as shipped but for its step timeouts, which are sized for its own
    database (a 500 GB seeding outlasts the one-shot plan's 15 minutes: on the night that
    is the window lost, here it would be no figure)."""
    session = workdir / Path(plan).stem
    copy = workdir / Path(plan).name
    copy.write_text(re.sub(r'^timeout = "[^"]*"', 'timeout = "6h"',
                           (ROOT / plan).read_text(), flags=re.MULTILINE))
    env = {**os.environ, "COCKPIT_SIM__DATABASE_GB": f"{database_gb:g}"}
    began = time.monotonic()
    try:
        done = subprocess.run([COCKPIT, "rehearse", str(copy), "--sim", "--speed",
                               f"{speed:g}", "--manual-note", "bench", "--session",
                               str(session)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    finally:
        _stop_served(session)
    note(f"{plan}: exit {done.returncode} in {time.monotonic() - began:.0f} s at x{speed:g}")
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", flush=True)
    return session / "audit.jsonl"


def _stop_served(session: Path) -> None:
    """A rehearsal that stopped short leaves its session's estate up: stop it now."""
    from cockpit.session.served_sim import ENDPOINTS, ServedSim

    served = ServedSim.found_at((session / ENDPOINTS).absolute())
    if served is not None:
        served.stop()


def outage_minutes(log: Path, speed: float) -> float:
    """From `drain-apps` started to `register-apps` succeeded, in simulated minutes."""
    started = ended = None
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        when = datetime.fromisoformat(entry["ts"])
        if entry["event"] == "step.started" and entry.get("step") == FIRST and started is None:
            started = when
        if entry["event"] == "step.succeeded" and entry.get("step") == LAST:
            ended = when
    if started is None or ended is None:
        return float("nan")
    return (ended - started).total_seconds() * speed / 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=30.0)
    parser.add_argument("--database-gb", type=float, default=500.0)
    args = parser.parse_args()
    note(f"simulated OMS database {args.database_gb:g} GB; backup 250 MB/s, restore 330 MB/s, "
         "seeding 200 MB/s, log 20 MB/min while the stores write (the sim's profile)")
    with tempfile.TemporaryDirectory(prefix="bench-outage-") as tmp:
        simple = outage_minutes(rehearse(SIMPLE, args.speed, args.database_gb, Path(tmp)),
                                args.speed)
        staged = outage_minutes(rehearse(PRESTAGED, args.speed, args.database_gb, Path(tmp)),
                                args.speed)
    report(Figure("Phase Two outage, one-shot backup and restore (simulated)", simple, "min"))
    report(Figure("Phase Two outage, pre-staged (simulated)", staged, "min",
                  TARGET_MINUTES, "max"))
    if simple == simple and staged == staged and staged > 0:
        note(f"the pre-staged window is {simple / staged:.0f}x shorter")
    return 0 if simple == simple and staged == staged else 1


if __name__ == "__main__":
    sys.exit(main())
