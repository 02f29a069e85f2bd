"""Route 53: the names being switched, the UPSERT that switches them, and its change.

An A record switched to `alb:<id>` becomes an alias of the ALB (Route 53 answers it with
the ALB's addresses; a CNAME cannot stand at a zone's apex, an alias can); a CNAME switched
to it holds the ALB's DNS name.
"""

from __future__ import annotations

from typing import Any

from cockpit.estate import elb
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import ChangeSnapshot, RecordsSnapshot, RecordValue
from cockpit.plan.models import DnsRecord


def record(handle: EstateHandle, record_id: str) -> DnsRecord:
    return next(r for r in handle.estate.records if r.id == record_id)


def resolve_value(handle: EstateHandle, record_id: str, value: str) -> str:
    """What a plan's value means for one record: `alb:<id>`, `ag:<id>` (the availability
    group's listener), `original`, or itself."""
    if value.startswith("alb:"):
        return elb.load_balancer_dns_name(handle, value.removeprefix("alb:"))
    if value.startswith("ag:"):
        ag_id = value.removeprefix("ag:")
        return next(ag.listener for ag in handle.estate.availability_groups if ag.id == ag_id)
    if value == "original":
        return record(handle, record_id).value
    return value


def alias_of(rec: DnsRecord, value: str) -> str | None:
    """The load balancer an UPSERT of `value` makes the record an alias of (an A record
    switched to `alb:<id>`), else None."""
    if rec.type == "A" and value.startswith("alb:"):
        return value.removeprefix("alb:")
    return None


def zone_id(handle: EstateHandle, zone: str) -> str:
    """The hosted zone of the plan's zone, by name *and* view: with split-horizon DNS a
    public and a private zone share the name, and a change to the wrong one reaches nobody
    who matters. More than one zone in the same view is an error naming them."""
    spec = next(z for z in handle.estate.zones if z.id == zone)
    view = "private" if spec.private else "public"

    def fetch() -> str:
        found = handle.client("route53").list_hosted_zones_by_name(DNSName=spec.name)
        named = [h for h in found["HostedZones"] if _dotted(h["Name"]) == _dotted(spec.name)]
        matching = [h for h in named
                    if bool(h.get("Config", {}).get("PrivateZone")) == spec.private]
        if len(matching) == 1:
            return str(matching[0]["Id"]).removeprefix("/hostedzone/")
        ids = ", ".join(str(h["Id"]).removeprefix("/hostedzone/") for h in matching or named)
        if matching:
            raise LookupError(f"{len(matching)} {view} hosted zones named {spec.name} "
                              f"({ids}): the cockpit will not guess which one to change")
        other = f" (only in the other view: {ids}; set private = {str(not spec.private).lower()}"\
            " on the zone if that is the one)" if named else ""
        raise LookupError(f"no {view} hosted zone named {spec.name}{other}")

    return handle.remembered(f"zone:{zone}", fetch)


def zone_views(handle: EstateHandle) -> dict[str, dict[bool, list[str]]]:
    """For each zone name the plan names: the hosted zone ids Route 53 has under that
    name, by view (private or not)."""
    views: dict[str, dict[bool, list[str]]] = {}
    for name in {_dotted(z.name) for z in handle.estate.zones}:
        found = handle.client("route53").list_hosted_zones_by_name(DNSName=name)
        for hosted in found["HostedZones"]:
            if _dotted(hosted["Name"]) == name:
                private = bool(hosted.get("Config", {}).get("PrivateZone"))
                views.setdefault(name, {}).setdefault(private, []).append(
                    str(hosted["Id"]).removeprefix("/hostedzone/"))
    return views


def upsert(
    handle: EstateHandle, records: list[str], value: str, ttl: int | None = None, *,
    evaluate_target_health: bool = True,
) -> dict[str, Any]:
    """UPSERT every record to `value`, one change batch per zone; returns the change ids.
    An alias (see `alias_of`) evaluates the ALB's target health unless told not to."""
    handle.require_write("route53.upsert")
    batches: dict[str, list[dict[str, Any]]] = {}
    targets: dict[str, str] = {}
    # What each record held before, kept with the change: its undo puts exactly that back
    # (value, TTL, type, alias target; or no record at all), not what the plan thinks it was.
    replaced = _held(handle, records)
    for record_id in records:
        rec = record(handle, record_id)
        targets[record_id] = resolve_value(handle, record_id, value)
        balancer = alias_of(rec, value)
        change = _upsert_change(rec, targets[record_id], ttl) if balancer is None else \
            _alias_change(handle, rec, balancer, ttl, evaluate_target_health)
        batches.setdefault(rec.zone, []).append(change)
    change_ids = [_submit(handle, zone, changes) for zone, changes in batches.items()]
    return {"change_ids": change_ids, "values": targets, "replaced": replaced}


def restore(handle: EstateHandle, records: list[str],
            replaced: dict[str, Any]) -> dict[str, Any]:
    """Put back the record sets an UPSERT replaced, exactly: each as it was, or deleted
    where there was none."""
    handle.require_write("route53.upsert")
    now = _held(handle, records)
    batches: dict[str, list[dict[str, Any]]] = {}
    for record_id in records:
        before, current = replaced.get(record_id), now.get(record_id)
        if before is not None:
            change = {"Action": "UPSERT", "ResourceRecordSet": before}
        elif current is not None:
            change = {"Action": "DELETE", "ResourceRecordSet": current}
        else:
            continue  # there was none, and there is none
        batches.setdefault(record(handle, record_id).zone, []).append(change)
    change_ids = [_submit(handle, zone, changes) for zone, changes in batches.items()]
    return {"change_ids": change_ids, "restored": {r: replaced.get(r) for r in records}}


def _held(handle: EstateHandle, records: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each record's record set in its zone now, as Route 53 returns it (None: none)."""
    wanted = [record(handle, r) for r in records]
    held = {zone: _zone_rrsets(handle, zone) for zone in {rec.zone for rec in wanted}}
    return {rec.id: held[rec.zone].get((_dotted(rec.name), rec.type)) for rec in wanted}


def _upsert_change(rec: DnsRecord, value: str, ttl: int | None) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": rec.name,
            "Type": rec.type,
            "TTL": rec.ttl if ttl is None else ttl,
            "ResourceRecords": [{"Value": value}],
        },
    }


def _alias_change(handle: EstateHandle, rec: DnsRecord, balancer: str, ttl: int | None,
                  evaluate_target_health: bool) -> dict[str, Any]:
    if ttl is not None:  # Route 53 refuses a TTL beside an AliasTarget
        raise ValueError(f"{rec.name} would be an alias of {balancer}, which has no TTL of "
                         "its own (Route 53 answers with the ALB's): drop the ttl")
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": rec.name,
            "Type": rec.type,
            "AliasTarget": {**elb.load_balancer_alias(handle, balancer),
                            "EvaluateTargetHealth": evaluate_target_health},
        },
    }


def _submit(handle: EstateHandle, zone: str, changes: list[dict[str, Any]]) -> str:
    response = handle.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id(handle, zone),
        ChangeBatch={"Comment": "cutover-cockpit", "Changes": changes},
    )
    return str(response["ChangeInfo"]["Id"])


def change_status(handle: EstateHandle, change_id: str) -> ChangeSnapshot:
    try:
        info = handle.client("route53").get_change(Id=change_id)["ChangeInfo"]
    except probe_errors() as exc:
        return ChangeSnapshot(change_id=change_id, error=describe_error(exc))
    return ChangeSnapshot(
        change_id=change_id, status=info["Status"], submitted_at=info.get("SubmittedAt")
    )


def record_values(handle: EstateHandle, records: list[str]) -> RecordsSnapshot:
    """What Route 53 holds for each record now (which may not yet be what resolvers say)."""
    wanted = [record(handle, r) for r in records]
    try:
        # One paged listing per zone, not one call per name: thirty names cost one call.
        held = {zone: _zone_rrsets(handle, zone) for zone in {rec.zone for rec in wanted}}
    except probe_errors() as exc:
        return RecordsSnapshot(error=describe_error(exc))
    return RecordsSnapshot(records=[_record_value(rec, held[rec.zone]) for rec in wanted])


def _zone_rrsets(handle: EstateHandle, zone: str) -> dict[tuple[str, str], dict[str, Any]]:
    pages = handle.client("route53").get_paginator("list_resource_record_sets").paginate(
        HostedZoneId=zone_id(handle, zone))
    return {(_dotted(rrset["Name"]), rrset["Type"]): rrset
            for page in pages for rrset in page["ResourceRecordSets"]}


def _dotted(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _record_value(rec: DnsRecord, rrsets: dict[tuple[str, str], dict[str, Any]]) -> RecordValue:
    rrset = rrsets.get((_dotted(rec.name), rec.type))
    if rrset is None:
        return RecordValue(record=rec.id, name=rec.name, type=rec.type)
    if "AliasTarget" in rrset:  # no TTL of its own: Route 53 answers with the target's
        return RecordValue(record=rec.id, name=rec.name, type=rec.type, alias=True,
                           value=_dotted(rrset["AliasTarget"]["DNSName"]))
    values = [r["Value"] for r in rrset.get("ResourceRecords", [])]
    return RecordValue(record=rec.id, name=rec.name, type=rec.type,
                       value=",".join(values), ttl=rrset.get("TTL"))
