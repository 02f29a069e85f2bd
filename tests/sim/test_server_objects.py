"""What a DBA prepares on each instance, and what SQL Server does without it: a restore to a
folder that does not exist (Msg 5133, 3156), a backup with no credential for its URL (Msg
3201), seeding to a secondary the AG may not create databases on, a login without the
permissions the window needs. The readiness kinds see each before the window."""

from __future__ import annotations

import pytest
from support.estate import running_sim
from support.plans import PHASE_TWO, load

from cockpit.estate import s3, sql
from cockpit.plan.models import Condition, PermissionsHeld, SeedingReady
from cockpit.runner.probes import ProbeContext, judge

KEY = "objects/OMS-full.bak"
SEEDING = SeedingReady.model_validate({"kind": "sql.seeding_ready", "ag": "oms-ag"})


def _check(text: dict[str, object]) -> Condition:
    from pydantic import TypeAdapter

    return TypeAdapter(Condition).validate_python(text)  # type: ignore[no-any-return]


def test_a_restore_into_a_missing_folder_is_refused_naming_each_file() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan, faults=["path-missing=oms-sql-1"]) as (_sim, handle):
        bucket = s3.bucket_name(handle, "oms-backups")
        sql.backup_to_url(handle, "oms-db-dc", "OMS", bucket, [KEY])
        with pytest.raises(Exception, match="5133") as refused:
            sql.restore_from_url(handle, "oms-sql-1", "OMS", bucket, [KEY], recovery=True)
        left = sql.database_state(handle, "oms-sql-1", "OMS")
    said = " ".join(map(str, refused.value.args))
    assert 'Directory lookup for the file "D:\\Data\\OMS.mdf" failed' in said
    assert "File 'OMS_log' cannot be restored to 'L:\\Log\\OMS_log.ldf'. Use WITH MOVE" in said
    assert said.index("3156") < said.index("3013")  # the cause first, then the end
    assert not left.exists


def test_without_a_credential_for_its_url_the_backup_is_refused() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan, faults=["credential-missing=oms-db-dc"]) as (_sim, handle):
        bucket = s3.bucket_name(handle, "oms-backups")
        with pytest.raises(Exception, match="3201") as refused:
            sql.backup_to_url(handle, "oms-db-dc", "OMS", bucket, [KEY])
        landed = s3.landed_objects(handle, bucket, KEY)
    assert "Operating system error 50(The request is not supported.)" in str(refused.value)
    assert landed == []


def test_seeding_denied_leaves_the_secondary_without_a_copy_and_says_why() -> None:
    """Added to the AG, OMS never reaches the secondary that refused it; the seeding check
    (a gate or an `until` of the join) names the failure at once, not after a timeout."""
    plan = load(PHASE_TWO)
    with running_sim(plan, faults=["seeding-denied=OMS-SQL-2"]) as (sim, handle):
        assert sim.sql is not None
        primary = sim.sql.servers["oms-sql-1"]
        db = primary.add_database("OMS", sim.sql.servers["oms-db-dc"].require("OMS")
                                  .data_file.read_bytes())
        sim.sql.ags["oms-ag"].add_database(primary, db)
        sim.sql.tick()
        verdict = judge(SEEDING, ProbeContext(handle))
        copies = {r: sql.database_state(handle, r, "OMS").exists
                  for r in ("oms-sql-2", "oms-sql-3")}
    assert not verdict.ok
    assert "the last seeding to OMS-SQL-2" in verdict.summary
    assert "FAILED: Seeding Check Message Timeout" in verdict.summary
    assert "GRANT CREATE ANY DATABASE" in verdict.summary
    assert "OMS-SQL-3" not in verdict.summary
    assert copies["oms-sql-2"] is False


def test_the_cockpits_login_without_a_permission_is_named() -> None:
    plan = load(PHASE_TWO)
    check = PermissionsHeld.model_validate({
        "kind": "sql.permissions", "endpoint": "oms-db-dc",
        "permissions": ["VIEW SERVER STATE", "ALTER ANY DATABASE"]})
    with running_sim(plan) as (sim, handle):
        assert sim.sql is not None
        before = judge(check, ProbeContext(handle))
        sim.sql.servers["oms-db-dc"].granted.discard("VIEW SERVER STATE")
        after = judge(check, ProbeContext(handle))
    assert before.ok, before.summary
    assert not after.ok
    assert after.evidence["held"] == {"VIEW SERVER STATE": False, "ALTER ANY DATABASE": True}
    assert "GRANT VIEW SERVER STATE TO" in after.summary


def test_a_database_in_simple_recovery_is_a_no_go_with_the_statement() -> None:
    plan = load(PHASE_TWO)
    check = _check({"kind": "sql.recovery_model", "endpoint": "oms-db-dc", "database": "oms"})
    with running_sim(plan) as (sim, handle):
        assert sim.sql is not None
        source = sim.sql.servers["oms-db-dc"]
        source.require("OMS").recovery_model = "SIMPLE"
        source.publish_databases()
        verdict = judge(check, ProbeContext(handle))
    assert not verdict.ok
    assert "SIMPLE recovery model, not FULL" in verdict.summary
    assert "ALTER DATABASE [OMS] SET RECOVERY FULL" in verdict.summary


def test_a_bucket_in_another_region_is_named() -> None:
    """The statements sign for the plan's region: a bucket elsewhere is a no-go."""
    plan = load(PHASE_TWO)
    moved = plan.model_copy(update={"estate": plan.estate.model_copy(update={
        "region": "us-west-2"})})
    check = _check({"kind": "sql.credential_for_url", "endpoints": ["oms-db-dc"],
                    "bucket": "oms-backups"})
    with running_sim(plan) as (_sim, handle):
        at_home = judge(check, ProbeContext(handle))
        handle.estate = moved.estate  # the same bucket, judged by a plan of another region
        elsewhere = judge(check, ProbeContext(handle))
    assert at_home.ok, at_home.summary
    assert not elsewhere.ok
    assert "is in ap-southeast-2, not the plan's region us-west-2" in elsewhere.summary
