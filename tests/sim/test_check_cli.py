"""`cockpit check`: the plan's readiness checks on its (simulated) estate, read-only, as a
go/no-go table: exit 0 go, 1 no-go naming the failing check and its fix, 2 invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.plans import PHASE_ONE, PHASE_TWO, load

from cockpit.cli import main

ALWAYS = ["aws-account", "ec2-names", "dns-zones"]  # the cockpit's own, before the plan's


def check(plan: Path, *options: str) -> Result:
    result = CliRunner().invoke(main, ["check", str(plan), "--sim", "--speed", "20",
                                       *options])
    assert "Traceback" not in result.output, result.output
    return result


def verdicts(output: str) -> dict[str, str]:
    """Check id -> GO or NO-GO, from the table's verdict lines."""
    found = {}
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("GO", "NO-GO") and line.startswith("  "):
            found[words[1]] = words[0]
    return found


@pytest.mark.parametrize("plan", [PHASE_ONE, PHASE_TWO], ids=["phase-one", "phase-two"])
def test_a_ready_estate_is_go_with_every_check_and_its_evidence(plan: Path) -> None:
    result = check(plan)
    assert result.exit_code == 0, result.output
    ids = ALWAYS + [c.id for c in load(plan).readiness]
    assert verdicts(result.output) == dict.fromkeys(ids, "GO")
    assert result.output.count("evidence: {") >= len(ids) - 1  # ec2-names: ids, no dict
    assert result.output.rstrip().endswith("GO: every check holds")


@pytest.mark.parametrize(("plan", "fault", "failing", "fix"), [
    (PHASE_TWO, "app-down=oms-app-1", ["apps-healthy"], "read the app's log"),
    # a resolver that answers NXDOMAIN hands out no TTL either
    (PHASE_TWO, "dns-nxdomain=dc-dns-1", ["omsdb-still-on-dc", "resolvers-ttl-short"],
     "put it back"),
    # in another account there are none of the plan's zones, nor its ALB
    (PHASE_TWO, "wrong-account", ["aws-account", "dns-zones", "ttl-lowered", "alb-errors"],
     "profile of the plan's account"),
    (PHASE_ONE, "split-horizon=oms", ["dns-zones"], "add the other view to the plan"),
    # which instance is the app server cannot be told: the instance checks fail with it
    (PHASE_ONE, "duplicate-name=oms-app-1",
     ["ec2-names", "new-instances-running", "new-instances-spread"], "re-tag every instance"),
    (PHASE_ONE, "app-down=dc-app-2", ["dc-apps-healthy"], "fix it or postpone"),
    (PHASE_TWO, "ttl-not-lowered=omsdb", ["ttl-lowered", "resolvers-ttl-short"],
     "lower the TTL to 60 s now"),
    (PHASE_TWO, "alb-5xx=5", ["alb-errors"], "start the window from a quiet ALB"),
    (PHASE_TWO, "job-scheduled=oms_weekly_archive", ["jobs-quiet"],
     "EXEC msdb.dbo.sp_update_job @job_name = 'oms_weekly_archive', @enabled = 0"),
    (PHASE_TWO, "missing-certificate=oms-sql-1", ["tde-certificate"],
     "CREATE CERTIFICATE OMS_TDE_Cert FROM FILE"),
    (PHASE_TWO, "orphaned-user=oms_app", ["logins-match"],
     "ALTER USER [oms_app] WITH LOGIN = [oms_app]"),
    (PHASE_TWO, "seeding-denied=OMS-SQL-3", ["seeding-ready"],
     "the last seeding to OMS-SQL-3"),
    (PHASE_TWO, "path-missing=oms-sql-1", ["restore-paths"],
     "MOVE 'OMS' TO 'E:\\SQLData\\OMS.mdf', MOVE 'OMS_log' TO 'F:\\SQLLog\\OMS_log.ldf'"),
    (PHASE_TWO, "collation-differs=oms-sql-3", ["collation"],
     "oms-sql-3 is Latin1_General_CI_AS"),
    (PHASE_TWO, "linked-server-missing=oms-sql-1", ["linked-servers"],
     "EXEC master.dbo.sp_addlinkedserver @server = 'WMS'"),
    (PHASE_TWO, "credential-missing=oms-sql-1", ["s3-credential"],
     "WITH IDENTITY = 'S3 Access Key'"),
    (PHASE_TWO, "listener-offline=oms-ag", ["listener-online"],
     "10.60.1.50 OFFLINE, 10.60.2.50 OFFLINE"),
])
def test_each_fault_is_a_no_go_naming_the_check_and_its_fix(
    plan: Path, fault: str, failing: list[str], fix: str,
) -> None:
    result = check(plan, "--sim-fault", fault)
    assert result.exit_code == 1, result.output
    said = verdicts(result.output)
    assert [c for c, v in said.items() if v == "NO-GO"] == failing, said
    assert fix in result.output
    assert (f"NO-GO: {len(failing)} of {len(said)} checks failed ({', '.join(failing)})"
            in result.output)


def test_at_a_moment_only_the_checks_that_apply_then_run() -> None:
    plan = load(PHASE_ONE)
    result = check(PHASE_ONE, "--at", "T-48h")
    assert result.exit_code == 0, result.output
    expected = ALWAYS + [c.id for c in plan.readiness if "t-48h" in c.at]
    assert sorted(verdicts(result.output)) == sorted(expected)
    assert "dc-apps-healthy" not in result.output  # an hour out and at go only


def test_json_carries_every_result_with_its_evidence() -> None:
    result = check(PHASE_TWO, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["go"] is True
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["target-free"]["evidence"]["row_count"] == 0
    assert by_id["aws-account"]["evidence"]["account"] == "123456789012"


def test_an_invalid_plan_is_exit_2_before_any_estate(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(PHASE_TWO.read_text().replace('equals = "ONLINE"', 'equals = "ONLINE", '
                                                  'no_rows = true'))
    result = check(plan)
    assert result.exit_code == 2
    assert "exactly one of equals" in result.output


def test_a_readiness_gate_stops_the_window_before_the_outage(tmp_path: Path) -> None:
    """Phase Two's first step of the outage is gated on the checks a restore depends on:
    without the TDE certificate on the primary the rehearsal stops there, saying the fix,
    and nothing of the outage has been done."""
    result = CliRunner().invoke(main, [
        "rehearse", str(PHASE_TWO), "--sim", "--speed", "20", "--session",
        str(tmp_path / "session"), "--manual-note", "x", "--sim-fault",
        "missing-certificate=oms-sql-1"])
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.strip().startswith("failed")]
    assert len(failed) == 1 and "drain-apps" in failed[0], result.output
    assert "readiness(check=tde-certificate)" in failed[0]
    assert "CREATE CERTIFICATE" in result.output


def test_a_request_through_the_stores_name_says_where_it_went_and_what_answered() -> None:
    """Until the switch the name reaches the datacentre's load balancer: with neither
    datacentre server healthy behind it, the request's row is a no-go naming its 503."""
    result = check(PHASE_ONE, "--sim-fault", "app-down=dc-app-1",
                   "--sim-fault", "app-down=dc-app-2")
    assert result.exit_code == 1, result.output
    said = verdicts(result.output)
    assert [c for c, v in said.items() if v == "NO-GO"] == ["dc-apps-healthy", "orders-answers"]
    assert ("GET http://orders.oms.retail.example/health -> 127.0.3.1:80 via dc-dns-1: "
            "503 Service Temporarily Unavailable in ") in result.output
    assert "check its pool, its health monitor" in result.output
