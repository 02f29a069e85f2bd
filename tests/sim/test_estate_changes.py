"""The estate adapters' writes against the sim, and how the sim answers them as in life:
targets go initial -> healthy and drain when removed; a Route 53 change is PENDING, then
INSYNC, and resolvers keep the old answer until their cache of it expires.

Each test changes the estate, so each gets a sim of its own."""

from __future__ import annotations

import time
from pathlib import Path

from support.estate import answers, running_sim, target_states
from support.plans import PHASE_ONE, load, write_plan
from support.waiting import eventually

from cockpit.estate import elb, route53
from cockpit.sim.route53_changes import PROPAGATION_S

AWS_SERVERS = ["oms-app-1", "oms-app-2"]
OLD = "oms-web.dc1.retail.example."


def test_registered_targets_go_initial_then_healthy_and_drain_when_removed() -> None:
    with running_sim(load(PHASE_ONE), speed=50) as (_sim, handle):
        outputs = elb.register(handle, "oms-web", AWS_SERVERS)
        assert outputs["target_group"] == "oms-web" and len(outputs["targets"]) == 2

        first = elb.target_health(handle, "oms-web")
        assert first.error is None
        assert {t.server: t.state for t in first.targets} == {
            "oms-app-1": "initial", "oms-app-2": "initial"}
        assert {t.reason for t in first.targets} == {"Elb.RegistrationInProgress"}
        assert {t.server: t.az for t in first.targets} == {
            "oms-app-1": "ap-southeast-2a", "oms-app-2": "ap-southeast-2b"}
        assert {t.port for t in first.targets} == {8080}

        eventually(lambda: target_states(handle),
                   lambda s: s == {"oms-app-1": "healthy", "oms-app-2": "healthy"},
                   what="both targets healthy")

        elb.deregister(handle, "oms-web", ["oms-app-1"])
        draining = elb.target_health(handle, "oms-web")
        by_server = {t.server: t for t in draining.targets}
        assert by_server["oms-app-1"].state == "draining"
        assert by_server["oms-app-1"].reason == "Target.DeregistrationInProgress"
        assert by_server["oms-app-2"].state == "healthy"

        # The deregistration delay is 60 s, 1.2 s at speed 50: then the target is gone.
        eventually(lambda: target_states(handle), lambda s: s == {"oms-app-2": "healthy"},
                   what="oms-app-1 drained and gone")


# A record TTL (120 s) longer than the propagation time (45 s), so the resolvers' cache of
# the old answer outlives the change becoming INSYNC and the cache's part can be seen.
LONG_TTL_PLAN = """
[[phases]]
id = "p"
title = "switch"

[[phases.steps]]
id = "switch"
title = "switch the names"
do = { kind = "route53.upsert", records = ["orders", "fulfilment"], value = "alb:oms-alb" }
"""


def test_upsert_is_pending_then_insync_and_resolvers_follow_when_their_cache_expires(
    tmp_path: Path,
) -> None:
    estate = PHASE_ONE.read_text(encoding="utf-8").partition("\n[[phases]]")[0]
    estate = estate.replace("ttl = 60", "ttl = 120") + "\n"
    assert estate.count("ttl = 120") == 2
    speed = 50.0
    _, plan = write_plan(tmp_path, LONG_TTL_PLAN, estate=estate)
    records = ["orders", "fulfilment"]

    with running_sim(plan, speed=speed) as (_sim, handle):
        new = elb.load_balancer_dns_name(handle, "oms-alb")

        def cache_expiry() -> float:
            """When the earliest of the resolvers' cached answers expires (monotonic)."""
            asked = time.monotonic()
            seen = answers(handle, records)
            assert {value for value, _ in seen.values()} == {OLD}
            return asked + min(ttl or 0 for _, ttl in seen.values()) / speed

        # The caches must outlive the propagation time by a clear margin; a cache about to
        # expire is refetched (still the old value) with the full TTL on the next question.
        margin = PROPAGATION_S / speed + 0.8
        expires = eventually(cache_expiry, lambda at: at - time.monotonic() > margin,
                             within=120 / speed + 5, what="fresh resolver caches")

        # A short TTL on the new records, for the switch back below.
        out = route53.upsert(handle, records, "alb:oms-alb", ttl=2)
        assert out["values"] == {"orders": new, "fulfilment": new}
        [change_id] = out["change_ids"]  # one batch: both records are in one zone

        # At once: Route 53 holds the new value, the change is PENDING, resolvers say old.
        assert route53.change_status(handle, change_id).status == "PENDING"
        held = route53.record_values(handle, records)
        assert [(r.record, r.value, r.ttl) for r in held.records] == [
            ("orders", new, 2), ("fulfilment", new, 2)]
        assert {value for value, _ in answers(handle, records).values()} == {OLD}

        watched = [change_id]

        Observed = tuple[set[str | None], str | None, float]

        def observe() -> Observed:
            asked = time.monotonic()
            seen = {value for value, _ in answers(handle, records).values()}
            # DNS read first: what it saw was there while the change had that status
            return seen, route53.change_status(handle, watched[0]).status, asked

        status_seen: list[Observed] = []

        def insync(observed: Observed) -> bool:
            status_seen.append(observed)
            return observed[1] == "INSYNC"

        eventually(observe, insync, within=PROPAGATION_S / speed + 5,
                   what="the change INSYNC")
        # No resolver had the new value before the change was INSYNC.
        assert all(seen == {OLD} for seen, status, _ in status_seen if status == "PENDING")
        assert time.monotonic() < expires, "the machine was too slow to see the cache at work"

        # INSYNC, yet every resolver still serves its cached old answer, with a live TTL.
        cached = answers(handle, records)
        assert {value for value, _ in cached.values()} == {OLD}
        assert all(ttl is not None and 0 < ttl <= 120 for _, ttl in cached.values()), cached

        moved = eventually(lambda: answers(handle, records),
                           lambda a: {value for value, _ in a.values()} == {new},
                           within=120 / speed + 5, what="every resolver answering the ALB")
        assert time.monotonic() >= expires - 0.1  # only once the old answer's cache expired
        assert all(ttl is not None and 0 <= ttl <= 2 for _, ttl in moved.values()), moved
        assert route53.change_status(handle, change_id).status == "INSYNC"

        # Switching back: the resolvers' caches (2 s, 40 ms here) expire many times while
        # the change is PENDING, and each refetch still finds the ALB: Route 53 publishes a
        # change only once it is INSYNC.
        switched = time.monotonic()
        [back] = route53.upsert(handle, records, "original")["change_ids"]
        assert back != change_id
        watched[0] = back
        status_seen.clear()
        eventually(observe, insync, within=PROPAGATION_S / speed + 5,
                   what="the switch back INSYNC")
        pending = [(seen, asked) for seen, status, asked in status_seen if status == "PENDING"]
        assert all(seen == {new} for seen, _ in pending), status_seen
        # At least one of them asked after three of the caches' lifetimes had passed: the
        # resolvers had refetched by then (how many questions fit in the 0.9 s of PENDING
        # depends on the machine's load; that one did is what shows the rule).
        lifetime = 2 / speed
        assert any(asked - switched >= 3 * lifetime for _, asked in pending), status_seen
        eventually(lambda: answers(handle, records),
                   lambda a: {value for value, _ in a.values()} == {OLD},
                   within=5, what="every resolver answering the datacentre again")
