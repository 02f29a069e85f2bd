"""The sim's EC2 reads a region's instance-type offerings when first asked, and answers
with them exactly as moto reading every region's at import does.

Each side runs in a fresh interpreter: the hook only applies before moto's EC2 module is
imported, and this test process may have imported it already.
"""

from __future__ import annotations

import json
import subprocess
import sys

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


def _answers(side: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", ASK, side], capture_output=True, text=True,
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
