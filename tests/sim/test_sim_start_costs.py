"""The simulated estate's start does not grow with its load balancers where it need not:
each listener forwards to its targets through an HTTP client, and each client loaded the
CA bundle again (50 ms of CPU and 0.9 MB each), though the targets answer plain HTTP: 41
listeners at 100x spent some two seconds of the estate's start on it."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.estate import running_sim
from support.plans import ROOT

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


# Counts, in a fresh interpreter, what the estate's start reads of botocore's data: each
# file opened, and each listing of botocore's data folder (a new model loader's first
# step: some four hundred services, a file check each).
READS = r"""
import collections, json, os, sys
from pathlib import Path
import botocore, botocore.loaders as loaders
opened, listed = collections.Counter(), collections.Counter()
data = os.path.join(os.path.dirname(botocore.__file__), "data")
def counting(open_method):
    def opener(path, mode="rb"):
        opened["/".join(os.fspath(path).split("/")[-3:])] += 1
        return open_method(path, mode)
    return opener
for ext, method in list(loaders._JSON_OPEN_METHODS.items()):
    loaders._JSON_OPEN_METHODS[ext] = counting(method)
listdir = os.listdir
def listing(path="."):
    listed[os.path.normpath(os.fspath(path))] += 1
    return listdir(path)
os.listdir = listing
from cockpit.plan.loader import load_plan
from cockpit.sim.estate import start_sim
sim = start_sim(load_plan(Path(sys.argv[1])), 1.0, [])
sim.stop()
print(json.dumps({"opened": opened, "data listed": listed[os.path.normpath(data)]}))
"""


def test_the_estate_reads_ec2_s_model_once_and_lists_botocore_s_data_three_times() -> None:
    """The estate's clients and moto each read EC2's model (megabytes of JSON), and moto
    made a loader, which first lists botocore's data folder, for each service it answered:
    seven listings in the demo estate's start. One decoded EC2 model and one moto loader:
    three listings (the estate's own loader, once for models and once for endpoint rules;
    moto's one loader)."""
    demo = ROOT / "cockpit" / "demo" / "oms-demo.toml"
    done = subprocess.run([sys.executable, "-c", READS, str(demo)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=ROOT)
    reads = json.loads(done.stdout.strip().splitlines()[-1])
    ec2_model = {path: n for path, n in reads["opened"].items()
                 if path.startswith("ec2/") and path.endswith("/service-2.json.gz")}
    assert list(ec2_model.values()) == [1], reads["opened"]
    assert reads["opened"]["botocore/data/endpoints.json"] == 1
    assert reads["data listed"] <= 3, reads
