"""ELBv2: the ALB, its target groups, and the health of their targets."""

from __future__ import annotations

from typing import Any

from cockpit.estate import ec2
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import InstanceState, TargetGroupSnapshot, TargetState


def target_group_arn(handle: EstateHandle, group: str) -> str:
    def fetch() -> str:
        found = handle.client("elbv2").describe_target_groups(Names=[group])
        return str(found["TargetGroups"][0]["TargetGroupArn"])

    return handle.remembered(f"tg:{group}", fetch)


def load_balancer_dns_name(handle: EstateHandle, load_balancer: str) -> str:
    def fetch() -> str:
        found = handle.client("elbv2").describe_load_balancers(Names=[load_balancer])
        return str(found["LoadBalancers"][0]["DNSName"]).rstrip(".").lower() + "."

    return handle.remembered(f"lb-dns:{load_balancer}", fetch)


def load_balancer_alias(handle: EstateHandle, load_balancer: str) -> dict[str, str]:
    """What a Route 53 alias to the ALB names: its canonical hosted zone and DNS name."""
    def fetch() -> dict[str, str]:
        found = handle.client("elbv2").describe_load_balancers(Names=[load_balancer])
        lb = found["LoadBalancers"][0]
        return {"HostedZoneId": str(lb["CanonicalHostedZoneId"]),
                "DNSName": str(lb["DNSName"])}

    return handle.remembered(f"lb-alias:{load_balancer}", fetch)


def target_group_settings(handle: EstateHandle, group: str) -> dict[str, Any]:
    """What the ALB does with the group: port, health check and deregistration delay."""
    elbv2 = handle.client("elbv2")
    found = elbv2.describe_target_groups(Names=[group])["TargetGroups"][0]
    attributes = {a["Key"]: a["Value"] for a in elbv2.describe_target_group_attributes(
        TargetGroupArn=found["TargetGroupArn"])["Attributes"]}
    return {
        "port": found.get("Port"),
        "health_path": found.get("HealthCheckPath"),
        "interval": found.get("HealthCheckIntervalSeconds"),
        "healthy_threshold": found.get("HealthyThresholdCount"),
        "unhealthy_threshold": found.get("UnhealthyThresholdCount"),
        "deregistration_delay": int(attributes.get("deregistration_delay.timeout_seconds", -1)),
    }


def load_balancer_dimension(handle: EstateHandle, load_balancer: str) -> str:
    """The `LoadBalancer` dimension of the ALB's CloudWatch metrics: its ARN's tail,
    `app/<name>/<id>`."""
    def fetch() -> str:
        found = handle.client("elbv2").describe_load_balancers(Names=[load_balancer])
        return str(found["LoadBalancers"][0]["LoadBalancerArn"]).split(":loadbalancer/", 1)[1]

    return handle.remembered(f"lb-dimension:{load_balancer}", fetch)


def target_health(handle: EstateHandle, group: str) -> TargetGroupSnapshot:
    """Every target the group reports (registered, initial, draining...), named by server."""
    try:
        arn = target_group_arn(handle, group)
        described = handle.client("elbv2").describe_target_health(TargetGroupArn=arn)
        instances = _aws_instances(handle)
    except probe_errors() as exc:
        return TargetGroupSnapshot(group=group, error=describe_error(exc))
    by_id = {i.instance_id: i for i in instances.values()}
    targets = [_target_state(d, by_id) for d in described["TargetHealthDescriptions"]]
    return TargetGroupSnapshot(group=group, targets=sorted(targets, key=lambda t: t.server))


def register(handle: EstateHandle, group: str, servers: list[str]) -> dict[str, Any]:
    handle.require_write("elb.register")
    targets = _targets(handle, group, servers)
    arn = target_group_arn(handle, group)
    handle.client("elbv2").register_targets(TargetGroupArn=arn, Targets=targets)
    return {"target_group": group, "targets": [t["Id"] for t in targets]}


def deregister(handle: EstateHandle, group: str, servers: list[str]) -> dict[str, Any]:
    handle.require_write("elb.deregister")
    targets = _targets(handle, group, servers)
    arn = target_group_arn(handle, group)
    handle.client("elbv2").deregister_targets(TargetGroupArn=arn, Targets=targets)
    return {"target_group": group, "targets": [t["Id"] for t in targets]}


def _targets(handle: EstateHandle, group: str, servers: list[str]) -> list[dict[str, Any]]:
    port = next(g.port for g in handle.estate.target_groups if g.id == group)
    ids = ec2.instance_ids(handle, servers)
    return [{"Id": ids[server], "Port": port} for server in servers]


def _aws_instances(handle: EstateHandle) -> dict[str, InstanceState]:
    """The plan's AWS servers' instances; re-fetched while any is still missing."""
    servers = [s.id for s in handle.estate.app_servers if s.site == "aws"]
    snapshot = handle.remembered("aws-instances", lambda: ec2.describe_servers(handle, servers))
    if snapshot.error or any(i.instance_id is None for i in snapshot.instances):
        handle.forget("aws-instances")
    return {i.server: i for i in snapshot.instances}


def _target_state(
    description: dict[str, Any], by_id: dict[str | None, InstanceState]
) -> TargetState:
    target = description["Target"]
    health = description.get("TargetHealth", {})
    instance = by_id.get(target["Id"])
    return TargetState(
        server=instance.server if instance else target["Id"],
        instance_id=target["Id"],
        port=target.get("Port"),
        az=instance.az if instance else target.get("AvailabilityZone"),
        state=health.get("State", "unknown"),
        reason=health.get("Reason"),
        description=health.get("Description"),
    )
