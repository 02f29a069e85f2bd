"""Read a log a line at a time, as plain data: what an export reads.

An export reads every line of a log that may hold hundreds of thousands. A pydantic model
per line, and the whole file in memory, cost it seconds and hundreds of MB; here each line
is decoded by msgspec into the envelope the writer writes (several times faster than
`json.loads`, and strict: no coercion, no NaN), checked, and handed on. A line that is not
exactly what the writer writes goes to `AuditEntry`, which accepts what it always accepted
or says why not, so the two ways never disagree on what a log holds.

The record shows a few values of most lines' details (of a progress sample, only whether it
holds evidence, unless it is a run's last): for the record, a detail's values are kept as
the JSON they are in the line, and decoded when asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, KeysView, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from cockpit.audit.line import actor_label, json_encodes_alike
from cockpit.audit.verify import ChainCheck, VerifyReport, parse_entry, said_as_read_error

if TYPE_CHECKING:
    from cockpit.audit.entry import AuditEntry


class LogEntry(msgspec.Struct, frozen=True, gc=False):
    """The fields of an `AuditEntry` that a report shows (a Struct: made in C, 100,000 times,
    and, holding no cycle, never followed by the garbage collector)."""

    seq: int
    ts: datetime
    session: str
    who: str
    """The actor's `label()`."""
    mode: str
    event: str
    step: str | None
    detail: Mapping[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> LogEntry:
        return cls(entry.seq, entry.ts, entry.session, entry.actor.label(), entry.mode,
                   entry.event, entry.step, entry.detail)


class LazyDetail(Mapping[str, Any]):
    """A detail whose values are decoded from their JSON only when asked for."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, msgspec.Raw]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return decode_json(self._values[key])

    def get(self, key: str, default: Any = None) -> Any:
        value = self._values.get(key)
        return default if value is None else decode_json(value)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> KeysView[str]:
        # The dict's own view: `in` on it costs no call into Python, and every progress
        # sample of a long log is asked for three keys.
        return self._values.keys()

    def json_of(self, key: str) -> bytes:
        """The value's JSON as the line holds it (a copy: the line itself is let go)."""
        return bytes(self._values[key])


def decode_json(text: str | bytes | msgspec.Raw) -> Any:
    try:
        return msgspec.json.decode(text)  # the faster, for plain JSON
    except msgspec.DecodeError:  # a number beyond a float, NaN, a lone surrogate: json reads them
        return json.loads(bytes(text) if isinstance(text, msgspec.Raw) else text)


class ActorLine(msgspec.Struct, forbid_unknown_fields=True):
    user: str
    host: str
    ssh_client: str | None


class LogLine(msgspec.Struct, forbid_unknown_fields=True):
    """A line exactly as the writer writes it: its fields in their order, the actor's too,
    so msgspec encodes it as `AuditEntry.model_dump(mode="json")` reads."""

    seq: int
    ts: str
    session: str
    actor: ActorLine
    mode: str
    event: str
    step: str | None
    detail: dict[str, Any]
    prev: str
    hash: str


_decode_line = msgspec.json.Decoder(LogLine).decode


class _Envelope(LogLine, forbid_unknown_fields=True):
    """A line with its detail's values left as JSON (`LazyDetail`)."""

    detail: dict[str, msgspec.Raw]


_decode_envelope = msgspec.json.Decoder(_Envelope).decode
# Left as JSON, a value is only checked to be JSON: a string's UTF-8 and a number's size are
# checked as it is decoded, later. A line in UTF-8 that cannot hold a number too long for
# Python's int (4,300 digits) is refused or accepted by that check as by a full decode.
_LAZY_LINE_BYTES = 4096


def _float_without_exponent(literal: str) -> float:
    number = float(literal)
    if not json_encodes_alike(number):
        raise ValueError("a float json writes with an exponent")
    return number


# Decodes a line only if msgspec would encode its detail as json does: every float in it
# is checked as it is read, which costs less than a walk over the detail after.
_decode_plain_line = msgspec.json.Decoder(LogLine, float_hook=_float_without_exponent).decode
_TS_AS_WRITTEN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")  # AuditEntry's Sha256Hex


def scan_log(path: Path, on_entry: Callable[[LogEntry], None]) -> VerifyReport:
    """Read the log once, a line at a time: each complete line goes to `on_entry` as a
    `LogEntry`, and the chain is checked on the way. Memory stays that of one line, however
    long the log; `AuditReadError` if it cannot be read or a line is not an entry."""
    check = ChainCheck(str(path))
    tail = None
    with said_as_read_error(), Path(path).open("rb") as log:
        for number, line in enumerate(log, 1):
            if not line.endswith(b"\n"):
                tail = line
                break
            whole = line[:-1]
            on_entry(read_log_entry(number, whole, chained=check.feed(whole)))
    return check.report(tail)


def read_log_lines(path: Path) -> Iterator[tuple[LogLine | AuditEntry, bool]]:
    """Every complete line of the log, one at a time, as the writer wrote it (a `LogLine`)
    or, a line in another shape, as `AuditEntry` reads it; `AuditReadError` for a line that
    is not an entry. What the data exports read: every field, no chain check.

    With each, whether its detail is one that msgspec encodes as json does
    (`json_encodes_alike`): known from decoding it, which meets every float there is.
    """
    with said_as_read_error(), Path(path).open("rb") as log:
        for number, line in enumerate(log, 1):
            if not line.endswith(b"\n"):
                return  # a torn last line: no entry
            yield _read_data_line(number, line[:-1])


def _read_data_line(number: int, line: bytes) -> tuple[LogLine | AuditEntry, bool]:
    written = _as_written(line, chained=False, decode=_decode_plain_line)
    if written is not None:
        return written[0], True
    written = _as_written(line, chained=False)
    return (written[0] if written is not None else parse_entry(number, line)), False


def read_log_entry(number: int, line: bytes, *, chained: bool = False) -> LogEntry:
    """Line `number` as a `LogEntry`: decoded directly when it is what the writer writes,
    through `AuditEntry` otherwise. `chained`: the chain check found the line in its place,
    so its `prev` and `hash` are known to be sha256 hex digests."""
    lazy = len(line) < _LAZY_LINE_BYTES and (line.isascii() or _is_utf8(line))
    written = _as_written(line, chained, decode=_decode_envelope if lazy else _decode_line)
    if written is None:
        return LogEntry.of(parse_entry(number, line))
    raw, ts = written
    actor = raw.actor
    detail = LazyDetail(raw.detail) if lazy else raw.detail
    return LogEntry(raw.seq, ts, raw.session, actor_label(actor.user, actor.host,
                    actor.ssh_client), raw.mode, raw.event, raw.step, detail)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


def _as_written(line: bytes, chained: bool, decode: Callable[[bytes], LogLine] = _decode_line
                ) -> tuple[LogLine, datetime] | None:
    """The line and its time, when it holds exactly the writer's types and format; None
    when only `AuditEntry` can say what it is."""
    try:
        raw = decode(line)
    except msgspec.DecodeError:  # malformed, or not the writer's types: AuditEntry judges
        return None
    if not _TS_AS_WRITTEN.fullmatch(raw.ts):
        return None
    if not chained and not (_SHA256_HEX.fullmatch(raw.prev) and _SHA256_HEX.fullmatch(raw.hash)):
        return None
    try:
        return raw, datetime.fromisoformat(raw.ts)
    except ValueError:  # no such date: AuditEntry says so
        return None
