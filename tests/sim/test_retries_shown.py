"""Throttled AWS calls are retried with backoff, and the panes say so."""

from __future__ import annotations

from support.estate import running_sim

from cockpit.plan.models import Plan
from cockpit.runner.panes import probe_pane
from cockpit.runner.state import derive


def test_a_throttled_estate_still_answers_and_the_panes_show_the_retries(
    phase_one: Plan,
) -> None:
    plan = phase_one
    with running_sim(plan, faults=["aws-throttle=50"]) as (_, handle):
        views = [probe_pane(p, handle, plan, derive(plan, [])) for p in ("targets", "dns")]
    assert [v.error for v in views] == [None, None]
    notes = " ".join(v.note or "" for v in views)
    assert "AWS retried with backoff" in notes
    assert "elbv2" in notes or "route53" in notes
