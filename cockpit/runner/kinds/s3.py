"""S3: a backup present and whole in its bucket; aborting the multipart uploads a failed
backup left open (which S3 keeps, and bills, until aborted)."""

from __future__ import annotations

from typing import Any

from cockpit.estate import s3
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    ProbeContext,
    Probes,
    Verdict,
    WatchedBy,
)


def _backup_present(c: m.BackupPresent, ctx: ProbeContext) -> Verdict:
    snap = s3.backup_objects(ctx.handle, c.bucket, c.key)
    where = f"s3://{snap.bucket}/{c.key}"
    evidence: dict[str, Any] = {
        "objects": [o.model_dump() for o in snap.objects],
        "open_uploads": [u.model_dump(mode="json") for u in snap.uploads]}
    if snap.error:
        return Verdict(False, f"{where}: {snap.error}", {**evidence, "error": snap.error})
    found = s3.complete_set(snap.objects, c.key)
    if found is None:
        return Verdict(False, f"{where}: not there yet ({len(snap.uploads)} upload(s) open)",
                       evidence)
    size, parts = sum(o.size for o in found), sum(o.parts for o in found)
    evidence.update(size=size, parts=parts, stripes=len(found))
    if size < c.min_bytes:
        return Verdict(False, f"{where}: {size} bytes, expected at least {c.min_bytes}",
                       evidence)
    return Verdict(True, f"{where}: {size} bytes in {parts} part(s), {len(found)} object(s)",
                   evidence)


def _abort_multipart(a: m.AbortMultipart, ctx: ActionContext) -> dict[str, Any]:
    return s3.abort_multipart(ctx.handle, a.bucket, a.key)


PROBES: Probes = {
    m.BackupPresent: _backup_present,
}

ACTIONS: Actions = {
    m.AbortMultipart: _abort_multipart,
}

WATCHED_BY: WatchedBy = {
    m.BackupPresent: "backup",
    m.AbortMultipart: "backup",
}
