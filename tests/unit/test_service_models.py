"""The cockpit's AWS clients: EC2's model cut to the operations the estate layer calls,
every model read once a process."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import boto3
from botocore import xform_name
from botocore.loaders import Loader

from cockpit.estate import service_models
from cockpit.estate.handle import Endpoints, EstateHandle
from cockpit.estate.mirror_s3 import watcher_client
from cockpit.plan.models import Estate

ROOT = Path(__file__).resolve().parents[2]
ESTATE_LAYER = ROOT / "cockpit" / "estate"


def _handle() -> EstateHandle:
    keys = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "not-a-secret"}
    return EstateHandle(Estate(region="eu-west-2"), Endpoints(
        aws_endpoint_url="http://127.0.0.1:9", aws_credentials=keys), read_only=False)


def _ec2_calls() -> set[str]:
    """Every method the estate layer calls on `...client("ec2")`, and every paginator it
    asks that client for, as operation names."""
    called: set[str] = set()
    for path in ESTATE_LAYER.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if isinstance(owner, ast.Call) and ast.unparse(owner.func).endswith(".client") \
                    and [ast.literal_eval(a) for a in owner.args] == ["ec2"]:
                method = node.func.attr
                called.add(ast.literal_eval(node.args[0]) if method == "get_paginator"
                           else method)
    return called


def test_every_ec2_call_of_the_estate_layer_is_an_operation_kept() -> None:
    kept = {xform_name(name) for name in service_models.KEPT_OPERATIONS["ec2"]}
    called = _ec2_calls()
    assert called, "the scan found no EC2 call: it no longer reads the estate layer"
    assert called <= kept, f"called but cut from the model: {sorted(called - kept)}"


def test_the_cut_ec2_client_has_the_kept_operations_and_nothing_else() -> None:
    client = _handle().client("ec2")
    assert sorted(client.meta.service_model.operation_names) == \
        sorted(service_models.KEPT_OPERATIONS["ec2"])
    assert not hasattr(client, "terminate_instances")
    assert client.can_paginate("describe_instances")
    shape = client.meta.service_model.operation_model("DescribeInstances").output_shape
    instance = shape.members["Reservations"].member.members["Instances"].member
    assert {"InstanceId", "State", "Tags", "Placement"} <= set(instance.members)


def test_the_kept_ec2_operations_are_those_of_the_least_privilege_policy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Least privileges", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"ec2:(\w+)", section))
    assert named == service_models.KEPT_OPERATIONS["ec2"]


def test_a_model_not_cut_is_read_whole() -> None:
    ours = service_models.shared_loader().load_service_model("elbv2", "service-2")
    botocores = Loader().load_service_model("elbv2", "service-2")
    assert ours == botocores


def test_every_session_reads_a_model_once() -> None:
    first, second = _handle().client("elbv2"), _handle().client("elbv2")
    s3 = watcher_client()
    assert first.meta.service_model is not second.meta.service_model  # two clients
    loader = service_models.shared_loader()
    for client in (first, second, s3):
        assert client._loader is loader  # noqa: SLF001 (botocore keeps it there)
    session = boto3.Session(region_name="eu-west-2")
    assert session._loader is not loader  # noqa: SLF001 (a session not the cockpit's)


def test_the_estates_clients_read_aws_times_as_botocore_would() -> None:
    """The faster parser gives the same instant for every form AWS writes, and passes
    what it does not read (no zone, epoch seconds, RFC 822) to botocore's own."""
    from botocore.utils import parse_timestamp

    from cockpit.estate.service_models import botocore_session

    factory = botocore_session().get_component("response_parser_factory")
    parse = factory.create_parser("query")._timestamp_parser
    assert parse is not parse_timestamp  # the estate's own, not botocore's default
    for written in ("2026-12-02T14:00:01.123Z", "2026-12-02T14:00:01Z",
                    "2026-12-02T14:00:01+00:00", "2026-12-02T14:00:01.000+10:00",
                    "2026-12-02T14:00:01", "1764684001", "Wed, 02 Dec 2026 14:00:01 GMT"):
        assert parse(written) == parse_timestamp(written), written
