"""CloudWatch: a metric's datapoints over the last minutes, for a check to judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit.estate.handle import EstateHandle


def datapoints(handle: EstateHandle, namespace: str, metric: str,
               dimensions: dict[str, str], statistic: str, period_s: int,
               minutes: int) -> list[dict[str, Any]]:
    """The metric's datapoints (time, value) over the last `minutes`, oldest first."""
    now = datetime.now(UTC)
    found = handle.client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in sorted(dimensions.items())],
        StartTime=now - timedelta(minutes=minutes), EndTime=now, Period=period_s,
        Statistics=[statistic])
    points = sorted(found.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return [{"at": p["Timestamp"].isoformat(), "value": float(p[statistic])} for p in points]
