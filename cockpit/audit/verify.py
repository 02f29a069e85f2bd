"""Read and check an audit log: every line's hash, and the chain from each line to the next.

A line's hash covers its own bytes up to the final `,"hash":"`, so checking it needs no JSON
re-serialisation: hash the raw prefix, then read `seq` and `prev` to follow the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn

from cockpit.audit import events
from cockpit.audit.line import ENTRY_KEYS, GENESIS

if TYPE_CHECKING:
    from cockpit.audit.entry import AuditEntry

Status = Literal["intact", "altered", "torn", "unreadable"]

EXIT_CODES: dict[Status, int] = {"intact": 0, "altered": 1, "torn": 1, "unreadable": 2}

HASH_KEY = b',"hash":"'
# `,"hash":"` + 64 hex digits + `"}`: how every line ends (the `\n` is split off first).
_TRAILER_LEN = len(HASH_KEY) + 64 + 2
_ENTRY_START = b'{"seq":'
_PREV_KEY = b',"prev":"'
_PREV_LEN = len(_PREV_KEY) + 64 + 1  # `,"prev":"<64 hex>"` ends right where the trailer starts


class AuditReadError(Exception):
    """The log cannot be read, or is not a log this cockpit can continue or export."""


@dataclass(frozen=True)
class ReadResult:
    entries: list[AuditEntry]
    torn_tail: bytes | None
    """The bytes after the last `\\n`, when the file does not end in one (a crash mid-write)."""


@dataclass(frozen=True)
class VerifyReport:
    name: str
    status: Status
    entries: int
    """Entries that verify: all of them when intact, those before the break otherwise."""
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    reason: str = ""
    head: tuple[int, str] | None = None
    """(seq, hash) of the last entry that verifies."""
    closed: bool = False
    """The last entry is `session.closed`; otherwise the log is open or was cut short."""
    torn_bytes: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def head_label(self) -> str:
        """`head seq 42 3fa9c1d2e4b5`: what the screen, state.json and every export show."""
        if self.head is None:
            return "no head (no entries)"
        return f"head seq {self.head[0]} {self.head[1][:12]}"

    def session_label(self) -> str:
        return "session closed" if self.closed else "open or cut short (no session.closed)"

    def describe(self) -> str:
        """A report for people: what is wrong, where, and what still holds."""
        return "\n".join(_DESCRIBERS[self.status](self))


def _describe_intact(r: VerifyReport) -> list[str]:
    if r.head is None:
        return [f"{r.name}: intact, empty (no entries); {r.session_label()}"]
    return [
        f"{r.name}: intact, {r.entries} entries, {r.head_label()}; {r.session_label()}",
        f"  head hash {r.head[1]}",
        "  compare the head with the one on screen, in state.json and in the export:",
        "  a chain cannot show whole entries cut from its end",
    ]


def _describe_altered(r: VerifyReport) -> list[str]:
    seq = f" (seq {r.first_bad_seq})" if r.first_bad_seq is not None else ""
    return [
        f"{r.name}: ALTERED at line {r.first_bad_line}{seq}: {r.reason}",
        f"  {r.entries} entries verify before it, {r.head_label()};"
        f" nothing from line {r.first_bad_line} on can be trusted",
    ]


def _describe_torn(r: VerifyReport) -> list[str]:
    return [
        f"{r.name}: TORN last line (crash mid-write): {r.entries} intact entries before it,"
        f" {r.head_label()}; {r.torn_bytes} bytes after the last complete line",
        f"  not tampering: every complete line verifies; {r.session_label()}",
        "  the writer appends again only once the tail is cut off (recorded as audit.repaired)",
    ]


def _describe_unreadable(r: VerifyReport) -> list[str]:
    return [f"{r.name}: UNREADABLE: {r.reason}"]


_DESCRIBERS = {
    "intact": _describe_intact,
    "altered": _describe_altered,
    "torn": _describe_torn,
    "unreadable": _describe_unreadable,
}


# --- reading ----------------------------------------------------------------------------


def read_log_bytes(path: Path) -> bytes:
    """The whole file; an `AuditReadError` saying why in a few words if it cannot be read."""
    with said_as_read_error():
        return Path(path).read_bytes()


@contextmanager
def said_as_read_error() -> Iterator[None]:
    """OS errors of reading a log as an `AuditReadError` that says why in a few words."""
    try:
        yield
    except FileNotFoundError:
        raise AuditReadError("no such file") from None
    except IsADirectoryError:
        raise AuditReadError("is a directory, not a log file") from None
    except OSError as exc:
        raise AuditReadError(f"cannot read: {exc.strerror or exc}") from None


def split_lines(data: bytes) -> tuple[list[bytes], bytes | None]:
    """Complete lines (without `\\n`) and the torn tail after the last `\\n`, if any."""
    lines = data.split(b"\n")
    tail = lines.pop()
    return lines, tail or None


def parse_entries(lines: list[bytes]) -> list[AuditEntry]:
    return [parse_entry(number, line) for number, line in enumerate(lines, 1)]


def parse_entry(number: int, line: bytes) -> AuditEntry:
    """Line `number` as an `AuditEntry`; `AuditReadError` saying why it is not one."""
    # Here, not at the top: verifying, and exporting a log the writer wrote, never needs it.
    from pydantic import ValidationError

    from cockpit.audit.entry import AuditEntry

    try:
        return AuditEntry.model_validate_json(line)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise AuditReadError(
            f"line {number} is not an audit entry ({where + ': ' if where else ''}"
            f"{problem['msg']}); `cockpit audit verify` says more"
        ) from None


def read_entries(path: Path) -> ReadResult:
    """Every complete line as an `AuditEntry` (no chain check: that is `verify_log`)."""
    lines, tail = split_lines(read_log_bytes(path))
    return ReadResult(entries=parse_entries(lines), torn_tail=tail)


def repair_torn_tail(path: Path) -> bytes | None:
    """Cut the file back to its last complete line; the removed bytes, or None if whole."""
    data = read_log_bytes(path)
    lines, tail = split_lines(data)
    if tail is None:
        return None
    if not _looks_like_a_log(data):  # never cut bytes off a file that is not a log at all
        raise AuditReadError("not an audit log: nothing cut off")
    keep = sum(len(line) + 1 for line in lines)
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tail


# --- verifying --------------------------------------------------------------------------
#
# The hot loop touches only bytes: hashing the prefix is the check, and `seq` and `prev` sit
# at fixed places in a line the writer rendered (`{"seq":N,` first, `,"prev":"<64>"` just
# before the trailer). Parsing every line as JSON would cost five times the hashing; only
# the last entry is parsed whole, to learn whether the session was closed.


_MISSING_HASH = "missing hash"
_REWRITTEN = ("re-serialised: the line has a hash, but not as the writer wrote it (spacing "
              "or key order changed), so its bytes are not the ones that were hashed")
# A hash key anywhere in the line, however it was spaced: linear, no nested quantifiers.
_ANY_HASH = re.compile(rb'"hash"\s*:\s*"[0-9a-f]{64}"')


class _BrokenLine(Exception):
    def __init__(self, reason: str, seq: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.seq = seq


def _diagnose(line: bytes, last_seq: int, last_hash: bytes) -> NoReturn:
    """Say what is wrong with a line that `_fast_check` did not accept."""
    # The trailer has a fixed length, so this is the last `,"hash":"` of a well-formed line.
    at = len(line) - _TRAILER_LEN
    if at < 0 or not line.startswith(HASH_KEY, at) or not line.endswith(b'"}'):
        said = _REWRITTEN if _ANY_HASH.search(line) else _MISSING_HASH
        raise _BrokenLine(said, last_seq + 1)
    if hashlib.sha256(line[:at]).hexdigest().encode() != line[at + len(HASH_KEY) : -2]:
        # The line's own seq is not to be trusted: name the seq that belongs here.
        raise _BrokenLine("hash mismatch: line bytes changed", last_seq + 1)
    seq = _seq_of(line)
    if seq is None or at < _PREV_LEN or not line.startswith(_PREV_KEY, at - _PREV_LEN):
        raise _BrokenLine("not an audit entry (no seq or prev where they belong)", last_seq + 1)
    if seq != last_seq + 1:
        raise _BrokenLine(_seq_break(seq, last_seq), seq)
    raise _BrokenLine("prev does not match previous entry's hash", seq)


def _seq_of(line: bytes) -> int | None:
    if not line.startswith(_ENTRY_START):
        return None
    digits = line[len(_ENTRY_START) : line.find(b",", len(_ENTRY_START))]
    if not digits.isdigit() or len(digits) > 18 or (digits.startswith(b"0") and digits != b"0"):
        return None  # what json.loads would not read as a plain integer
    return int(digits)


def _seq_break(seq: int, last_seq: int) -> str:
    if last_seq == 0:
        return f"first entry has seq {seq}, not 1 (entries missing from the start)"
    return f"seq {seq} follows seq {last_seq}"


def _last_event(line: bytes, seq: int) -> object:
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        raise _BrokenLine("not JSON", seq) from None
    if not isinstance(entry, dict) or tuple(entry) != ENTRY_KEYS:
        raise _BrokenLine("not an audit entry (keys missing or out of order)", seq)
    return entry["event"]


class ChainCheck:
    """The chain checked one complete line at a time, as a log is read (export streams it).

    After the first line that breaks the chain, later lines are only counted past.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.good = 0
        self.broken: _BrokenLine | None = None
        self._digest = GENESIS.encode()
        self._before_last = self._digest  # the digest to fall back to if the last line fails
        self._last: bytes | None = None
        self._first: bytes | None = None

    @property
    def head_hash(self) -> str:
        """The hash of the last line that verified (GENESIS before any)."""
        return self._digest.decode()

    def feed(self, line: bytes) -> bool:
        """One complete line, without its `\\n`; whether it is the next link of the chain,
        as the writer writes it (its `prev` and `hash` are then the hex digests the
        chain holds)."""
        if self._first is None:
            self._first = line[: len(_ENTRY_START)]
        if self.broken is not None:
            return False
        seq = self.good + 1
        checked = _fast_check(line, seq, self._digest)
        if checked is None:
            try:
                _diagnose(line, seq - 1, self._digest)
            except _BrokenLine as broken:
                self.broken = broken
            return False
        self._before_last, self._digest, self.good, self._last = self._digest, checked, seq, line
        return True

    def report(self, tail: bytes | None) -> VerifyReport:
        """The verdict, once every complete line was fed; `tail` is what follows the last
        `\\n` (None when the file ends in one)."""
        last_event = self._last_event()
        head = (self.good, self._digest.decode()) if self.good else None
        if self.broken is not None:
            return self._broken_report(head)
        closed = last_event == events.SESSION_CLOSED
        if tail is None:
            return VerifyReport(self.name, "intact", self.good, head=head, closed=closed)
        if self._first is None and not _looks_like_a_log(tail):
            return _unreadable(self.name, "not an audit log (no complete line, no entry)")
        return VerifyReport(self.name, "torn", self.good, head=head, closed=closed,
                            reason=f"torn last line: {len(tail)} bytes after the last complete "
                                   "line", torn_bytes=len(tail))

    def _last_event(self) -> object:
        """The event of the last line, when it is the last line of the log: only that one
        is parsed whole, to learn whether the session was closed."""
        if self.broken is not None or self._last is None:
            return None
        try:
            return _last_event(self._last, self.good)
        except _BrokenLine as broken:
            self.broken, self.good, self._digest = broken, self.good - 1, self._before_last
            return None

    def _broken_report(self, head: tuple[int, str] | None) -> VerifyReport:
        broken = self.broken
        assert broken is not None
        first = self._first or b""
        if self.good == 0 and broken.reason == _MISSING_HASH and not first.startswith(
                _ENTRY_START):
            return _unreadable(self.name, "not an audit log (the first line is not an audit entry)")
        return VerifyReport(self.name, "altered", self.good, first_bad_seq=broken.seq,
                            first_bad_line=self.good + 1, reason=broken.reason, head=head)


def _fast_check(line: bytes, seq: int, prev: bytes) -> bytes | None:
    """The line's hash if it is exactly what the writer makes at this place, else None.

    One hash, one comparison of the line's end and one of its start: no JSON and no search.
    Anything else goes to `_diagnose`, which finds the words for what is wrong.
    """
    digest = hashlib.sha256(line[:-_TRAILER_LEN]).hexdigest().encode()
    ending = _PREV_KEY + prev + b'"' + HASH_KEY + digest + b'"}'
    if line.endswith(ending) and line.startswith(b'{"seq":%d,' % seq):
        return digest
    return None


def _looks_like_a_log(data: bytes) -> bool:
    # A crash during the very first write leaves a prefix of an entry, or zeros where the
    # file grew but the data never reached the disk.
    head = data[: len(_ENTRY_START)]
    return _ENTRY_START.startswith(head) or not data.strip(b"\0")


def verify_data(data: bytes, name: str) -> VerifyReport:
    """The verdict on a log's bytes; `name` is how the report names the file."""
    lines, tail = split_lines(data)
    check = ChainCheck(name)
    for line in lines:
        check.feed(line)
    return check.report(tail)


def _unreadable(name: str, reason: str) -> VerifyReport:
    return VerifyReport(name, "unreadable", 0, reason=reason)


def verify_log(path: Path) -> VerifyReport:
    """Check the whole chain of the log at `path`. Never raises: unreadable is a verdict."""
    try:
        data = read_log_bytes(path)
    except AuditReadError as exc:
        return _unreadable(str(path), str(exc))
    return verify_data(data, str(path))
