"""Users travel with their database, logins stay with the instance: restored where its
login has another SID, a user is orphaned, and the app that logs in through it cannot open
the database. The simulated SQL Server behaves so ("Troubleshoot orphaned users"), and
`sql.logins_match` finds it before the window."""

from __future__ import annotations

from support.estate import running_sim
from support.plans import PHASE_TWO, load

from cockpit.estate import sql
from cockpit.plan.models import LoginsMatch
from cockpit.runner.probes import ProbeContext, judge

MATCH = LoginsMatch.model_validate({"kind": "sql.logins_match", "source": "oms-db-dc",
                                    "database": "oms", "targets": ["oms-sql-1"]})
# The documented detection query, run in the database (sys.server_principals is master's:
# the simulated server answers it with the instance's logins read separately).
USERS = "SELECT name, sid FROM sys.database_principals WHERE authentication_type_desc = 'INSTANCE'"


def test_logins_copied_with_their_sids_leave_no_orphan() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan) as (_sim, handle):
        verdict = judge(MATCH, ProbeContext(handle))
        users = sql.database_users(handle, "oms-db-dc", "OMS")
        logins = sql.server_logins(handle, "oms-sql-1")
    assert verdict.ok, verdict.summary
    assert {"dbo", "oms_app", "oms_reports"} <= set(users)
    assert users["oms_app"] == logins["oms_app"]
    assert verdict.evidence["orphaned"] == {"oms-sql-1": []}


def test_a_login_created_again_by_hand_orphans_its_user_and_names_the_fix() -> None:
    plan = load(PHASE_TWO)
    with running_sim(plan, faults=["orphaned-user=oms_app"]) as (_sim, handle):
        verdict = judge(MATCH, ProbeContext(handle))
        source = sql.server_logins(handle, "oms-db-dc")
        target = sql.server_logins(handle, "oms-sql-1")
        rows = sql.read_query(handle, "oms-db-dc", "OMS", USERS)
    assert not verdict.ok
    assert source["oms_app"] != target["oms_app"]  # same name, another SID
    assert source["oms_reports"] == target["oms_reports"]
    assert verdict.evidence["orphaned"] == {"oms-sql-1": ["oms_app"]}
    assert f"SID = 0x{source['oms_app'].hex()}" in verdict.summary
    assert "ALTER USER [oms_app] WITH LOGIN = [oms_app]" in verdict.summary
    assert {r["name"] for r in rows} >= {"dbo", "oms_app", "oms_reports"}
