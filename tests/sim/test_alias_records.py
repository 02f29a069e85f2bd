"""An A record switched to `alb:<id>` is written as an alias of the ALB (its canonical
hosted zone and DNS name), which the resolvers answer as Route 53 does: the ALB's address
under the record's own name. `dns.resolves_to` judges it by that address, `route53.ttl_at_most`
says it has no TTL of its own, and the step's undo puts back exactly the record set the
switch replaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
from support.estate import driver_session, running_sim
from support.plans import MANUAL_NOTE, estate_toml, write_plan

from cockpit.plan.models import HttpGet, ResolvesTo, Route53TtlAtMost
from cockpit.runner.probes import ProbeContext, judge
from cockpit.session.rehearsal import rehearse

APEX = "oms.retail.example."
# The zone's apex: no CNAME can stand there, an alias can.
APEX_RECORD = """
[[estate.records]]
id = "apex"
zone = "oms"
name = "oms.retail.example."
type = "A"
ttl = 60
value = "10.20.1.10"
"""
SWITCH_APEX = """
[[phases]]
id = "p"
title = "Switch the apex"

[[phases.steps]]
id = "switch-apex"
title = "Switch the zone's apex to the ALB"
do = { kind = "route53.upsert", records = ["apex"], value = "alb:oms-alb" }
until = [
  { kind = "route53.insync" },
  { kind = "dns.resolves_to", records = ["apex"], value = "alb:oms-alb" },
]
undo = { kind = "route53.upsert", records = ["apex"], value = "original" }
timeout = "5m"
"""


def apex_rrset(sim: Any) -> dict[str, Any]:
    """The apex's A record set, as Route 53 returns it."""
    route53 = sim.client("route53")
    [zone] = [z["Id"] for z in route53.list_hosted_zones_by_name(DNSName=APEX)["HostedZones"]
              if z["Name"] == APEX]
    listed = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    [rrset] = [r for r in listed if r["Name"] == APEX and r["Type"] == "A"]
    return dict(rrset)


def tune_apex(sim: Any) -> None:
    """Someone moved the apex since the plan was written: the undo must bring back this."""
    route53 = sim.client("route53")
    [zone] = [z["Id"] for z in route53.list_hosted_zones_by_name(DNSName=APEX)["HostedZones"]
              if z["Name"] == APEX]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": APEX, "Type": "A", "TTL": 45,
            "ResourceRecords": [{"Value": "10.20.1.10"}, {"Value": "10.20.1.20"}]}}]})


def ask(address: tuple[str, int]) -> list[tuple[str, str, str]]:
    """(owner, type, value) of each record a client's A query for the apex gets."""
    reply = dns.query.udp(dns.message.make_query(APEX, "A"), address[0], port=address[1],
                          timeout=2)
    return [(str(rrset.name).lower(), dns.rdatatype.to_text(rrset.rdtype), str(rdata))
            for rrset in reply.answer for rdata in rrset]


def test_an_a_record_switched_to_the_alb_is_an_alias_and_its_undo_restores_it_exactly(
    tmp_path: Path,
) -> None:
    path, plan = write_plan(tmp_path, SWITCH_APEX, estate=estate_toml() + APEX_RECORD)
    ttl_check = Route53TtlAtMost(kind="route53.ttl_at_most", records=["apex"], seconds=60)
    through_apex = HttpGet(kind="http.get", url="http://oms.retail.example/health")
    on_the_alb = ResolvesTo(kind="dns.resolves_to", records=["apex"], value="alb:oms-alb",
                            resolvers=["dc-dns-1"])
    with running_sim(plan, speed=50.0) as (sim, handle):
        tune_apex(sim)
        before = apex_rrset(sim)
        not_yet = judge(on_the_alb, ProbeContext(handle))
        balancer = sim.client("elbv2").describe_load_balancers()["LoadBalancers"][0]
        session = driver_session(path, handle, tmp_path / "session", time_scale=50.0,
                                 confirm_manual=lambda _: MANUAL_NOTE)
        try:
            result = rehearse(session.runner)
            assert result.succeeded, result.render()
            alias = apex_rrset(sim)
            answered = ask(sim.endpoints().resolvers["dc-dns-1"])
            ttl = judge(ttl_check, ProbeContext(handle))
            request = judge(through_apex, ProbeContext(handle))
            session.undo("switch-apex")
            undone = session.runner.step_state("switch-apex")
        finally:
            session.close()
        after = apex_rrset(sim)
    assert not not_yet.ok
    assert "dc-dns-1 says 10.20.1.10" in not_yet.summary
    assert "for apex, not an address it gives for oms-alb-1." in not_yet.summary
    assert not_yet.evidence["alias_addresses"] == {"dc-dns-1": ["127.0.1.1"]}
    assert alias == {"Name": APEX, "Type": "A", "AliasTarget": {
        "HostedZoneId": balancer["CanonicalHostedZoneId"], "DNSName": balancer["DNSName"],
        "EvaluateTargetHealth": True}}
    assert answered == [(APEX, "A", "127.0.1.1")]  # the ALB's address, no CNAME between
    assert ttl.ok, ttl.summary
    assert "apex is an alias of" in ttl.summary and "no TTL of its own" in ttl.summary
    assert request.evidence["dc-dns-1"]["address"] == "127.0.1.1"  # the ALB's listener
    assert "503 Service Temporarily Unavailable" in request.summary  # no target registered
    assert undone.status.value == "undone", undone
    assert after == before  # the two addresses and TTL 45, not the plan's single value
