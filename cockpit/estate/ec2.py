"""EC2: the imported app servers' instances, found by their Name tag."""

from __future__ import annotations

from typing import Any

from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import InstancesSnapshot, InstanceState


class DuplicateName(LookupError):
    """A Name tag that more than one live instance carries: which one is the app server is
    not the cockpit's to guess (a leftover test instance registered behind the ALB)."""

    def __init__(self, duplicates: dict[str, list[str]]) -> None:
        said = "; ".join(f"Name={server} is on {len(ids)} live instances ({', '.join(ids)})"
                         for server, ids in sorted(duplicates.items()))
        super().__init__(f"{said}: terminate or re-tag every instance but the app server's")
        self.duplicates = duplicates


def describe_servers(handle: EstateHandle, servers: list[str]) -> InstancesSnapshot:
    """The instance of each server (by Name tag); a server with none is `missing`, one
    whose Name more than one live instance carries is an error naming them."""
    try:
        found = _instances_by_name(handle, servers)
    except probe_errors() as exc:
        return InstancesSnapshot(error=describe_error(exc))
    duplicates = _duplicates(found)
    return InstancesSnapshot(
        instances=[found[server][0] if found.get(server) else InstanceState(server=server)
                   for server in servers],
        error=str(DuplicateName(duplicates)) if duplicates else None,
    )


PINNED = "ec2:pinned-instances"


def pin_instances(handle: EstateHandle, ids: dict[str, str]) -> None:
    """The instance of each server as found when the session opened: used from then on,
    so an instance launched later with the same Name (a test, a rebuild) is never taken
    for the app server mid-window."""
    handle.forget(PINNED)
    handle.remembered(PINNED, lambda: dict(ids))


def pinned_instances(handle: EstateHandle) -> dict[str, str]:
    return dict(handle.remembered(PINNED, dict))


def instance_ids(handle: EstateHandle, servers: list[str]) -> dict[str, str]:
    """Map each server to its instance id (the one pinned when the session opened, if
    any); raises LookupError naming any that is missing, and DuplicateName for a Name more
    than one live instance carries."""
    pinned = pinned_instances(handle)
    if servers and all(server in pinned for server in servers):
        return {server: pinned[server] for server in servers}
    found = _instances_by_name(handle, servers)
    duplicates = _duplicates(found)
    if duplicates:
        raise DuplicateName(duplicates)
    missing = [s for s in servers if not found.get(s) or not found[s][0].instance_id]
    if missing:
        raise LookupError(f"no EC2 instance tagged Name={', '.join(missing)}")
    return {server: str(found[server][0].instance_id) for server in servers}


def _duplicates(found: dict[str, list[InstanceState]]) -> dict[str, list[str]]:
    return {server: sorted(str(i.instance_id) for i in states)
            for server, states in found.items() if len(states) > 1}


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


def _instances_by_name(handle: EstateHandle,
                       servers: list[str]) -> dict[str, list[InstanceState]]:
    # The state is filtered here, not by EC2: one filter fewer to evaluate on every
    # instance of the slowest call a pane poll makes.
    pages = handle.client("ec2").get_paginator("describe_instances").paginate(
        Filters=[{"Name": "tag:Name", "Values": servers}]
    )
    found: dict[str, list[InstanceState]] = {}
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                if instance["State"]["Name"] in _GONE_STATES:
                    continue
                state = _instance_state(instance)
                found.setdefault(state.server, []).append(state)
    return found


# Terminated instances linger in describe results: they are not the app server.
_GONE_STATES = frozenset({"terminated"})


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
