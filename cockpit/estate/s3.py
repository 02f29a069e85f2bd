"""S3: a backup in flight (its multipart upload), a backup landed (its object or stripes),
the upload of a disk backup, and the clean-up of what a failed backup left behind.

A backup to URL is invisible to SQL Server's DMVs once it leaves the server; S3 is where
its progress shows (parts and bytes), and where a failed one leaves an open multipart
upload that costs money until it is aborted.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from cockpit.estate import tsql
from cockpit.estate.errors import describe_error, probe_errors
from cockpit.estate.handle import EstateHandle
from cockpit.estate.snapshots import BackupObjectsSnapshot, ObjectState, UploadState

# What S3 accepts per part of a multipart upload (the last part may be smaller).
MIN_PART_BYTES = 5 * 1024 * 1024
_STRIPE = re.compile(r"-(\d+)of(\d+)$")


def bucket_name(handle: EstateHandle, bucket_id: str) -> str:
    return next(b.name for b in handle.estate.buckets if b.id == bucket_id)


def bucket_region(handle: EstateHandle, bucket: str) -> str:
    """The bucket's region: GetBucketLocation says None (null) for us-east-1."""
    found = handle.client("s3").get_bucket_location(Bucket=bucket).get("LocationConstraint")
    return str(found or "us-east-1")


def _stem(key: str) -> str:
    stem, dot, ext = key.rpartition(".")
    return stem if dot and "/" not in ext else key


def stripes_of(key: str, candidate: str) -> int | None:
    """How many stripes `candidate` says the backup `key` has (1: it is `key` itself)."""
    if candidate == key:
        return 1
    match = _STRIPE.search(_stem(candidate))
    if match is None:
        return None
    total = int(match.group(2))
    return total if 1 < total <= tsql.MAX_STRIPES and candidate in tsql.stripe_keys(
        key, total) else None


# --- reading -----------------------------------------------------------------------------------


def open_uploads(handle: EstateHandle, bucket: str, key: str,
                 page_size: int | None = None) -> list[UploadState]:
    """The open multipart uploads of `key` (or its stripes), with their parts and bytes.

    Both lists are paged (1,000 a page by default): a backup of 10,000 parts is ten pages.
    """
    s3 = handle.client("s3")
    paging = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=_stem(key), **paging)
    uploads = [u for page in pages for u in page.get("Uploads", [])
               if stripes_of(key, u["Key"]) is not None]
    return [_upload_state(s3, bucket, u, paging) for u in uploads]


def bucket_uploads(handle: EstateHandle, bucket_id: str) -> BackupObjectsSnapshot:
    """Every open multipart upload in a bucket, whatever its key (never raises)."""
    bucket = bucket_name(handle, bucket_id)
    try:
        s3 = handle.client("s3")
        pages = s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket)
        uploads = [_upload_state(s3, bucket, u, {})
                   for page in pages for u in page.get("Uploads", [])]
    except probe_errors() as exc:
        return BackupObjectsSnapshot(bucket=bucket, key="", error=describe_error(exc))
    return BackupObjectsSnapshot(bucket=bucket, key="", uploads=uploads)


def _upload_state(s3: Any, bucket: str, upload: dict[str, Any],
                  paging: dict[str, Any]) -> UploadState:
    pages = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"], **paging)
    parts = [p for page in pages for p in page.get("Parts", [])]
    return UploadState(key=upload["Key"], upload_id=upload["UploadId"], parts=len(parts),
                       bytes=sum(int(p["Size"]) for p in parts),
                       initiated=upload.get("Initiated"))


def landed_objects(handle: EstateHandle, bucket: str, key: str) -> list[ObjectState]:
    """The backup's objects: `key` itself, or whichever of its stripes have landed."""
    s3 = handle.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=_stem(key))
    listed = [o for page in pages for o in page.get("Contents", [])
              if stripes_of(key, o["Key"]) is not None]
    return [_object_state(o) for o in sorted(listed, key=lambda o: str(o["Key"]))]


def _object_state(listed: dict[str, Any]) -> ObjectState:
    """An object as the listing gives it: ListObjectsV2 returns each object's size and the
    same ETag a HEAD would (`<md5 of the parts' md5s>-<parts>` for a multipart upload),
    so no HEAD per object, per stripe, per poll."""
    etag = str(listed.get("ETag", "")).strip('"')
    _, dash, count = etag.rpartition("-")
    parts = int(count) if dash and count.isdigit() else 1
    return ObjectState(key=listed["Key"], size=int(listed["Size"]), parts=parts, etag=etag)


def backup_objects(handle: EstateHandle, bucket_id: str, key: str) -> BackupObjectsSnapshot:
    """A backup's uploads and objects in one snapshot (never raises)."""
    bucket = bucket_name(handle, bucket_id)
    try:
        uploads = open_uploads(handle, bucket, key)
        objects = landed_objects(handle, bucket, key)
    except probe_errors() as exc:
        return BackupObjectsSnapshot(bucket=bucket, key=key, error=describe_error(exc))
    return BackupObjectsSnapshot(bucket=bucket, key=key, uploads=uploads, objects=objects)


def landed(handle: EstateHandle, bucket_id: str, key: str) -> BackupObjectsSnapshot:
    """A backup's complete objects alone (never raises): the backup pane reads the open
    uploads of every key from its bucket's listing (`bucket_uploads`, `with_uploads`)
    in the same moment, not one call after another per key."""
    bucket = bucket_name(handle, bucket_id)
    try:
        objects = landed_objects(handle, bucket, key)
    except probe_errors() as exc:
        return BackupObjectsSnapshot(bucket=bucket, key=key, error=describe_error(exc))
    return BackupObjectsSnapshot(bucket=bucket, key=key, objects=objects)


def with_uploads(objects: BackupObjectsSnapshot,
                 buckets: list[BackupObjectsSnapshot]) -> BackupObjectsSnapshot:
    """`objects` (from `landed`) with the open uploads of its key (or its stripes) among
    its bucket's (from `bucket_uploads`): what `backup_objects` reads, from two listings
    taken at once."""
    uploads = [u for b in buckets if b.bucket == objects.bucket for u in b.uploads
               if stripes_of(objects.key, u.key) is not None]
    return objects.model_copy(update={"uploads": uploads})


def complete_set(objects: list[ObjectState], key: str) -> list[ObjectState] | None:
    """The objects that make up the whole backup, or None while any stripe is missing."""
    whole = [o for o in objects if o.key == key]
    if whole:
        return whole
    for total in sorted({stripes_of(key, o.key) or 1 for o in objects}, reverse=True):
        wanted = tsql.stripe_keys(key, total)
        found = {o.key: o for o in objects}
        if all(k in found for k in wanted):
            return [found[k] for k in wanted]
    return None


def backup_keys(handle: EstateHandle, bucket: str, key: str) -> list[str]:
    """The keys to restore from: the object, or every stripe of it. Raises if incomplete."""
    found = complete_set(landed_objects(handle, bucket, key), key)
    if found is None:
        raise LookupError(f"no complete backup at s3://{bucket}/{key}")
    return [o.key for o in found]


class ProgressMeter:
    """Bytes per second of an upload, from the bytes seen in successive snapshots."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, int, float | None]] = {}
        self._lock = threading.Lock()

    def rate(self, name: str, total_bytes: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        with self._lock:
            at, before, rate = self._seen.get(name, (now, total_bytes, None))
            if total_bytes != before and now > at:
                rate = (total_bytes - before) / (now - at)
                self._seen[name] = (now, total_bytes, rate)
            elif name not in self._seen or total_bytes < before:
                self._seen[name] = (now, total_bytes, None)
            return rate


def meter(handle: EstateHandle) -> ProgressMeter:
    """One meter per handle, so every pane poll sees the bytes of the poll before."""
    return handle.remembered("s3-progress-meter", ProgressMeter)


# --- changing ----------------------------------------------------------------------------------


def abort_multipart(handle: EstateHandle, bucket_id: str, key: str) -> dict[str, Any]:
    """Abort every open multipart upload of `key` (or its stripes): the parts a failed
    backup left behind, which S3 keeps (and bills) until aborted."""
    handle.require_write("s3.abort_multipart")
    bucket = bucket_name(handle, bucket_id)
    uploads = open_uploads(handle, bucket, key)
    for upload in uploads:
        handle.client("s3").abort_multipart_upload(Bucket=bucket, Key=upload.key,
                                                   UploadId=upload.upload_id)
    return {"bucket": bucket, "aborted": [u.model_dump(mode="json") for u in uploads]}


Progress = Callable[[int, int], None]  # (bytes sent so far, bytes in all)


def upload_file(handle: EstateHandle, path: str, bucket_id: str, key: str,
                progress: Progress | None = None) -> dict[str, Any]:
    """Upload a disk backup, reporting the bytes sent as boto3 sends each chunk."""
    from boto3.s3.transfer import TransferConfig

    handle.require_write("s3.upload")
    bucket = bucket_name(handle, bucket_id)
    total = os.path.getsize(path)
    sent = _Counter(total, progress)
    config = TransferConfig(multipart_threshold=MIN_PART_BYTES * 2,
                            multipart_chunksize=MIN_PART_BYTES * 2)
    handle.client("s3").upload_file(path, bucket, key, Callback=sent, Config=config)
    return {"bucket": bucket, "key": key, "bytes": total}


class _Counter:
    """boto3 calls back from its transfer threads with each chunk's size."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.sent, self._progress = total, 0, progress
        self._lock = threading.Lock()

    def __call__(self, chunk: int) -> None:
        with self._lock:
            self.sent += chunk
            sent = self.sent
        if self._progress is not None:
            self._progress(sent, self.total)
