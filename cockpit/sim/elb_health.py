"""ALB target health as in life, driven by real HTTP checks of the loopback app servers.

moto reports every registered running target `healthy` at once. Here a registered target
starts `initial`, turns `healthy` after `healthy_threshold` passing checks, `unhealthy`
after `unhealthy_threshold` failing ones, and `draining` for the deregistration delay
after it is removed. moto's `describe_target_health` is replaced for the target groups a
sim owns; every other group keeps moto's own answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from cockpit.plan.models import TargetGroup

REASONS = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "timeout": ("Target.Timeout", "Request timed out"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused": ("Target.InvalidState", "Target is in the stopped state"),
}


@dataclass
class TargetHealth:
    target_id: str
    port: int
    state: str = "initial"
    passes: int = 0
    fails: int = 0
    next_check: float = 0.0
    drained_at: float | None = None
    timed_out: bool = False


@dataclass
class GroupHealth:
    """The health of one target group's targets, as its ALB would judge it."""

    spec: TargetGroup
    arn: str
    speed: float
    health_url: Callable[[str], str | None]
    is_running: Callable[[str], bool]
    targets: dict[str, TargetHealth] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reconcile(self, registered: dict[str, dict[str, Any]], now: float) -> None:
        """Follow moto's registrations: new targets start initial, removed ones drain."""
        with self.lock:
            for target_id, target in registered.items():
                known = self.targets.get(target_id)
                if known is None or known.state == "draining":
                    self.targets[target_id] = TargetHealth(target_id, int(target["Port"]))
            for target_id, health in list(self.targets.items()):
                if target_id not in registered and health.state != "draining":
                    health.state = "draining"
                    health.drained_at = now + self.spec.deregistration_delay / self.speed
                if health.drained_at is not None and now >= health.drained_at:
                    del self.targets[target_id]

    def due(self, now: float) -> list[TargetHealth]:
        with self.lock:
            return [t for t in self.targets.values()
                    if t.state != "draining" and now >= t.next_check]

    def record_check(self, target: TargetHealth, passed: bool | None, now: float) -> None:
        """`passed` None: the check got no answer at all (it timed out)."""
        with self.lock:
            target.next_check = now + self.spec.interval / self.speed
            if not self.is_running(target.target_id):
                target.state, target.passes, target.fails = "unused", 0, 0
                return
            if target.state == "unused":
                target.state = "initial"
            target.timed_out = passed is None
            if passed:
                target.passes, target.fails = target.passes + 1, 0
            else:
                target.passes, target.fails = 0, target.fails + 1
            if target.passes >= self.spec.healthy_threshold:
                target.state = "healthy"
            elif target.fails >= self.spec.unhealthy_threshold:
                target.state = "unhealthy"

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [_description(t) for t in self.targets.values()]

    def routable(self) -> list[str]:
        """The targets the ALB sends a request to now: the healthy ones. With none healthy
        but some unhealthy, all of those: an ALB fails open ("If a target group contains
        only unhealthy registered targets, the load balancer routes requests to all those
        targets"). Initial, draining and stopped targets take none."""
        with self.lock:
            by_state: dict[str, list[str]] = {}
            for target in sorted(self.targets.values(), key=lambda t: t.target_id):
                by_state.setdefault(target.state, []).append(target.target_id)
        return by_state.get("healthy") or by_state.get("unhealthy", [])


def _description(target: TargetHealth) -> dict[str, Any]:
    key = "timeout" if target.state == "unhealthy" and target.timed_out else target.state
    reason, description = REASONS.get(key, (None, None))
    return {"Id": target.target_id, "Port": target.port, "State": target.state,
            "Reason": reason, "Description": description}


class HealthChecker:
    """One thread that checks every due target over HTTP, like the ALB's health checkers."""

    def __init__(self, groups: list[GroupHealth], registered: Callable[[str], dict[str, Any]]):
        self.groups = groups
        self._registered = registered
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(2.0), trust_env=False)
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sim-alb-health")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._client.close()

    def tick(self) -> None:
        now = time.monotonic()
        for group in self.groups:
            group.reconcile(self._registered(group.arn), now)
            for target in group.due(now):
                group.record_check(target, self._check(group, target.target_id), now)

    def _loop(self) -> None:
        step = min(g.spec.interval / g.speed for g in self.groups) / 4 if self.groups else 1.0
        while not self._stop.wait(max(0.02, min(step, 1.0))):
            self.tick()

    def _check(self, group: GroupHealth, target_id: str) -> bool | None:
        url = group.health_url(target_id)
        if url is None:
            return None  # unreachable from the ALB: as good as a timeout
        try:
            return self._client.get(url).status_code == 200
        except httpx.TimeoutException:
            return None
        except httpx.HTTPError:
            return False
