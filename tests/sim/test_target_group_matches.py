"""`elb.target_group_matches`: the target group as the ALB has it, against the plan."""

from __future__ import annotations

from support.estate import running_sim
from support.plans import PHASE_ONE, load

from cockpit.estate import elb
from cockpit.plan.models import TargetGroupMatches
from cockpit.runner.probes import ProbeContext, judge

CHECK = TargetGroupMatches.model_validate({"kind": "elb.target_group_matches",
                                           "target_group": "oms-web"})


def test_a_group_changed_behind_the_plans_back_is_named_field_by_field() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan) as (sim, handle):
        before = judge(CHECK, ProbeContext(handle))
        sim.client("elbv2").modify_target_group_attributes(
            TargetGroupArn=elb.target_group_arn(handle, "oms-web"),
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}])
        after = judge(CHECK, ProbeContext(handle))
    assert before.ok, before.summary
    assert not after.ok
    assert "deregistration_delay 300 (plan: 60)" in after.summary
    assert after.evidence["live"]["health_path"] == "/health"
