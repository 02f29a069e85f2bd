"""Append entries to the audit log: one write and one fsync per line, before the caller goes on.

The line is built by a chain of structlog processors (stamp, redact, chain-and-render) and
written by a tiny "logger" whose `msg()` writes the bytes and fsyncs them.

Only the seq, the time, the event, the step and the detail change from one line to the
next, so the rest of the line is rendered once, when the writer opens; the line is the
bytes `json.dumps` makes of the whole entry (compact, UTF-8), the same as it has always been.
A detail of JSON's own types is rendered by msgspec, which writes those bytes too, in a
tenth of the time.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import Enum
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import msgspec
import structlog
from pydantic import BaseModel
from structlog.typing import EventDict, WrappedLogger

from cockpit.audit.crashpoints import CrashPoints
from cockpit.audit.entry import GENESIS, Actor, AuditEntry, render_ts
from cockpit.audit.line import json_encodes_alike
from cockpit.audit.redact import Redactor
from cockpit.audit.verify import HASH_KEY, AuditReadError, read_log_bytes, verify_data

_OPEN_FLAGS = os.O_APPEND | os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC
_HASH_END = 64 + len('"}\n')  # the hash is the 64 characters before the line's `"}\n`
# One encoder for every line: `json.dumps` with options builds a new one each call.
_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class _FsyncedFile:
    """The 'wrapped logger' at the end of the structlog chain: the line is durable on return."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._crash = CrashPoints.from_env()

    def msg(self, line: bytes, fields: dict[str, Any] | None) -> tuple[bytes, Any]:
        if self._crash.armed:
            self._crash.before_write(self._fd, line)
        view = memoryview(line)
        while view:  # a regular file takes it in one write; the loop is for the rare short one
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)
        if self._crash.armed:
            self._crash.after_write(line)
        return line, fields


class _Unwritten:
    """The end of a chain that renders the line and writes nothing (`render_next`)."""

    def msg(self, line: bytes, fields: dict[str, Any] | None) -> tuple[bytes, Any]:
        return line, fields


class AuditWriter:
    """The only way lines get into `audit.jsonl`. Thread-safe; one writer per log."""

    def __init__(
        self,
        path: Path,
        *,
        session: str,
        actor: Actor,
        mode: str,
        redactor: Redactor | None = None,
    ) -> None:
        self.path = Path(path)
        self.session, self.actor, self.mode = session, actor, mode
        self._redactor = redactor if redactor is not None else Redactor()
        self._lock = threading.Lock()
        self._failed: OSError | None = None
        self._fd: int | None = os.open(self.path, _OPEN_FLAGS, 0o600)
        try:
            self._seq, self._prev = _continue_from(self.path)
        except BaseException:
            self.close()
            raise
        # The part of every line that never changes, rendered once.
        self._who = _to_json({"session": session, "actor": actor.model_dump(), "mode": mode})[1:-1]
        self._log = self._chain(_FsyncedFile(self._fd))
        self._dry_run = self._chain(_Unwritten())

    def _chain(self, end: _FsyncedFile | _Unwritten) -> Any:
        # Bound at once: the lazy proxy `wrap_logger` returns would be asked on every line.
        return structlog.wrap_logger(
            end,
            processors=[self._stamp, self._redact, self._chain_and_render],
            wrapper_class=structlog.BoundLogger,  # not the global config: other code may set it
            context_class=dict,
        ).bind()

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry written; (0, GENESIS) for an empty log."""
        with self._lock:
            return self._seq, self._prev

    def append(
        self,
        event: str,
        *,
        step: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Write one entry and return it once it is on disk."""
        if not isinstance(event, str) or not (step is None or isinstance(step, str)):
            # Checked before writing: a line on disk that cannot be read back is worse.
            raise TypeError(f"event and step must be text, not {event!r} and {step!r}")
        with self._lock:
            self._check_writable()
            try:
                line, fields = self._log.msg(event, step=step, detail=detail)
            except OSError as exc:
                # Part of the line may be on disk: appending more would bury a torn line
                # inside the chain. Reopening the log finds the tear and says so.
                self._failed = exc
                raise
            self._seq, self._prev = self._seq + 1, line[-_HASH_END:-3].decode()
        return _as_entry(line, fields)

    def render_next(
        self,
        event: str,
        *,
        step: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> bytes:
        """The line `append` would write next, made by the same chain, written nowhere.

        It is how the writer's own work (everything but the write and the fsync) is timed.
        """
        with self._lock:
            line: bytes = self._dry_run.msg(event, step=step, detail=detail)[0]
        return line

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_writable(self) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: audit writer is closed")
        if self._failed is not None:
            raise OSError(f"{self.path}: an earlier append failed ({self._failed}); reopen the log")

    # --- structlog processors, in order ---------------------------------------------------

    def _stamp(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict["seq"] = self._seq + 1
        event_dict["ts"] = render_ts(datetime.now(UTC))
        return event_dict

    def _redact(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict["detail"], event_dict["as_is"] = self._detail_json(event_dict["detail"])
        return event_dict

    def _detail_json(self, detail: Mapping[str, Any] | None) -> tuple[str, bool]:
        """The detail's JSON, redacted, and whether it reads back as the detail itself.

        Most details are plain JSON already and hold nothing to mask: for those, rendering
        them is all the work. Anything else takes the full way: `plain_json`, `redact`,
        which writes the same bytes for a plain detail with nothing to mask.
        """
        text = _plain_json_text(detail or {})
        if text is None or self._redactor.could_mask(text):
            return _to_json(self._redactor.redact(plain_json(detail or {}))), False
        return text, True

    def _chain_and_render(
        self, _logger: WrappedLogger, _method: str, event_dict: EventDict
    ) -> dict[str, Any]:
        seq, ts, event, step = (event_dict[k] for k in ("seq", "ts", "event", "step"))
        # Exactly what `json.dumps` makes of the entry's dict, key by key, up to the hash;
        # the closing brace is left off: the hash covers everything before `,"hash":"`.
        text = (f'{{"seq":{seq},"ts":"{ts}",{self._who},"event":{encode_basestring(event)},'
                f'"step":{"null" if step is None else encode_basestring(step)},'
                f'"detail":{event_dict["detail"]},"prev":"{self._prev}"')
        as_is = event_dict["as_is"]
        try:
            prefix = text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate has no UTF-8: it is written as `?`, and the entry is read
            # back from the bytes written.
            prefix, as_is = text.encode("utf-8", "replace"), False
        digest = hashlib.sha256(prefix).hexdigest()
        # The detail is read back from its JSON only after the line is on disk (`_as_entry`):
        # nothing the caller waits for before the fsync.
        fields = None if not as_is else {
            "seq": seq, "ts": ts, "session": self.session, "actor": self.actor,
            "mode": self.mode, "event": event, "step": step, "detail": event_dict["detail"],
            "prev": self._prev, "hash": digest}
        return {"line": prefix + HASH_KEY + digest.encode() + b'"}\n', "fields": fields}


def _plain_json_text(detail: Mapping[str, Any]) -> str | None:
    """The detail's JSON as `json.dumps` writes it, when it holds nothing but JSON's own
    types (exactly: no subclass, tuple, set, NaN, key that is not text...); None otherwise.

    msgspec writes it (see `json_encodes_alike`), ten times faster.
    """
    if not json_encodes_alike(detail):
        return None
    try:
        return msgspec.json.encode(detail).decode()
    except ValueError:  # a lone surrogate, or an int too long to print: json's way says so
        return None


def _as_entry(line: bytes, fields: dict[str, Any] | None) -> AuditEntry:
    """The entry as it will read back from the log: from the fields the line was made of
    (the detail from its JSON), when they are known to read back as themselves, else from
    the line's bytes."""
    if fields is None:
        return AuditEntry.model_validate_json(line)
    return AuditEntry.model_validate({**fields, "detail": msgspec.json.decode(fields["detail"])})


def _continue_from(path: Path) -> tuple[int, str]:
    """The (seq, hash) to chain onto; refuses a log that is torn or altered."""
    report = verify_data(read_log_bytes(path), str(path))
    if report.status != "intact":
        raise AuditReadError(report.describe().splitlines()[0])
    if report.head is None:
        # A new log: make its directory entry durable too, not only its lines.
        _fsync_dir(path.parent)
        return 0, GENESIS
    return report.head


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def plain_json(value: Any) -> Any:
    """`value` as JSON types only: evidence may hold datetimes, Decimals, paths or models."""
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, set | frozenset):
        return [plain_json(item) for item in sorted(value, key=str)]
    return plain_json(_as_json_value(value))


def _as_json_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return render_ts(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)
