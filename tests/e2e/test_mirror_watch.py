"""Watching a rehearsal from "another host": the driver (`cockpit rehearse`, its mirror set
by `COCKPIT_MIRROR__URL`) publishes to the simulated estate's S3, served by `cockpit sim
serve`; `cockpit watch s3://...` runs in a real terminal (tmux) with no session folder and
keys of its own, and `cockpit audit verify s3://...` checks the mirror from a third process.

The watcher in tmux has keys of its own, never the driver's; moto does not enforce IAM
while the rehearsal runs (the simulator's own calls would need users too). Once it has
ended, moto is told to enforce IAM, and `audit verify` runs as a user that may only get and
list the prefix (the README's least privileges).
"""

from __future__ import annotations

import json
import os
import selectors
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from support.plans import MANUAL_NOTE, PHASE_ONE, ROOT
from support.waiting import eventually

TMUX = shutil.which("tmux")
COCKPIT = str(Path(sys.executable).parent / "cockpit")
BUCKET = "oms-window-mirror"

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (CI installs it)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The phase-one estate served in a process of its own; its endpoints. At 5 times
    the speed of life the rehearsal takes long enough for a watcher to join it midway."""
    endpoints = tmp_path / "endpoints.json"
    stderr = (tmp_path / "serve.err").open("w")
    serving = subprocess.Popen(
        [COCKPIT, "sim", "serve", str(PHASE_ONE), "--endpoints", str(endpoints),
         "--speed", "5"], cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert serving.stdout is not None
        with selectors.DefaultSelector() as ready:  # a read with a deadline, not a sleep
            ready.register(serving.stdout, selectors.EVENT_READ)
            assert ready.select(timeout=60), "the sim did not say it was serving"
        assert serving.stdout.readline().startswith("simulated estate serving")
        yield {**json.loads(endpoints.read_text()), "file": endpoints}
    finally:
        serving.terminate()
        serving.wait(timeout=30)
        stderr.close()


def _tmux(env: dict[str, str], socket: str, *args: str) -> str:
    assert TMUX is not None
    done = subprocess.run([TMUX, "-L", socket, "-f", "/dev/null", *args], env=env,
                          capture_output=True, text=True, timeout=15)
    assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout


def test_a_watcher_on_another_host_follows_a_rehearsal_through_s3(
        tmp_path: Path, served: dict[str, Any]) -> None:
    endpoint = served["aws_endpoint_url"]
    region = "ap-southeast-2"  # the plan's
    mine = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="ADMINKEY", aws_secret_access_key="admin")
    mine.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    session = tmp_path / "window-1"
    driver_env = {**os.environ, "COCKPIT_MIRROR__URL": f"s3://{BUCKET}/windows",
                  "COCKPIT_MIRROR__PUBLISH_EVERY_S": "0.2"}
    rehearsal = subprocess.Popen(
        [COCKPIT, "rehearse", str(PHASE_ONE), "--manual-note", MANUAL_NOTE,
         "--sim-endpoints", str(served["file"]), "--session", str(session)],
        cwd=ROOT, env=driver_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # The watcher: no session folder, no driver's settings, keys of its own.
    watcher_env = {k: v for k, v in os.environ.items()
                   if k not in ("TMUX", "TMUX_PANE", "NO_COLOR", "COLUMNS", "LINES")
                   and not k.startswith("AWS_")}
    watcher_env.update(AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=region,
                       AWS_ACCESS_KEY_ID="WATCHERKEY", AWS_SECRET_ACCESS_KEY="watcher")
    socket = f"cockpit-mirror-{uuid.uuid4().hex[:10]}"
    try:
        eventually(lambda: mine.list_objects_v2(Bucket=BUCKET, Prefix="windows/window-1/"
                                                "head.json").get("KeyCount", 0),
                   within=60, what="the driver's first head.json in the mirror")
        watch = f"{shlex.quote(COCKPIT)} watch s3://{BUCKET}/windows"
        _tmux(watcher_env, socket, "new-session", "-d", "-s", "mirror", "-x", "140", "-y",
              "40", watch, ";", "set-option", "-t", "mirror", "remain-on-exit", "on")
        screen = eventually(lambda: _tmux(watcher_env, socket, "capture-pane", "-p", "-t",
                                          "mirror"),
                            lambda s: "s behind the driver" in s, within=30,
                            what="the watcher's header: how far behind the driver")
        assert " WATCH " in screen and "SESSION CLOSED" not in screen  # joined midway
        out, err = rehearsal.communicate(timeout=300)
        assert rehearsal.returncode == 0, (out, err)
        assert "every step succeeded" in out
        assert f"mirror s3://{BUCKET}/windows/window-1 published to seq" in err, err
        screen = eventually(
            lambda: _tmux(watcher_env, socket, "capture-pane", "-p", "-t", "mirror"),
            lambda s: "SESSION CLOSED" in s, within=30,
            what="the watcher shows the session closed, from the mirror")
        assert "window complete" in screen and "complete to seq" in screen
    finally:
        if rehearsal.poll() is None:
            rehearsal.terminate()
            rehearsal.wait(timeout=30)
        subprocess.run([TMUX or "tmux", "-L", socket, "kill-server"], env=watcher_env,
                       capture_output=True, timeout=15)

    # From here moto enforces IAM: verify runs as a user that may only read the prefix,
    # and the object is altered as one that may do anything.
    admin_keys, watcher_keys = _read_only_from_here(endpoint, region)
    mine = boto3.client("s3", endpoint_url=endpoint, region_name=region, **admin_keys)
    watcher_env.update(AWS_ACCESS_KEY_ID=watcher_keys["aws_access_key_id"],
                       AWS_SECRET_ACCESS_KEY=watcher_keys["aws_secret_access_key"])

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([COCKPIT, "audit", "verify", f"s3://{BUCKET}/windows"],
                              cwd=ROOT, env=watcher_env, capture_output=True, text=True,
                              timeout=60)

    intact = verify()
    assert intact.returncode == 0, (intact.stdout, intact.stderr)
    assert "intact" in intact.stdout and "session closed" in intact.stdout

    local = subprocess.run([COCKPIT, "audit", "verify", str(session), "--against",
                            f"s3://{BUCKET}/windows"], cwd=ROOT, env=watcher_env,
                           capture_output=True, text=True, timeout=60)
    assert local.returncode == 0, (local.stdout, local.stderr)
    assert "matches the mirror" in local.stdout

    keys = [o["Key"] for o in mine.list_objects_v2(
        Bucket=BUCKET, Prefix="windows/window-1/audit/")["Contents"]]
    last = mine.get_object(Bucket=BUCKET, Key=keys[-1])["Body"].read()
    mine.put_object(Bucket=BUCKET, Key=keys[-1], Body=last.replace(b'"summary"', b'"summarx"'))
    with pytest.raises(ClientError, match="AccessDenied"):  # the watcher's keys only read
        boto3.client("s3", endpoint_url=endpoint, region_name=region,
                     **watcher_keys).put_object(Bucket=BUCKET, Key=keys[-1], Body=b"")
    altered = verify()
    assert altered.returncode == 1, (altered.stdout, altered.stderr)
    assert "ALTERED" in altered.stdout and "(seq " in altered.stdout


def _read_only_from_here(endpoint: str, region: str) -> tuple[dict[str, str], dict[str, str]]:
    """An admin and a read-only watcher as IAM users, then IAM enforced (moto's switch)."""
    import urllib.request

    iam = boto3.client("iam", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="ADMINKEY", aws_secret_access_key="admin")

    def user(name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"]}

    admin = user("mirror-admin", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    watcher = user("bridge-watcher", [
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{BUCKET}/windows/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}])
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0",
                                     headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()
    return admin, watcher
