"""The record's "Planned against actual": each step's budget against its attempts, with the
approvals, the point of no return and the critical path where the log puts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.glance import left_percent, read_chart
from support.plans import estate_toml

from cockpit.audit import Actor, AuditWriter
from cockpit.audit import events as ev
from cockpit.audit.entry import render_ts
from cockpit.audit.export import export_log

T0 = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)


def step(step_id: str, budget: int, after: tuple[str, ...] = ()) -> str:
    deps = ", ".join(f'"{d}"' for d in after)
    return (f'\n[[phases.steps]]\nid = "{step_id}"\ntitle = "{step_id} title"\n'
            f'do = {{ kind = "manual", instruction = "do {step_id}" }}\n'
            f"after = [{deps}]\nbudget = {budget}\n")


# Two streams after `open`: the apps (stop, start) and the database (backup, restore).
PHASES = "".join([
    '\n[[phases]]\nid = "window"\ntitle = "The window"\n',
    step("open", 30), step("stop-apps", 60, ("open",)), step("backup", 600, ("open",)),
    step("start-apps", 120, ("stop-apps",)), step("restore", 900, ("backup",)),
    step("switch", 45, ("start-apps", "restore")),
])


class Clocked(AuditWriter):
    """Entries stamped at T0 + the seconds given, so the chart's positions are known."""

    at = 0.0

    def _stamp(self, logger: Any, method: str, event_dict: Any) -> Any:
        event_dict = super()._stamp(logger, method, event_dict)
        event_dict["ts"] = render_ts(T0 + timedelta(seconds=self.at))
        return event_dict


def write_window(folder: Path) -> Path:
    (folder / "plan.toml").write_text(estate_toml() + PHASES, encoding="utf-8")
    log = folder / "audit.jsonl"
    happenings: list[tuple[float, str, str | None, dict[str, object]]] = [
        (0, ev.SESSION_OPENED, None, {"plan_name": "two streams"}),
        (0, ev.STEP_STARTED, "open", {"title": "open title"}),
        (20, ev.STEP_SUCCEEDED, "open", {"duration_s": 20.0}),
        (20, ev.APPROVAL_REFUSED, "stop-apps", {"action": "skip", "approver": "jo",
                                                "why": "the driver's own login"}),
        (25, ev.APPROVAL_ACCEPTED, "stop-apps", {"action": "skip", "approver": "sam",
                                                 "reason": "apps already down"}),
        (25, ev.STEP_SKIPPED, "stop-apps", {"reason": "apps already down"}),
        (25, ev.STEP_STARTED, "backup", {"title": "backup title"}),
        (30, ev.STEP_FAILED, "backup", {"duration_s": 5.0, "reason": "disk full"}),
        (40, ev.STEP_STARTED, "backup", {"title": "backup title", "attempt": 2}),
        (740, ev.STEP_SUCCEEDED, "backup", {"duration_s": 700.0}),
        (740, ev.STEP_STARTED, "start-apps", {}),
        (800, ev.STEP_SUCCEEDED, "start-apps", {"duration_s": 60.0}),
        (800, ev.STEP_STARTED, "restore", {}),
        (1500, ev.STEP_SUCCEEDED, "restore", {"duration_s": 700.0}),
        (1500, ev.STEP_STARTED, "switch", {}),
        (1600, ev.PONR_PASSED, "switch", {"phase": "window", "summary": "first write"}),
        (1620, ev.STEP_SUCCEEDED, "switch", {"duration_s": 120.0}),
        (1620, ev.SESSION_CLOSED, None, {}),
    ]
    with Clocked(log, session="s1", actor=Actor(user="jo", host="jump1"),
                 mode="driver") as writer:
        for at, event, step_id, detail in happenings:
            writer.at = at
            writer.append(event, step=step_id, detail=detail)
    return log


@pytest.fixture
def exported(tmp_path: Path) -> tuple[str, str]:
    log = write_window(tmp_path)
    return export_log(log, "html"), export_log(log, "md")


def test_every_step_of_the_plan_has_a_row_with_its_budget_and_its_attempts(
        exported: tuple[str, str]) -> None:
    chart = read_chart(exported[0])
    assert [row.step for row in chart.rows] == [
        "open", "stop-apps", "backup", "start-apps", "restore", "switch"]
    backup = chart.row("backup")
    assert [s["class"] for s in backup.shapes_of("actual")] == [
        "actual result-failed", "actual result-succeeded"]
    planned = backup.shapes_of("planned")[0]
    assert planned["data-start"] == (T0 + timedelta(seconds=25)).isoformat()
    assert planned["data-end"] == (T0 + timedelta(seconds=625)).isoformat()
    assert "over" in backup.figures  # 715 s from its first start, against 600
    assert chart.row("stop-apps").shapes_of("actual")[0]["class"] == "actual result-skipped"
    assert chart.row("switch").figures.endswith("1 min 15 s over")


def test_approvals_and_the_point_of_no_return_sit_where_the_log_has_them(
        exported: tuple[str, str]) -> None:
    chart = read_chart(exported[0])
    marks = chart.row("stop-apps").shapes_of("mark")
    assert [(m["class"], m["data-at"]) for m in marks] == [
        ("mark mark-approval-refused", (T0 + timedelta(seconds=20)).isoformat()),
        ("mark mark-approval-accepted", (T0 + timedelta(seconds=25)).isoformat())]
    ponr = chart.row("switch").shapes_of("mark-ponr")
    assert [m["data-at"] for m in ponr] == [(T0 + timedelta(seconds=1600)).isoformat()]
    assert [line["data-at"] for line in chart.lines] == [ponr[0]["data-at"]]
    # The chart runs from T0 to the end of restore's budget (800 + 900 s), the latest of
    # every end and budget: the marks are where their times fall in it.
    assert left_percent(ponr[0]) == pytest.approx(1600 / 1700 * 100, abs=0.01)
    assert left_percent(marks[0]) == pytest.approx(20 / 1700 * 100, abs=0.01)


def test_the_critical_path_is_the_chain_that_decided_the_end(exported: tuple[str, str]) -> None:
    chart = read_chart(exported[0])
    assert {row.step for row in chart.rows if row.critical} == {
        "open", "backup", "restore", "switch"}


def test_the_page_needs_nothing_from_outside(exported: tuple[str, str]) -> None:
    page = exported[0].lower()
    for outside in ("<script", "src=", "href=", "@import", "url("):
        assert outside not in page, outside


def test_the_markdown_record_has_the_same_as_a_table(exported: tuple[str, str]) -> None:
    md = exported[1]
    table = md[md.index("## Planned against actual"):md.index("## Sessions")]
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")
            for line in table.splitlines() if line.startswith("| ") and "---" not in line}
    assert rows["Step"][:4] == ["| Step", "Planned", "Actual", "Over/under"]
    assert rows["backup"][1:6] == ["10 min 00 s", "11 min 55 s", "1 min 55 s over",
                                   "succeeded", "◆"]
    assert rows["stop-apps"][4] == "skipped"
    assert "01:00:25 approved: skip by sam (apps already down)" in rows["stop-apps"][6]
    assert "01:26:40 point of no return of window: first write" in rows["switch"][6]
