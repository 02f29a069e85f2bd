"""The database window's actions: read-only and back, backup into S3 (to URL, or to disk
then upload), restore, join the AG and leave it, and the clean-up of a failed backup.

Backups and restores block for as long as the server works; meanwhile their progress is
sampled from another connection into the step's log. A SQL failure becomes an
`ActionFailed` in SQL Server's own words (secret-free); a failed backup also says which
multipart uploads it left open in S3, in the failed step's evidence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from cockpit.estate import s3, sql, tsql
from cockpit.estate.handle import EstateHandle, ReadOnlyError
from cockpit.plan import models as m
from cockpit.runner.actions import ActionContext, ActionFailed

T = TypeVar("T")
SAMPLE_EVERY_PERCENT = 10  # a progress line in the log per this much of a backup


def _in_sql_words(handle: EstateHandle, work: Callable[[], T]) -> T:
    """Run an action; a failure reads as SQL Server said it, without any secret."""
    try:
        return work()
    except (ActionFailed, ReadOnlyError):
        raise
    except Exception as exc:  # any driver or server error is the step's outcome
        raise ActionFailed(sql.describe_sql_error(handle, exc)) from exc


def _set_read_only(a: m.SetReadOnly, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return _in_sql_words(ctx.handle, lambda: sql.set_read_only(ctx.handle, a.endpoint, name))


def _set_read_write(a: m.SetReadWrite, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return _in_sql_words(ctx.handle, lambda: sql.set_read_write(ctx.handle, a.endpoint, name))


def _drop_database(a: m.DropDatabase, ctx: ActionContext) -> dict[str, Any]:
    db = sql.database(ctx.handle, a.database)
    return _in_sql_words(ctx.handle, lambda: sql.drop_database(ctx.handle, a.endpoint, db))


def _add_to_ag(a: m.AddToAg, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return _in_sql_words(ctx.handle, lambda: sql.add_to_ag(
        ctx.handle, a.endpoint, a.ag, name, a.seeding))


def _remove_from_ag(a: m.RemoveFromAg, ctx: ActionContext) -> dict[str, Any]:
    name = sql.database(ctx.handle, a.database).name
    return _in_sql_words(ctx.handle, lambda: sql.remove_from_ag(
        ctx.handle, a.endpoint, a.ag, name))


def _abort_multipart(a: m.AbortMultipart, ctx: ActionContext) -> dict[str, Any]:
    return s3.abort_multipart(ctx.handle, a.bucket, a.key)


# --- backup and restore ------------------------------------------------------------------------


def _backup_to_url(a: m.BackupToUrl, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    bucket = s3.bucket_name(handle, a.bucket)
    stripes, size = (a.stripes, None) if a.stripes else _in_sql_words(
        handle, lambda: sql.stripes_for(handle, a.endpoint, name))
    keys = tsql.stripe_keys(a.key, stripes)
    sample = _BackupSampler(ctx, a.endpoint, "BACKUP", a.bucket, a.key)
    try:
        done = _while(ctx, sample, lambda: _in_sql_words(handle, lambda: sql.backup_to_url(
            handle, a.endpoint, name, bucket, keys)))
    except ActionFailed as exc:
        raise _with_orphans(exc, handle, a.bucket, a.key) from exc
    return {**done, "stripes": stripes, "database_bytes": size, "keys": keys}


def _with_orphans(exc: ActionFailed, handle: EstateHandle, bucket_id: str,
                  key: str) -> ActionFailed:
    """A failed backup leaves its parts in S3: say so, and what clears them."""
    snap = s3.backup_objects(handle, bucket_id, key)
    orphans: list[dict[str, Any]] = [
        {"key": u.key, "upload_id": u.upload_id, "parts": u.parts, "bytes": u.bytes}
        for u in snap.uploads]
    evidence: dict[str, Any] = {"orphaned_uploads": orphans, "error": str(exc)}
    if snap.error:
        evidence["s3_error"] = snap.error
    if not orphans:
        return ActionFailed(str(exc), evidence)
    parts, size = sum(o["parts"] for o in orphans), sum(o["bytes"] for o in orphans)
    return ActionFailed(
        f"{exc}; orphaned multipart upload(s) left in s3://{snap.bucket}/{key}: "
        f"{len(orphans)} upload(s), {parts} part(s), {size} bytes; abort them with "
        f"s3.abort_multipart (this step's undo)", evidence)


def _backup_to_disk(a: m.BackupToDisk, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    sample = _BackupSampler(ctx, a.endpoint, "BACKUP", None, a.key)
    done = _while(ctx, sample, lambda: _in_sql_words(handle, lambda: sql.backup_to_disk(
        handle, a.endpoint, name, a.path)))
    uploaded = s3.upload_file(handle, sql.local_path(handle, a.path), a.bucket, a.key,
                              progress=_UploadReporter(ctx, a.key))
    return {**done, "upload": uploaded}


def _restore_from_url(a: m.RestoreFromUrl, ctx: ActionContext) -> dict[str, Any]:
    handle, name = ctx.handle, sql.database(ctx.handle, a.database).name
    bucket = s3.bucket_name(handle, a.bucket)
    keys = s3.backup_keys(handle, bucket, a.key)
    sample = _BackupSampler(ctx, a.endpoint, "RESTORE", None, a.key)
    return _while(ctx, sample, lambda: _in_sql_words(handle, lambda: sql.restore_from_url(
        handle, a.endpoint, name, bucket, keys, recovery=a.recovery)))


def _while(ctx: ActionContext, sample: Callable[[], None], work: Callable[[], T]) -> T:
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


class _BackupSampler:
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


class _UploadReporter:
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


ACTIONS: dict[type, Callable[[Any, ActionContext], dict[str, Any]]] = {
    m.SetReadOnly: _set_read_only,
    m.SetReadWrite: _set_read_write,
    m.DropDatabase: _drop_database,
    m.AddToAg: _add_to_ag,
    m.RemoveFromAg: _remove_from_ag,
    m.AbortMultipart: _abort_multipart,
    m.BackupToUrl: _backup_to_url,
    m.BackupToDisk: _backup_to_disk,
    m.RestoreFromUrl: _restore_from_url,
}
