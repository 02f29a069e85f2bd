"""The simulated ALBs' CloudWatch metrics: what AWS/ApplicationELB would publish.

An ALB publishes per minute its `RequestCount` and, when there were any, its
`HTTPCode_ELB_5XX_Count` (load balancer generated 5xx), with the `LoadBalancer` dimension
`app/<name>/<id>` ("CloudWatch metrics for your Application Load Balancer"). The sim's
stores send a steady trickle of orders; with `alb-5xx=<percent>` that share of them fails
at the ALB. The last half hour is there at start (a check looks back), then a minute at a
time, in real minutes: CloudWatch's periods are wall-clock periods whatever the speed.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

NAMESPACE = "AWS/ApplicationELB"
# "Each request is also limited to no more than 1000 different metrics" (PutMetricData,
# CloudWatch API Reference): the backlog goes in requests of at most that many points.
MAX_POINTS_A_REQUEST = 1000
REQUESTS_PER_MINUTE = 600
BACKLOG_MINUTES = 30
MINUTE_S = 60.0


class AlbMetrics:
    def __init__(self, cloudwatch: Any, dimensions: list[str], error_percent: float) -> None:
        self._cloudwatch = cloudwatch
        self._dimensions = dimensions  # each ALB's `app/<name>/<id>`
        self._error_percent = error_percent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sim-alb-metrics")

    def start(self) -> None:
        # The half hour at once, as a publisher catching up would send it: one request an
        # ALB rather than one a minute (the backlog was a tenth of the demo's start).
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        backlog = [now - timedelta(minutes=ago) for ago in range(BACKLOG_MINUTES, 0, -1)]
        self._publish(*backlog)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(MINUTE_S):
            self._publish(datetime.now(UTC).replace(second=0, microsecond=0))

    def _publish(self, *minutes: datetime) -> None:
        errors = round(REQUESTS_PER_MINUTE * self._error_percent / 100)
        for dimension in self._dimensions:
            data = []
            for minute in minutes:
                data.append(_point("RequestCount", dimension, minute, REQUESTS_PER_MINUTE))
                if errors:  # an ALB publishes no 5xx count for a minute without any
                    data.append(_point("HTTPCode_ELB_5XX_Count", dimension, minute, errors))
            for first in range(0, len(data), MAX_POINTS_A_REQUEST):
                self._cloudwatch.put_metric_data(
                    Namespace=NAMESPACE, MetricData=data[first:first + MAX_POINTS_A_REQUEST])


def _point(metric: str, dimension: str, minute: datetime, value: float) -> dict[str, Any]:
    return {"MetricName": metric, "Timestamp": minute, "Value": value, "Unit": "Count",
            "Dimensions": [{"Name": "LoadBalancer", "Value": dimension}]}
