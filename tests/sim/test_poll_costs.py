"""What a poll costs does not grow with the estate where it need not.

The ALB targets pane names every group's targets by server from the AWS instances; polled
together, the groups must share one DescribeInstances, not ask it once each: at 600
instances forty of them outlasted the client's read timeout, and each failed poll asked
forty times again. The app servers pane's health checks load the CA bundle once, not once
per server: 50 ms of CPU and 0.9 MB kept each, 518 MB at 600 servers. And a poll keeps a
bounded number of questions in flight: 1,500 DNS questions sent at once (100x) were read
by this process seconds after their answers came, and timed out. The backup pane reads a
key's open uploads from its bucket's listing, taken beside the key's objects: not a listing
per key, and that one before the objects, which put two S3 round trips end to end.
"""

from __future__ import annotations

import ssl
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.estate import running_sim, target_states
from support.plans import PLANS

from bench.scale import PRESETS, plan_text
from cockpit.estate import dns, s3, tsql
from cockpit.plan.loader import load_plan_file, load_plan_text
from cockpit.plan.models import Plan
from cockpit.runner import calls
from cockpit.runner.panes import probe_pane
from cockpit.runner.state import derive

# Four target groups of three AWS servers each: small, but every group polled at once.
# The ALB checks its targets hourly, so the sim's checker never undoes a flip under test.
SCALE = replace(PRESETS["10x"], dc_servers=2, aws_servers=12, names=3, groups=4,
                targets_per_group=3, resolvers=2, health_interval_s=3600.0)


def four_groups(tmp_path: Path) -> Plan:
    path = tmp_path / "four-groups.toml"
    path.write_text(plan_text(SCALE))
    return load_plan_text(path.read_text(), path)


def test_every_target_group_polled_at_once_shares_one_describe_instances(
        tmp_path: Path) -> None:
    plan = four_groups(tmp_path)
    asked: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        asked[model.name] += 1

    with running_sim(plan) as (_sim, handle):
        handle.client("ec2").meta.events.register("before-call.ec2.*", count)
        first = probe_pane("targets", handle, plan, derive(plan, []))
        second = probe_pane("targets", handle, plan, derive(plan, []))

    assert first.error is None and second.error is None, (first.error, second.error)
    assert {row.cells[0] for row in first.rows} == {g.id for g in plan.estate.target_groups}
    assert asked["DescribeInstances"] == 1, asked


def test_health_checks_of_every_server_load_the_ca_bundle_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = four_groups(tmp_path)
    contexts: list[ssl.SSLContext] = []
    make = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        contexts.append(make(*args, **kwargs))
        return contexts[-1]

    with running_sim(plan) as (_sim, handle):
        monkeypatch.setattr(ssl, "create_default_context", counted)
        pane = probe_pane("apps", handle, plan, derive(plan, []))

    assert pane.error is None, pane.error
    assert len(pane.rows) == len(plan.estate.app_servers) == 14
    assert all(row.status == "ok" for row in pane.rows), [r.cells for r in pane.rows]
    # One a process at most (its kept connections and httpx's pools share it), none for
    # plain HTTP on kept connections; before, each server's pool loaded the bundle again.
    assert len(contexts) <= 1


def test_the_reaction_bench_flips_a_target_and_a_resolver_in_a_running_sim(
        tmp_path: Path) -> None:
    """`bench.reaction` changes the estate through the sim's own objects (`bench.flips`);
    when those move, the bench must not be the first to find out."""
    from bench.flips import find_flips
    from bench.scale import GROUPS, RESOLVERS, aws_ids

    plan = four_groups(tmp_path)
    server, resolver, record = aws_ids(SCALE)[0], RESOLVERS[0], plan.estate.records[0].id
    with running_sim(plan) as (sim, handle):
        flips = find_flips(sim, GROUPS[0], server, resolver)
        flips.set(broken=True)
        broken = (target_states(handle, GROUPS[0])[server],
                  dns.resolve(handle, [record], [resolver]).answers[0].error)
        flips.set(broken=False)
        mended = (target_states(handle, GROUPS[0])[server],
                  dns.resolve(handle, [record], [resolver]).answers[0].error)

    assert broken[0] == "unhealthy" and "SERVFAIL" in (broken[1] or ""), broken
    assert mended == ("healthy", None), mended


def test_a_dns_poll_keeps_no_more_questions_in_flight_than_its_gate_allows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six questions (three names, two resolvers), two at a time: each resolver takes
    0.1 s to answer, so questions sent all at once would be with the resolvers together."""
    plan = four_groups(tmp_path)
    monkeypatch.setattr(calls, "QUESTIONS_AT_ONCE", 2)
    with running_sim(plan, faults=["dns-latency=100"]) as (sim, handle):
        held = [0]
        most = [0]
        for server in sim._resolvers.values():
            reply_to = server.reply_to

            async def counted(data: bytes, _reply_to: Any = reply_to) -> bytes | None:
                held[0] += 1  # on the sim's one loop thread: no lock needed
                most[0] = max(most[0], held[0])
                try:
                    return await _reply_to(data)  # type: ignore[no-any-return]
                finally:
                    held[0] -= 1

            monkeypatch.setattr(server, "reply_to", counted)
        pane = probe_pane("dns", handle, plan, derive(plan, []))

    answers = [row for row in pane.rows if row.cells[1] != "route53"]
    assert len(answers) == 6 and all(row.status == "ok" for row in answers), \
        [row.cells for row in answers]
    assert most[0] == 2


BACKUP_KEY = "oms/OMS-phase2-full.bak"  # the phase-two plan's backup, in bucket oms-backups


def test_the_backup_pane_reads_open_uploads_once_a_bucket_and_as_a_key_listing_would(
        tmp_path: Path) -> None:
    plan = load_plan_file(PLANS / "oms-phase2-simple.toml").plan
    asked: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        asked[model.name] += 1

    with running_sim(plan) as (sim, handle):
        raw, bucket = sim.client("s3"), s3.bucket_name(handle, "oms-backups")
        first, second = tsql.stripe_keys(BACKUP_KEY, 2)
        for key, parts in ((first, 2), (second, 1), ("oms/OMS-last-week.bak", 1)):
            upload = raw.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
            for number in range(1, parts + 1):
                raw.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                Body=b"x" * 5 * 2**20)
        handle.client("s3").meta.events.register("before-call.s3.*", count)
        view = probe_pane("backup", handle, plan, derive(plan, []))
        polled = dict(asked)
        together = s3.with_uploads(s3.landed(handle, "oms-backups", BACKUP_KEY),
                                   [s3.bucket_uploads(handle, "oms-backups")])
        alone = s3.backup_objects(handle, "oms-backups", BACKUP_KEY)

    assert view.error is None, view.error
    assert polled.get("ListMultipartUploads") == 1, polled
    assert sorted(row.cells[0] for row in view.rows) == [
        f"open upload: {key}" for key in sorted([first, second, "oms/OMS-last-week.bak"])]
    # The backup's own uploads, its two stripes, are what a listing of its key finds.
    assert together.model_dump(exclude={"taken_at"}) == alone.model_dump(exclude={"taken_at"})
    assert sorted(u.key for u in together.uploads) == [first, second]
