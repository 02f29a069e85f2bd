"""ALB target health as in life, driven by real HTTP checks of the loopback app servers.

moto reports every registered running target `healthy` at once. Here a registered target
starts `initial`, turns `healthy` after `healthy_threshold` passing checks, `unhealthy`
after `unhealthy_threshold` failing ones, and `draining` for the deregistration delay
after it is removed. moto's `describe_target_health` is replaced for the target groups a
sim owns; every other group keeps moto's own answer.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from cockpit.plan.models import TargetGroup

CHECK_TIMEOUT_S = 2.0
# A kept connection the server has closed meanwhile fails at once; the check is then made
# again on a new connection, as a client that keeps connections alive does.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

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
        # One kept-alive connection per target, through the standard library's client: the
        # checks run all window long, at 100x for 400 targets, in the sim's one process,
        # and a pooled client costs several times as much per check.
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True, name="sim-alb-health")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()

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
            return self._status(target_id, url) == 200
        except TimeoutError:
            return None
        except (OSError, http.client.HTTPException):
            return False

    def _status(self, target_id: str, url: str) -> int:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = self._connections.get(target_id)
        if kept is not None and (kept.host, kept.port) == (parts.hostname, parts.port):
            try:
                return self._get(target_id, kept, path)
            except _STALE:
                pass
        fresh = http.client.HTTPConnection(parts.hostname or "", parts.port,
                                           timeout=CHECK_TIMEOUT_S)
        self._connections[target_id] = fresh
        return self._get(target_id, fresh, path)

    def _get(self, target_id: str, connection: http.client.HTTPConnection, path: str) -> int:
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
        except BaseException:
            connection.close()
            self._connections.pop(target_id, None)
            raise
        return response.status
