"""The sim's faults, seen through the real adapters: a failing app server, an ALB that
cannot reach a server, a resolver that never lets go of its cache; and `parse_fault`'s
refusals. Each faulted sim is a sim of its own."""

from __future__ import annotations

import time

import pytest
from support.estate import answers, running_sim, target_states
from support.plans import PHASE_ONE, load
from support.waiting import eventually

from cockpit.estate import elb, http, route53
from cockpit.plan.models import Plan
from cockpit.sim.faults import FAULTS, Fault, FaultError, parse_fault
from cockpit.sim.route53_changes import PROPAGATION_S

AWS_SERVERS = ["oms-app-1", "oms-app-2"]
OLD = "oms-web.dc1.retail.example."


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_ONE)


# --- parse_fault ----------------------------------------------------------------------------


def test_parse_fault_reads_each_known_fault(plan: Plan) -> None:
    assert parse_fault("app-down=oms-app-2", plan.estate) == Fault("app-down", "oms-app-2")
    assert parse_fault("alb-blocked=oms-app-1", plan.estate) == Fault("alb-blocked", "oms-app-1")
    assert parse_fault("resolver-stale=dc-dns-1", plan.estate) == Fault(
        "resolver-stale", "dc-dns-1")
    assert str(parse_fault("app-down=oms-app-2", plan.estate)) == "app-down=oms-app-2"


def test_an_unknown_fault_name_is_refused_with_the_known_ones(plan: Plan) -> None:
    with pytest.raises(FaultError) as refused:
        parse_fault("disk-full=oms-app-1", plan.estate)
    message = str(refused.value)
    assert "unknown fault 'disk-full'" in message
    for name in FAULTS:
        assert name in message


@pytest.mark.parametrize(("text", "names"), [
    ("app-down=oms-app-9", ["oms-app-9", "not in the plan", "oms-app-1"]),
    ("alb-blocked=dc-dns-1", ["dc-dns-1", "not in the plan", "app server id"]),
    ("resolver-stale=oms-app-1", ["oms-app-1", "not in the plan", "resolver id", "dc-dns-1"]),
])
def test_a_fault_on_something_the_plan_lacks_is_refused(
    plan: Plan, text: str, names: list[str],
) -> None:
    with pytest.raises(FaultError) as refused:
        parse_fault(text, plan.estate)
    for name in names:
        assert name in str(refused.value)


@pytest.mark.parametrize(("text", "says"), [
    ("app-down", "write NAME=ARG"),
    ("app-down=", "write NAME=ARG"),
    ("=oms-app-1", "unknown fault ''"),
])
def test_a_fault_without_name_or_argument_is_refused(plan: Plan, text: str, says: str) -> None:
    with pytest.raises(FaultError) as refused:
        parse_fault(text, plan.estate)
    assert says in str(refused.value)


# --- the faults at work ---------------------------------------------------------------------


def test_app_down_answers_503_and_its_target_turns_unhealthy(plan: Plan) -> None:
    with running_sim(plan, speed=50, faults=["app-down=oms-app-2"]) as (_sim, handle):
        health = {h.server: h for h in http.check_health(handle, AWS_SERVERS).servers}
        assert health["oms-app-2"].status == 503
        assert health["oms-app-2"].error == "HTTP 503"
        assert health["oms-app-2"].database == "unreachable"
        assert not health["oms-app-2"].healthy
        assert health["oms-app-1"].status == 200 and health["oms-app-1"].healthy

        elb.register(handle, "oms-web", AWS_SERVERS)
        eventually(lambda: target_states(handle),
                   lambda s: s == {"oms-app-1": "healthy", "oms-app-2": "unhealthy"},
                   what="oms-app-1 healthy and oms-app-2 unhealthy")
        failed = {t.server: t for t in elb.target_health(handle, "oms-web").targets}
        assert failed["oms-app-2"].reason == "Target.FailedHealthChecks"


def test_alb_blocked_keeps_the_target_from_healthy_while_http_says_200(plan: Plan) -> None:
    with running_sim(plan, speed=50, faults=["alb-blocked=oms-app-1"]) as (_sim, handle):
        health = {h.server: h for h in http.check_health(handle, AWS_SERVERS).servers}
        assert health["oms-app-1"].status == 200 and health["oms-app-1"].healthy

        elb.register(handle, "oms-web", AWS_SERVERS)
        blocked_seen: list[str | None] = []

        def states() -> dict[str, str]:
            seen = target_states(handle)
            blocked_seen.append(seen.get("oms-app-1"))
            return seen

        # oms-app-2 is checked in the same rounds: once it is healthy, oms-app-1 has had as
        # many checks as a healthy target needs, and must not be healthy.
        eventually(states, lambda s: s.get("oms-app-2") == "healthy",
                   what="the unblocked oms-app-2 healthy")
        eventually(states, lambda s: s.get("oms-app-1") == "unhealthy",
                   what="the blocked oms-app-1 unhealthy")
        assert "healthy" not in blocked_seen, blocked_seen
        # ... while the cockpit itself still reaches it.
        assert http.check_health(handle, ["oms-app-1"]).servers[0].status == 200


def test_resolver_stale_keeps_one_resolver_on_the_old_answer(plan: Plan) -> None:
    with running_sim(plan, speed=50, faults=["resolver-stale=dc-dns-1"]) as (_sim, handle):
        new = elb.load_balancer_dns_name(handle, "oms-alb")
        [change_id] = route53.upsert(handle, ["orders"], "alb:oms-alb")["change_ids"]

        # The other resolver moves on once the change is INSYNC and its cache expires;
        # both caches were filled together when the sim started, so by then the stale
        # resolver's cache has expired too.
        eventually(lambda: answers(handle, ["orders"], ["vpc-resolver"]),
                   lambda a: a[("vpc-resolver", "orders")][0] == new,
                   within=10, what="vpc-resolver answering the ALB")
        assert route53.change_status(handle, change_id).status == "INSYNC"

        stale = answers(handle, ["orders"])
        assert stale[("dc-dns-1", "orders")][0] == OLD
        assert stale[("vpc-resolver", "orders")][0] == new
        assert route53.record_values(handle, ["orders"]).records[0].value == new


def test_route53_slow_keeps_a_change_pending_that_long(plan: Plan) -> None:
    speed, slow_s = 50, 150  # 3 s here, where a change is normally INSYNC in 0.9
    with running_sim(plan, speed=speed, faults=[f"route53-slow={slow_s}"]) as (_sim, handle):
        submitted = time.monotonic()
        [change_id] = route53.upsert(handle, ["orders"], "alb:oms-alb")["change_ids"]
        seen: list[tuple[float, str | None]] = []

        def status() -> str | None:
            asked = time.monotonic()
            seen.append((asked, route53.change_status(handle, change_id).status))
            return seen[-1][1]

        eventually(status, lambda s: s == "INSYNC", within=slow_s / speed + 5,
                   what="the change INSYNC")
        pending = [asked - submitted for asked, s in seen if s == "PENDING"]
        assert pending and max(pending) > PROPAGATION_S / speed  # pending past the usual
        first_insync = min(asked for asked, s in seen if s == "INSYNC")
        assert first_insync - submitted >= slow_s / speed
