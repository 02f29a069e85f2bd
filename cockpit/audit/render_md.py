"""The change board's record as Markdown: reads as plain text, renders as tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from cockpit.audit import tables
from cockpit.audit.board import BoardReport, EvidenceItem, as_text

# Every ASCII punctuation CommonMark lets a backslash escape that could start markup here:
# log text (notes, reasons, evidence) must read as text, never as links, html or tables.
# An underscore inside a word (`percent_complete`) is never emphasis, so it stays as it is.
_MARKUP = re.compile(r"([\\`*\[\]<>|#!~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_text(text: str) -> str:
    # Most log text holds no markup at all: a search is much cheaper than a substitution.
    return _MARKUP.sub(r"\\\1", text) if _MARKUP.search(text) else text


def md_cell(text: str) -> str:
    return md_text(text).replace("\r\n", "\n").replace("\n", "<br>")


def md_table(table: tables.Table) -> list[str]:
    lines = ["| " + " | ".join(md_cell(h) for h in table.headers) + " |",
             "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in table.rows]
    return lines


def render_md(report: BoardReport) -> str:
    return "".join(md_chunks(report))


def md_chunks(report: BoardReport) -> Iterator[str]:
    """The record in pieces, to be written as they come: the evidence, most of a long
    log's record, a line at a time."""
    clock = tables.Clock(report)
    lines = [f"# Cutover record: {md_text(_plan_name(report))}", ""]
    lines += _warnings(report)
    lines += [f"- **{label}:** {md_cell(value)}" for label, value in tables.facts(report)]
    lines += _section("Sessions", tables.sessions_table(report, clock), "No session.opened.")
    lines += _section("Timeline", tables.timeline_table(report, clock), "No steps ran.")
    lines += _section("Overrides and skips",
                      tables.happenings_table(report.decisions, clock, "Reason"),
                      "No gate was overridden and no step skipped.")
    lines += _section("Failures and interruptions",
                      tables.happenings_table(report.problems, clock, "Detail"), "None.")
    lines += _section("Notes", tables.notes_table(report, clock), "No notes.")
    yield "\n".join(lines)
    yield from ("\n" + line for line in _evidence(report, clock))
    yield "\n"


def _plan_name(report: BoardReport) -> str:
    return as_text(report.opened.get("plan_name")) or "unnamed plan"


def _warnings(report: BoardReport) -> list[str]:
    lines = []
    if report.verify.status != "intact":
        lines.append(f"> **Warning: the log did not verify.** {md_text(tables.verdict(report))}")
    if report.plan_changed():
        lines.append("> **Warning: the plan file changed between sessions** (see Sessions).")
    return [*lines, ""] if lines else []


def _section(title: str, table: tables.Table, empty: str) -> list[str]:
    body = md_table(table) if table.rows else [empty]
    return ["", f"## {title}", "", *body]


def _evidence(report: BoardReport, clock: tables.Clock) -> Iterator[str]:
    yield from ("", "## Evidence", "")
    if not report.evidence:
        yield "No evidence recorded."
        return
    for step, items in report.evidence.items():
        yield from (f"### {md_text(tables.evidence_heading(report, step))}", "")
        for item in items:
            yield from _evidence_item(item, clock)


def _evidence_item(item: EvidenceItem, clock: tables.Clock) -> list[str]:
    title = f"**{md_text(item.what)}** at {clock(item.ts)} by {md_text(item.who)}"
    return [title, "", *(md_value(item.evidence, 0) or ["(empty)"]), ""]


def md_value(value: Any, depth: int) -> list[str]:
    """Nested dicts and lists as indented bullets; a flat list of records as a table."""
    indent = "  " * depth
    if isinstance(value, dict):
        return [line for key, v in value.items() for line in _md_pair(str(key), v, depth)]
    if depth == 0 and tables.is_record_list(value):
        return md_table(_records(value))
    if isinstance(value, list):
        return [line for v in value for line in _md_item(v, depth)]
    return [f"{indent}{md_cell(tables.scalar(value))}"]


def _md_pair(key: str, value: Any, depth: int) -> list[str]:
    indent = "  " * depth
    if isinstance(value, dict | list) and value:
        return [f"{indent}- **{md_text(key)}**:", *md_value(value, depth + 1)]
    return [f"{indent}- **{md_text(key)}**: {md_cell(tables.scalar(value))}"]


def _md_item(value: Any, depth: int) -> list[str]:
    indent = "  " * depth
    if tables.is_record_list([value]):  # a flat record reads best on one line
        pairs = (f"**{md_text(str(k))}**: {md_cell(tables.scalar(v))}" for k, v in value.items())
        return [f"{indent}- " + ", ".join(pairs)]
    if isinstance(value, dict | list) and value:
        return [f"{indent}-", *md_value(value, depth + 1)]
    return [f"{indent}- {md_cell(tables.scalar(value))}"]


def _records(value: list[dict[str, Any]]) -> tables.Table:
    headers = tuple(str(k) for k in value[0])
    return tables.Table(headers, [tuple(tables.scalar(v) for v in row.values()) for row in value])
