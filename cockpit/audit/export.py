"""Export a log: the change board's record (md, html) or the entries as data (json, csv).

Nothing goes into an export that is not in the log (the log is already redacted), apart
from what verify says about it. The record is built as the log is read, a line at a time,
and comes out in pieces: a long log costs memory for what the record shows, not for the
log's every line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.audit.board import BoardBuilder, BoardReport
from cockpit.audit.line import render_ts
from cockpit.audit.render_html import html_chunks
from cockpit.audit.render_md import md_chunks
from cockpit.audit.scan import scan_log
from cockpit.audit.verify import VerifyReport, read_and_verify

if TYPE_CHECKING:
    from cockpit.audit.entry import AuditEntry

CSV_COLUMNS = ("seq", "ts", "user", "host", "mode", "event", "step", "detail", "hash")


def export_log(path: Path, fmt: str) -> str:
    """The log at `path` as `json`, `csv`, `md` or `html`; `AuditReadError` if unreadable."""
    return "".join(export_chunks(path, fmt))


def export_chunks(path: Path, fmt: str) -> Iterator[str]:
    """The export of the log at `path` in pieces, to be written as they come.

    The log is read, and `AuditReadError` raised if it cannot be, before this returns: a
    caller that writes the pieces to a file never leaves half a record behind.
    """
    if fmt not in _BOARD_FORMATS and fmt not in _DATA_FORMATS:
        formats = ", ".join([*_DATA_FORMATS, *_BOARD_FORMATS])
        raise ValueError(f"unknown export format {fmt!r}: one of {formats}")
    if fmt in _BOARD_FORMATS:
        return _BOARD_FORMATS[fmt](read_board(Path(path)))
    result, report = read_and_verify(Path(path))
    return iter([_DATA_FORMATS[fmt](result.entries, report)])


def read_board(path: Path) -> BoardReport:
    """The change board's view of the log, and the verdict on it, from one read."""
    builder = BoardBuilder()
    verdict = scan_log(path, builder.feed)
    return builder.finish(verdict)


def export_json(entries: list[AuditEntry], _report: VerifyReport) -> str:
    data = [entry.model_dump(mode="json") for entry in entries]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def export_csv(entries: list[AuditEntry], _report: VerifyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(entry) for entry in entries)
    return out.getvalue()


def _csv_row(entry: AuditEntry) -> tuple[object, ...]:
    detail = json.dumps(entry.detail, ensure_ascii=False, separators=(",", ":"))
    return (entry.seq, render_ts(entry.ts), entry.actor.user, entry.actor.host, entry.mode,
            entry.event, entry.step or "", detail, entry.hash)


_DATA_FORMATS: dict[str, Callable[[list[AuditEntry], VerifyReport], str]] = {
    "json": export_json,
    "csv": export_csv,
}
_BOARD_FORMATS: dict[str, Callable[[BoardReport], Iterator[str]]] = {
    "md": md_chunks,
    "html": html_chunks,
}
