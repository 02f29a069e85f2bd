"""Snapshot at scale: one full refresh of every pane, against the CLI routine and the floor.

The ten-times estate (`bench.scale`) is served by `cockpit sim serve` in a process of its
own, with `aws-latency=50` and `dns-latency=50`: 50 ms more on every AWS call and every DNS
answer. A driver (runner, session folder, `DriverSession`) in this process polls every pane
at once, each asked for from a worker thread of its own (`poll_pane`, which a session's
poller and the code before it both answer, so one bench times both); the wall time of
the lot is one refresh (median of `--runs`, after one cold refresh that makes the boto3
clients and remembers the ARNs, printed apart). Before the runs, the plan's first step
switches one name, so the DNS pane also asks Route 53 for that change (`get-change`).

Against:
(a) the routine an engineer runs without the cockpit, one command after another, each a new
    process: `aws ec2 describe-instances`, `aws elbv2 describe-target-health` per group,
    `aws route53 list-resource-record-sets`, `aws route53 get-change` (the awscli package,
    `--endpoint-url` at the same moto), `curl` per health URL, `dig` per name per resolver
    (see `bench.cli_routine`); median of `--cli-runs` sweeps. The target group ARNs and the
    zone id are looked up beforehand and not timed: the engineer has them in their notes.
(b) the floor: the slowest single call a refresh needs, each timed alone from this warm
    process (median of 5 after a warm-up).

    python -m bench.refresh [--runs 7] [--cli-runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.cli_routine import (
    Routine,
    awscli_version,
    dig_command,
    dns_tool,
    ensure_awscli,
    run_sweep,
)
from bench.common import Figure, median, ms, note, report, served_sim
from bench.harness import (
    Driver,
    open_driver,
    pane_errors,
    refresh_all,
    run_steps,
    switch_canary,
)
from bench.scale import AZS, GROUPS, Scale, build, sql_available, sql_step_ids
from cockpit.estate import dns, elb, http, route53
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import Plan
from cockpit.runner.panes import PANES
from cockpit.sim.serve import read_endpoints

WEATHER = ("aws-latency=50", "dns-latency=50")
# Fast enough that the canary's change is INSYNC in under a second; the ALB's health
# checks are set to every 300 s (6 s here) so the sim's own checker stays out of the way.
SIM_SPEED = 50.0
HEALTH_INTERVAL_S = 300.0
_AG_CALL = "SQL AG state (DMVs on the primary)"


def cockpit_refreshes(driver: Driver, runs: int) -> tuple[float, list[dict[str, float]]]:
    """The cold first refresh, then `runs` warm ones (each pane's time and the wall time)."""
    with ThreadPoolExecutor(max_workers=len(PANES), thread_name_prefix="pane") as pool:
        cold = refresh_all(driver.session, pool)["all"]
        warm = [refresh_all(driver.session, pool) for _ in range(runs)]
    return cold, warm


def _timed(call: Callable[[], Any], repeats: int = 5) -> float:
    call()  # warm: connection open, client made
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return median(samples)


def single_calls(handle: EstateHandle, plan: Plan, change_id: str) -> dict[str, float]:
    """Each kind of call a refresh makes, alone: median seconds."""
    aws = [s.id for s in plan.estate.app_servers if s.site == "aws"]
    zone = route53.zone_id(handle, plan.estate.records[0].zone)
    arn = elb.target_group_arn(handle, GROUPS[0])
    record, resolver = plan.estate.records[0], plan.estate.resolvers[0]
    calls: dict[str, Callable[[], Any]] = {
        "ec2 DescribeInstances (40, by Name tag)": lambda: handle.client("ec2")
        .describe_instances(Filters=[{"Name": "tag:Name", "Values": aws}]),
        "elbv2 DescribeTargetHealth (40 targets)": lambda: handle.client("elbv2")
        .describe_target_health(TargetGroupArn=arn),
        "route53 ListResourceRecordSets (1 record)": lambda: route53.record_values(
            handle, [record.id]),
        "route53 ListResourceRecordSets (whole zone)": lambda: handle.client("route53")
        .list_resource_record_sets(HostedZoneId=zone),
        "route53 GetChange": lambda: handle.client("route53").get_change(Id=change_id),
        "HTTP health check": lambda: http.check_one(handle, aws[0]),
        "DNS query (1 name, 1 resolver)": lambda: dns.ask(handle, resolver.id, record.id),
    }
    calls.update(_sql_calls(handle, plan))
    return {name: _timed(call) for name, call in calls.items()}


def _sql_calls(handle: EstateHandle, plan: Plan) -> dict[str, Callable[[], Any]]:
    if not plan.estate.availability_groups:
        return {}
    from cockpit.estate import sql

    ag = plan.estate.availability_groups[0].id
    return {_AG_CALL: lambda: sql.ag_state(handle, ag)}


def cli_routine(endpoints_file: Path, handle: EstateHandle, plan: Plan,
                change_id: str) -> Routine:
    """The same picture, the way an engineer's terminals get it."""
    endpoints = read_endpoints(endpoints_file)
    url = str(endpoints.aws_endpoint_url)
    aws = [str(ensure_awscli()), "--endpoint-url", url, "--output", "json"]
    routine = Routine()
    routine.add("aws", [*aws, "ec2", "describe-instances", "--filters",
                        "Name=tag:Name,Values=oms-app-*"])
    for group in GROUPS:
        arn = elb.target_group_arn(handle, group)
        routine.add("aws", [*aws, "elbv2", "describe-target-health", "--target-group-arn", arn])
    zone = route53.zone_id(handle, plan.estate.records[0].zone)
    routine.add("aws", [*aws, "route53", "list-resource-record-sets", "--hosted-zone-id",
                        zone])
    routine.add("aws", [*aws, "route53", "get-change", "--id", change_id])
    for server in plan.estate.app_servers:
        routine.add("curl", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                             "--max-time", "3", handle.health_url(server.id)])
    for resolver in plan.estate.resolvers:
        host, port = handle.resolver_address(resolver.id)
        for rec in plan.estate.records:
            routine.add("dns", dig_command(host, port, rec.name, rec.type))
    return routine


def figures(refresh_s: float, floor_s: float, cli_s: float) -> list[Figure]:
    return [
        report(Figure("refresh, every pane, 10x estate, 50 ms weather", ms(refresh_s), "ms",
                      1.5 * ms(floor_s), "max",
                      f"<= 1.5x the slowest single call = {1.5 * ms(floor_s):.0f} ms")),
        report(Figure("refresh / slowest single call", refresh_s / floor_s, "x", 1.5, "max")),
        report(Figure("sequential CLI routine, 10x estate", cli_s, "s")),
        report(Figure("sequential CLI routine / refresh", cli_s / refresh_s, "x", 50.0, "min")),
    ]


def _print_panes(warm: list[dict[str, float]]) -> None:
    for pane in PANES:
        note(f"pane {pane}: median {ms(median([w[pane] for w in warm])):.0f} ms")


def _print_calls(calls: dict[str, float]) -> None:
    for name, seconds in sorted(calls.items(), key=lambda item: -item[1]):
        note(f"single call {name}: {ms(seconds):.1f} ms")


def measure(runs: int, cli_runs: int) -> list[Figure]:
    scale = Scale(health_interval_s=HEALTH_INTERVAL_S)
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        plan_file, plan = build(scale, Path(tmp))
        note(f"estate: {scale.describe()}; AZs {', '.join(AZS)}; weather {', '.join(WEATHER)}; "
             "sim in its own process")
        with served_sim(plan_file, Path(tmp), speed=SIM_SPEED, faults=WEATHER) as endpoints, \
                open_driver(plan_file, Path(tmp) / "session", endpoints=endpoints) as drv:
            change_id = switch_canary(drv)
            cold, warm = cockpit_refreshes(drv, runs)
            errors = pane_errors(drv.session)
            calls = single_calls(drv.runner.handle, plan, change_id)
            routine = cli_routine(endpoints, drv.runner.handle, plan, change_id)
            sweeps = [run_sweep(routine, plan.estate.region) for _ in range(cli_runs)]
    for pane, error in errors.items():
        note(f"pane {pane} ended its last poll with an error: {error[:200]}")
    note(f"cold first refresh (clients made, ARNs looked up): {ms(cold):.0f} ms")
    _print_panes(warm)
    _print_calls(calls)
    _print_cli(routine, sweeps)
    refresh_s, floor_s = median([w["all"] for w in warm]), max(calls.values())
    cli_s = median([s.seconds for s in sweeps])
    return figures(refresh_s, floor_s, cli_s) + measure_sql(runs, floor_s)


def measure_sql(runs: int, floor_s: float) -> list[Figure]:
    """The same refresh with the SQL side in the estate (served over loopback TCP by the
    sim's process), when the cockpit has one: after backing up, restoring and joining
    every database to the AG through the runner."""
    available, why = sql_available()
    if not available:
        print(f"SQL panes (ag, backup): NOT MEASURED: {why}", flush=True)
        return []
    scale = Scale(sql=True, health_interval_s=HEALTH_INTERVAL_S)
    with tempfile.TemporaryDirectory(prefix="bench-refresh-sql-") as tmp:
        plan_file, plan = build(scale, Path(tmp))
        with served_sim(plan_file, Path(tmp), speed=SIM_SPEED, faults=WEATHER) as endpoints, \
                open_driver(plan_file, Path(tmp) / "session", endpoints=endpoints) as drv:
            switch_canary(drv)
            began = time.perf_counter()
            failed = run_steps(drv, sql_step_ids(scale))
            note(f"SQL side: {scale.databases} databases backed up, restored and joined to "
                 f"the AG in {time.perf_counter() - began:.0f} s; failed: {failed[:3] or 'none'}")
            _, warm = cockpit_refreshes(drv, runs)
            view = drv.session.view()
            sql_call = _timed(_sql_calls(drv.runner.handle, plan)[_AG_CALL])
    note(f"ag pane: {len(view.panes['ag'].rows)} rows; backup pane: "
         f"{len(view.panes['backup'].rows)} rows; SQL AG state call alone "
         f"{ms(sql_call):.1f} ms")
    _print_panes(warm)
    refresh_s = median([w["all"] for w in warm])
    limit = 1.5 * ms(max(floor_s, sql_call))
    return [report(Figure("refresh incl. SQL panes (20 databases on 3 replicas), 10x, "
                          "50 ms weather", ms(refresh_s), "ms", limit, "max",
                          f"<= 1.5x the slowest single call = {limit:.0f} ms"))]


def _print_cli(routine: Routine, sweeps: list[Any]) -> None:
    counts = ", ".join(f"{n} {kind}" for kind, n in routine.counts().items())
    note(f"CLI routine: {counts} commands ({awscli_version()}, DNS by {dns_tool()}); "
         f"sweeps {', '.join(f'{s.seconds:.1f}s' for s in sweeps)}")
    last = sweeps[-1]
    note("CLI time by kind: " + ", ".join(f"{k} {v:.1f}s" for k, v in last.by_kind.items()))
    for failure in last.failures[:5]:
        note(f"CLI command failed: {failure}")


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="warm refreshes (median)")
    parser.add_argument("--cli-runs", type=int, default=3, help="CLI sweeps (median)")
    args = parser.parse_args(argv)
    return measure(max(1, args.runs), max(1, args.cli_runs))


if __name__ == "__main__":
    main()
