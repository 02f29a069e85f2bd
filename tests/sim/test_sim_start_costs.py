"""The simulated estate's start does not grow with its load balancers where it need not:
each listener forwards to its targets through an HTTP client, and each client loaded the
CA bundle again (50 ms of CPU and 0.9 MB each), though the targets answer plain HTTP: 41
listeners at 100x spent some two seconds of the estate's start on it."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.estate import running_sim

from bench.scale import PRESETS, plan_text
from cockpit.plan.loader import load_plan_text
from cockpit.sim import load_balancers

# Four target groups, each behind a listener of its own.
SCALE = replace(PRESETS["10x"], dc_servers=2, aws_servers=12, names=3, groups=4,
                targets_per_group=3, resolvers=2, health_interval_s=3600.0)


def test_the_estate_loads_the_ca_bundle_once_however_many_listeners(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "four-groups.toml"
    path.write_text(plan_text(SCALE))
    plan = load_plan_text(path.read_text(), path)
    contexts: list[ssl.SSLContext] = []
    listeners: list[load_balancers.Listener] = []
    make, listen = ssl.create_default_context, load_balancers.Listener.__init__

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        contexts.append(make(*args, **kwargs))
        return contexts[-1]

    def listening(self: load_balancers.Listener, *args: Any, **kwargs: Any) -> None:
        listeners.append(self)
        listen(self, *args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    monkeypatch.setattr(load_balancers.Listener, "__init__", listening)
    with running_sim(plan) as (sim, _handle):
        assert sim.aws_endpoint
    assert len(listeners) >= 4
    # One a process at most: the listeners share the process's context.
    assert len(contexts) <= 1, f"{len(contexts)} CA bundle loads for {len(listeners)} listeners"
