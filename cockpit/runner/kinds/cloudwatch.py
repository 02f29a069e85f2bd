"""CloudWatch metrics: the checks every runbook invents from the numbers AWS keeps (the
ALB's 5xx count, its targets' response time), judged against a limit."""

from __future__ import annotations

from statistics import fmean
from typing import Any

from cockpit.estate import cloudwatch, elb
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)

COUNTS = ("Sum", "SampleCount")  # no data is none counted


def _metric_holds(c: m.MetricHolds, ctx: ProbeContext) -> Verdict:
    what = f"{c.namespace} {c.metric} ({c.statistic}, last {c.minutes} min)"
    try:
        dimensions = dict(c.dimensions)
        if c.load_balancer is not None:
            dimensions["LoadBalancer"] = elb.load_balancer_dimension(ctx.handle, c.load_balancer)
        points = cloudwatch.datapoints(ctx.handle, c.namespace, c.metric, dimensions,
                                       c.statistic, c.period, c.minutes)
    except probe_errors() as exc:
        error = describe_error(exc)
        return Verdict(False, f"{what}: {error}", {"error": error})
    value = _over(c.statistic, [p["value"] for p in points])
    evidence: dict[str, Any] = {"dimensions": dimensions, "value": value,
                                "datapoints": points[-10:]}
    if value is None:
        return Verdict(False, f"{what}: no data", evidence)
    if c.at_most is not None:
        return Verdict(value <= c.at_most, f"{what}: {value:g} (at most {c.at_most:g})",
                       evidence)
    assert c.at_least is not None  # the model holds exactly one limit
    return Verdict(value >= c.at_least, f"{what}: {value:g} (at least {c.at_least:g})",
                   evidence)


def _over(statistic: str, values: list[float]) -> float | None:
    """The statistic over the whole look-back, from its per-period datapoints."""
    if not values:
        return 0.0 if statistic in COUNTS else None
    if statistic in COUNTS:
        return sum(values)
    if statistic == "Maximum":
        return max(values)
    if statistic == "Minimum":
        return min(values)
    return fmean(values)


PROBES: Probes = {
    m.MetricHolds: _metric_holds,
}

ACTIONS: Actions = {}  # metrics are only ever read

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {}
