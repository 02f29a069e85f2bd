"""Split-horizon DNS: a public and a private hosted zone share the OMS zone's name. The
switch must change the zone the plan names (private: what the plan's resolvers answer
from) and never its public twin; its undo must put back exactly the record sets it
replaced, not what the plan believes they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.estate import driver_session, running_sim
from support.plans import MANUAL_NOTE, PHASE_ONE, load

from cockpit.session.rehearsal import rehearse

ZONE = "oms.retail.example."
ORDERS = "orders.oms.retail.example."


def zones(sim: Any) -> dict[bool, str]:
    """Private? -> hosted zone id, for the two zones named like the plan's."""
    found = sim.client("route53").list_hosted_zones_by_name(DNSName=ZONE)["HostedZones"]
    named = [z for z in found if z["Name"] == ZONE]
    assert len(named) == 2, named
    return {bool(z["Config"]["PrivateZone"]): z["Id"] for z in named}


def rrsets(sim: Any, zone_id: str) -> dict[str, dict[str, Any]]:
    """The zone's CNAME record sets by name, as Route 53 returns them."""
    listed = sim.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {r["Name"]: r for r in listed["ResourceRecordSets"] if r["Type"] == "CNAME"}


def test_the_switch_changes_the_private_zone_only_and_its_undo_restores_it_exactly(
    tmp_path: Path,
) -> None:
    plan = load(PHASE_ONE)
    assert next(z for z in plan.estate.zones if z.id == "oms").private
    with running_sim(plan, speed=50.0, faults=["split-horizon=oms"]) as (sim, handle):
        ids = zones(sim)
        # Someone tuned the record since the plan was written: the undo must bring back
        # this, not the plan's value and TTL.
        sim.client("route53").change_resource_record_sets(HostedZoneId=ids[True], ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": ORDERS, "Type": "CNAME", "TTL": 45,
                "ResourceRecords": [{"Value": "oms-web-b.dc1.retail.example."}]}}]})
        private_before, public_before = rrsets(sim, ids[True]), rrsets(sim, ids[False])

        session = driver_session(PHASE_ONE, handle, tmp_path / "session", time_scale=50.0,
                                 confirm_manual=lambda _: MANUAL_NOTE)
        try:
            result = rehearse(session.runner)
            assert result.succeeded, result.render()
            switched = rrsets(sim, ids[True])
            assert rrsets(sim, ids[False]) == public_before  # the twin never changed
            assert switched[ORDERS]["ResourceRecords"] != \
                private_before[ORDERS]["ResourceRecords"]
            session.undo("switch-dns")
            undone = session.runner.step_state("switch-dns")
        finally:
            session.close()
        restored = rrsets(sim, ids[True])
        assert rrsets(sim, ids[False]) == public_before
    assert undone.status.value == "undone", undone
    assert restored[ORDERS] == private_before[ORDERS]  # value and TTL 45, as it was
    assert restored[ORDERS]["TTL"] == 45
    assert restored == private_before
