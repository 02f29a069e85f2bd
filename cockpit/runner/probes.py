"""Conditions judged against the estate: the same probes serve gates, `until` and panes.

Each probe returns a Verdict: whether the condition holds, a one-line summary an engineer
reads, and the evidence (what was seen) that the audit log keeps with the step's outcome.
The probes themselves live with their system in `runner.kinds`; this is what the runner
calls, whatever the system.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m
from cockpit.plan.models import Plan
from cockpit.runner.kinds import PROBES
from cockpit.runner.kinds.base import ProbeContext, Verdict

__all__ = ["ProbeContext", "Verdict", "describe", "judge", "judge_all", "readiness_judge"]


def judge(condition: Any, ctx: ProbeContext) -> Verdict:
    probe = PROBES[type(condition)]
    return probe(condition, ctx)


def readiness_judge(plan: Plan, handle: EstateHandle) -> Callable[[str], Verdict]:
    """Judges the plan's readiness check of an id now: what a `readiness` gate asks."""

    def judged(check_id: str) -> Verdict:
        check = next(c for c in plan.readiness if c.id == check_id)
        if isinstance(check.check, m.ReadinessHolds):  # no check stands on another
            return Verdict(False, f"{check_id}: a readiness check cannot name another", {})
        verdict = judge(check.check, ProbeContext(handle))
        summary = verdict.summary + (f"; fix: {check.fix}" if not verdict.ok and check.fix else "")
        return Verdict(verdict.ok, f"{check_id}: {summary}", verdict.evidence, verdict.pending)

    return judged


def judge_all(conditions: list[Any], ctx: ProbeContext) -> Verdict:
    verdicts = [judge(c, ctx) for c in conditions]
    failing = [v.summary for v in verdicts if not v.ok]
    evidence: dict[str, Any] = {}
    for condition, verdict in zip(conditions, verdicts, strict=True):
        key, n = condition.kind, 2
        while key in evidence:  # two conditions of one kind: keep both
            key, n = f"{condition.kind}#{n}", n + 1
        evidence[key] = verdict.evidence
    summary = "; ".join(failing) if failing else "; ".join(v.summary for v in verdicts)
    return Verdict(not failing, summary, evidence)


def describe(condition: Any) -> str:
    """A condition in words, for gates, progress lines and reports."""
    fields = condition.model_dump(exclude={"kind"}, exclude_defaults=True)
    args = ", ".join(f"{k}={_short(v)}" for k, v in fields.items())
    return f"{condition.kind}({args})"


def _short(value: Any) -> str:
    return "+".join(map(str, value)) if isinstance(value, list) else str(value)
