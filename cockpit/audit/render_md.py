"""The change board's record as Markdown: reads as plain text, renders as tables."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from cockpit.audit import tables
from cockpit.audit.board import BoardReport, EvidenceItem, as_text
from cockpit.audit.gantt import gantt

# Every ASCII punctuation CommonMark lets a backslash escape that could start markup here:
# log text (notes, reasons, evidence) must read as text, never as links, html or tables.
# An underscore inside a word (`percent_complete`) is never emphasis, so it stays as it is.
_MARKUP_CHARS = r"([\\`*\[\]<>|#!~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))"
_MARKUP = re.compile(_MARKUP_CHARS)
# The same search over a value's JSON finds every string in it that needs escaping: each
# string is there as it is, between quotes (neither a letter nor a digit), or escaped with
# a backslash, which the search finds too, as it does a newline (`\n` in JSON). A search
# for the characters alone goes first: it is many times faster, and finds nothing in most.
_MARKUP_IN_JSON = re.compile(_MARKUP_CHARS.encode())
_MARKUP_CHARS_IN_JSON = re.compile(rb"[\\`*\[\]<>|#!~&_]")


def md_text(text: str) -> str:
    # Most log text holds no markup at all: a search is much cheaper than a substitution.
    return _MARKUP.sub(r"\\\1", text) if _MARKUP.search(text) else text


def md_cell(text: str) -> str:
    return md_text(text).replace("\r\n", "\n").replace("\n", "<br>")


def md_table(table: tables.Table, cell: Callable[[str], str] = md_cell) -> list[str]:
    lines = ["| " + " | ".join(cell(h) for h in table.headers) + " |",
             "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
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
    lines += _section("Planned against actual",
                      tables.planned_table(gantt(report, report.plan), clock), "No steps ran.")
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
            yield "\n".join(_evidence_item(item, clock))  # one piece an item, not a line


def _evidence_item(item: EvidenceItem, clock: tables.Clock) -> list[str]:
    title = f"**{md_text(item.what)}** at {clock(item.ts)} by {md_text(item.who)}"
    value = (_ESCAPED if _needs_escaping(item.evidence_json) else _AS_IS).value(item.evidence, 0)
    return [title, "", *(value or ["(empty)"]), ""]


def _needs_escaping(json_text: str | bytes) -> bool:
    text = json_text.encode() if isinstance(json_text, str) else json_text
    found = _MARKUP_CHARS_IN_JSON.search(text)
    return found is not None and _MARKUP_IN_JSON.search(text, found.start()) is not None


class _MdValue:
    """Evidence as Markdown lines, its text escaped by `text` and `cell`: by md_text and
    md_cell, or, for evidence without a character to escape (most), left as it is."""

    def __init__(self, text: Callable[[str], str], cell: Callable[[str], str]) -> None:
        self.text, self.cell = text, cell

    def value(self, value: Any, depth: int) -> list[str]:
        """Nested dicts and lists as indented bullets; a flat list of records as a table."""
        if isinstance(value, dict):
            return self._pairs(value, depth)
        if depth == 0 and tables.is_record_list(value):
            return md_table(_records(value), self.cell)
        if isinstance(value, list):
            return [line for v in value for line in self._item(v, depth)]
        return ["  " * depth + self.cell(tables.scalar(value))]

    def _pairs(self, value: dict[Any, Any], depth: int) -> list[str]:
        # One loop, not a call per pair: evidence is most of a long log's record.
        lines: list[str] = []
        indent, text, cell = "  " * depth, self.text, self.cell
        for key, item in value.items():
            head = f"{indent}- **{text(str(key))}**:"
            if isinstance(item, dict | list) and item:
                lines.append(head)
                lines += self.value(item, depth + 1)
            else:
                lines.append(f"{head} {cell(item if type(item) is str else tables.scalar(item))}")
        return lines

    def _item(self, value: Any, depth: int) -> list[str]:
        indent = "  " * depth
        if tables.is_record_list([value]):  # a flat record reads best on one line
            pairs = (f"**{self.text(str(k))}**: {self.cell(tables.scalar(v))}"
                     for k, v in value.items())
            return [f"{indent}- " + ", ".join(pairs)]
        if isinstance(value, dict | list) and value:
            return [f"{indent}-", *self.value(value, depth + 1)]
        return [f"{indent}- {self.cell(tables.scalar(value))}"]


_ESCAPED = _MdValue(md_text, md_cell)
_AS_IS = _MdValue(str, str)


def _records(value: list[dict[str, Any]]) -> tables.Table:
    headers = tuple(str(k) for k in value[0])
    return tables.Table(headers, [tuple(tables.scalar(v) for v in row.values()) for row in value])
