"""Where the sim spares moto work, it answers exactly as moto does.

The instance-type offerings, read per region when first asked: each side runs in a fresh
interpreter, as the hook only applies before moto's EC2 module is imported. The names a
field may go by, worked out once per class, field and shape: the same sim asked with and
without.
"""

from __future__ import annotations

import json
import subprocess
import sys

from support.estate import running_sim
from support.plans import PHASE_ONE, load

ASK = r"""
import json, sys
import boto3, botocore.exceptions
if sys.argv[1] == "sim":
    from cockpit.sim import moto_hooks
    moto_hooks.install()
from cockpit.sim.aws_server import AwsServer, AwsWeather
server = AwsServer(AwsWeather())
server.start()
try:
    ec2 = boto3.client("ec2", endpoint_url=server.endpoint, region_name="eu-west-2",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    def offered(location_type, instance_type):
        answer = ec2.describe_instance_type_offerings(
            LocationType=location_type,
            Filters=[{"Name": "instance-type", "Values": [instance_type]}])
        return sorted(o["Location"] for o in answer["InstanceTypeOfferings"])
    def launched_in(zone):
        try:
            ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                              InstanceType="m5.large", Placement={"AvailabilityZone": zone})
        except botocore.exceptions.ClientError as exc:
            return exc.response["Error"]["Code"]
        return "launched"
    print(json.dumps({
        "zones": offered("availability-zone", "m5.large"),
        "region": offered("region", "m5.large"),
        "home zone": launched_in("eu-west-2a"),
        "foreign zone": launched_in("us-east-1a"),
    }))
finally:
    server.stop()
"""


def _answers(side: str, script: str = ASK) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", script, side], capture_output=True, text=True,
                          timeout=120, check=True)
    answers: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answers


def test_the_sims_ec2_offers_and_places_instance_types_as_moto_reading_them_all_does() -> None:
    sim, moto = _answers("sim"), _answers("moto")
    assert sim == moto
    assert sim["zones"] == ["eu-west-2a", "eu-west-2b", "eu-west-2c"]
    assert sim["region"] == ["eu-west-2"]
    assert sim["home zone"] == "launched"
    assert sim["foreign zone"] != "launched"  # a zone of another region is refused


def test_the_sims_answers_are_moto_s_own_with_the_field_names_worked_out_once() -> None:
    """The same sim asked the same with moto's own lookup of field names put back: every
    answer of the panes' calls is the same, field for field."""
    from moto.core.serialize import AttributePicker, XFormedAttributePicker

    plan = load(PHASE_ONE)
    pickers = (AttributePicker, XFormedAttributePicker)
    with running_sim(plan) as (sim, _handle):
        ec2, elbv2, route53 = sim.client("ec2"), sim.client("elbv2"), sim.client("route53")
        groups = [g["TargetGroupArn"] for g in elbv2.describe_target_groups()["TargetGroups"]]

        def answers() -> list[object]:
            zones = route53.list_hosted_zones()["HostedZones"]
            said: list[object] = [
                ec2.describe_instances(), ec2.describe_subnets(), zones,
                elbv2.describe_load_balancers(), elbv2.describe_listeners(
                    LoadBalancerArn=elbv2.describe_load_balancers()["LoadBalancers"][0][
                        "LoadBalancerArn"]),
                *[route53.list_resource_record_sets(HostedZoneId=z["Id"]) for z in zones],
                *[elbv2.describe_target_groups(TargetGroupArns=[g]) for g in groups]]
            for each in said:
                if isinstance(each, dict):
                    each.pop("ResponseMetadata", None)
            return said

        hooked = answers()
        ours = {picker: picker.__dict__["get_possible_keys"] for picker in pickers}
        assert all(hasattr(method, "__wrapped__") for method in ours.values())
        try:
            for picker, method in ours.items():
                picker.get_possible_keys = method.__wrapped__  # type: ignore[method-assign]
            moto_own = answers()
        finally:
            for picker, method in ours.items():
                picker.get_possible_keys = method  # type: ignore[method-assign]
    assert hooked == moto_own
    assert hooked[0]["Reservations"]  # type: ignore[index]


MODELS_ASKED = r"""
import json, sys
import boto3, botocore.exceptions
if sys.argv[1] == "sim":
    from cockpit.sim import moto_hooks
    moto_hooks.install()
    from cockpit.estate.service_models import whole_botocore_session
    session = boto3.Session(botocore_session=whole_botocore_session())
else:
    session = boto3.Session()
from cockpit.sim.aws_server import AwsServer, AwsWeather
server = AwsServer(AwsWeather())
server.start()
try:
    def client(service):
        return session.client(service, endpoint_url=server.endpoint, region_name="eu-west-2",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    def refused(call, **kwargs):
        try:
            call(**kwargs)
        except botocore.exceptions.ClientError as exc:
            return [exc.response["Error"]["Code"],
                    exc.response["ResponseMetadata"]["HTTPStatusCode"]]
        return "answered"
    ec2, elbv2, s3 = client("ec2"), client("elbv2"), client("s3")
    s3.create_bucket(Bucket="oms-backups",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    from moto.ec2 import ec2_backends
    print(json.dumps({
        "regions": sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]),
        "dry run": refused(ec2.describe_instances, DryRun=True),
        "no such group": refused(elbv2.describe_target_groups, Names=["nope"]),
        "account": client("sts").get_caller_identity()["Account"],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "zones": client("route53").list_hosted_zones()["HostedZones"],
        "backend regions": len(ec2_backends["123456789012"].regions),
    }))
finally:
    server.stop()
"""


def test_one_model_loader_and_ec2_s_model_shared_answer_as_moto_s_own_loaders_do() -> None:
    """The sim reads EC2's model once for its own clients and moto's (moto merges its
    extras into it: the dry-run refusal is one of them), serves moto's model reads from
    one loader, and lists the partitions once: moto answers as with its own loaders."""
    sim, moto = _answers("sim", MODELS_ASKED), _answers("moto", MODELS_ASKED)
    assert sim == moto
    assert sim["dry run"] == ["DryRunOperation", 412]
    assert sim["no such group"][0] == "TargetGroupNotFound"  # type: ignore[index]
    assert "eu-west-2" in sim["regions"]  # type: ignore[operator]
    assert sim["buckets"] == ["oms-backups"]
