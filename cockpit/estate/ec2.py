"""EC2: the imported app servers' instances, found by their Name tag."""

from __future__ import annotations

from typing import Any

from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import InstancesSnapshot, InstanceState


def describe_servers(handle: EstateHandle, servers: list[str]) -> InstancesSnapshot:
    """The instance of each server (by Name tag); a server with none is `missing`."""
    try:
        found = _instances_by_name(handle, servers)
    except probe_errors() as exc:
        return InstancesSnapshot(error=describe_error(exc))
    return InstancesSnapshot(
        instances=[found.get(server, InstanceState(server=server)) for server in servers]
    )


def instance_ids(handle: EstateHandle, servers: list[str]) -> dict[str, str]:
    """Map each server to its instance id; raises LookupError naming any that is missing."""
    found = _instances_by_name(handle, servers)
    missing = [s for s in servers if s not in found or not found[s].instance_id]
    if missing:
        raise LookupError(f"no EC2 instance tagged Name={', '.join(missing)}")
    return {server: str(found[server].instance_id) for server in servers}


def start_instances(handle: EstateHandle, servers: list[str]) -> dict[str, Any]:
    handle.require_write("ec2.start")
    ids = instance_ids(handle, servers)
    handle.client("ec2").start_instances(InstanceIds=list(ids.values()))
    return {"instance_ids": ids}


def stop_instances(handle: EstateHandle, servers: list[str]) -> dict[str, Any]:
    handle.require_write("ec2.stop")
    ids = instance_ids(handle, servers)
    handle.client("ec2").stop_instances(InstanceIds=list(ids.values()))
    return {"instance_ids": ids}


def _instances_by_name(handle: EstateHandle, servers: list[str]) -> dict[str, InstanceState]:
    pages = handle.client("ec2").get_paginator("describe_instances").paginate(
        Filters=[
            {"Name": "tag:Name", "Values": servers},
            {"Name": "instance-state-name", "Values": _LIVE_STATES},
        ]
    )
    found: dict[str, InstanceState] = {}
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = _instance_state(instance)
                found[state.server] = state
    return found


# Terminated instances linger in describe results; a replacement with the same Name wins.
_LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]


def _instance_state(instance: dict[str, Any]) -> InstanceState:
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return InstanceState(
        server=tags.get("Name", instance["InstanceId"]),
        instance_id=instance["InstanceId"],
        state=instance["State"]["Name"],
        az=instance.get("Placement", {}).get("AvailabilityZone"),
        instance_type=instance.get("InstanceType"),
        private_ip=instance.get("PrivateIpAddress"),
    )
