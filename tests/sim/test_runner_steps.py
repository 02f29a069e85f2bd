"""The runner changing the estate: register the targets, wait for them to turn healthy
(the evidence goes into the log), and undo the registration. A sim of its own."""

from __future__ import annotations

from pathlib import Path

from support.audit import events_of, log_entries
from support.estate import driver_session, running_sim, target_states
from support.plans import PHASE_ONE, load

from cockpit.audit.verify import read_entries, verify_log
from cockpit.runner.state import Status, derive

SPEED = 20.0
AWS_SERVERS = ["oms-app-1", "oms-app-2"]


def test_register_wait_healthy_with_evidence_then_undo_drains(tmp_path: Path) -> None:
    plan = load(PHASE_ONE)
    folder = tmp_path / "session"
    with running_sim(plan, speed=SPEED) as (_sim, handle):
        runner = driver_session(PHASE_ONE, handle, folder, time_scale=SPEED,
                                confirm_manual=lambda _instruction: "announced").runner
        try:
            for step in ("announce-start", "instances-running", "apps-healthy"):
                assert runner.run_step(step).status is Status.SUCCEEDED, runner.step_state(step)

            registered = runner.run_step("register-targets")
            assert registered.status is Status.SUCCEEDED
            assert set(target_states(handle)) == set(AWS_SERVERS)

            healthy = runner.run_step("targets-healthy")
            assert healthy.status is Status.SUCCEEDED, healthy.reason
            assert target_states(handle) == {s: "healthy" for s in AWS_SERVERS}

            undone = runner.undo_step("register-targets")
            assert undone.status is Status.UNDONE
            # Deregistered: the ALB drains them (60 s delay, 3 s here) before they are gone.
            assert target_states(handle) == {s: "draining" for s in AWS_SERVERS}
            live = runner.state()
            # What the runner says is what the log alone says.
            assert derive(plan, read_entries(folder / "audit.jsonl").entries) == live
        finally:
            runner.close()

    # register-targets: started -> progress (what the action did) -> succeeded.
    entries = log_entries(folder)
    register = [e for e in entries if e.step == "register-targets"]
    assert [e.event for e in register] == [
        "step.started", "step.progress", "step.succeeded", "step.undone"]
    done = register[1].detail
    assert done["message"].startswith("done: elb.register(")
    assert done["outputs"]["target_group"] == "oms-web"
    assert len(done["outputs"]["targets"]) == 2
    assert register[3].detail["action"].startswith("elb.deregister(")
    assert register[3].detail["outputs"]["targets"] == done["outputs"]["targets"]

    # targets-healthy: it waited (the targets were `initial`), then succeeded on evidence.
    waiting = [e for e in entries if e.step == "targets-healthy"]
    assert waiting[0].event == "step.started" and waiting[-1].event == "step.succeeded"
    progress = [e for e in waiting if e.event == "step.progress"]
    assert progress, [e.event for e in waiting]
    assert "initial" in progress[0].detail["message"]
    seen = waiting[-1].detail["evidence"]["elb.targets_healthy"]
    assert {s: seen[s]["state"] for s in AWS_SERVERS} == {s: "healthy" for s in AWS_SERVERS}
    assert {s: seen[s]["az"] for s in AWS_SERVERS} == {
        "oms-app-1": "ap-southeast-2a", "oms-app-2": "ap-southeast-2b"}

    assert live.steps["register-targets"].status is Status.UNDONE
    assert events_of(folder)[-1] == "session.closed"
    assert verify_log(folder / "audit.jsonl").status == "intact"
