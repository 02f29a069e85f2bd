"""The session's S3 mirror as objects: where it is, and the few calls that write and read it.

The driver only ever puts objects (s3:PutObject on the prefix); a watcher only lists and
gets them (s3:ListBucket, s3:GetObject). Nothing here knows what the objects hold: the
session layer decides that, the audit layer verifies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?")


class MirrorUrlError(ValueError):
    """Not an `s3://bucket/prefix` address."""


@dataclass(frozen=True)
class MirrorAddress:
    bucket: str
    prefix: str  # without slashes at either end; "" for the bucket's root

    @classmethod
    def parse(cls, url: str) -> MirrorAddress:
        match = _URL.fullmatch(url.strip())
        if match is None:
            raise MirrorUrlError(f"{url!r} is not an s3://bucket/prefix address")
        return cls(match["bucket"], (match["prefix"] or "").strip("/"))

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def under(self, *parts: str) -> MirrorAddress:
        return MirrorAddress(self.bucket, self.key(*parts))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def watcher_client(*, connect_timeout: float = 2.0, read_timeout: float = 5.0) -> Any:
    """An S3 client from the standard credential chain (and `AWS_ENDPOINT_URL`): a
    watcher's own read-only credentials, never the driver's estate profile."""
    import boto3
    from botocore.config import Config

    from cockpit.estate.service_models import botocore_session

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"max_attempts": 3, "mode": "standard"})
    session = boto3.session.Session(botocore_session=botocore_session())
    return session.client("s3", config=config)


def put_object(s3: Any, bucket: str, key: str, body: bytes, *,
               locked_until: datetime | None = None,
               content_type: str = "application/octet-stream") -> None:
    """One PUT; with `locked_until`, the version is retained in COMPLIANCE mode until
    then (the bucket must have Object Lock enabled: S3 refuses the headers otherwise)."""
    extra: dict[str, Any] = {}
    if locked_until is not None:
        extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": locked_until}
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)


def get_object(s3: Any, bucket: str, key: str, version_id: str | None = None) -> bytes | None:
    """The object's bytes; None when there is no such key (not published yet)."""
    extra = {"VersionId": version_id} if version_id else {}
    try:
        response = s3.get_object(Bucket=bucket, Key=key, **extra)
    except s3.exceptions.NoSuchKey:
        return None
    body: bytes = response["Body"].read()
    return body


def list_keys(s3: Any, bucket: str, prefix: str, *, after: str = "") -> list[str]:
    """Every key under `prefix` that sorts after `after`, in order (paged)."""
    keys: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=bucket, Prefix=prefix,
                               **({"StartAfter": after} if after else {}))
    for page in pages:
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def list_children(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The names one level below `prefix/` (its "folders")."""
    names: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix + "/" if prefix else "",
                                   Delimiter="/"):
        names += [p["Prefix"].rstrip("/").rsplit("/", 1)[-1]
                  for p in page.get("CommonPrefixes", [])]
    return names


def versions_of(s3: Any, bucket: str, prefix: str) -> tuple[dict[str, list[str]], set[str]]:
    """key -> its version ids, oldest first, and the keys that were deleted (a delete
    marker hides them from a plain listing) (s3:ListBucketVersions). A locked key with
    more than one version was written again: the oldest is the one the lock kept."""
    found: dict[str, list[str]] = {}
    deleted: set[str] = set()
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        # S3 lists a key's versions newest first; LastModified is only to the second.
        for version in page.get("Versions", []):
            found.setdefault(version["Key"], []).insert(0, version["VersionId"])
        deleted.update(marker["Key"] for marker in page.get("DeleteMarkers", []))
    return found, deleted
