"""Export a log: the change board's record (md, html) or the entries as data (json, csv).

Nothing goes into an export that is not in the log (the log is already redacted), apart
from what verify says about it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from cockpit.audit.board import build_board
from cockpit.audit.entry import AuditEntry, render_ts
from cockpit.audit.render_html import render_html
from cockpit.audit.render_md import render_md
from cockpit.audit.verify import VerifyReport, read_and_verify

CSV_COLUMNS = ("seq", "ts", "user", "host", "mode", "event", "step", "detail", "hash")


def export_log(path: Path, fmt: str) -> str:
    """The log at `path` as `json`, `csv`, `md` or `html`; `AuditReadError` if unreadable."""
    try:
        render = _FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}: one of {', '.join(_FORMATS)}") from None
    result, report = read_and_verify(Path(path))
    return render(result.entries, report)


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


def export_md(entries: list[AuditEntry], report: VerifyReport) -> str:
    return render_md(build_board(entries, report))


def export_html(entries: list[AuditEntry], report: VerifyReport) -> str:
    return render_html(build_board(entries, report))


_FORMATS: dict[str, Callable[[list[AuditEntry], VerifyReport], str]] = {
    "json": export_json,
    "csv": export_csv,
    "md": export_md,
    "html": export_html,
}
