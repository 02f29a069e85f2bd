"""The estate adapters' read functions against the sim's real servers, and the read-only
handle: one sim for the module, which no test here changes (writes are all refused)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from support.estate import answers, running_sim, target_states
from support.plans import PHASE_ONE, load

from cockpit.estate import dns, ec2, elb, http, route53
from cockpit.estate.handle import Endpoints, EstateHandle, ReadOnlyError
from cockpit.plan.models import Plan, Resolver
from cockpit.sim.appservers import APP_VERSION
from cockpit.sim.estate import SIM_CREDENTIALS, SimEstate

AWS_SERVERS = ["oms-app-1", "oms-app-2"]
ALL_SERVERS = ["dc-app-1", "dc-app-2", "oms-app-1", "oms-app-2"]


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_ONE)


@pytest.fixture(scope="module")
def sim(plan: Plan) -> Iterator[tuple[SimEstate, EstateHandle]]:
    with running_sim(plan, speed=50) as running:
        yield running


@pytest.fixture
def handle(sim: tuple[SimEstate, EstateHandle]) -> EstateHandle:
    return sim[1]


@pytest.fixture
def read_only(sim: tuple[SimEstate, EstateHandle], plan: Plan) -> Iterator[EstateHandle]:
    ro = EstateHandle(plan.estate, sim[0].endpoints(), read_only=True)
    yield ro
    ro.close()


# --- EC2 ------------------------------------------------------------------------------------


def test_describe_servers_reports_running_instances_in_their_azs(handle: EstateHandle) -> None:
    snap = ec2.describe_servers(handle, [*AWS_SERVERS, "dc-app-1"])

    assert snap.error is None
    by_server = {i.server: i for i in snap.instances}
    assert [i.server for i in snap.instances] == [*AWS_SERVERS, "dc-app-1"]
    assert by_server["oms-app-1"].state == "running"
    assert by_server["oms-app-1"].az == "ap-southeast-2a"
    assert by_server["oms-app-2"].state == "running"
    assert by_server["oms-app-2"].az == "ap-southeast-2b"
    assert by_server["oms-app-1"].instance_type == "m5.2xlarge"
    assert by_server["oms-app-1"].instance_id and by_server["oms-app-2"].instance_id
    assert by_server["oms-app-1"].instance_id != by_server["oms-app-2"].instance_id
    # A datacentre server has no EC2 instance: reported, not an error.
    assert by_server["dc-app-1"].state == "missing"
    assert by_server["dc-app-1"].instance_id is None


def test_instance_ids_names_the_server_without_an_instance(handle: EstateHandle) -> None:
    with pytest.raises(LookupError, match="dc-app-2"):
        ec2.instance_ids(handle, ["oms-app-1", "dc-app-2"])


# --- HTTP -----------------------------------------------------------------------------------


def test_check_health_reports_status_version_latency_and_database(
    handle: EstateHandle,
) -> None:
    snap = http.check_health(handle, ALL_SERVERS)

    assert [h.server for h in snap.servers] == ALL_SERVERS
    for health in snap.servers:
        assert health.status == 200, health
        assert health.error is None
        assert health.healthy
        assert health.version == APP_VERSION
        assert health.database == "ok"
        assert health.latency_ms is not None and 0 <= health.latency_ms < 5000
        assert '"database": "ok"' in (health.body or "")
    sites = {h.server: h.site for h in snap.servers}
    assert sites == {"dc-app-1": "datacentre", "dc-app-2": "datacentre",
                     "oms-app-1": "aws", "oms-app-2": "aws"}


# --- ELB, Route 53, DNS at rest -------------------------------------------------------------


def test_target_group_starts_with_no_targets(handle: EstateHandle) -> None:
    snap = elb.target_health(handle, "oms-web")
    assert snap.error is None
    assert snap.group == "oms-web"
    assert snap.targets == []


def test_load_balancer_dns_name_is_a_fully_qualified_name(handle: EstateHandle) -> None:
    name = elb.load_balancer_dns_name(handle, "oms-alb")
    assert name.startswith("oms-alb") and name.endswith(".")


def test_record_values_are_the_plans_datacentre_values(handle: EstateHandle) -> None:
    snap = route53.record_values(handle, ["orders", "fulfilment"])
    assert snap.error is None
    assert [(r.record, r.type, r.value, r.ttl) for r in snap.records] == [
        ("orders", "CNAME", "oms-web.dc1.retail.example.", 60),
        ("fulfilment", "CNAME", "oms-web.dc1.retail.example.", 60),
    ]


def test_every_resolver_answers_the_datacentre_value_with_a_ttl(handle: EstateHandle) -> None:
    seen = answers(handle, ["orders", "fulfilment"])

    assert set(seen) == {(r, rec) for r in ("dc-dns-1", "vpc-resolver")
                         for rec in ("orders", "fulfilment")}
    for (resolver, record), (value, ttl) in seen.items():
        assert value == "oms-web.dc1.retail.example.", (resolver, record)
        assert ttl is not None and 0 <= ttl <= 60, (resolver, record, ttl)


def test_a_name_no_zone_holds_is_an_nxdomain_error_value(
    sim: tuple[SimEstate, EstateHandle], plan: Plan,
) -> None:
    records = [plan.estate.records[0].model_copy(update={"name": "orders.elsewhere.example."}),
               plan.estate.records[1].model_copy(update={"name": "nosuch.oms.retail.example."})]
    elsewhere = EstateHandle(plan.estate.model_copy(update={"records": records}),
                             sim[0].endpoints(), read_only=True)
    try:
        snap = dns.resolve(elsewhere, ["orders", "fulfilment"])
    finally:
        elsewhere.close()

    assert snap.error is None
    assert len(snap.answers) == 4
    for answer in snap.answers:
        assert answer.error == "NXDOMAIN", answer
        assert answer.value is None


# --- a read-only handle ---------------------------------------------------------------------


def test_read_only_handle_refuses_every_write_function(read_only: EstateHandle) -> None:
    with pytest.raises(ReadOnlyError, match="elb.register refused"):
        elb.register(read_only, "oms-web", AWS_SERVERS)
    with pytest.raises(ReadOnlyError, match="elb.deregister refused"):
        elb.deregister(read_only, "oms-web", AWS_SERVERS)
    with pytest.raises(ReadOnlyError, match="route53.upsert refused"):
        route53.upsert(read_only, ["orders"], "alb:oms-alb")
    with pytest.raises(ReadOnlyError, match="ec2.stop refused"):
        ec2.stop_instances(read_only, ["oms-app-1"])
    with pytest.raises(ReadOnlyError, match="ec2.start refused"):
        ec2.start_instances(read_only, ["oms-app-1"])


def test_read_only_handle_refuses_raw_aws_writes_but_reads(
    read_only: EstateHandle, handle: EstateHandle,
) -> None:
    ids = ec2.instance_ids(read_only, AWS_SERVERS)  # Describe: allowed
    arn = elb.target_group_arn(read_only, "oms-web")
    zone = route53.zone_id(read_only, "oms")

    with pytest.raises(ReadOnlyError, match="StopInstances refused"):
        read_only.client("ec2").stop_instances(InstanceIds=list(ids.values()))
    # Not even expressible: the cockpit's EC2 client is made from a model cut to the
    # operations it calls (estate/service_models.py).
    assert not hasattr(read_only.client("ec2"), "terminate_instances")
    with pytest.raises(ReadOnlyError, match="RegisterTargets refused"):
        read_only.client("elbv2").register_targets(
            TargetGroupArn=arn, Targets=[{"Id": ids["oms-app-1"], "Port": 8080}])
    with pytest.raises(ReadOnlyError, match="ChangeResourceRecordSets refused"):
        read_only.client("route53").change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": "orders.oms.retail.example.", "Type": "CNAME", "TTL": 60,
                "ResourceRecords": [{"Value": "elsewhere.example."}]}}]})

    # Nothing reached the estate: seen through a read-write handle's reads.
    after = ec2.describe_servers(handle, AWS_SERVERS)
    assert {i.server: i.state for i in after.instances} == {
        "oms-app-1": "running", "oms-app-2": "running"}
    assert target_states(handle) == {}
    values = route53.record_values(handle, ["orders"])
    assert values.records[0].value == "oms-web.dc1.retail.example."


# --- failing endpoints: an error value, never an exception ----------------------------------


def _closed_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_aws_endpoint_gives_snapshots_with_errors(plan: Plan) -> None:
    port = _closed_port()
    dead = EstateHandle(plan.estate, Endpoints(
        aws_endpoint_url=f"http://127.0.0.1:{port}", aws_credentials=dict(SIM_CREDENTIALS),
        connect_timeout=0.5, read_timeout=0.5, max_attempts=1), read_only=True)
    try:
        instances = ec2.describe_servers(dead, AWS_SERVERS)
        targets = elb.target_health(dead, "oms-web")
        records = route53.record_values(dead, ["orders"])
        change = route53.change_status(dead, "/change/C0123456789ABCDEF")
    finally:
        dead.close()

    for snap in (instances, targets, records, change):
        assert snap.error is not None, snap
        assert f"127.0.0.1:{port}" in snap.error, snap.error
    assert instances.instances == [] and targets.targets == [] and records.records == []
    assert change.status is None


def test_an_unreachable_app_server_and_resolver_give_error_values(plan: Plan) -> None:
    port = _closed_port()
    udp_port = _closed_port(socket.SOCK_DGRAM)
    dead = EstateHandle(plan.estate, Endpoints(
        health_urls={"oms-app-1": f"http://127.0.0.1:{port}/health"},
        resolvers={"dc-dns-1": ("127.0.0.1", udp_port)}), read_only=True)
    try:
        health = http.check_health(dead, ["oms-app-1"])
        resolved = dns.resolve(dead, ["orders"], ["dc-dns-1"])
    finally:
        dead.close()

    [app] = health.servers
    assert app.status is None and not app.healthy
    assert app.error is not None and "ConnectError" in app.error
    [answer] = resolved.answers
    assert answer.value is None
    assert answer.error is not None and "timeout" in answer.error


def test_a_resolver_given_by_host_name_gives_an_error_value_not_an_exception(
    plan: Plan,
) -> None:
    by_name = Resolver(id="dc-dns-1", address="dns1.dc.retail.example")
    estate = plan.estate.model_copy(update={"resolvers": [by_name]})
    handle = EstateHandle(estate, Endpoints(), read_only=True)
    try:
        snap = dns.resolve(handle, ["orders"], ["dc-dns-1"])
    finally:
        handle.close()
    [answer] = snap.answers
    assert answer.value is None and answer.error


def test_a_change_id_route53_never_issued_is_an_error_not_insync(handle: EstateHandle) -> None:
    snap = route53.change_status(handle, "/change/C0000000000NOSUCH")
    assert snap.status != "INSYNC"
    assert snap.error is not None and "NoSuchChange" in snap.error
