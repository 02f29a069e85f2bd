"""S3: a backup present and whole in its bucket; aborting the multipart uploads a failed
backup left open (which S3 keeps, and bills, until aborted); finding those a backup cut
short by a dead driver left."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cockpit.estate import s3
from cockpit.estate.handle import EstateHandle
from cockpit.plan import models as m
from cockpit.runner.kinds.base import (
    ActionContext,
    Actions,
    Effects,
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


def _aborted(a: m.AbortMultipart, ctx: ProbeContext) -> Verdict:
    """No upload of the backup is left open."""
    snap = s3.backup_objects(ctx.handle, a.bucket, a.key)
    where = f"s3://{snap.bucket}/{a.key}"
    evidence: dict[str, Any] = {"open_uploads": [u.model_dump(mode="json")
                                                 for u in snap.uploads]}
    if snap.error:
        return Verdict(False, f"{where}: {snap.error}", {**evidence, "error": snap.error})
    if snap.uploads:
        return Verdict(False, f"{where}: {len(snap.uploads)} upload(s) still open", evidence)
    return Verdict(True, f"{where}: no upload left open", evidence)


# --- what a backup cut short leaves behind ----------------------------------------------------

BACKUPS = (m.BackupToUrl, m.BackupToDisk)


@dataclass(frozen=True)
class LeftOpen:
    """The multipart uploads open under a backup step's key, and the undo that aborts them
    (None when the step's undo is not `s3.abort_multipart`)."""

    where: str
    uploads: list[dict[str, Any]]
    abort: m.AbortMultipart | None
    error: str | None = None

    def describe(self) -> str:
        parts = sum(int(u.get("parts") or 0) for u in self.uploads)
        size = sum(int(u.get("bytes") or 0) for u in self.uploads)
        listed = ", ".join(f"{u['key']} (upload {u['upload_id']}, {u['parts']} part(s), "
                           f"{u['bytes']} bytes)" for u in self.uploads)
        return (f"{len(self.uploads)} orphaned multipart upload(s) in {self.where}, "
                f"{parts} part(s), {size} bytes, kept and billed by S3 until aborted: {listed}")


def left_open(step: m.Step, handle: EstateHandle) -> LeftOpen | None:
    """The uploads open under the key of a step that backs up into S3 (what its undo would
    abort, or where its backup writes); None for a step that does not."""
    undo = step.undo if isinstance(step.undo, m.AbortMultipart) else None
    target = undo or (step.do if isinstance(step.do, BACKUPS) else None)
    if target is None:
        return None
    snap = s3.backup_objects(handle, target.bucket, target.key)
    uploads = [{"key": u.key, "upload_id": u.upload_id, "parts": u.parts, "bytes": u.bytes}
               for u in snap.uploads]
    return LeftOpen(f"s3://{snap.bucket}/{target.key}", uploads, undo, snap.error)


PROBES: Probes = {
    m.BackupPresent: _backup_present,
}

ACTIONS: Actions = {
    m.AbortMultipart: _abort_multipart,
}

EFFECTS: Effects = {
    m.AbortMultipart: _aborted,
}

WATCHED_BY: WatchedBy = {
    m.BackupPresent: "backup",
    m.AbortMultipart: "backup",
}
