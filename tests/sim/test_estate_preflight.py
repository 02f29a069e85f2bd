"""A session does not open on an estate it must not drive: credentials for another AWS
account than the plan pins, or an app server's Name tag on more than one live instance.
Both are refused before anything is on the record, naming what was found."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.estate import running_sim
from support.plans import MANUAL_NOTE, PHASE_ONE, load

from cockpit.cli import main
from cockpit.estate.ec2 import DuplicateName, describe_servers, instance_ids
from cockpit.runner.preflight import EstateRefused, check_before_opening

PINNED = "123456789012"  # what the shipped plans pin: the simulated estate's account
SERVERS = ["oms-app-1", "oms-app-2"]


def named_oms_app_1(sim: object) -> list[str]:
    """The ids of the live instances tagged Name=oms-app-1, as the sim itself sees them."""
    found = sim.client("ec2").describe_instances(  # type: ignore[attr-defined]
        Filters=[{"Name": "tag:Name", "Values": ["oms-app-1"]}])
    return sorted(i["InstanceId"] for r in found["Reservations"] for i in r["Instances"])


def test_the_plans_account_opens() -> None:
    plan = load(PHASE_ONE)
    assert plan.estate.account_id == PINNED
    with running_sim(plan) as (_sim, handle):
        check_before_opening(plan, handle)  # no refusal


def test_credentials_for_another_account_are_refused_naming_both() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan, faults=["wrong-account=210987654321"]) as (_sim, handle):
        with pytest.raises(EstateRefused) as refused:
            check_before_opening(plan, handle)
    said = str(refused.value)
    assert f"pins AWS account {PINNED}" in said and "for account 210987654321" in said


def test_a_name_on_two_live_instances_is_refused_naming_both_ids() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan, faults=["duplicate-name=oms-app-1"]) as (sim, handle):
        both = named_oms_app_1(sim)
        with pytest.raises(EstateRefused) as refused:
            check_before_opening(plan, handle)
        with pytest.raises(DuplicateName):
            instance_ids(handle, SERVERS)  # what registering the targets would do
        pane = describe_servers(handle, SERVERS)
    assert len(both) == 2
    for instance in both:
        assert instance in str(refused.value)
        assert pane.error is not None and instance in pane.error
    assert "oms-app-2" not in str(refused.value)


@pytest.mark.parametrize(("fault", "named"), [
    ("wrong-account", ["123456789012", "210987654321"]),
    ("duplicate-name=oms-app-1", ["Name=oms-app-1 is on 2 live instances"]),
])
def test_rehearse_refuses_to_open_and_records_nothing(tmp_path: Path, fault: str,
                                                      named: list[str]) -> None:
    session = tmp_path / "session"
    result = CliRunner().invoke(main, [
        "rehearse", str(PHASE_ONE), "--sim", "--speed", "20", "--session", str(session),
        "--manual-note", MANUAL_NOTE, "--sim-fault", fault])
    assert result.exit_code == 2, result.output
    for text in named:
        assert text in result.stderr
    assert "Traceback" not in result.output
    assert not (session / "audit.jsonl").exists()


def test_an_account_id_that_is_not_twelve_digits_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    text = PHASE_ONE.read_text().replace('account_id = "123456789012"',
                                         'account_id = "1234-5678"')
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "1234-5678" in row)
    result = CliRunner().invoke(main, ["plan", "validate", str(plan)])
    assert result.exit_code == 2
    assert f"{plan}:{line}:" in result.output + result.stderr, result.output


def test_the_instances_found_at_opening_are_pinned_and_recorded(tmp_path: Path) -> None:
    """A test instance launched later with the app server's Name is never taken for it:
    the ids found when the session opened are used from then on, and are on the record."""
    from support.audit import log_entries

    from cockpit.plan.loader import load_plan_file
    from cockpit.session.driver import open_driver_session
    from cockpit.session.estate_choice import EstateChoice
    from cockpit.session.folder import SessionFolder

    loaded = load_plan_file(PHASE_ONE)
    folder = SessionFolder(tmp_path / "session")
    with open_driver_session(loaded, folder, EstateChoice(sim=True, speed=50.0)) as session:
        sim = session.estate.sim if session.estate else None
        assert sim is not None
        before = instance_ids(session.handle, SERVERS)
        sim.client("ec2").run_instances(  # launched after the opening, same Name
            ImageId="ami-0a1b2c3d4e5f67890", MinCount=1, MaxCount=1, InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance",
                                "Tags": [{"Key": "Name", "Value": "oms-app-1"}]}])
        after = instance_ids(session.handle, SERVERS)  # no DuplicateName: pinned
        pane = describe_servers(session.handle, SERVERS)
    opened = log_entries(tmp_path / "session")[0]
    assert after == before
    assert opened.detail["instances"] == before
    assert pane.error is not None and "Name=oms-app-1 is on 2 live instances" in pane.error
