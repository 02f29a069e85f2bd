"""A served simulated estate is built from one plan's estate section: a driver that opens
another plan against it is refused before anything runs, naming both plans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.plans import PHASE_ONE

from cockpit.estate.handle import Endpoints
from cockpit.plan.loader import load_plan_file
from cockpit.session.estate import open_estate
from cockpit.session.estate_choice import EstateChoice
from cockpit.sim.serve import served_plan, write_endpoints


def endpoints_for(tmp_path: Path, plan_sha256: str) -> Path:
    path = tmp_path / "endpoints.json"
    write_endpoints(Endpoints(aws_endpoint_url="http://127.0.0.1:9"), path,
                    {"speed": 1.0, "sql_servers": {}, "plan_sha256": plan_sha256})
    return path


def test_a_served_estate_of_another_plan_is_refused(tmp_path: Path) -> None:
    loaded = load_plan_file(PHASE_ONE)
    path = endpoints_for(tmp_path, "f" * 64)
    choice = EstateChoice(endpoints_file=path, plan_sha256=loaded.sha256)
    with pytest.raises(ValueError, match=r"serves the plan with sha256 ffffffffffff, not the "
                                         rf"one opened here \({loaded.sha256[:12]}\)"):
        with open_estate(loaded.plan, choice):
            pass


def test_the_served_estate_of_the_same_plan_opens(tmp_path: Path) -> None:
    loaded = load_plan_file(PHASE_ONE)
    path = endpoints_for(tmp_path, loaded.sha256)
    assert served_plan(path) == loaded.sha256
    choice = EstateChoice(endpoints_file=path, plan_sha256=loaded.sha256)
    with open_estate(loaded.plan, choice) as estate:
        assert estate.handle.endpoints.aws_endpoint_url == "http://127.0.0.1:9"


def test_an_endpoints_file_that_names_no_plan_is_trusted_as_before(tmp_path: Path) -> None:
    loaded = load_plan_file(PHASE_ONE)
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps({"aws_endpoint_url": "http://127.0.0.1:9"}))
    assert served_plan(path) is None
    with open_estate(loaded.plan, EstateChoice(endpoints_file=path,
                                               plan_sha256=loaded.sha256)):
        pass
