"""The report's facts and tables as plain text cells; md and html only differ in markup."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cockpit.audit.board import BoardReport, Happening, as_text
from cockpit.audit.gantt import Gantt


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


class Clock:
    """Times in UTC; the date only when the window spans more than one day."""

    def __init__(self, report: BoardReport) -> None:
        first, last = report.first_ts, report.last_ts
        self.one_day = first is None or last is None or first.date() == last.date()

    def __call__(self, ts: datetime | None) -> str:
        if ts is None:
            return "—"
        # `%H:%M:%S`, or `%m-%d %H:%M:%S`, in a fraction of strftime's time: every piece of
        # evidence is stamped.
        time = ts.time().isoformat("seconds")
        return time if self.one_day else f"{ts.month:02d}-{ts.day:02d} {time}"


def full_time(ts: datetime | None) -> str:
    return "—" if ts is None else ts.strftime("%Y-%m-%d %H:%M:%SZ")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def verdict(report: BoardReport) -> str:
    """The verify result in one line: status, head and whether the session was closed."""
    return report.verify.describe().splitlines()[0]


def head_hash(report: BoardReport) -> str:
    head = report.verify.head
    return f"seq {head[0]}, sha256 {head[1]}" if head else "no entries"


def facts(report: BoardReport) -> list[tuple[str, str]]:
    """The header: what ran, from which plan, as whom, when, and whether the log verifies."""
    opened = report.opened
    return [
        ("Plan", _plan(opened)),
        ("Plan sha256", as_text(opened.get("plan_sha256")) or "—"),
        ("Cockpit version", as_text(opened.get("cockpit_version")) or "—"),
        ("AWS identity", aws_identity(opened.get("aws_identity"))),
        ("Window (UTC)", _window(report)),
        ("Sessions", str(len(report.sessions))),
        ("Driven by", ", ".join(report.drivers) or "—"),
        ("Verify", verdict(report)),
        ("Head", head_hash(report)),
    ]


def _plan(opened: dict[str, Any]) -> str:
    name, path = as_text(opened.get("plan_name")), as_text(opened.get("plan_path"))
    if name and path:
        return f"{name} ({path})"
    return name or path or "— (no session.opened in the log)"


def aws_identity(identity: Any) -> str:
    if not isinstance(identity, dict):
        return as_text(identity) or "—"
    if "error" in identity:
        return f"not known: {as_text(identity['error'])}"
    parts = [f"account {as_text(identity.get('account'))}", as_text(identity.get("arn"))]
    return ", ".join(part for part in parts if part)


def _window(report: BoardReport) -> str:
    first, last = report.first_ts, report.last_ts
    if first is None or last is None:
        return "—"
    span = duration((last - first).total_seconds())
    return f"{full_time(first)} to {full_time(last)} ({span})"


def sessions_table(report: BoardReport, clock: Clock) -> Table:
    rows = [
        (s.session, clock(s.opened), clock(s.ended), s.how, s.mode, ", ".join(s.who),
         (s.plan_sha256 or "—")[:12])
        for s in report.sessions
    ]
    return Table(("Session", "Opened", "Ended", "How it ended", "Mode", "Who", "Plan sha256"),
                 rows)


def timeline_table(report: BoardReport, clock: Clock) -> Table:
    rows = [
        (run.step, _title(run.title, run.attempt, run.why), clock(run.start), clock(run.end),
         duration(run.duration_s), run.result, run.who)
        for run in report.timeline
    ]
    return Table(("Step", "Title", "Start", "End", "Duration", "Result", "Who"), rows)


def _title(title: str, attempt: int | None, why: str) -> str:
    notes = [f"attempt {attempt}"] if attempt is not None and attempt > 1 else []
    notes += [why] if why else []
    return f"{title} ({', '.join(notes)})" if notes else title


def happenings_table(rows: list[Happening], clock: Clock, text_header: str) -> Table:
    return Table(
        ("When", "Step", "What", text_header, "Who"),
        [(clock(h.ts), h.step or "—", h.what, h.text, h.who) for h in rows],
    )


def notes_table(report: BoardReport, clock: Clock) -> Table:
    return Table(("When", "Who", "Step", "Note"),
                 [(clock(n.ts), n.who, n.step or "—", n.text) for n in report.notes])


def evidence_heading(report: BoardReport, step: str) -> str:
    if not step:
        return "Outside any step"
    title = report.titles.get(step)
    return f"{step} — {title}" if title else step


# `json.dumps(value, ensure_ascii=False)` without building an encoder per value.
_as_json = json.JSONEncoder(ensure_ascii=False).encode


_JSON_WORDS: dict[object, str] = {None: "null", True: "true", False: "false"}


def scalar(value: Any) -> str:
    """How one evidence value reads: strings as they are, the rest as JSON writes them."""
    if isinstance(value, str):
        return value
    if type(value) is int:  # the commonest, and what json writes is its repr
        return repr(value)
    if value is None or type(value) is bool:
        return _JSON_WORDS[value]
    return _as_json(value)


def is_record_list(value: Any) -> bool:
    """A list of flat dicts with the same keys: evidence that reads best as a small table."""
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return False
    keys = list(value[0])
    return all(list(v) == keys and not any(_nested(x) for x in v.values()) for v in value)


def _nested(value: Any) -> bool:
    return isinstance(value, dict | list)


def planned_table(chart: Gantt, clock: Clock) -> Table:
    """Per step its budget, what it took (first start to last end), over or under, its
    result, whether it is on the critical path, and the marks on it."""
    rows = [
        (bar.step, duration(bar.budget_s), duration(bar.actual_s), _over_under(bar.over_s),
         bar.result, "◆" if bar.critical else "",
         "; ".join(f"{clock(mark.ts)} {mark.text}" for mark in bar.marks))
        for bar in chart.bars
    ]
    return Table(("Step", "Planned", "Actual", "Over/under", "Result", "Critical path",
                  "Marks"), rows)


def _over_under(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{duration(seconds)} over" if seconds > 0 else f"{duration(-seconds)} under"
