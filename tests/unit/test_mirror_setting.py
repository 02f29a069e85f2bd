"""Where the mirror is named: the plan (for everyone who drives it) or the config (which
wins), and what each refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.plans import MANUAL_PHASE, estate_toml, write_plan

from cockpit.plan.loader import PlanLoadError
from cockpit.plan.models import Plan
from cockpit.session.driver import _mirror_settings
from cockpit.settings import CockpitSettings, MirrorSettings


def _plan_naming(tmp_path: Path, mirror: str) -> Plan:
    estate = estate_toml().replace("[plan]\n", f'[plan]\nmirror = "{mirror}"\n', 1)
    return write_plan(tmp_path, MANUAL_PHASE, estate=estate)[1]


def test_the_plan_names_the_mirror_and_the_config_wins(tmp_path: Path) -> None:
    plan = _plan_naming(tmp_path, "s3://oms-audit/windows/")
    taken = _mirror_settings(plan, CockpitSettings(mirror=MirrorSettings(object_lock=True)))
    assert taken.url == "s3://oms-audit/windows" and taken.object_lock
    config = CockpitSettings(mirror=MirrorSettings(url="s3://ops-mirror/p"))
    assert _mirror_settings(plan, config).url == "s3://ops-mirror/p"


def test_a_mirror_that_is_not_s3_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PlanLoadError):
        _plan_naming(tmp_path, "https://oms-audit/windows")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        MirrorSettings(url="oms-audit/windows")
