"""The change board's record as one self-contained HTML file that also prints well."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from cockpit.audit import tables
from cockpit.audit.board import BoardReport, EvidenceItem, Mark, as_text
from cockpit.audit.gantt import Bar, Gantt, gantt
from cockpit.audit.pane_story import PaneStory, story_html

_CSS = """
td.spark { font-family: ui-monospace, monospace; letter-spacing: -1px; white-space: pre; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 2px solid #333; padding-bottom: .15em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0; width: 100%; }
th, td { border: 1px solid #999; padding: .25em .5em; text-align: left; vertical-align: top;
         white-space: pre-wrap; overflow-wrap: anywhere; }
th { background: #eee; }
table.facts th { width: 11em; }
dl { margin: .2em 0 .2em 0; display: grid; grid-template-columns: max-content auto;
     gap: .1em 1em; }
dt { font-weight: 600; }
dd { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
ul { margin: .2em 0; padding-left: 1.4em; }
.evidence { border-left: 3px solid #999; padding: .1em 0 .1em .8em; margin: .6em 0; }
.evidence p { margin: .1em 0 .3em; }
.warning { border: 2px solid #b00; color: #b00; padding: .5em .8em; font-weight: 600; }
.result-failed, .result-interrupted, .result-undo-failed { color: #b00; font-weight: 600; }
.result-skipped, .result-undone { color: #8a5a00; font-weight: 600; }
.empty { color: #555; font-style: italic; }
.gantt { position: relative; margin: .6em 0 1em; }
.gantt-row { display: grid; grid-template-columns: 13em 1fr 15em; gap: 0 .6em;
             align-items: center; border-bottom: 1px solid #ddd; min-height: 1.7em; }
.gantt-label { overflow-wrap: anywhere; font-size: .92em; }
.gantt-row.critical .gantt-label { font-weight: 700; }
.gantt-row.critical .gantt-label::after { content: " ◆"; color: #b00; }
.gantt-track { position: relative; height: 1.3em; }
.gantt-figures { font-size: .85em; color: #333; }
.planned, .actual { position: absolute; box-sizing: border-box; min-width: 2px; }
.planned { top: 0; height: 1.3em; border: 1px dashed #555; background: #f3f3f3; }
.actual { top: .3em; height: .7em; background: #2a6; border: 1px solid #164; }
.actual.result-failed, .actual.result-interrupted, .actual.result-undo-failed {
  background: #c33; border-color: #800; }
.actual.result-undone, .actual.result-withdrawn { background: #d90; border-color: #850; }
.actual.result-skipped { background: none; border: 1px solid #8a5a00; width: 2px; }
.mark { position: absolute; top: -.15em; width: 0; height: 1.6em; }
.mark::before { position: absolute; left: -.35em; top: -.1em; font-size: .8em; }
.mark-approval-accepted::before { content: "✔"; color: #164; }
.mark-approval-refused::before { content: "✘"; color: #b00; }
.mark-ponr { border-left: 2px solid #909; }
.gantt-lines { position: absolute; top: 0; bottom: 0; left: calc(13em + .6em);
               right: calc(15em + .6em); pointer-events: none; }
.ponr-line { position: absolute; top: 0; bottom: 0; border-left: 2px dashed #909; }
.gantt-legend { font-size: .85em; color: #333; }
.over { color: #b00; font-weight: 600; }
@media print {
  .gantt * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  h2 { break-after: avoid; }
  tr, .evidence { break-inside: avoid; }
  th { background: none; }
}
"""


_MARKUP = re.compile(r"[&<>\"']")  # what `html.escape` replaces
# The same in a value's JSON, where every string is between quotes, and a quote or any
# other escaped character in it starts with a backslash: none of these, nothing to escape.
_MARKUP_IN_JSON = re.compile(rb"[&<>'\\]")


def escape(text: str) -> str:
    """`html.escape`, which most log text passes through unchanged: a search is much
    cheaper than its five replacements."""
    return html.escape(text) if _MARKUP.search(text) else text


def render_html(report: BoardReport) -> str:
    return "".join(html_chunks(report))


def html_chunks(report: BoardReport, story: PaneStory | None = None) -> Iterator[str]:
    """The page in pieces, to be written as they come: the evidence, most of a long log's
    page, a step's item at a time."""
    clock = tables.Clock(report)
    title = f"Cutover record: {as_text(report.opened.get('plan_name')) or 'unnamed plan'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *_warnings(report),
        _facts(report),
        glance(gantt(report, report.plan)),
        _section("Sessions", tables.sessions_table(report, clock), "No session.opened."),
        _section("Timeline", tables.timeline_table(report, clock), "No steps ran.", result=5),
        _section("Overrides and skips", tables.happenings_table(report.decisions, clock, "Reason"),
                 "No gate was overridden and no step skipped."),
        _section("Failures and interruptions",
                 tables.happenings_table(report.problems, clock, "Detail"), "None."),
        _section("Notes", tables.notes_table(report, clock), "No notes."),
    ]
    yield "\n".join(parts) + "\n"
    if story:
        yield story_html(story, escape) + "\n"
    yield from _evidence(report, clock)
    yield "\n</body></html>\n"


def _warnings(report: BoardReport) -> list[str]:
    lines = []
    if report.verify.status != "intact":
        lines.append(f'<p class="warning">The log did not verify: '
                     f"{escape(tables.verdict(report))}</p>")
    if report.plan_changed():
        lines.append('<p class="warning">The plan file changed between sessions '
                     "(see Sessions).</p>")
    return lines


def _facts(report: BoardReport) -> str:
    rows = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"
                   for label, value in tables.facts(report))
    return f'<table class="facts">{rows}</table>'


def _section(title: str, table: tables.Table, empty: str, result: int | None = None) -> str:
    body = _table(table, result) if table.rows else f'<p class="empty">{escape(empty)}</p>'
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _table(table: tables.Table, result: int | None = None,
           esc: Callable[[str], str] = escape) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in table.headers)
    rows = "".join(f"<tr>{_row(row, result, esc)}</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _row(row: tuple[str, ...], result: int | None, esc: Callable[[str], str]) -> str:
    """Cells; the `result` column also gets a class, so failures stand out in print."""
    return "".join(
        f'<td class="result-{esc(cell.replace(" ", "-"))}">{esc(cell)}</td>'
        if index == result else f"<td>{esc(cell)}</td>"
        for index, cell in enumerate(row)
    )


def _evidence(report: BoardReport, clock: tables.Clock) -> Iterator[str]:
    if not report.evidence:
        yield '<section><h2>Evidence</h2><p class="empty">No evidence recorded.</p></section>'
        return
    yield "<section><h2>Evidence</h2>"
    for step, items in report.evidence.items():
        yield f"<h3>{escape(tables.evidence_heading(report, step))}</h3>"
        yield from (_evidence_item(item, clock) for item in items)
    yield "</section>"


def _evidence_item(item: EvidenceItem, clock: tables.Clock) -> str:
    caption = (f"<p><strong>{escape(item.what)}</strong> at {escape(clock(item.ts))}"
               f" by {escape(item.who)}</p>")
    json_text = item.evidence_json
    # Evidence without a character to escape (most) is written as it is.
    esc = escape if _MARKUP_IN_JSON.search(
        json_text.encode() if isinstance(json_text, str) else json_text) else str
    return f'<div class="evidence">{caption}{html_value(item.evidence, esc)}</div>'


def html_value(value: Any, esc: Callable[[str], str] = escape) -> str:
    """Dicts as definition lists, lists of flat records as tables, other lists as bullets."""
    if isinstance(value, dict):
        return _definitions(value, esc) if value else '<span class="empty">(empty)</span>'
    if not isinstance(value, list):  # a leaf, the commonest by far
        return esc(tables.scalar(value))
    if tables.is_record_list(value):
        headers = tuple(str(k) for k in value[0])
        rows = [tuple(tables.scalar(v) for v in row.values()) for row in value]
        return _table(tables.Table(headers, rows), esc=esc)
    if not value:
        return '<span class="empty">(empty)</span>'
    return "<ul>" + "".join([f"<li>{html_value(v, esc)}</li>" for v in value]) + "</ul>"


def _definitions(value: dict[Any, Any], esc: Callable[[str], str]) -> str:
    # One loop, leaves written in place: evidence is most of a long log's page.
    parts = []
    for key, item in value.items():
        if isinstance(item, dict | list):
            shown = html_value(item, esc)
        else:
            shown = esc(item if type(item) is str else tables.scalar(item))
        parts.append(f"<dt>{esc(str(key))}</dt><dd>{shown}</dd>")
    return "<dl>" + "".join(parts) + "</dl>"


# --- the timeline at a glance -----------------------------------------------------------


def glance(chart: Gantt) -> str:
    """Per step a dashed bar for its budget from where it started, a solid one per attempt
    (red failed, amber undone, a tick skipped), the approvals on its row, and the point of
    no return as a line across every row. Plain CSS: the file opens anywhere, and prints."""
    if chart.start is None:
        return ('<section><h2>Planned against actual</h2><p class="empty">No steps ran.'
                "</p></section>")
    lines = "".join(
        f'<div class="ponr-line" data-at="{mark.ts.isoformat()}" '
        f'style="left:{chart.at(mark.ts):.2f}%" title="{escape(mark.text)}"></div>'
        for mark in chart.marks if mark.kind == "ponr")
    rows = "".join(_bar_row(chart, bar) for bar in chart.bars)
    legend = ('<p class="gantt-legend">Dashed: the step\'s budget, from when it started. '
              "Solid: each attempt (green done, red failed, amber undone; a tick: skipped). "
              "◆ the critical path (the chain of steps that decided the window's length). "
              "✔/✘ an approval accepted/refused. Purple dashed line: the point of no "
              f"return. {escape(_span_text(chart))}</p>")
    return (f"<section><h2>Planned against actual</h2>{legend}"
            f'<div class="gantt"><div class="gantt-lines">{lines}</div>{rows}</div></section>')


def _span_text(chart: Gantt) -> str:
    assert chart.start is not None and chart.end is not None
    return (f"From {chart.start:%H:%M:%S}Z to {chart.end:%H:%M:%S}Z "
            f"({tables.duration((chart.end - chart.start).total_seconds())}).")


def _bar_row(chart: Gantt, bar: Bar) -> str:
    track = []
    if bar.start is not None and bar.budget_s is not None:
        end = bar.start + timedelta(seconds=bar.budget_s)
        track.append(_span("planned", chart, bar.start, end,
                           f"budget {tables.duration(bar.budget_s)}"))
    for run in bar.runs:
        start = run.start or run.end
        if start is not None:
            track.append(_span(f"actual result-{run.result.replace(' ', '-')}", chart, start,
                               run.end or start, f"{run.result} {tables.duration(run.duration_s)}"))
    track += [_mark(chart, mark) for mark in bar.marks]
    critical = " critical" if bar.critical else ""
    return (f'<div class="gantt-row{critical}" data-step="{escape(bar.step)}">'
            f'<div class="gantt-label" title="{escape(bar.title)}">{escape(bar.step)}</div>'
            f'<div class="gantt-track">{"".join(track)}</div>'
            f'<div class="gantt-figures">{_figures(bar)}</div></div>')


def _span(kind: str, chart: Gantt, start: datetime, end: datetime, title: str) -> str:
    left = chart.at(start)
    width = max(chart.at(end) - left, 0.0)
    return (f'<div class="{escape(kind)}" data-start="{start.isoformat()}" '
            f'data-end="{end.isoformat()}" style="left:{left:.2f}%;width:{width:.2f}%" '
            f'title="{escape(title)}"></div>')


def _mark(chart: Gantt, mark: Mark) -> str:
    return (f'<div class="mark mark-{escape(mark.kind)}" data-at="{mark.ts.isoformat()}" '
            f'style="left:{chart.at(mark.ts):.2f}%" title="{escape(mark.text)}"></div>')


def _figures(bar: Bar) -> str:
    """`44.0 s of 1 min 00 s, 16.0 s under`, or what became of a step that did not run."""
    if bar.result in ("not run", "skipped") or bar.actual_s is None:
        return escape(bar.result)
    said = f"{tables.duration(bar.actual_s)}"
    if bar.budget_s is not None:
        said += f" of {tables.duration(bar.budget_s)}"
    over = bar.over_s
    if over is None:
        return escape(said)
    if over > 0:
        return f'{escape(said)}, <span class="over">{escape(tables.duration(over))} over</span>'
    return escape(f"{said}, {tables.duration(-over)} under")
