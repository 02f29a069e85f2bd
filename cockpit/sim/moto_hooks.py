"""Where the sim takes over from moto: target health and Route 53 change status.

moto runs in this process (ThreadedMotoServer), so its backend and response classes can
be extended. Each hook answers only for the target groups and zones a sim registered;
anything else gets moto's own behaviour.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from cockpit.sim.elb_health import GroupHealth
from cockpit.sim.route53_changes import ChangeLedger

GROUPS: dict[str, GroupHealth] = {}
LEDGERS: dict[str, ChangeLedger] = {}
_installed = False
_lock = threading.Lock()


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        _skip_default_images()
        _read_models_faster()
        _one_model_loader()
        _read_regions_once()
        _offerings_when_asked()  # before anything imports moto's EC2 module
        _match_tags_by_value()
        _pick_attributes_by_known_keys()
        _hook_target_health()
        _hook_route53()
        _installed = True


def _skip_default_images() -> None:
    """moto builds some 1,300 public AMIs, each with a volume and a snapshot, into every
    region's EC2 backend on its first call: a second of the demo's start for images no plan
    uses (the sim launches its imported instances from an AMI of its own, which moto does
    not check). An engineer's own setting is kept."""
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


def _read_models_faster() -> None:
    """moto parses each service's model (to read requests and write answers) with
    botocore's `json` and an OrderedDict per object: EC2's takes a third of a second and
    twice the memory. The same models, read by msgspec (`estate/service_models.py`)."""
    from moto.core.loaders import Loader

    from cockpit.estate.service_models import WholeModelReader

    Loader.FILE_LOADER_CLASS = WholeModelReader


def _one_model_loader() -> None:
    """moto reads each service's model, the first time it answers that service, through a
    loader made for the purpose, and a new loader first lists botocore's data folder (some
    four hundred services, a file check each): 20 ms a service before its model is read,
    in the estate's start (EC2, ELB, CloudWatch, Route 53, S3) and in a driver's first
    calls (STS). One loader serves them all; it keeps what it has read."""
    from moto.core import loaders, utils

    # the name `_load_service_model` calls, bound in that module by its import
    utils.create_loader = functools.cache(loaders.create_loader)  # type: ignore[attr-defined]


def _read_regions_once() -> None:
    """moto lists a service's regions and partitions from a fresh boto3 session, three
    times as its EC2 module imports and again for each backend it builds, and each parses
    the service's model (EC2's is megabytes of JSON) or botocore's endpoints once more: a
    second of the demo's start. The lists are the installed botocore's, fixed for the
    process: one session answers, once."""
    from boto3.session import Session

    from cockpit.estate.service_models import whole_botocore_session

    regions, partitions = Session.get_available_regions, Session.get_available_partitions
    shared = Session(botocore_session=whole_botocore_session())
    remembered = functools.cache(lambda service, partition, endpoints: regions(
        shared, service, partition, endpoints))
    known_partitions = functools.cache(lambda: partitions(shared))

    def get_available_regions(self: Session, service_name: str,
                              partition_name: str = "aws",
                              allow_non_regional: bool = False) -> list[str]:
        return list(remembered(service_name, partition_name, allow_non_regional))

    def get_available_partitions(self: Session) -> list[str]:
        return list(known_partitions())

    Session.get_available_regions = get_available_regions  # type: ignore[method-assign]
    Session.get_available_partitions = (  # type: ignore[method-assign]
        get_available_partitions)


OFFERINGS_DIR = "/instance_type_offerings/"
# Field names worked out and kept (a 10x refresh's answers need a few hundred).
KNOWN_KEYS_KEPT = 20_000


def _offerings_when_asked() -> None:
    """moto reads every region's instance-type offerings (some ninety gzipped JSON files)
    as its EC2 module imports: a third of a second of every sim's start, for RunInstances'
    check of a placement's zone (and DescribeInstanceTypeOfferings, which the cockpit
    never calls) in one region. Each region's list is read the first time it is looked
    at instead. Nothing changes if moto's EC2 module is already imported."""
    import importlib
    import sys

    if "moto.ec2.models.instance_types" in sys.modules:
        return
    from moto.utilities import utils

    read = utils.load_resource
    deferred: list[_OfferingsOnDemand] = []

    def load_resource(resource: str) -> Any:
        if OFFERINGS_DIR not in resource:
            return read(resource)
        deferred.append(_OfferingsOnDemand(resource, read))
        return deferred[-1]

    utils.load_resource = load_resource  # what the module binds as it imports
    try:
        importlib.import_module("moto.ec2.models.instance_types")
    finally:
        utils.load_resource = read
    for offerings in deferred:  # moto's own loop over them at import found them empty
        offerings.arm()


class _OfferingsOnDemand(list[dict[str, Any]]):
    """One region's offerings, read from moto's file when first looked at, each marked with
    its location type as moto marks them (the folder they are in)."""

    def __init__(self, resource: str, read: Callable[[str], Any]) -> None:
        super().__init__()
        self._resource, self._read = resource, read
        self._location_type = resource.split(OFFERINGS_DIR, 1)[1].split("/", 1)[0]
        self._armed = self._filled = False
        self._lock = threading.Lock()

    def arm(self) -> None:
        self._armed = True

    def _fill(self) -> None:
        if self._filled or not self._armed:
            return
        with self._lock:
            if not self._filled:
                offerings = self._read(self._resource)
                for offering in offerings:
                    offering["LocationType"] = self._location_type
                super().extend(offerings)
                self._filled = True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __getitem__(self, index: Any) -> Any:
        self._fill()
        return super().__getitem__(index)

    def __contains__(self, item: object) -> bool:
        self._fill()
        return super().__contains__(item)


def _match_tags_by_value() -> None:
    """moto matches a tag filter by compiling every value to a regular expression for each
    instance it looks at: a DescribeInstances by the Name tags of 400 servers, at 600
    instances, was 240,000 matches, a second and a half of the sim's interpreter, and
    each app server pane asks it. Values with no wildcard in them match only themselves
    (fnmatch's `*`, `?` and `[`: those go to moto as before); those are looked up in a
    set instead, with the same result."""
    from moto.ec2 import utils

    moto_match = utils.tag_filter_matches

    @functools.wraps(moto_match)
    def tag_filter_matches(obj: Any, filter_name: str, filter_values: list[str]) -> bool:
        wanted = _literal_values(tuple(filter_values)) if filter_name.startswith("tag:") \
            else None
        if wanted is None:
            return bool(moto_match(obj, filter_name, filter_values))
        return any(value in wanted
                   for value in utils.get_obj_tag_values(obj, key=filter_name[4:]))

    utils.tag_filter_matches = tag_filter_matches


@functools.lru_cache(maxsize=64)
def _literal_values(values: tuple[str, ...]) -> frozenset[str] | None:
    """The values as a set, or None if one holds a character fnmatch reads specially."""
    if any(c in value for value in values for c in "*?[\\"):
        return None
    return frozenset(values)


def _pick_attributes_by_known_keys() -> None:
    """moto writes each answer by looking up, for every field of every object, the names
    the field may go by on that object (a few alias rules, each an object made per field):
    two thirds of the sim's interpreter while a 10x refresh's DescribeInstances and
    DescribeTargetHealth are answered (py-spy). The names depend only on the object's
    class, the field and the field's shape (its name, serialisation name and parent, fixed
    once moto has its service model), so each list of names is worked out once. The
    shapes are keys by identity and held by the cache, so none is mistaken for another."""
    from moto.core.serialize import AttributePicker, XFormedAttributePicker

    for picker in (AttributePicker, XFormedAttributePicker):
        picker.get_possible_keys = _known_keys(  # type: ignore[method-assign,assignment]
            picker.__dict__["get_possible_keys"])


def _known_keys(original: Callable[[Any, Any], Iterator[str]]
                ) -> Callable[[Any, Any], Iterator[str]]:
    known: dict[tuple[Any, ...], tuple[str, ...]] = {}

    @functools.wraps(original)
    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        shape = context.shape
        key = (type(self), tuple(self.alias_providers), type(context.obj), context.key, shape,
               getattr(shape, "parent", None))
        names = known.get(key)
        if names is None:
            names = tuple(original(self, context))
            if len(known) < KNOWN_KEYS_KEPT:
                known[key] = names
        return iter(names)

    return get_possible_keys


def _hook_target_health() -> None:
    import time

    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus

    original = ELBv2Backend.describe_target_health

    def describe_target_health(
        self: Any, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> list[Any]:
        group = GROUPS.get(target_group_arn)
        moto_group = self.target_groups.get(target_group_arn)
        if group is None or moto_group is None:
            return original(self, target_group_arn, targets)
        group.reconcile(dict(moto_group.targets), time.monotonic())
        wanted = {t["Id"] for t in targets}
        return [
            FakeHealthStatus(d["Id"], d["Port"], moto_group.health_check_port, d["State"],
                             d["Reason"], d["Description"])
            for d in group.describe()
            if not wanted or d["Id"] in wanted
        ]

    ELBv2Backend.describe_target_health = describe_target_health  # type: ignore[method-assign]


def _no_such_change(change_id: str) -> Exception:
    from moto.route53.exceptions import Route53ClientError

    # NoSuchChange is a shape in Route 53's model: moto serialises it with its 404.
    return Route53ClientError(
        "NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def _hook_route53() -> None:
    from moto.core.responses import ActionResult
    from moto.route53.responses import Route53 as Route53Response

    original_change = Route53Response.change_resource_record_sets
    original_get = Route53Response.get_change

    def change_resource_record_sets(self: Any) -> Any:
        result = original_change(self)
        zone_id = str(self._get_param("HostedZoneId")).removeprefix("/hostedzone/")
        ledger = LEDGERS.get(zone_id)
        if ledger is None:
            return result
        change = ledger.submit(self._get_param("ChangeBatch.Changes"))
        return ActionResult({"ChangeInfo": {"Id": change.change_id, "Status": "PENDING",
                                            "SubmittedAt": change.submitted_at}})

    def get_change(self: Any) -> Any:
        change_id = str(self._get_param("Id"))
        if not change_id.startswith("/change/"):
            change_id = "/change/" + change_id
        for ledger in list(LEDGERS.values()):
            found = ledger.status(change_id)
            if found is not None:
                status, submitted = found
                return ActionResult({"ChangeInfo": {"Id": change_id, "Status": status,
                                                    "SubmittedAt": submitted}})
        if LEDGERS:  # the sim issued every change id there is: this one is unknown, as in AWS
            raise _no_such_change(change_id)
        return original_get(self)

    Route53Response.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
    Route53Response.get_change = get_change  # type: ignore[method-assign]
