"""What the SQL actions share: SQL Server's words for a failure, progress sampled from
another connection while a long statement runs, and the parts a failed backup leaves in S3.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from cockpit.estate import s3, sql
from cockpit.estate.handle import EstateHandle, ReadOnlyError
from cockpit.estate.snapshots import DataSnapshot
from cockpit.runner.kinds.base import ActionContext, ActionFailed

T = TypeVar("T")
SAMPLE_EVERY_PERCENT = 10  # a progress line in the log per this much of a backup


def in_sql_words(handle: EstateHandle, work: Callable[[], T]) -> T:
    """Run an action; a failure reads as SQL Server said it, without any secret."""
    try:
        return work()
    except (ActionFailed, ReadOnlyError):
        raise
    except Exception as exc:  # any driver or server error is the step's outcome
        raise ActionFailed(sql.describe_sql_error(handle, exc)) from exc


def with_orphans(exc: ActionFailed, handle: EstateHandle, bucket_id: str,
                  key: str) -> ActionFailed:
    """A failed backup leaves its parts in S3: say so, and what clears them."""
    snap = s3.backup_objects(handle, bucket_id, key)
    orphans: list[dict[str, Any]] = [
        {"key": u.key, "upload_id": u.upload_id, "parts": u.parts, "bytes": u.bytes}
        for u in snap.uploads]
    evidence: dict[str, Any] = {**exc.evidence, "orphaned_uploads": orphans,
                                "error": str(exc)}
    if snap.error:
        evidence["s3_error"] = snap.error
    if not orphans:
        return ActionFailed(str(exc), evidence)
    parts, size = sum(o["parts"] for o in orphans), sum(o["bytes"] for o in orphans)
    return ActionFailed(
        f"{exc}; orphaned multipart upload(s) left in s3://{snap.bucket}/{key}: "
        f"{len(orphans)} upload(s), {parts} part(s), {size} bytes; abort them with "
        f"s3.abort_multipart (this step's undo)", evidence)


def while_sampling(ctx: ActionContext, sample: Callable[[], None], work: Callable[[], T]) -> T:
    """Run `work`, sampling its progress from another thread until it ends."""
    if ctx.progress is None:
        return work()
    done = threading.Event()

    def sampler() -> None:
        while not done.wait(ctx.progress_every_s):
            sample()

    thread = threading.Thread(target=sampler, daemon=True, name="action-progress")
    thread.start()
    try:
        return work()
    finally:
        done.set()
        thread.join(timeout=5)


class BackupSampler:
    """Reads a BACKUP's or RESTORE's percent (and the S3 side) and reports each 10%."""

    def __init__(self, ctx: ActionContext, endpoint: str, command: str,
                 bucket_id: str | None, key: str) -> None:
        self.ctx, self.endpoint, self.command = ctx, endpoint, command
        self.bucket_id, self.key = bucket_id, key
        self._reported = -1

    def __call__(self) -> None:
        snap = sql.backup_progress(self.ctx.handle, self.endpoint)
        running = [r for r in snap.requests if r.command.startswith(self.command)]
        if not running or self.ctx.progress is None:
            return
        percent = running[0].percent_complete
        if int(percent) // SAMPLE_EVERY_PERCENT <= self._reported:
            return
        self._reported = int(percent) // SAMPLE_EVERY_PERCENT
        detail: dict[str, Any] = {"percent": round(percent, 1),
                                  "eta_ms": running[0].estimated_completion_ms}
        if self.bucket_id is not None:
            uploads = s3.backup_objects(self.ctx.handle, self.bucket_id, self.key).uploads
            detail.update(parts=sum(u.parts for u in uploads),
                          bytes=sum(u.bytes for u in uploads))
        self.ctx.progress(f"{running[0].command} {percent:.0f}%", detail)


class UploadReporter:
    """boto3's per-chunk callback, reported each 10% of the upload."""

    def __init__(self, ctx: ActionContext, key: str) -> None:
        self.ctx, self.key, self._reported = ctx, key, -1
        self._lock = threading.Lock()

    def __call__(self, sent: int, total: int) -> None:
        step = int(100 * sent / total) // SAMPLE_EVERY_PERCENT if total else 10
        with self._lock:
            if step <= self._reported or self.ctx.progress is None:
                return
            self._reported = step
        self.ctx.progress(f"upload {self.key} {100 * sent // max(total, 1)}%",
                          {"bytes": sent, "of": total})


def tables_evidence(snap: DataSnapshot) -> dict[str, Any]:
    return {t.table: {"rows": t.rows, "checksum": t.checksum, "stats_rows": t.stats_rows,
                      "skipped": t.skipped} for t in snap.tables}
