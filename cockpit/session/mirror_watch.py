"""Watching a session through its S3 mirror, from any host with read access to the prefix.

The mirror is copied into a private cache folder as it grows (only the segments after the
last one read are listed and fetched), and drawn from there by the folder reader: the
screens cannot tell a mirror from a folder, except by what the header says of it. Every
segment is verified before a line of it is kept: one that does not chain on from the head
before it stops the copy there, and the header says so, loudly.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.audit.segments import MirroredChain, first_difference
from cockpit.audit.verify import VerifyReport
from cockpit.estate.errors import describe_error
from cockpit.estate.mirror_s3 import (
    MirrorAddress,
    get_object,
    list_children,
    list_keys,
    versions_of,
)
from cockpit.runner.lock import HUNG_AFTER_S
from cockpit.session.folder import ReadsFolder, SessionFolder
from cockpit.session.mirror import (
    AUDIT_DIR,
    HEAD,
    PANES_DIR,
    PLAN,
    STATE,
    parse_pane_chunk_name,
)
from cockpit.session.replay import FolderRecording
from cockpit.session.view import SessionView
from cockpit.session.watch import SessionReader

READ_EVERY_S = 2.0  # a watcher's screen asks every 0.5 s; S3 is asked at most this often


class MirrorNotFound(LookupError):
    """The address holds no mirrored session, or several and none was named."""


def find_session(s3: Any, address: MirrorAddress) -> MirrorAddress:
    """`address` itself when it holds a session (its head.json), else the one session
    under it; several are listed for the watcher to name one."""
    if get_object(s3, address.bucket, address.key(HEAD)) is not None:
        return address
    sessions = list_children(s3, address.bucket, address.prefix)
    if len(sessions) == 1:
        return address.under(sessions[0])
    if not sessions:
        raise MirrorNotFound(f"{address} holds no mirrored session (no head.json)")
    raise MirrorNotFound(f"{address} holds {len(sessions)} sessions: name one, e.g. "
                         f"{address.under(sessions[-1])} (all: {', '.join(sessions)})")


@dataclass(frozen=True)
class MirrorHead:
    seq: int
    hash: str
    published_at: datetime | None
    newest_ts: datetime | None

    @classmethod
    def parse(cls, data: bytes) -> MirrorHead:
        head = json.loads(data)
        return cls(int(head["seq"]), str(head["hash"]), _when(head.get("published_at")),
                   _when(head.get("newest_ts")))


class MirrorReader(ReadsFolder):
    """A watcher's source on a mirror; holds the watcher's read-only client, nothing else."""

    def __init__(self, s3: Any, address: MirrorAddress, *, cache: Path | None = None,
                 hung_after_s: float = HUNG_AFTER_S, read_every_s: float = READ_EVERY_S,
                 panes: bool = False) -> None:
        self.s3, self.address = s3, address
        # The panes' recording is for replay; a watcher draws the panes from state.json.
        self.panes = panes
        self._last_pane_key = ""
        self._pane_part = 1
        self.pane_problem: str | None = None
        self.hung_after_s, self.read_every_s = hung_after_s, read_every_s
        self._cache: tempfile.TemporaryDirectory[str] | None = None
        if cache is None:  # the watcher's own copy: private, and gone when it ends
            self._cache = tempfile.TemporaryDirectory(prefix="cockpit-mirror-")
            cache = Path(self._cache.name) / "session"
        self.folder = SessionFolder(cache)
        self.folder.create()
        self.chain = MirroredChain(str(address))
        self._reader = SessionReader(self.folder, hung_after_s=hung_after_s)
        self._last_key = ""
        self._head: MirrorHead | None = None
        self._read_at = -float("inf")
        self._fetch_problem: str | None = None
        self._plan_read = False

    @property
    def how_to_watch(self) -> str:
        return f"cockpit watch {self.address}"

    @property
    def problem(self) -> str | None:
        said = [p for p in (self._chain_problem(), self._fetch_problem,
                            self._reader.problem) if p]
        return "; ".join(said) if said else None

    @property
    def unreadable(self) -> str | None:
        """The mirror could not be read, or what was read fails verification."""
        said = [p for p in (self._chain_problem(), self._fetch_problem) if p]
        return "; ".join(said) if said else None

    def _chain_problem(self) -> str | None:
        head = self._head
        if (self.chain.problem is None and head is not None and head.seq
                and head.seq == self.chain.head_seq and head.hash != self.chain.head_hash):
            return (f"MIRROR FAILS VERIFICATION at seq {head.seq}: head.json's hash is not "
                    "the chain's (the head or the segments were replaced)")
        if self.chain.problem is None:
            return None
        return (f"MIRROR FAILS VERIFICATION at seq {self.chain.first_bad_seq}: "
                f"{self.chain.problem}; nothing after seq {self.chain.head_seq} is shown")

    # --- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fetch what is new in the mirror into the cache (at most every `read_every_s`)."""
        if time.monotonic() - self._read_at < self.read_every_s:
            return
        self._read_at = time.monotonic()
        try:
            self._fetch()
        except Exception as exc:  # S3 unreachable or refusing: said, the cache still shows
            self._fetch_problem = f"cannot read the mirror {self.address}: {describe_error(exc)}"
        else:
            self._fetch_problem = None

    def _fetch(self) -> None:
        head = get_object(self.s3, self.address.bucket, self.address.key(HEAD))
        self._head = MirrorHead.parse(head) if head is not None else self._head
        fresh = self._fetch_segments()
        if fresh or not self._plan_read:
            self._copy(PLAN, self.folder.plan)
            self._plan_read = self.folder.plan.exists()
        self._copy(STATE, self.folder.state)
        if self.panes:
            self._fetch_panes()

    def _fetch_segments(self) -> bool:
        prefix = self.address.key(AUDIT_DIR) + "/"
        keys = list_keys(self.s3, self.address.bucket, prefix, after=self._last_key)
        fresh = False
        for key in keys:
            if self.chain.problem is not None:
                break
            data = get_object(self.s3, self.address.bucket, key) or b""
            good = self.chain.feed(key, data)
            if good:
                with self.folder.audit.open("ab") as log:
                    log.write(b"".join(line + b"\n" for line in good))
                fresh = True
            self._last_key = key
        return fresh

    def _fetch_panes(self) -> None:
        """Each chunk appended to its part where the last one ended; a chunk that does not
        start there (one missing, or rewritten) is said, and nothing after it is taken:
        a replay shows the panes up to the gap rather than a view stitched across it."""
        if self.pane_problem is not None:
            return
        prefix = self.address.key(PANES_DIR) + "/"
        for key in list_keys(self.s3, self.address.bucket, prefix, after=self._last_pane_key):
            where = parse_pane_chunk_name(key.rsplit("/", 1)[-1])
            self._last_pane_key = key
            if where is None:
                continue
            part, offset = where
            gap = self._pane_gap(part, offset)
            if gap is not None:
                self.pane_problem = f"the panes' recording in the mirror has a gap: {gap}"
                return
            path = self.folder.pane_part(part)
            self._pane_part = part
            with path.open("ab") as recording:
                recording.write(get_object(self.s3, self.address.bucket, key) or b"")

    def _pane_gap(self, part: int, offset: int) -> str | None:
        """A chunk goes on where the last ended, or starts the next part at its first byte."""
        held = self.folder.pane_part(self._pane_part)
        size = held.stat().st_size if held.exists() else 0
        if part == self._pane_part and offset == size:
            return None
        if part == self._pane_part + 1 and offset == 0 and size:
            return None
        return (f"part {self._pane_part} ends at byte {size}; the next chunk is part {part} "
                f"from byte {offset}")

    def _copy(self, name: str, path: Path) -> None:
        data = get_object(self.s3, self.address.bucket, self.address.key(name))
        if data is not None:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)

    def view(self) -> SessionView | None:
        self.refresh()
        view = self._reader.view()
        if view is None:
            return None
        state = _read_json(self.folder.state)
        behind = self.behind_s()
        closed = view.run.closed
        gone = behind is not None and behind > self.hung_after_s and not closed
        return replace(view, driver=_driver_label(state), driver_alive=not closed,
                       driver_hung_s=behind if gone else None, problem=self.problem,
                       mirror=self.lag_label(closed=closed))

    def behind_s(self, now: datetime | None = None) -> float | None:
        """Seconds since the driver last published to the mirror (it republishes its head
        at least every heartbeat, so a quiet driver does not look like a stopped one)."""
        if self._head is None or self._head.published_at is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self._head.published_at).total_seconds())

    def lag_label(self, now: datetime | None = None, *, closed: bool = False) -> str:
        behind = self.behind_s(now)
        if behind is None:
            return f"mirror {self.address}: no head published yet"
        head = self._head
        assert head is not None
        if closed and self.chain.head_seq >= head.seq:  # nothing more will come: no lag
            return f"mirror: complete to seq {head.seq}, verified"
        newest = ""
        if head.newest_ts is not None:
            age = ((now or datetime.now(UTC)) - head.newest_ts).total_seconds()
            newest = f", newest entry {max(0.0, age):.0f} s old"
        shown = "" if self.chain.head_seq >= head.seq else \
            f", {head.seq - self.chain.head_seq} entries not fetched yet"
        return f"mirror: {behind:.0f} s behind the driver (seq {head.seq}{newest}{shown})"

    def close(self) -> None:
        if self._cache is not None:
            self._cache.cleanup()


class MirrorRecording(FolderRecording):
    """A mirrored session fetched whole (log verified segment by segment, and the panes'
    recording) into the reader's private cache, and replayed from there."""

    def __init__(self, reader: MirrorReader) -> None:
        reader.panes, reader.read_every_s = True, 0.0
        reader.refresh()
        super().__init__(reader.folder)
        self.reader = reader

    @property
    def how_to_watch(self) -> str:
        return f"cockpit replay {self.reader.address}"

    @property
    def refused(self) -> str | None:
        """Why this mirror must not be replayed: unreadable, or failing verification."""
        if self.reader.unreadable is not None:
            return self.reader.unreadable
        if not self.folder.plan.exists() or not self.folder.audit.exists():
            return f"{self.reader.address} holds no plan or no log to replay"
        return None


def _driver_label(state: dict[str, Any]) -> str | None:
    holder = state.get("driver")
    if not isinstance(holder, dict):
        return None
    return f"{holder.get('user', '?')}@{holder.get('host', '?')} (pid {holder.get('pid', '?')})"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _when(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- verifying a whole mirror ------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorVerdict:
    report: VerifyReport
    log: bytes  # the lines that verify, as the mirror holds them
    rewritten: list[str]  # locked keys written again (a second version) or deleted (a marker)
    head: MirrorHead | None

    @property
    def exit_code(self) -> int:
        return 1 if self.rewritten or self.head_differs() else self.report.exit_code

    def head_differs(self) -> str | None:
        """The head.json against the chain: a head that names a seq the segments do not
        reach, or another hash, means segments are missing or were replaced."""
        if self.head is None or self.report.status != "intact":
            return None
        chain = self.report.head or (0, "")
        if self.head.seq > chain[0]:
            return (f"head.json says seq {self.head.seq}, the segments reach seq {chain[0]}: "
                    "entries are missing from the mirror")
        if self.head.seq == chain[0] and self.head.seq and self.head.hash != chain[1]:
            return f"head.json's hash for seq {chain[0]} is not the chain's"
        return None

    def describe(self) -> str:
        lines = [self.report.describe()]
        if (differs := self.head_differs()) is not None:
            lines.insert(0, f"{self.report.name}: ALTERED: {differs}")
        for key in self.rewritten:
            lines.append(f"{self.report.name}: ALTERED: {key} was written again or deleted "
                         "after it was locked: its first version is the record")
        return "\n".join(lines)


def verify_mirror(s3: Any, address: MirrorAddress, *, versions: bool = False) -> MirrorVerdict:
    """Every segment of the mirrored session at `address`, fetched and verified in order.
    With `versions` (s3:ListBucketVersions), every key ever written is verified by its
    first version (the one the lock kept), and a key written again or deleted is named."""
    chain = MirroredChain(str(address))
    prefix = address.key(AUDIT_DIR) + "/"
    kept: dict[str, list[str]] = {}
    deleted: set[str] = set()
    if versions:
        kept, deleted = versions_of(s3, address.bucket, prefix)
    keys = sorted(kept) if versions else list_keys(s3, address.bucket, prefix)
    good: list[bytes] = []
    for key in keys:
        first = kept[key][0] if versions else None
        data = get_object(s3, address.bucket, key, version_id=first) or b""
        good += chain.feed(key, data)
        if chain.problem is not None:
            break
    head = get_object(s3, address.bucket, address.key(HEAD))
    touched = {k for k, v in kept.items() if len(v) > 1} | deleted
    return MirrorVerdict(chain.report(), b"".join(line + b"\n" for line in good),
                         sorted(touched), MirrorHead.parse(head) if head is not None else None)


def verify_mirror_at(s3: Any, url: str) -> MirrorVerdict:
    """`cockpit audit verify s3://bucket/prefix[/session]`. A mirror written under Object
    Lock (its head says so) is also checked for keys written again, which needs
    s3:ListBucketVersions."""
    address = find_session(s3, MirrorAddress.parse(url))
    head = get_object(s3, address.bucket, address.key(HEAD))
    locked = head is not None and bool(json.loads(head).get("object_lock"))
    return verify_mirror(s3, address, versions=locked)


@dataclass(frozen=True)
class Comparison:
    exit_code: int
    said: str


def compare_with_mirror(s3: Any, local: bytes, local_name: str, session: str,
                        url: str) -> Comparison:
    """`cockpit audit verify SESSION --against s3://...`: the local log, line for line,
    against the mirror (its first, locked versions). A local log that was rewritten and
    re-chained verifies on its own; it cannot match what the mirror kept."""
    address = MirrorAddress.parse(url)
    try:
        address = find_session(s3, address.under(session))
    except MirrorNotFound:
        address = find_session(s3, address)
    verdict = verify_mirror_at(s3, str(address))
    if verdict.exit_code != 0:
        return Comparison(1, verdict.describe())
    mirrored = verdict.report.entries
    seq = first_difference(local, verdict.log)
    if seq is None:
        return Comparison(0, f"{local_name}: matches the mirror {address} line for line "
                             f"({mirrored} entries)")
    if seq > mirrored:
        return Comparison(0, f"{local_name}: its first {mirrored} entries match the mirror "
                             f"{address}; seq {seq} on are not published there yet")
    return Comparison(1, f"{local_name}: DIFFERS from the mirror {address} at seq {seq}: "
                         "the local log was rewritten (or cut) after it was published; "
                         "the mirror's copy is the record")
