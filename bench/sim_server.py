"""The simulated estate in a process of its own, for benchmarks: `cockpit sim serve` plus
what a benchmark needs (flips on signals, a time limit).

A real driver never shares its process (nor its GIL) with the estate it watches, so the
benchmarks that time the driver serve the sim from here. It writes the endpoints file that
`--sim-endpoints` reads (with `cockpit.sim.serve.write_endpoints`, so the SQL servers too,
as the extra `sql_servers` key, where the cockpit serves them over loopback; else AWS,
health URLs and resolvers) and runs until SIGTERM, or until `--max-s` has passed (bounded:
it never outlives a lost benchmark).

With `--flips GROUP,SERVER,RESOLVER`, SIGUSR1 breaks that target's health and that
resolver's answers and SIGUSR2 mends them (see `bench.flips`), for `bench.reaction`.

    python -m bench.sim_server PLAN --endpoints FILE [--speed N] [--sim-fault NAME=ARG]
        [--flips GROUP,SERVER,RESOLVER] [--database-gb N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path

from bench.flips import Flips, find_flips
from cockpit.plan.loader import load_plan
from cockpit.settings import SimSettings
from cockpit.sim.estate import SimEstate, start_sim


def write_endpoints(sim: SimEstate, path: Path, speed: float) -> None:
    """cockpit's own endpoints file (SQL over loopback TCP included) where it can write
    one; otherwise the fields every served sim has."""
    endpoints = sim.endpoints()
    try:
        from cockpit.sim.serve import write_endpoints as cockpit_writes

        cockpit_writes(endpoints, path, {"pid": os.getpid(), "speed": speed,
                                         "sql_servers": sim.sql_servers()})
        return
    except (ImportError, TypeError, AttributeError):
        pass
    data = {
        "aws_endpoint_url": endpoints.aws_endpoint_url,
        "aws_credentials": endpoints.aws_credentials,
        "health_urls": endpoints.health_urls,
        "resolvers": {k: list(v) for k, v in endpoints.resolvers.items()},
        "pid": os.getpid(), "speed": speed,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


# Blocked in every thread (the sim's threads inherit the mask) and taken by the main thread
# with sigtimedwait: a Python handler runs only when the main thread next runs bytecode, so
# a signal the kernel hands to a server thread would wait out the main thread's sleep.
SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}


def serve_signals(flips: Flips | None, max_s: float) -> None:
    """Until SIGTERM/SIGINT or `max_s`: SIGUSR1 breaks the flips, SIGUSR2 mends them."""
    deadline = time.monotonic() + max_s
    while (left := deadline - time.monotonic()) > 0:
        info = signal.sigtimedwait(SIGNALS, min(left, 1.0))
        if info is None:
            continue
        if info.si_signo in (signal.SIGTERM, signal.SIGINT):
            return
        if flips is not None:
            flips.set(broken=info.si_signo == signal.SIGUSR1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("--endpoints", type=Path, required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--sim-fault", dest="faults", action="append", default=[])
    parser.add_argument("--max-s", type=float, default=3600.0)
    parser.add_argument("--database-gb", type=float,
                        help="the simulated database's size (the sim's default otherwise)")
    parser.add_argument("--flips", help="GROUP,SERVER,RESOLVER: SIGUSR1 breaks, SIGUSR2 mends")
    args = parser.parse_args()
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # before any thread starts
    profile = SimSettings(database_gb=args.database_gb).profile() if args.database_gb else None
    sim = start_sim(load_plan(args.plan), args.speed, args.faults, profile)
    try:
        flips = find_flips(sim, *args.flips.split(",")) if args.flips else None
        write_endpoints(sim, args.endpoints, args.speed)
        serve_signals(flips, args.max_s)
    finally:
        sim.stop()
        args.endpoints.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
