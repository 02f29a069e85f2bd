"""TDE: OMS's key is protected by a certificate in master. A backup of it restores only
where that certificate is (RESTORE Statements: Msg 33111, then 3013), and
`sql.certificates` says so before the window, naming the thumbprint."""

from __future__ import annotations

import pytest
from support.estate import running_sim
from support.plans import PHASE_TWO, load

from cockpit.estate import s3, sql
from cockpit.plan.models import CertificatesPresent
from cockpit.runner.probes import ProbeContext, judge

CHECK = CertificatesPresent.model_validate({
    "kind": "sql.certificates", "source": "oms-db-dc", "database": "oms",
    "targets": ["oms-sql-1"]})
KEY = "tde/OMS-full.bak"


def test_the_certificate_copied_to_the_target_is_found_by_thumbprint() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan) as (_sim, handle):
        verdict = judge(CHECK, ProbeContext(handle))
        thumbprints = sql.tde_thumbprints(handle, "oms-db-dc")
    assert verdict.ok, verdict.summary
    assert verdict.evidence["found"] == {"oms-sql-1": ["OMS_TDE_Cert"]}
    assert verdict.evidence["thumbprint"] == "0x" + thumbprints["oms"].hex().upper()


def test_without_the_certificate_the_check_fails_and_the_restore_is_refused() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan, speed=50.0, faults=["missing-certificate=oms-sql-1"]) \
            as (_sim, handle):
        verdict = judge(CHECK, ProbeContext(handle))
        bucket = s3.bucket_name(handle, "oms-backups")
        sql.backup_to_url(handle, "oms-db-dc", "OMS", bucket, [KEY])
        with pytest.raises(Exception, match="33111") as refused:
            sql.restore_from_url(handle, "oms-sql-1", "OMS", bucket, [KEY], recovery=True)
        left = sql.database_state(handle, "oms-sql-1", "OMS")
    assert not verdict.ok
    assert "not in master on oms-sql-1" in verdict.summary
    assert "CREATE CERTIFICATE" in verdict.summary
    assert "Cannot find server certificate with thumbprint" in str(refused.value)
    assert not left.exists  # refused before a database was created
