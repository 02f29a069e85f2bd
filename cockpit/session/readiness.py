"""`cockpit check`: the plan's readiness checks, judged on its estate opened read-only."""

from __future__ import annotations

from dataclasses import replace

from cockpit.plan.loader import LoadedPlan
from cockpit.plan.models import ReadinessMoment
from cockpit.runner.readiness import ReadinessReport, check_readiness
from cockpit.session.estate import EstateChoice, open_estate
from cockpit.settings import CockpitSettings


def check_plan(loaded: LoadedPlan, choice: EstateChoice, *, settings: CockpitSettings,
               at: ReadinessMoment | None = None) -> ReadinessReport:
    """Open the estate read-only (nothing a check sends can change it), judge, close."""
    choice = replace(choice, plan_sha256=loaded.sha256)
    with open_estate(loaded.plan, choice, aws=settings.aws, read_only=True) as estate:
        return check_readiness(loaded.plan, estate.handle, at)
