"""The S3 adapter against the sim's moto server: open multipart uploads (paged), stripes,
landed objects, a disk backup's upload with its progress, and the abort that clears what
a failed backup left. One sim for the module: each test works under keys of its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.estate import running_sim
from support.plans import ROOT, load

from cockpit.estate import s3, tsql
from cockpit.estate.handle import EstateHandle, ReadOnlyError
from cockpit.estate.s3 import ProgressMeter
from cockpit.plan.models import Plan
from cockpit.sim.estate import SimEstate

PHASE_TWO = ROOT / "plans" / "oms-phase2-simple.toml"
BUCKET = "oms-cutover-backups"
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def plan() -> Plan:
    return load(PHASE_TWO)


@pytest.fixture(scope="module")
def sim(plan: Plan) -> Iterator[tuple[SimEstate, EstateHandle]]:
    with running_sim(plan, speed=50) as running:
        yield running


@pytest.fixture
def handle(sim: tuple[SimEstate, EstateHandle]) -> EstateHandle:
    return sim[1]


@pytest.fixture
def raw(sim: tuple[SimEstate, EstateHandle]) -> Any:
    """boto3 on the sim, as the SQL Server's S3 connector would write."""
    return sim[0].client("s3")


def open_upload(raw: Any, key: str, parts: int) -> str:
    upload = raw.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    for number in range(1, parts + 1):
        raw.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number,
                        Body=bytes([number]) * PART)
    return str(upload)


def put_multipart(raw: Any, key: str, sizes: list[int]) -> None:
    upload = raw.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = [{"PartNumber": n, "ETag": raw.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=n, Body=b"x" * size)["ETag"]}
        for n, size in enumerate(sizes, start=1)]
    raw.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                  MultipartUpload={"Parts": parts})


def test_open_uploads_of_a_key_and_its_stripes_paged(handle: EstateHandle, raw: Any) -> None:
    key = "paged/OMS.bak"
    stripes = tsql.stripe_keys(key, 2)
    ids = {open_upload(raw, stripes[0], 3), open_upload(raw, stripes[1], 1)}
    open_upload(raw, "paged/OMS-other.bak", 1)  # not this backup's
    found = s3.open_uploads(handle, BUCKET, key, page_size=1)
    assert {u.upload_id for u in found} == ids
    assert sorted((u.key, u.parts, u.bytes) for u in found) == [
        (stripes[0], 3, 3 * PART), (stripes[1], 1, PART)]
    snap = s3.backup_objects(handle, "oms-backups", key)
    assert snap.error is None and snap.objects == [] and snap.uploaded_bytes == 4 * PART


def test_a_backup_is_present_only_when_every_stripe_has_landed(handle: EstateHandle,
                                                               raw: Any) -> None:
    key = "striped/OMS.bak"
    first, second, third = tsql.stripe_keys(key, 3)
    put_multipart(raw, first, [PART, 1000])
    put_multipart(raw, second, [2000])
    snap = s3.backup_objects(handle, "oms-backups", key)
    assert [(o.key, o.size, o.parts) for o in snap.objects] == [
        (first, PART + 1000, 2), (second, 2000, 1)]
    assert s3.complete_set(snap.objects, key) is None
    with pytest.raises(LookupError, match="no complete backup"):
        s3.backup_keys(handle, BUCKET, key)
    put_multipart(raw, third, [3000])
    assert s3.backup_keys(handle, BUCKET, key) == [first, second, third]


def test_upload_file_reports_progress_and_lands_in_parts(handle: EstateHandle,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "OMS.bak"
    path.write_bytes(os.urandom(3 * PART))
    seen: list[tuple[int, int]] = []
    done = s3.upload_file(handle, str(path), "oms-backups", "disk/OMS.bak",
                          progress=lambda sent, total: seen.append((sent, total)))
    assert done == {"bucket": BUCKET, "key": "disk/OMS.bak", "bytes": 3 * PART}
    assert seen[-1] == (3 * PART, 3 * PART)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    landed = s3.landed_objects(handle, BUCKET, "disk/OMS.bak")
    assert [(o.size, o.parts) for o in landed] == [(3 * PART, 2)]  # 10 MB parts


def test_abort_clears_every_upload_of_the_backup_and_nothing_else(
    handle: EstateHandle, raw: Any,
) -> None:
    key = "failed/OMS.bak"
    open_upload(raw, key, 1)
    open_upload(raw, tsql.stripe_keys(key, 2)[1], 2)
    kept = open_upload(raw, "failed/KEEP.bak", 1)
    done = s3.abort_multipart(handle, "oms-backups", key)
    assert sorted((u["key"], u["parts"]) for u in done["aborted"]) == [
        ("failed/OMS-2of2.bak", 2), (key, 1)]
    left = raw.list_multipart_uploads(Bucket=BUCKET, Prefix="failed/")["Uploads"]
    assert [u["UploadId"] for u in left] == [kept]
    assert s3.abort_multipart(handle, "oms-backups", key)["aborted"] == []


def test_a_read_only_handle_aborts_and_uploads_nothing(sim: tuple[SimEstate, EstateHandle],
                                                       plan: Plan, raw: Any,
                                                       tmp_path: Path) -> None:
    key = "readonly/OMS.bak"
    upload = open_upload(raw, key, 1)
    read_only = EstateHandle(plan.estate, sim[0].endpoints(), read_only=True)
    try:
        with pytest.raises(ReadOnlyError):
            s3.abort_multipart(read_only, "oms-backups", key)
        (tmp_path / "x.bak").write_bytes(b"x")
        with pytest.raises(ReadOnlyError):
            s3.upload_file(read_only, str(tmp_path / "x.bak"), "oms-backups", key)
        assert [u.upload_id for u in s3.open_uploads(read_only, BUCKET, key)] == [upload]
    finally:
        read_only.close()


def test_a_missing_bucket_is_an_error_value(handle: EstateHandle, plan: Plan) -> None:
    gone = plan.estate.model_copy(update={"buckets": [
        plan.estate.buckets[0].model_copy(update={"name": "no-such-bucket"})]})
    other = EstateHandle(gone, handle.endpoints, read_only=True)
    try:
        snap = s3.backup_objects(other, "oms-backups", "x.bak")
        assert snap.error is not None and "NoSuchBucket" in snap.error
        assert s3.bucket_uploads(other, "oms-backups").error is not None
    finally:
        other.close()


def test_the_rate_comes_from_successive_snapshots() -> None:
    meter = ProgressMeter()
    assert meter.rate("u", 0, now=10.0) is None
    assert meter.rate("u", 5_000_000, now=12.0) == 2_500_000
    assert meter.rate("u", 5_000_000, now=13.0) == 2_500_000  # no new part yet: last rate
    assert meter.rate("u", 15_000_000, now=15.0) == 10_000_000 / 3
