"""Export a log: the change board's record (md, html) or the entries as data (json, csv).

Nothing goes into an export that is not in the log (the log is already redacted), apart
from what verify says about it. The log is read once, a line at a time, and the export
comes out in pieces: a long log costs memory for what the record shows, not for the log's
every line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeAlias

import msgspec

from cockpit.audit.board import BoardBuilder, BoardReport
from cockpit.audit.line import render_ts
from cockpit.audit.pane_story import PaneStory
from cockpit.audit.render_html import html_chunks
from cockpit.audit.render_md import md_chunks
from cockpit.audit.scan import LogLine, read_log_lines, scan_log

if TYPE_CHECKING:
    from cockpit.audit.entry import AuditEntry
    from cockpit.plan.models import Plan

CSV_COLUMNS = ("seq", "ts", "user", "host", "mode", "event", "step", "detail", "hash")

# A data export is kept in memory up to this size, on disk (unnamed, the owner's only)
# beyond it, until the whole log has been read.
_SPOOL_IN_MEMORY = 1 << 20


def export_log(path: Path, fmt: str, story: PaneStory | None = None) -> str:
    """The log at `path` as `json`, `csv`, `md` or `html`; `AuditReadError` if unreadable."""
    return "".join(export_chunks(path, fmt, story))


def export_chunks(path: Path, fmt: str, story: PaneStory | None = None) -> Iterator[str]:
    """The export of the log at `path` in pieces, to be written as they come.

    The log is read, and `AuditReadError` raised if it cannot be, before this returns: a
    caller that writes the pieces to a file never leaves half a record behind. `story`,
    what the panes showed around each step, goes into the html.
    """
    if fmt not in _BOARD_FORMATS and fmt not in _DATA_FORMATS:
        formats = ", ".join([*_DATA_FORMATS, *_BOARD_FORMATS])
        raise ValueError(f"unknown export format {fmt!r}: one of {formats}")
    if fmt == "html":
        return html_chunks(read_board(Path(path)), story or {})
    if fmt in _BOARD_FORMATS:
        return _BOARD_FORMATS[fmt](read_board(Path(path)))
    return _spooled(lambda out: _DATA_FORMATS[fmt](read_log_lines(Path(path)), out))


def read_board(path: Path) -> BoardReport:
    """The change board's view of the log, and the verdict on it, from one read."""
    builder = BoardBuilder()
    verdict = scan_log(path, builder.feed)
    report = builder.finish(verdict)
    report.plan = plan_beside(path)
    return report


def plan_beside(log: Path) -> Plan | None:
    """The plan a session folder keeps next to its log (`plan.toml`), if it loads: where
    the budgets and the step graph of the record's timeline come from."""
    kept = log.parent / "plan.toml"
    if not kept.is_file():
        return None
    # Here: a log alone (an export of a copy) needs none of the plan's models.
    from cockpit.plan.loader import PlanLoadError, load_plan

    try:
        return load_plan(kept)
    except (PlanLoadError, OSError):
        return None


def _spooled(export: Callable[[IO[str]], None]) -> Iterator[str]:
    """What `export` writes, once it has written all of it: a line that is not an entry,
    however far into the log, stops the export before any of it goes out."""
    import tempfile  # here: the record (md, html) has no use for it, nor its 8 ms of imports

    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, mode="w+",
                                          encoding="utf-8", newline="")
    try:
        export(spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return _drain(spool)


def _drain(spool: IO[str]) -> Iterator[str]:
    with spool:
        while chunk := spool.read(1 << 16):
            yield chunk


Lines: TypeAlias = "Iterable[tuple[LogLine | AuditEntry, bool]]"
"""Each line of a log, and whether msgspec encodes its detail as json does (`read_log_lines`)."""


def export_json(lines: Lines, out: IO[str]) -> None:
    """A JSON array of the entries, as `json.dumps(..., indent=2)` writes it, an entry at a
    time."""
    opening = "[\n  "
    for line, alike in lines:
        # An entry's JSON holds no newline but its indents: each goes one level deeper.
        out.write(opening + _json_entry(line, alike).replace("\n", "\n  "))
        opening = ",\n  "
    out.write("[]\n" if opening == "[\n  " else "\n]\n")


def _json_entry(line: LogLine | AuditEntry, alike: bool) -> str:
    if not isinstance(line, LogLine):
        return json.dumps(line.model_dump(mode="json"), ensure_ascii=False, indent=2)
    if alike:
        # The line's fields in AuditEntry's order; msgspec indents as json does.
        return msgspec.json.format(msgspec.json.encode(line), indent=2).decode()
    return json.dumps(msgspec.to_builtins(line), ensure_ascii=False, indent=2)


def export_csv(lines: Lines, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(line, alike) for line, alike in lines)


def _csv_row(line: LogLine | AuditEntry, alike: bool) -> tuple[object, ...]:
    if isinstance(line, LogLine):
        actor = line.actor
        return (line.seq, line.ts, actor.user, actor.host, line.mode, line.event,
                line.step or "", _compact(line.detail, alike), line.hash)
    return (line.seq, render_ts(line.ts), line.actor.user, line.actor.host, line.mode,
            line.event, line.step or "", _compact(line.detail, False), line.hash)


def _compact(detail: dict[str, object], alike: bool) -> str:
    if alike:
        return msgspec.json.encode(detail).decode()
    return json.dumps(detail, ensure_ascii=False, separators=(",", ":"))


_DATA_FORMATS: dict[str, Callable[[Lines, IO[str]], None]] = {
    "json": export_json,
    "csv": export_csv,
}
_BOARD_FORMATS: dict[str, Callable[[BoardReport], Iterator[str]]] = {
    "md": md_chunks,
    "html": html_chunks,
}
