"""The session's S3 mirror on the simulated estate's S3 (moto's server on loopback, real
boto3 calls): the driver publishes in the background, a watcher with its own client follows
and verifies, an altered or rewritten object is caught, Object Lock holds what moto
enforces of it, and a mirror that cannot be reached is said and catches up.

The watcher's client has keys of its own, never the driver's. moto enforces IAM only when
told to (globally): one test does, with the README's least privileges for each side; the
others run without it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from support.estate import own_s3_client, running_sim
from support.plans import MANUAL_NOTE, PHASE_ONE, load, write_plan
from support.plans import MANUAL_PHASE as ONE_MANUAL_STEP
from support.proxy import Forwarder
from support.waiting import eventually

from cockpit.audit.verify import verify_log
from cockpit.estate.handle import EstateHandle
from cockpit.estate.mirror_s3 import MirrorAddress
from cockpit.plan.loader import load_plan_file
from cockpit.runner.runner import Pacing
from cockpit.session.driver import DriverSession, start_driver_session
from cockpit.session.folder import SessionFolder
from cockpit.session.mirror_watch import MirrorReader, compare_with_mirror, verify_mirror_at
from cockpit.session.rehearsal import rehearse
from cockpit.settings import MirrorSettings
from cockpit.sim.estate import SimEstate
from cockpit.ui.widgets.header import render_header

SPEED = 50.0


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimEstate, EstateHandle]]:
    with running_sim(load(PHASE_ONE), speed=SPEED) as running:
        yield running


@pytest.fixture
def handle(sim: tuple[SimEstate, EstateHandle]) -> EstateHandle:
    return sim[1]


def _bucket(handle: EstateHandle, name: str, *, locked: bool = False) -> str:
    s3 = handle.client("s3")
    extra: dict[str, Any] = {"ObjectLockEnabledForBucket": True} if locked else {}
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={
        "LocationConstraint": handle.estate.region}, **extra)
    return name


def watcher_s3(handle: EstateHandle) -> Any:
    return own_s3_client(handle)


def _drive(tmp_path: Path, handle: EstateHandle, mirror: MirrorSettings) -> DriverSession:
    plan_path, _ = write_plan(tmp_path, ONE_MANUAL_STEP)
    return start_driver_session(load_plan_file(plan_path), SessionFolder(tmp_path / "s-1"),
                                handle, pacing=Pacing(SPEED),
                                ask_manual=lambda _step, _text: MANUAL_NOTE, mirror=mirror)


def _settings(url: str, **more: Any) -> MirrorSettings:
    return MirrorSettings(url=url, publish_every_s=0.05, retry_after_s=0.1, **more)


def _local_head(session: DriverSession) -> int:
    head = session.runner.state().head
    return head[0] if head else 0


def test_a_watcher_follows_the_driver_through_the_mirror(
        tmp_path: Path, handle: EstateHandle) -> None:
    bucket = _bucket(handle, "oms-cutover-mirror")
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}/windows"))
    s3 = watcher_s3(handle)
    reader = MirrorReader(s3, MirrorAddress(bucket, "windows/s-1"), read_every_s=0)
    try:
        session.note("bridge call opened")
        view = eventually(reader.view, lambda v: v is not None and any(
            e.event == "note.added" for e in v.entries) and "behind" in (v.mirror or ""),
            what="the note and its head, through the mirror")
        assert view is not None and view.mirror is not None
        assert "s behind the driver (seq" in view.mirror
        assert "mirror:" in render_header(view, mode="WATCH").plain
        result = rehearse(session.runner)
        assert result.succeeded
    finally:
        session.close()
    closed = eventually(reader.view, lambda v: v is not None and v.run.closed,
                        what="session.closed, through the mirror")
    assert closed is not None and closed.problem is None
    assert closed.mirror == f"mirror: complete to seq {_local_head(session)}, verified"
    assert session.how_to_watch.endswith(f"cockpit watch s3://{bucket}/windows/s-1)")
    assert [e.hash for e in closed.entries] == [
        e.hash for e in session.runner.entries]  # every line, in order, verified
    reader.close()

    verdict = verify_mirror_at(s3, f"s3://{bucket}/windows")  # the one session under it
    assert verdict.exit_code == 0, verdict.describe()
    assert verdict.report.head == verify_log(session.folder.audit).head
    local = session.folder.audit.read_bytes()
    same = compare_with_mirror(s3, local, "audit.jsonl", "s-1", f"s3://{bucket}/windows")
    assert same.exit_code == 0, same.said
    state = json.loads(s3.get_object(Bucket=bucket, Key="windows/s-1/state.json")["Body"].read())
    assert state["closed"] is True


def test_one_altered_object_fails_the_mirror_and_the_watcher(
        tmp_path: Path, handle: EstateHandle) -> None:
    bucket = _bucket(handle, "oms-mirror-altered")
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}"))
    try:
        session.note("first")
        eventually(lambda: session.mirror and session.mirror.published_seq,
                   lambda seq: seq == _local_head(session), what="the note published")
        session.note("second")
    finally:
        session.close()
    assert session.mirror is not None and session.mirror.failure is None
    assert session.mirror.published_seq == _local_head(session)  # session.closed too
    s3 = watcher_s3(handle)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="s-1/audit/")["Contents"]]
    assert len(keys) >= 2, keys  # the second note came after the first was published
    first = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    s3.put_object(Bucket=bucket, Key=keys[0], Body=first.replace(b'"first"', b'"frist"'))

    verdict = verify_mirror_at(s3, f"s3://{bucket}/s-1")
    assert verdict.exit_code == 1
    assert verdict.report.first_bad_seq is not None and verdict.report.first_bad_seq <= 3
    reader = MirrorReader(s3, MirrorAddress(bucket, "s-1"), read_every_s=0)
    try:
        reader.view()
        assert reader.problem is not None and "MIRROR FAILS VERIFICATION" in reader.problem
    finally:
        reader.close()


def test_object_lock_keeps_the_record_a_forged_local_log_cannot_match(
        tmp_path: Path, handle: EstateHandle) -> None:
    bucket = _bucket(handle, "oms-mirror-locked", locked=True)
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}", object_lock=True,
                                                  retention_days=7))
    try:
        session.note("go decision: GO")
    finally:
        session.close()
    s3 = watcher_s3(handle)
    key = s3.list_objects_v2(Bucket=bucket, Prefix="s-1/audit/")["Contents"][0]["Key"]
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    version = head["VersionId"]
    # What moto enforces of COMPLIANCE: the locked version cannot be deleted, not even
    # with the governance bypass.
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version,
                         BypassGovernanceRetention=True)

    # A re-chained forgery of the local log verifies on its own ...
    forged = _rechained(session.folder.audit.read_bytes(), b"GO", b"NO-GO")
    session.folder.audit.write_bytes(forged)
    assert verify_log(session.folder.audit).status == "intact"
    # ... but differs from the locked mirror, at the line it changed.
    seq = next(n for n, line in enumerate(forged.splitlines(), 1) if b"NO-GO" in line)
    said = compare_with_mirror(s3, forged, "audit.jsonl", "s-1", f"s3://{bucket}")
    assert said.exit_code == 1 and f"at seq {seq}" in said.said, said.said

    # The key written again over its locked version: the first version stays the record,
    # and the rewrite is named.
    s3.put_object(Bucket=bucket, Key=key, Body=forged)
    verdict = verify_mirror_at(s3, f"s3://{bucket}/s-1")
    assert verdict.exit_code == 1 and verdict.rewritten == [key], verdict.describe()
    assert verdict.report.status == "intact"  # read from the locked first versions


def _rechained(log: bytes, old: bytes, new: bytes) -> bytes:
    """The log with `old` replaced by `new` and every hash after recomputed, as a forger
    with the file (and the code) would do it."""
    import hashlib

    prev, out = b"0" * 64, []
    for line in log.splitlines():
        body = line[: line.rindex(b',"hash":"')].replace(old, new)
        at = body.rindex(b',"prev":"')
        body = body[:at] + b',"prev":"' + prev + b'"'
        prev = hashlib.sha256(body).hexdigest().encode()
        out.append(body + b',"hash":"' + prev + b'"}\n')
    return b"".join(out)


def test_a_mirror_that_cannot_be_reached_is_said_and_catches_up(
        tmp_path: Path, handle: EstateHandle) -> None:
    bucket = _bucket(handle, "oms-mirror-down")
    endpoint = handle.endpoints.aws_endpoint_url
    assert endpoint is not None
    host, port = endpoint.removeprefix("http://").split(":")
    s3_front = Forwarder((host, int(port)))
    s3_front.down()  # S3 unreachable from the start of the window
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}",
                                                  endpoint_url=s3_front.url))
    assert session.mirror is not None
    try:
        failing = eventually(lambda: session.view().problem, what="the mirror's failure")
        assert failing is not None and "MIRROR BEHIND" in failing
        assert "MIRROR BEHIND" in render_header(session.view(), mode="DRIVER").plain
        result = rehearse(session.runner)  # the steps never wait for the mirror
        assert result.succeeded
        assert session.mirror.published_seq == 0
        s3_front.up()
        eventually(lambda: session.mirror.published_seq if session.mirror else 0,
                   lambda seq: seq == _local_head(session), what="the mirror caught up")
        assert eventually(lambda: session.view().problem is None, what="the failure cleared")
    finally:
        session.close()
        s3_front.down()
    verdict = verify_mirror_at(watcher_s3(handle), f"s3://{bucket}/s-1")
    assert verdict.exit_code == 0, verdict.describe()


def test_no_secret_reaches_the_mirror(tmp_path: Path, handle: EstateHandle,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    password = "Winter-Sale-2026!"
    monkeypatch.setenv("OMS_DC_DSN", "DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql-dc1;"
                                     f"UID=cutover;PWD={{{password}}};Encrypt=yes")
    bucket = _bucket(handle, "oms-mirror-secrets")
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}"))
    try:
        session.note(f"DBA says the password is {password}")  # pasted where it should not be
        assert rehearse(session.runner).succeeded
    finally:
        session.close()
    s3 = watcher_s3(handle)
    published = {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
                 for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"s-1/head.json", "s-1/state.json", "s-1/plan.toml"} <= set(published)
    assert [key for key, body in published.items() if password.encode() in body] == []
    assert any(b"the password is ***" in body for body in published.values())


def test_a_head_that_is_not_the_chains_is_said(tmp_path: Path, handle: EstateHandle) -> None:
    bucket = _bucket(handle, "oms-mirror-head")
    session = _drive(tmp_path, handle, _settings(f"s3://{bucket}"))
    try:
        session.note("rollback rehearsed")
    finally:
        session.close()
    s3 = watcher_s3(handle)
    head = json.loads(s3.get_object(Bucket=bucket, Key="s-1/head.json")["Body"].read())
    s3.put_object(Bucket=bucket, Key="s-1/head.json",
                  Body=json.dumps({**head, "hash": "f" * 64}).encode())
    reader = MirrorReader(s3, MirrorAddress(bucket, "s-1"), read_every_s=0)
    try:
        reader.view()
        assert reader.problem is not None and "head.json's hash" in reader.problem
    finally:
        reader.close()
    verdict = verify_mirror_at(s3, f"s3://{bucket}/s-1")
    assert verdict.exit_code == 1 and "hash for seq" in verdict.describe()


def _enforce_auth(handle: EstateHandle, on: bool) -> None:
    """moto's global switch: IAM users' policies are applied to every request (FACTS.md)."""
    import urllib.request

    request = urllib.request.Request(
        f"{handle.endpoints.aws_endpoint_url}/moto-api/reset-auth",
        data=b"0" if on else b"inf", headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def _iam_user(handle: EstateHandle, name: str, statements: list[dict[str, Any]]) -> dict[str, str]:
    iam = handle.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-mirror", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"]}


def test_the_readmes_least_privileges_are_enough_and_no_more(
        tmp_path: Path, handle: EstateHandle) -> None:
    """With moto enforcing IAM: the driver holds s3:PutObject on the prefix alone (it
    cannot even read the mirror back), the watcher s3:GetObject and s3:ListBucket alone
    (it cannot write); each does its part."""
    import dataclasses

    bucket = _bucket(handle, "oms-mirror-iam")
    objects = f"arn:aws:s3:::{bucket}/windows/*"
    driver_keys = _iam_user(handle, "cutover-driver", [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": objects}])
    watcher_keys = _iam_user(handle, "bridge-watcher", [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": objects},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}])
    as_driver = EstateHandle(handle.estate, dataclasses.replace(
        handle.endpoints, aws_credentials=driver_keys), read_only=False)
    watcher = boto3.client("s3", endpoint_url=handle.endpoints.aws_endpoint_url,
                           region_name=handle.estate.region, **watcher_keys)
    _enforce_auth(handle, True)
    try:
        session = _drive(tmp_path, as_driver, _settings(f"s3://{bucket}/windows"))
        try:
            session.note("bridge open")  # a manual-only plan: no other AWS call to allow
        finally:
            session.close()
        assert session.mirror is not None and session.mirror.failure is None
        verdict = verify_mirror_at(watcher, f"s3://{bucket}/windows")
        assert verdict.exit_code == 0, verdict.describe()
        assert verdict.report.head == verify_log(session.folder.audit).head
        with pytest.raises(ClientError, match="AccessDenied"):
            watcher.put_object(Bucket=bucket, Key="windows/s-1/head.json", Body=b"{}")
        with pytest.raises(ClientError, match="AccessDenied"):
            as_driver.client("s3").get_object(Bucket=bucket, Key="windows/s-1/head.json")
    finally:
        _enforce_auth(handle, False)
        as_driver.close()
