"""Where things are, and plans: the repository's own, and small ones built on its estate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.plan.models import Plan

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "plans"
PHASE_ONE = PLANS / "oms-phase1-app-servers.toml"
PHASE_TWO = PLANS / "oms-phase2-simple.toml"
DATA = ROOT / "tests" / "data"
BAD_PLANS = DATA / "bad_plans"
BASE_PLAN = BAD_PLANS / "_base.toml"

DB_PASSWORD = "s3cr3t-Pa55"
# What an unattended rehearsal confirms the plans' manual steps with.
MANUAL_NOTE = "rehearsal: the manual step was confirmed by the test run"

# One manual step, to put after `estate_toml()`.
MANUAL_PHASE = """
[[phases]]
id = "comms"
title = "Comms"

[[phases.steps]]
id = "call-bridge"
title = "Call the store-ops bridge"
do = { kind = "manual", instruction = "Phone the store-ops bridge" }
budget = "1m"
"""


def load(path: Path) -> Plan:
    from cockpit.plan.loader import load_plan

    return load_plan(path)


def estate_toml() -> str:
    """The phase-one plan's header and estate section, to build small plans on."""
    text = PHASE_ONE.read_text(encoding="utf-8")
    head, sep, _ = text.partition("\n[[phases]]")
    assert sep, "the phase-one plan has no [[phases]]"
    return head + "\n"


def write_plan(folder: Path, phases_toml: str, *, name: str = "small-plan.toml",
               estate: str | None = None) -> tuple[Path, Plan]:
    """A plan file in `folder`: the phase-one estate (or `estate`) and the given phases."""
    path = folder / name
    path.write_text((estate if estate is not None else estate_toml()) + phases_toml,
                    encoding="utf-8")
    return path, load(path)
