"""`http.get` through the simulated ALB: the ALB's DNS name resolved by the plan's resolver,
the request sent to the listener on the ALB's loopback address, forwarded round-robin to a
healthy target; the ALB's own 503 with none, its 5xx share under `alb-5xx`; the datacentre's
load balancer behind the names until they are switched."""

from __future__ import annotations

import json
from typing import Any

from support.estate import running_sim, target_states
from support.plans import PHASE_ONE, load
from support.waiting import eventually

from cockpit.estate import ec2, elb, http
from cockpit.estate.handle import EstateHandle
from cockpit.plan.models import HttpGet
from cockpit.runner.probes import ProbeContext, Verdict, describe, judge

AWS_SERVERS = ["oms-app-1", "oms-app-2"]
DATABASE_OK = '"database": "ok"'
# Before any name is switched: the stores' name, asked of the ALB.
SMOKE_TEST = HttpGet.model_validate({
    "kind": "http.get", "url": "http://orders.oms.retail.example/health",
    "load_balancer": "oms-alb", "contains": '"server": "oms-app-'})


def through_the_alb(handle: EstateHandle, **fields: Any) -> HttpGet:
    name = elb.load_balancer_dns_name(handle, "oms-alb").rstrip(".")
    return HttpGet.model_validate({"kind": "http.get", "url": f"http://{name}/health",
                                   **fields})


def get(handle: EstateHandle, **fields: Any) -> Verdict:
    return judge(through_the_alb(handle, **fields), ProbeContext(handle))


def healthy_behind_the_alb(handle: EstateHandle) -> None:
    elb.register(handle, "oms-web", AWS_SERVERS)
    eventually(lambda: target_states(handle), lambda seen: seen == dict.fromkeys(
        AWS_SERVERS, "healthy"), what="both targets healthy", within=30)


def served_by(handle: EstateHandle, url: str) -> str:
    answer = http.request(handle, url, resolver="dc-dns-1")
    assert answer.status == 200, answer
    return str(json.loads(answer.body or "{}")["server"])


def test_through_the_albs_name_it_is_go_only_with_healthy_targets_and_round_robins() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan) as (_sim, handle):
        before = get(handle)
        healthy_behind_the_alb(handle)
        after = get(handle, contains=DATABASE_OK, resolvers=["dc-dns-1", "vpc-resolver"])
        url = through_the_alb(handle).url
        servers = [served_by(handle, url) for _ in range(4)]
        wrong_body = get(handle, contains='"version": "9.9.9"')
        smoke = judge(SMOKE_TEST, ProbeContext(handle))
        too_slow = get(handle, max_latency_ms=0.001)
    assert not before.ok
    assert "-> 127.0.1.1:80 via dc-dns-1: 503 Service Temporarily Unavailable in " \
        in before.summary
    assert before.summary.endswith(" ms, expected 200")
    assert before.evidence["dc-dns-1"]["body"].startswith("<html>")
    assert after.ok, after.summary
    assert after.summary.count("-> 127.0.1.1:80") == 2 and "200 OK in" in after.summary
    assert set(after.evidence) == {"dc-dns-1", "vpc-resolver"}
    assert after.evidence["vpc-resolver"]["status"] == 200
    assert sorted(servers) == ["oms-app-1", "oms-app-1", "oms-app-2", "oms-app-2"]
    assert servers[0] != servers[1]  # one after the other, not one then the same again
    assert not wrong_body.ok and "the body lacks '\"version\": \"9.9.9\"'" in wrong_body.summary
    assert not too_slow.ok and "slower than 0.001 ms" in too_slow.summary
    assert smoke.ok, smoke.summary
    assert ("GET http://orders.oms.retail.example/health through "
            "oms-alb-1.ap-southeast-2.elb.amazonaws.com -> 127.0.1.1:80 via dc-dns-1: 200 OK"
            in smoke.summary)
    assert smoke.evidence["dc-dns-1"]["host"] == "orders.oms.retail.example"


def test_with_no_target_left_the_alb_answers_503_itself() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan) as (_sim, handle):
        healthy_behind_the_alb(handle)
        ec2.stop_instances(handle, AWS_SERVERS)
        eventually(lambda: target_states(handle), lambda seen: set(seen.values()) == {"unused"},
                   what="both targets unused once stopped", within=30)
        stopped = get(handle)
    assert not stopped.ok
    assert "503 Service Temporarily Unavailable in " in stopped.summary
    assert stopped.summary.endswith(", expected 200")


def test_with_every_target_unhealthy_the_alb_fails_open_to_them() -> None:
    """An ALB whose targets are all unhealthy still sends them requests: the answer is the
    app's own 503 (its database unreachable), not the ALB's page."""
    plan = load(PHASE_ONE)
    faults = [f"app-down={server}" for server in AWS_SERVERS]
    with running_sim(plan, faults=faults) as (_sim, handle):
        elb.register(handle, "oms-web", AWS_SERVERS)
        eventually(lambda: target_states(handle), lambda seen: seen == dict.fromkeys(
            AWS_SERVERS, "unhealthy"), what="both targets unhealthy", within=30)
        verdict = get(handle)
    assert not verdict.ok
    assert ": 503 Service Unavailable in " in verdict.summary
    assert '"database": "unreachable"' in verdict.evidence["dc-dns-1"]["body"]


def test_alb_5xx_fails_that_share_of_the_requests_at_the_alb() -> None:
    plan = load(PHASE_ONE)
    with running_sim(plan, faults=["alb-5xx=10"]) as (_sim, handle):
        url = through_the_alb(handle).url
        answers = [http.request(handle, url, resolver="dc-dns-1") for _ in range(30)]
    failed_at_the_alb = [n for n, a in enumerate(answers, start=1) if a.status == 502]
    assert failed_at_the_alb == [10, 20, 30]
    assert {a.status for a in answers} == {502, 503}  # no target: the rest are its 503
    assert answers[9].reason == "Bad Gateway"


def test_until_the_switch_the_names_reach_the_datacentres_load_balancer() -> None:
    plan = load(PHASE_ONE)
    check = HttpGet.model_validate({"kind": "http.get", "contains": DATABASE_OK,
                                    "url": "http://orders.oms.retail.example/health"})
    with running_sim(plan, faults=["app-down=dc-app-2"]) as (sim, handle):
        verdict = judge(check, ProbeContext(handle))
        answers = [http.request(handle, check.url, resolver="vpc-resolver") for _ in range(3)]
        served = {json.loads(a.body or "{}")["server"] for a in answers}
        listeners = sim.endpoints().http_listeners
    assert verdict.ok, verdict.summary
    assert "-> 127.0.3.1:80 via dc-dns-1: 200 OK" in verdict.summary
    assert served == {"dc-app-1"}  # its monitor keeps the failing server out
    assert set(listeners) == {"127.0.1.1:80", "127.0.3.1:80"}
    assert describe(check) == ('http.get(url=http://orders.oms.retail.example/health, '
                               'contains="database": "ok")')
