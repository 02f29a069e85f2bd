"""A readiness check of the plan as a condition: a go/no-go gate on the checks the team
ran before the window (`cockpit check`), judged again now."""

from __future__ import annotations

from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    Actions,
    Effects,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _readiness_holds(c: m.ReadinessHolds, ctx: ProbeContext) -> Verdict:
    if ctx.readiness is None:
        return Verdict(False, f"readiness check {c.check}: judged only against its plan", {})
    return ctx.readiness(c.check)


PROBES: Probes = {
    m.ReadinessHolds: _readiness_holds,
}

ACTIONS: Actions = {}

EFFECTS: Effects = {}

WATCHED_BY: WatchedBy = {}
