"""The AWS service models the cockpit's clients are made from: read once a process, EC2's
cut down to the operations the cockpit calls.

botocore parses a service's model once for each session that makes a client of it. EC2's
is some 700 operations and megabytes of JSON: about 30 MB of Python objects once parsed,
a quarter of a driver's memory, and a third of a second to parse. The cockpit calls three
of those operations, the three of the least-privilege policy in the README
(DescribeInstances, StartInstances, StopInstances). The model is cut to them and the shapes
they reach as it is read, so the rest is never kept; a client made from it has no method
for any other operation at all, which also means no code path can terminate an instance
by mistake.

One loader serves every session this process makes (the estate's, a watcher's S3 client),
so a model is read once however many sessions ask for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any

import msgspec
from botocore.loaders import JSONFileLoader, Loader

# The operations kept, by service, for the services whose models are worth cutting: each
# is one a function of the estate layer calls (`estate/ec2.py`). Adding a call there means
# adding it here, or the client has no method for it (tests/unit/test_service_models.py
# checks the estate layer's calls against this list).
KEPT_OPERATIONS: Mapping[str, frozenset[str]] = {
    "ec2": frozenset({"DescribeInstances", "StartInstances", "StopInstances"}),
}

_shared: Loader | None = None
_whole: Loader | None = None
_lock = threading.Lock()


class _Ref(msgspec.Struct):
    shape: str


class _OperationRefs(msgspec.Struct):
    """Of an operation, only the shapes it names."""

    input: _Ref | None = None
    output: _Ref | None = None
    errors: list[_Ref] = msgspec.field(default_factory=list)

    def shapes(self) -> Iterator[str]:
        yield from (ref.shape for ref in (self.input, self.output, *self.errors) if ref)


class _ShapeRefs(msgspec.Struct):
    """Of a shape, only the shapes it names: a structure's members, a list's member, a
    map's key and value."""

    members: dict[str, _Ref] = msgspec.field(default_factory=dict)
    member: _Ref | None = None
    key: _Ref | None = None
    value: _Ref | None = None

    def shapes(self) -> Iterator[str]:
        yield from (ref.shape for ref in self.members.values())
        yield from (ref.shape for ref in (self.member, self.key, self.value) if ref)


class ModelReader(JSONFileLoader):
    """botocore's file loader, decoding with msgspec (botocore's `json` builds an
    OrderedDict per object, slower and twice the memory; it needs only a mapping that
    keeps its order, which a dict is) and, if it `cuts`, cutting a service model that
    `KEPT_OPERATIONS` names."""

    cuts = True

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            payload = fp.read()
        kept = _kept_for(full_path) if self.cuts else None
        return msgspec.json.decode(payload) if kept is None else cut_model(payload, kept)


class WholeModelReader(ModelReader):
    """Every model whole: for code that calls any operation (the simulated estate).

    The models of `READ_ONCE` are decoded once a process however many loaders ask: the
    simulated estate's clients and moto's own loader (which reads through this class)
    each asked for EC2's, a tenth of a second of the estate's start apiece. They share the
    one dict: moto merges its extras for EC2 into it (two error shapes, AuthFailure and
    DryRunOperation), which a client never sends, so the estate's clients are unchanged.
    Models whose extras change operations (S3's) are not shared."""

    cuts = False

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        if _service_of(full_path) not in READ_ONCE:
            return super()._load_file(full_path, open_method)
        with _decoded_lock:
            if full_path not in _decoded:
                _decoded[full_path] = super()._load_file(full_path, open_method)
            return _decoded[full_path]


READ_ONCE = frozenset({"ec2"})
_decoded: dict[str, Any] = {}
_decoded_lock = threading.Lock()


def _service_of(full_path: str) -> str | None:
    """The service whose model `full_path` is (`.../ec2/2016-11-15/service-2.json.gz`),
    else None."""
    path = PurePath(full_path)
    if not path.name.startswith("service-2.") or len(path.parts) < 3:
        return None
    return path.parts[-3]


def _kept_for(full_path: str) -> frozenset[str] | None:
    """The operations to keep when `full_path` is a service's model, else None."""
    service = _service_of(full_path)
    return None if service is None else KEPT_OPERATIONS.get(service)


def cut_model(payload: bytes, kept: frozenset[str]) -> dict[str, Any]:
    """The model in `payload` with only the `kept` operations and the shapes they reach.

    Read in two passes over raw JSON, so the operations and shapes left out are never
    built as objects: a whole EC2 model built and then dropped leaves its memory with the
    process (freed objects do not give their arenas back)."""
    top = msgspec.json.decode(payload, type=dict[str, msgspec.Raw])
    operations = msgspec.json.decode(top["operations"], type=dict[str, msgspec.Raw])
    shapes = msgspec.json.decode(top["shapes"], type=dict[str, msgspec.Raw])
    wanted = {name: raw for name, raw in operations.items() if name in kept}
    reached = _reached(shapes, [shape for raw in wanted.values() for shape in
                                msgspec.json.decode(raw, type=_OperationRefs).shapes()])
    model = {key: msgspec.json.decode(raw) for key, raw in top.items()
             if key not in ("operations", "shapes")}
    model["operations"] = {name: msgspec.json.decode(raw) for name, raw in wanted.items()}
    model["shapes"] = {name: msgspec.json.decode(shapes[name]) for name in sorted(reached)}
    return model


def _reached(shapes: dict[str, msgspec.Raw], roots: list[str]) -> set[str]:
    reached: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(msgspec.json.decode(shapes[name], type=_ShapeRefs).shapes())
    return reached


def shared_loader() -> Loader:
    """The process's one loader of service models; like botocore's own, it looks in
    `AWS_DATA_PATH` first."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = Loader(extra_search_paths=_data_paths(), file_loader=ModelReader())
        return _shared


def _data_paths() -> list[str] | None:
    extra = os.environ.get("AWS_DATA_PATH")
    return None if extra is None else [
        os.path.expanduser(os.path.expandvars(path)) for path in extra.split(os.pathsep)]


def whole_loader() -> Loader:
    """The process's one loader of whole service models (the simulated estate's)."""
    global _whole
    with _lock:
        if _whole is None:
            _whole = Loader(extra_search_paths=_data_paths(), file_loader=WholeModelReader())
        return _whole


def botocore_session() -> Any:
    """A fresh botocore session (its own credentials and config) that reads its service
    models through the shared loader."""
    return _session_with(shared_loader())


def whole_botocore_session() -> Any:
    """A fresh botocore session whose clients have every operation."""
    return _session_with(whole_loader())


def _session_with(loader: Loader) -> Any:
    from botocore.session import Session

    session = Session()
    session.register_component("data_loader", loader)
    parsers = session.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=_timestamp)
    return session


def _timestamp(value: Any) -> Any:
    """A time in an AWS answer. The ISO 8601 times AWS writes are read by the standard
    library (3.11 reads the `Z` form) at a tenth of dateutil's cost: 40 instances' launch
    and attachment times were a twentieth of a 10x refresh. Anything else (epoch seconds,
    RFC 822, a time with no zone) goes to botocore's own parser."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


# The services a driver's first poll and its opening checks make clients of.
DRIVER_SERVICES = ("sts", "ec2", "elbv2", "s3", "route53", "cloudwatch")


def read_ahead(services: tuple[str, ...] = DRIVER_SERVICES) -> None:
    """Read every file a client of each service is made from into the shared loader (the
    model, the endpoint rules, the defaults), by making one nowhere and dropping it: for
    a driver with time on its hands (its estate still starting)."""
    import boto3

    session = boto3.Session(botocore_session=botocore_session(), region_name="us-east-1",
                            aws_access_key_id="read-ahead", aws_secret_access_key="none")
    make: Any = session.client  # typed per service; the clients are dropped
    for service in services:
        make(service, endpoint_url="http://127.0.0.1:9").close()
