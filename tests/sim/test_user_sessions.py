"""`sql.no_user_sessions` as a DBA reads it: who is still connected to the database, by
host, program, login and client address, so the engineer knows whom to chase; the
cockpit's own session is never counted (`@@SPID`), and the app servers' pools go when the
app servers stop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.estate import running_sim
from support.plans import PHASE_TWO, load
from support.waiting import eventually

from cockpit.estate import ec2, sql
from cockpit.plan.models import NoUserSessions, Plan
from cockpit.runner.probes import ProbeContext, judge
from cockpit.sim.faults import FaultSet
from cockpit.sim.sessions import COCKPIT, with_spid
from cockpit.sim.sql_estate import AppView, SimSqlEstate

SQLCLIENT = ".Net SqlClient Data Provider"


def no_sessions(endpoint: str) -> NoUserSessions:
    return NoUserSessions.model_validate(
        {"kind": "sql.no_user_sessions", "endpoint": endpoint, "database": "oms"})


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


def test_the_app_servers_sessions_are_named_until_the_app_servers_stop(plan: Plan) -> None:
    with running_sim(plan) as (_sim, handle):
        held = judge(no_sessions("oms-db-dc"), ProbeContext(handle))
        assert not held.ok
        assert held.evidence["sessions"] == [
            {"host_name": "oms-app-1", "program_name": SQLCLIENT, "login_name": "oms_app",
             "client_net_address": "10.60.1.11", "sessions": 2},
            {"host_name": "oms-app-2", "program_name": SQLCLIENT, "login_name": "oms_app",
             "client_net_address": "10.60.2.11", "sessions": 2}]
        assert f"oms-app-1 (10.60.1.11) {SQLCLIENT} as oms_app x2" in held.summary

        ec2.stop_instances(handle, ["oms-app-1", "oms-app-2"])
        gone = eventually(lambda: judge(no_sessions("oms-db-dc"), ProbeContext(handle)),
                          lambda verdict: verdict.ok, what="the pools gone")
        assert gone.evidence == {"sessions": [], "total": 0}
        # nobody on the new primary either: the apps never reached it
        assert judge(no_sessions("oms-sql-1"), ProbeContext(handle)).ok


@pytest.fixture(scope="module")
def sql_only(plan: Plan) -> Iterator[SimSqlEstate]:
    estate = SimSqlEstate(plan.estate, speed=1.0, faults=FaultSet(), s3=None, s3_host="-",
                          apps=AppView(running_apps=list, resolve=lambda name: None))
    estate.start()
    yield estate
    estate.stop()


def test_the_cockpit_s_own_session_is_left_out_by_its_session_id(sql_only: SimSqlEstate) -> None:
    """Two cockpit sessions in master (where a probe's connection opens): the one asking
    counts the other, never itself."""
    source = sql_only.servers["oms-db-dc"]
    probe, other = source.connect(), source.connect()
    assert probe.execute("SELECT @@SPID").fetchone() == (probe.session_id,)
    rows = sql.fetch(probe, sql.query_text("user_sessions"), ["master"])
    assert rows == [{"host_name": COCKPIT.host, "program_name": COCKPIT.program,
                     "login_name": COCKPIT.login, "client_net_address": COCKPIT.address,
                     "sessions": 1}]  # the other one only
    other.execute("USE [OMS]")
    assert sql.fetch(probe, sql.query_text("user_sessions"), ["master"]) == []
    assert sql.fetch(probe, sql.query_text("user_sessions"), ["OMS"])[0]["sessions"] == 1
    other.close()
    assert sql.fetch(probe, sql.query_text("user_sessions"), ["OMS"]) == []
    probe.close()


def test_spid_is_replaced_outside_string_literals_only() -> None:
    assert with_spid("SELECT 1 WHERE s.session_id <> @@spid AND x = '@@SPID'", 57) == \
        "SELECT 1 WHERE s.session_id <> 57 AND x = '@@SPID'"
