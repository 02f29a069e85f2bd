"""Changes to the estate made through the sim's own objects, at a known instant.

- a target: its state in the sim's ALB health model (`moto_hooks.GROUPS[arn]`), healthy
  <-> unhealthy (a plan with an hour-long check interval keeps the sim's own checker from
  undoing it);
- a resolver: its weather (`CachingResolver.weather.failure`), answering <-> SERVFAIL, so
  every answer it gives changes at once.

`bench.sim_server --flips GROUP,SERVER,RESOLVER` breaks both on SIGUSR1 (unhealthy,
SERVFAIL) and mends both on SIGUSR2, so a driver in another process can time how long its
panes take to show them. Each signal sets a state (no toggling), so a signal lost or
doubled costs one sample, never the sync between the benchmark and the sim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Flips:
    group: Any  # cockpit.sim.elb_health.GroupHealth
    target_id: str
    weather: Any  # cockpit.sim.dns_server.ResolverWeather

    def set(self, broken: bool) -> None:
        with self.group.lock:
            self.group.targets[self.target_id].state = "unhealthy" if broken else "healthy"
        self.weather.failure = "servfail" if broken else None


def find_flips(sim: Any, group_id: str, server: str, resolver: str) -> Flips:
    """The objects to flip in a running SimEstate."""
    from cockpit.sim import moto_hooks

    try:
        arn = sim._group_arns[group_id]
        target_id = sim._instance_ids[server]
        weather = sim._resolvers[resolver].resolver.weather
    except (AttributeError, KeyError) as exc:
        raise RuntimeError(f"the sim's objects are not where bench.flips looks ({exc}): "
                           "update find_flips") from exc
    return Flips(moto_hooks.GROUPS[arn], target_id, weather)
