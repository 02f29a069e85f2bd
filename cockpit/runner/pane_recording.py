"""`panes.jsonl`: every pane's view as the driver saw it change, for replay after the window.

The driver records a pane's view only when it differs from the last view of that pane it
recorded: a pane polled again to the same rows records nothing. A view is written whole
the first time a pane appears in a part, and after that as the cells that changed (a
latency, a TTL, a percent), which is what keeps a three-hour window on a large estate
small. One JSON object a line:

    {"t": 1764650000.123, "p": "dns", "c": [columns], "r": [[status, cell, ...], ...]}
    {"t": 1764650002.125, "p": "dns", "d": [[row, index, value], ...]}
    {"t": 1764650007.130, "p": "dns"}

`t` is when the view was taken (UTC epoch seconds), `p` the pane; in a row, index 0 is
the status and the cells follow; `e` (error) and `o` (note) are written when they change.
A line with no change says the pane was polled again to the same view (every few
seconds at most), so its age replays as the driver saw it.

The file is rotated by size: the live part is `panes.jsonl`, closed parts are
`panes.1.jsonl`, `panes.2.jsonl`... oldest first. A closed part never changes again (a
mirror copies it once), and each part starts with whole views, so it reads on its own.

Nothing here is fsynced: the audit log is the record; this is what the screens showed,
and losing its last lines to a crash loses a second of replay, not evidence.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast, get_args

import msgspec

from cockpit.runner.panes import PANES, PaneRow, PaneView, RowStatus

PART_BYTES = 8 * 1024 * 1024  # a part a mirror uploads in one go, and an editor opens
# A pane repolled to the same view says so this often (a line of ~40 bytes): replay must
# not show a pane as stale (15 s by default) that the driver saw polled every 2 s.
STILL_EVERY_S = 5.0


class _Line(msgspec.Struct, omit_defaults=True):
    t: float
    p: str
    a: float | None = None  # taken at, when earlier than `t` (a view kept from a failed poll)
    c: list[str] | None = None  # columns: the line holds a whole view
    r: list[list[str]] | None = None
    d: list[tuple[int, int, str]] | None = None  # changed cells of the view before
    e: str | None | msgspec.UnsetType = msgspec.UNSET
    o: str | None | msgspec.UnsetType = msgspec.UNSET


class _ReadLine(msgspec.Struct):
    """A line read back: rows and changed cells stay JSON until they are played, so a
    long window's recording takes about its own size in memory, not ten times that."""

    t: float
    p: str
    a: float | None = None
    c: list[str] | None = None
    r: msgspec.Raw = msgspec.Raw(b"")  # empty: not in the line (Raw takes no None)
    d: msgspec.Raw = msgspec.Raw(b"")
    e: str | None | msgspec.UnsetType = msgspec.UNSET
    o: str | None | msgspec.UnsetType = msgspec.UNSET


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_ReadLine).decode
_decode_rows = msgspec.json.Decoder(list[list[str]]).decode
_decode_cells = msgspec.json.Decoder(list[tuple[int, int, str]]).decode


@dataclass
class _Drawn:
    """A pane's view as rows of strings: what is compared and what deltas are made of."""

    columns: list[str]
    rows: list[list[str]]
    error: str | None
    note: str | None

    @classmethod
    def of(cls, view: PaneView) -> _Drawn:
        return cls(list(view.columns), [[r.status, *r.cells] for r in view.rows],
                   view.error, view.note)


def _delta(before: _Drawn, now: _Drawn) -> list[tuple[int, int, str]] | None:
    """The cells that changed, or None when only a whole view says it (new columns, a row
    more or less, a row that changed shape)."""
    if before.columns != now.columns or len(before.rows) != len(now.rows):
        return None
    changed: list[tuple[int, int, str]] = []
    for i, (old, new) in enumerate(zip(before.rows, now.rows, strict=True)):
        if old == new:
            continue
        if len(old) != len(new):
            return None
        changed += [(i, j, cell) for j, (was, cell) in enumerate(zip(old, new, strict=True))
                    if was != cell]
    return changed


def encode_change(view: PaneView, before: _Drawn | None,
                  t: float) -> tuple[bytes, _Drawn] | None:
    """The line that records `view` after `before` (None: nothing changed)."""
    now = _Drawn.of(view)
    if before == now:
        return None
    taken = round(view.taken_at.timestamp(), 3)
    a = taken if taken < t else None
    delta = _delta(before, now) if before is not None else None
    if delta is None or before is None:
        line = _Line(t=t, p=view.pane, a=a, c=now.columns, r=now.rows,
                     e=now.error if now.error else msgspec.UNSET,
                     o=now.note if now.note else msgspec.UNSET)
    else:
        line = _Line(t=t, p=view.pane, a=a, d=delta or None,
                     e=now.error if now.error != before.error else msgspec.UNSET,
                     o=now.note if now.note != before.note else msgspec.UNSET)
    return _encode(line) + b"\n", now


class PaneRecorder:
    """Appends each pane's changed view to the session's `panes.jsonl`. Called from the
    pane pollers' worker threads (never the screen's): one short write, under a lock."""

    def __init__(self, live: Path, closed_part: Callable[[int], Path], *,
                 part_bytes: int = PART_BYTES) -> None:
        self.live, self.closed_part, self.part_bytes = live, closed_part, part_bytes
        self._last: dict[str, _Drawn] = {}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._latest = 0.0
        self._said_at: dict[str, float] = {}  # when each pane's view was last said taken
        self._closed = False
        self.failed: str | None = None
        self.written = 0  # lines, for the benchmark

    def record(self, view: PaneView) -> bool:
        """Record `view` if it differs from the pane's last recorded one; True if it did."""
        with self._lock:
            if self._closed:  # a poll that ends after the session has closed
                return False
            try:
                return self._record(view)
            except OSError as exc:  # a full disk must not take a pane down: stop recording
                self.failed = (f"PANES NOT RECORDED since {view.taken_at:%H:%M:%S}Z (a replay "
                               f"of the window ends there): {exc}")
                self._close_part()
                self._closed = True
                return False

    def _record(self, view: PaneView) -> bool:
        # Polls of different panes end out of order: the lines are written in time
        # order all the same, so replay plays them as they are.
        taken = round(view.taken_at.timestamp(), 3)
        t = max(taken, self._latest)
        change = encode_change(view, self._last.get(view.pane), t)
        if change is None:
            self._say_still(view.pane, taken)
            return False
        line, drawn = change
        if self._size and self._size + len(line) > self.part_bytes:
            self._rotate()
            change = encode_change(view, None, t)  # a part starts with whole views
            assert change is not None
            line, drawn = change
        self._write(line)
        self._last[view.pane], self._latest = drawn, t
        self._said_at[view.pane] = taken
        return True

    def _say_still(self, pane: str, taken: float) -> None:
        """The same view, freshly polled: every few seconds, a line with its time only."""
        if taken - self._said_at.get(pane, taken) < STILL_EVERY_S or taken < self._latest:
            return
        self._write(_encode(_Line(t=taken, p=pane)) + b"\n")
        self._said_at[pane] = self._latest = taken

    def _write(self, line: bytes) -> None:
        if self._fd is None:
            self._open()
        assert self._fd is not None
        os.write(self._fd, line)
        self._size += len(line)
        self.written += 1

    def _open(self) -> None:
        self._fd = os.open(self.live, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        if self._size and not _ends_a_line(self.live):  # a driver died mid-line: end it
            os.write(self._fd, b"\n")
            self._size += 1

    def _rotate(self) -> None:
        """Close the live part under the next free number; the next line opens a new one."""
        self._close_part()
        number = 1
        while self.closed_part(number).exists():
            number += 1
        os.replace(self.live, self.closed_part(number))
        self._last.clear()

    def close(self) -> None:
        """The session is over: nothing more is recorded."""
        with self._lock:
            self._close_part()
            self._closed = True

    def _close_part(self) -> None:
        with_fd, self._fd = self._fd, None
        if with_fd is not None:
            os.close(with_fd)
        self._size = 0


def _ends_a_line(path: Path) -> bool:
    with path.open("rb") as part:
        part.seek(-1, os.SEEK_END)
        return part.read(1) == b"\n"


# --- reading it back ----------------------------------------------------------------------


@dataclass
class _Pane:
    drawn: _Drawn
    taken_at: float
    line: int = 0  # the last line applied to it: its view is built again only after one


@dataclass
class PanePlayback:
    """The recorded changes, played forward: the panes as they stood at a moment."""

    times: list[float]  # each change's time, in the order recorded
    lines: list[_ReadLine]
    unreadable: int = 0  # lines that did not parse (a torn last line)
    _at: int = 0  # changes applied so far
    _panes: dict[str, _Pane] = field(default_factory=dict)
    _built: dict[str, tuple[int, PaneView]] = field(default_factory=dict)

    def play_to(self, when: float) -> None:
        """Apply every change taken at or before `when` (from the start when it is
        earlier than what is shown: the recording only plays forward)."""
        if self._at and self.times[self._at - 1] > when:
            self._at, self._panes = 0, {}
        while self._at < len(self.lines) and self.times[self._at] <= when:
            self._at += 1
            _apply(self._panes, self.lines[self._at - 1], self._at)

    def next_change_after(self, when: float) -> float | None:
        """When a pane next showed something else (a repoll to the same view is not)."""
        start = bisect.bisect_right(self.times, when)
        return next((self.times[i] for i in range(start, len(self.lines))
                     if _changes(self.lines[i])), None)

    def views(self) -> dict[str, PaneView]:
        """The panes as they stand; a pane no line changed since the last call is the
        very view it was (the screen redraws a pane only when its view is new)."""
        for name, pane in self._panes.items():
            built = self._built.get(name)
            if built is None or built[0] != pane.line:
                self._built[name] = (pane.line, _view(name, pane))
        return {name: self._built[name][1] for name in self._panes}


def _changes(line: _ReadLine) -> bool:
    return line.c is not None or len(line.d) > 0 or not isinstance(line.e, msgspec.UnsetType) \
        or not isinstance(line.o, msgspec.UnsetType)


def _apply(panes: dict[str, _Pane], line: _ReadLine, number: int) -> None:
    """Play one line; one that does not fit the view before it (an edited file) is
    passed over, as a line that does not parse is."""
    try:
        _play(panes, line, number)
    except (IndexError, ValueError, msgspec.DecodeError):
        return


def _play(panes: dict[str, _Pane], line: _ReadLine, number: int) -> None:
    taken = line.a if line.a is not None else line.t
    if line.c is not None:
        rows = _decode_rows(line.r) if len(line.r) else []
        if any(not row or row[0] not in _STATUSES for row in rows):
            raise ValueError("a row with no status")
        panes[line.p] = _Pane(_Drawn(list(line.c), rows, _set(line.e, None),
                                     _set(line.o, None)), taken, number)
        return
    pane = panes.get(line.p)
    if pane is None:  # a delta whose whole view was in a part that is gone
        return
    for row, index, value in _decode_cells(line.d) if len(line.d) else []:
        if index == 0 and value not in _STATUSES:
            raise ValueError(f"{value!r} is no status")
        pane.drawn.rows[row][index] = value
    pane.drawn.error = _set(line.e, pane.drawn.error)
    pane.drawn.note = _set(line.o, pane.drawn.note)
    pane.taken_at, pane.line = taken, number


_STATUSES = frozenset(get_args(RowStatus))


def _set(value: str | None | msgspec.UnsetType, before: str | None) -> str | None:
    return before if isinstance(value, msgspec.UnsetType) else value


def _view(name: str, pane: _Pane) -> PaneView:
    drawn = pane.drawn
    return PaneView(pane=name, title=PANES.get(name, name), columns=list(drawn.columns),
                    # checked as they were played: built without validating again, as a
                    # long window's panes are built many times a second
                    rows=[PaneRow.model_construct(status=cast(RowStatus, r[0]), cells=r[1:])
                          for r in drawn.rows],
                    error=drawn.error, note=drawn.note,
                    taken_at=datetime.fromtimestamp(pane.taken_at, UTC))


def read_recording(parts: Iterable[bytes]) -> PanePlayback:
    """The parts' changes (parts oldest first; lines that do not parse are counted, not
    fatal)."""
    lines: list[_ReadLine] = []
    unreadable = 0
    for data in parts:
        for raw in data.split(b"\n"):
            if not raw.strip():
                continue
            try:
                lines.append(_decode(raw))
            except msgspec.DecodeError:
                unreadable += 1
    # Lines play in the order written (a delta needs the line before it); a clock stepped
    # back between two drivers must not make them look out of order.
    times, latest = [], 0.0
    for line in lines:
        latest = max(latest, line.t)
        times.append(latest)
    return PanePlayback(times, lines, unreadable)
