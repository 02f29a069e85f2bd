"""Gates that hold leave their evidence, as failing ones always did: in the step's ending
entry (each gate's verdict, summary and evidence), in its state, and in the change board's
record (md, html). A go/no-go step of gates alone says "gates held: ...", never "no
condition", and its export is never "(empty)".

One sim for the module; nothing here changes the estate (gates, checks, a manual step)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.audit import log_entries
from support.estate import driver_session, running_sim
from support.plans import PHASE_ONE, load, write_plan

from cockpit.audit.entry import AuditEntry
from cockpit.audit.export import export_log
from cockpit.estate.handle import EstateHandle
from cockpit.runner.runner import Runner
from cockpit.runner.state import Status

SPEED = 50.0
RUNNING = '{ kind = "ec2.running", servers = ["oms-app-1", "oms-app-2"] }'
ORIGINAL = '{ kind = "dns.resolves_to", records = ["orders"], value = "original" }'
STOPPED = '{ kind = "ec2.stopped", servers = ["oms-app-1"] }'

GATES = f"""
[[phases]]
id = "go-no-go"
title = "Go/no-go"

[[phases.steps]]
id = "go"
title = "Go/no-go: the imported instances run and orders still resolves to the datacentre"
gates = [{RUNNING}, {ORIGINAL}]

[[phases.steps]]
id = "gated-check"
title = "A gate, then a condition to wait for"
gates = [{RUNNING}]
until = [{{ kind = "ec2.spread", servers = ["oms-app-1", "oms-app-2"], min_azs = 2 }}]

[[phases.steps]]
id = "gated-manual"
title = "A gate, then a person"
gates = [{ORIGINAL}]
do = {{ kind = "manual", instruction = "Tell the bridge" }}

[[phases.steps]]
id = "second-gate-fails"
title = "The first gate holds, the second does not"
gates = [{RUNNING}, {STOPPED}]
"""


@pytest.fixture(scope="module")
def handle() -> Iterator[EstateHandle]:
    with running_sim(load(PHASE_ONE), speed=SPEED) as (_sim, running):
        yield running


@pytest.fixture
def runner(handle: EstateHandle, tmp_path: Path) -> Iterator[Runner]:
    path, _plan = write_plan(tmp_path, GATES)
    session = driver_session(path, handle, tmp_path / "session", time_scale=SPEED,
                             confirm_manual=lambda _instruction: "bridge told")
    try:
        yield session.runner
    finally:
        session.close()


def ending(runner: Runner, step: str) -> AuditEntry:
    return [e for e in log_entries(runner.folder)
            if e.step == step and e.event in ("step.succeeded", "step.failed")][-1]


def test_a_step_of_gates_alone_records_each_gates_verdict_and_evidence(runner: Runner) -> None:
    assert runner.run_step("go").status is Status.SUCCEEDED
    done = ending(runner, "go")
    assert done.detail["summary"].startswith("gates held: 2 instance(s) running; ")
    assert "no condition" not in done.detail["summary"]
    gates = done.detail["gates"]
    assert [(g["gate"], g["held"]) for g in gates] == [
        ("ec2.running(servers=oms-app-1+oms-app-2)", True),
        ("dns.resolves_to(records=orders, value=original)", True)]
    running = gates[0]["evidence"]
    assert {server: seen["state"] for server, seen in running.items()} == {
        "oms-app-1": "running", "oms-app-2": "running"}
    assert gates[1]["evidence"]["answers"]["orders"]  # what each resolver said
    # Its evidence is its gates' (by kind, as an `until`'s is by condition).
    assert done.detail["evidence"] == {"ec2.running": running,
                                       "dns.resolves_to": gates[1]["evidence"]}
    assert runner.step_state("go").evidence == done.detail["evidence"]


def test_a_gate_before_an_until_or_an_action_is_recorded_beside_their_evidence(
    runner: Runner,
) -> None:
    assert runner.run_step("gated-check").status is Status.SUCCEEDED
    checked = ending(runner, "gated-check")
    assert [g["held"] for g in checked.detail["gates"]] == [True]
    assert set(checked.detail["evidence"]) == {"ec2.spread"}  # the `until`'s, as before

    assert runner.run_step("gated-manual").status is Status.SUCCEEDED
    manual = ending(runner, "gated-manual")
    assert manual.detail["summary"] == "action done"
    assert manual.detail["gates"][0]["summary"].endswith("answer(s) match")


def test_a_failing_gate_records_the_gates_that_held_before_it(runner: Runner) -> None:
    assert runner.run_step("second-gate-fails").status is Status.FAILED
    failed = ending(runner, "second-gate-fails")
    assert failed.detail["reason"].startswith("gate failed: ec2.stopped(servers=oms-app-1)")
    assert [(g["kind"], g["held"]) for g in failed.detail["gates"]] == [
        ("ec2.running", True), ("ec2.stopped", False)]
    assert failed.detail["evidence"] == failed.detail["gates"][1]["evidence"]


def test_the_export_shows_the_gates_evidence(runner: Runner) -> None:
    for step in ("go", "gated-check", "second-gate-fails"):
        runner.run_step(step)
    log = runner.folder / "audit.jsonl"
    md = export_log(log, "md")
    go = md.split("### go — ")[1].split("\n### ")[0]
    assert "**gate held: ec2.running(servers=oms-app-1+oms-app-2): 2 instance(s) running**" in go
    assert "**gate held: dns.resolves_to(records=orders, value=original): " in go
    assert "(empty)" not in go and "no condition" not in go
    assert "- **state**: running" in go and "vpc-resolver" in go
    assert go.count("**state**: running") == 2  # once per instance: not repeated as "succeeded"
    checked = md.split("### gated-check — ")[1].split("\n### ")[0]
    assert "gate held: ec2.running" in checked and "**succeeded: " in checked
    failing = md.split("### second-gate-fails — ")[1].split("\n### ")[0]
    assert "gate held: ec2.running" in failing and "**failed**" in failing

    html = export_log(log, "html")
    assert "gate held: ec2.running(servers=oms-app-1+oms-app-2): 2 instance(s) running" in html
    assert "gate held: dns.resolves_to(records=orders, value=original)" in html
