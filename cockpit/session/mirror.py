"""The driver's S3 mirror: the session published for watchers on other hosts, in the
background, never in a step's way.

Under `s3://bucket/prefix/<session>/`:

- `audit/00000001-00000042.jsonl`: the log, as immutable segments of whole lines, named by
  their first and last seq; each is put once and never again (under Object Lock when the
  setting asks), so the mirror is append-only as the file is;
- `plan.toml`: the plan as the driver opened it (the log holds its sha256);
- `state.json`: the driver's latest picture of the panes, as in the folder;
- `head.json`: the seq and hash of the last line published, and when; put last, so a
  watcher that sees a head finds every segment up to it;
- `panes/00001-000000000000.jsonl`: the panes' recording (`panes.jsonl`, for replay) as
  chunks of whole lines named by the recording's part and the offset they start at, so a
  replay elsewhere reassembles each part byte for byte. It is what the screens showed,
  not the record: it is not chained, and a replay says what it could not read.

The runner never waits for any of it: each change only sets an event (`changed`), and one
thread reads the lines already fsynced to `audit.jsonl` and uploads what is new. The log on
disk comes first and is the record; the mirror is a copy after it, never instead of it.
While S3 cannot be reached the failure is said (`failure`, in the driver's header) and the
same segment is tried again until it lands; the lines appended meanwhile follow it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from cockpit.audit.segments import segment_name
from cockpit.estate.errors import describe_error
from cockpit.estate.mirror_s3 import MirrorAddress, put_object
from cockpit.session.folder import SessionFolder
from cockpit.settings import MirrorSettings

AUDIT_DIR = "audit"
PANES_DIR = "panes"
# A long outage of S3 must not turn into one huge put of the recording when it comes back.
PANE_CHUNK_MAX = 4 * 1024 * 1024
HEAD = "head.json"
STATE = "state.json"
PLAN = "plan.toml"


@dataclass(frozen=True)
class _Segment:
    key: str
    body: bytes
    last_seq: int
    last_hash: str
    newest_ts: str
    end_offset: int


class MirrorPublisher:
    """One thread that publishes the session folder to its mirror."""

    def __init__(self, folder: SessionFolder, address: MirrorAddress, s3: Any,
                 settings: MirrorSettings) -> None:
        self.folder, self.s3, self.settings = folder, s3, settings
        self.where = address.under(folder.path.name)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._failure: str | None = None
        self._offset, self._seq, self._hash, self._newest_ts = _published_before(folder)
        self._pane_part, self._pane_offset = _panes_published_before(folder)
        self._pending: _Segment | None = None
        self._sent: dict[str, str] = {}  # object -> sha256 of what was last put there
        self._head_at = 0.0
        self._thread = threading.Thread(target=self._run, name="mirror", daemon=True)

    # --- what the driver sees and does ------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why the mirror is behind, while it is; None when the last attempt worked."""
        with self._lock:
            return self._failure

    @property
    def published_seq(self) -> int:
        with self._lock:
            return self._seq

    def parting(self) -> str:
        """How far the mirror got, said once the session has closed."""
        failure = self.failure
        if failure is not None:
            return (f"{failure}; the rest is published when the session is next opened, "
                    "or compare later with `cockpit audit verify SESSION --against ...`")
        return f"mirror {self.where} published to seq {self.published_seq}"

    def start(self) -> MirrorPublisher:
        self._thread.start()
        return self

    def changed(self) -> None:
        """Something in the folder changed: never blocks (the runner calls it after each
        append); changes that come while a publish is under way are gathered into one."""
        self._wake.set()

    def close(self, wait_s: float = 5.0) -> None:
        """A last publish (the session's end), bounded: S3 down must not hold the exit."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(wait_s)

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.settings.heartbeat_every_s)
            # Gather the burst of appends into one segment; a stop cuts the wait short.
            stopping = self._stopping.wait(self.settings.publish_every_s)
            self._wake.clear()
            ok = self._publish_once()
            if stopping:  # seen before this publish read the folder: it had the last line
                return
            if not ok:
                self._stopping.wait(self.settings.retry_after_s)
                self._wake.set()  # try again, whether or not anything new came

    def _publish_once(self) -> bool:
        try:
            self._publish()
        except Exception as exc:  # any failure of S3 or the network: said, then retried
            with self._lock:
                self._failure = (f"MIRROR BEHIND: publishing to {self.where} failed "
                                 f"({describe_error(exc)}); retrying, seq {self._seq} "
                                 "published")
            return False
        with self._lock:
            self._failure = None
        return True

    def _publish(self) -> None:
        published = False
        # A segment that failed goes first, as it was; what came meanwhile follows it.
        while (segment := self._pending or self._next_segment()) is not None:
            self._pending = segment
            put_object(self.s3, self.where.bucket,
                       self.where.key(AUDIT_DIR, segment.key), segment.body,
                       locked_until=self._lock_until(), content_type="application/jsonl")
            self._pending = None
            with self._lock:
                self._offset, self._seq = segment.end_offset, segment.last_seq
                self._hash, self._newest_ts = segment.last_hash, segment.newest_ts
            published = True
            self._remember()
        published = self._publish_panes() or published
        published = self._put_if_changed(PLAN, self.folder.plan, "application/toml") or published
        published = self._put_if_changed(STATE, self.folder.state, "application/json") or published
        if published or time.monotonic() - self._head_at >= self.settings.heartbeat_every_s:
            self._put_head()  # last: every object it points at is already there

    def _next_segment(self) -> _Segment | None:
        """The complete lines after the last one published (fsynced: the writer is done
        with them), or None when there are none."""
        try:
            with self.folder.audit.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return None
        end = data.rfind(b"\n") + 1
        if end == 0:
            return None
        lines = data[:end].splitlines()
        first, last = self._seq + 1, self._seq + len(lines)
        newest = json.loads(lines[-1])
        return _Segment(segment_name(first, last), data[:end], last, str(newest["hash"]),
                        str(newest["ts"]), self._offset + end)

    def _publish_panes(self) -> bool:
        """The recording's new whole lines, part by part: a part closed by rotation is
        finished from its closed file (the same bytes) before the live one is read."""
        published = False
        while (chunk := self._next_pane_chunk()) is not None:
            name, body = chunk
            put_object(self.s3, self.where.bucket, self.where.key(PANES_DIR, name), body,
                       locked_until=self._lock_until(), content_type="application/jsonl")
            self._pane_offset += len(body)
            self._remember()
            published = True
        return published

    def _next_pane_chunk(self) -> tuple[str, bytes] | None:
        while True:
            closed = self.folder.pane_part(self._pane_part)
            path = closed if closed.exists() else self.folder.panes
            try:
                with path.open("rb") as part:
                    if path != closed and _rotated_since(closed, part):
                        continue  # the live part we opened is the next one: read the closed
                    part.seek(self._pane_offset)
                    data = part.read(PANE_CHUNK_MAX)
            except FileNotFoundError:
                return None
            end = data.rfind(b"\n") + 1
            if end:
                return pane_chunk_name(self._pane_part, self._pane_offset), data[:end]
            if path != closed:
                return None
            self._pane_part, self._pane_offset = self._pane_part + 1, 0  # that part is done

    def _remember(self) -> None:
        with self._lock:
            progress = {"offset": self._offset, "seq": self._seq, "hash": self._hash,
                        "newest_ts": self._newest_ts, "pane_part": self._pane_part,
                        "pane_offset": self._pane_offset}
        _remember_published(self.folder, progress)

    def _put_if_changed(self, name: str, path: Any, content_type: str) -> bool:
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return False
        digest = hashlib.sha256(body).hexdigest()
        if self._sent.get(name) == digest:
            return False
        put_object(self.s3, self.where.bucket, self.where.key(name), body,
                   content_type=content_type)
        self._sent[name] = digest
        return True

    def _put_head(self) -> None:
        with self._lock:
            head = {"session": self.folder.path.name, "seq": self._seq, "hash": self._hash,
                    "newest_ts": self._newest_ts,
                    "published_at": datetime.now(UTC).isoformat(),
                    "object_lock": self.settings.object_lock}
        put_object(self.s3, self.where.bucket, self.where.key(HEAD),
                   json.dumps(head).encode(), content_type="application/json")
        self._head_at = time.monotonic()

    def _lock_until(self) -> datetime | None:
        if not self.settings.object_lock:
            return None
        return datetime.now(UTC) + timedelta(days=self.settings.retention_days)


# --- where the last driver of this folder left off ---------------------------------------------
#
# The driver needs no read access to the mirror (PutObject is all it holds): what it
# published is remembered in the folder, so a resumed session goes on with the next segment
# rather than putting the log's first lines again under another name.


def _published_before(folder: SessionFolder) -> tuple[int, int, str, str]:
    try:
        data = json.loads(folder.mirrored.read_text(encoding="utf-8"))
        return (int(data["offset"]), int(data["seq"]), str(data["hash"]),
                str(data.get("newest_ts", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0, "", ""


def _panes_published_before(folder: SessionFolder) -> tuple[int, int]:
    try:
        data = json.loads(folder.mirrored.read_text(encoding="utf-8"))
        return int(data.get("pane_part", 1)), int(data.get("pane_offset", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1, 0


def _remember_published(folder: SessionFolder, progress: dict[str, Any]) -> None:
    payload = json.dumps(progress).encode()
    tmp = folder.mirrored.with_name(f".{folder.mirrored.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, payload)
    finally:
        os.close(fd)
    os.replace(tmp, folder.mirrored)


def _rotated_since(closed: Path, opened: BinaryIO) -> bool:
    """The part being read was closed (renamed) between looking for it and opening the live
    part, so what was opened is a new live part: reading it at the closed part's offset
    would publish another part's bytes under this one's name."""
    try:
        return closed.stat().st_ino != os.fstat(opened.fileno()).st_ino
    except FileNotFoundError:
        return False  # not closed yet: the live part opened is this one


def pane_chunk_name(part: int, offset: int) -> str:
    return f"{part:05d}-{offset:012d}.jsonl"


def parse_pane_chunk_name(name: str) -> tuple[int, int] | None:
    """(part, offset) of a chunk's name; None for anything else under the prefix."""
    stem, dot, ext = name.partition(".")
    part, dash, offset = stem.partition("-")
    if not (dot and dash and ext == "jsonl" and part.isdigit() and offset.isdigit()):
        return None
    return int(part), int(offset)


def open_mirror(folder: SessionFolder, settings: MirrorSettings, s3: Any) -> MirrorPublisher:
    """The session's mirror publisher, started."""
    return MirrorPublisher(folder, MirrorAddress.parse(settings.url), s3, settings).start()
